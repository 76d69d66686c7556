// The router across real shards: routing, matching, QoS state, sessions
// and takeover, retained messages, flow control and catch-up. Each test runs
// on an engine of two shards; a fake link stands for the connection and
// decodes what the router writes to it.

#include "mqtt/decoder.hpp"
#include "router/partitioner.hpp"
#include "router/router.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

// ASSERT_* returns, which a coroutine cannot: these co_return instead.
#define CO_ASSERT_EQ(a, b)                                                                         \
    do {                                                                                           \
        const auto& co_a = (a);                                                                    \
        const auto& co_b = (b);                                                                    \
        EXPECT_EQ(co_a, co_b);                                                                     \
        if (!(co_a == co_b)) {                                                                     \
            co_return;                                                                             \
        }                                                                                          \
    } while (0)

namespace zama::router {
namespace {

using namespace std::chrono_literals;

struct received {
    std::string topic;
    std::string payload;
    mqtt::qos qos;
    bool dup;
    bool retain;
    std::uint16_t id;
};

struct fake_link final : client_link {
    std::vector<std::uint8_t> wire;
    std::vector<std::uint64_t> stored;
    std::vector<std::uint64_t> refused;
    bool taken = false;
    std::size_t backlog = 0; // pretend queued bytes

    std::size_t queued_bytes() const noexcept override { return backlog; }
    void write_copy(std::span<const std::uint8_t> b) override {
        wire.insert(wire.end(), b.begin(), b.end());
    }
    void write_ref(std::span<const std::uint8_t> b, rt::keepalive) override {
        wire.insert(wire.end(), b.begin(), b.end());
    }
    void publish_stored(std::uint64_t t) override { stored.push_back(t); }
    void publish_refused(std::uint64_t t) override { refused.push_back(t); }
    void taken_over() override { taken = true; }

    std::vector<received> publishes() const {
        std::vector<received> out;
        mqtt::decoder d;
        d.feed(wire);
        mqtt::packet packet;
        while (d.next(packet) == mqtt::decode_status::ready) {
            if (const auto* p = std::get_if<mqtt::publish>(&packet)) {
                out.push_back({std::string(p->topic),
                               std::string(p->payload.begin(), p->payload.end()), p->qos, p->dup,
                               p->retain, p->id.value()});
            }
        }
        return out;
    }
    std::size_t pubrels() const {
        std::size_t n = 0;
        mqtt::decoder d;
        d.feed(wire);
        mqtt::packet p;
        while (d.next(p) == mqtt::decode_status::ready) {
            n += mqtt::type_of(p) == mqtt::packet_type::pubrel ? 1 : 0;
        }
        return n;
    }
};

router_config small_config() {
    router_config c;
    c.partitions = 8;
    c.max_inflight_messages = 20;
    return c;
}

// Runs `body` on shard 0 of a two-shard engine where every shard has a router.
void on_two_shards(const router_config& config, std::function<rt::task<void>()> body) {
    rt::engine_options options;
    options.shards = 2;
    options.reactor.sq_entries = 256;
    options.reactor.recv_buffer_count = 64;
    options.reactor.recv_buffer_size = 4096;
    rt::engine e(options);
    std::vector<std::unique_ptr<router>> routers(2);
    std::atomic<int> ready{0};
    auto ok = e.run([&](rt::shard_id id) -> rt::task<void> {
        routers[id] = std::make_unique<router>(config, id, 2);
        router::set_local(routers[id].get());
        ++ready;
        while (ready.load() < 2) {
            co_await rt::reactor::local().sleep_for(1ms);
        }
        if (id == 0) {
            co_await body();
            rt::engine::local().request_stop();
        }
        co_await rt::engine::local().stop_signal();
    });
    ASSERT_TRUE(ok.has_value());
}

// Waits (up to a second) for `done`, giving other shards time to deliver.
rt::task<bool> eventually(std::function<bool()> done) {
    for (int i = 0; i < 1000; ++i) {
        if (done()) {
            co_return true;
        }
        co_await rt::reactor::local().sleep_for(1ms);
    }
    co_return done();
}

rt::task<void> settle() {
    co_await rt::reactor::local().sleep_for(30ms);
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

void publish(const std::string& topic, const std::string& payload, mqtt::qos q, bool retain = false,
             client_link* link = nullptr, std::uint64_t ticket = 0) {
    mqtt::publish p{.topic = topic, .payload = bytes_of(payload), .qos = q, .retain = retain};
    router::local().publish(p, link, ticket);
}

std::vector<std::uint8_t> subscribe(session& s, std::vector<subscription> subs) {
    std::vector<mqtt::subscription> list;
    list.reserve(subs.size());
    for (const auto& x : subs) {
        list.push_back({x.filter, x.qos});
    }
    return router::local().subscribe(s, mqtt::subscription_list(list));
}

// Topics whose partitions live on each shard, so tests cross shards.
std::string topic_on_shard(unsigned shard, const std::string& prefix,
                           std::uint32_t partitions = 8) {
    for (int i = 0;; ++i) {
        std::string t = prefix + std::to_string(i);
        if (owner_of(partition_of(t, partitions), 2) == shard) {
            return t;
        }
    }
}

TEST(Router, ExactAndWildcardSubscribersGetMessagesFromBothShards) {
    fake_link link;
    on_two_shards(small_config(), [&]() -> rt::task<void> {
        router& r = router::local();
        attach_result a = co_await r.attach("sub", true, &link);
        EXPECT_FALSE(a.session_present);
        const std::string here = topic_on_shard(0, "x/");
        const std::string there = topic_on_shard(1, "x/");
        EXPECT_EQ(
            subscribe(*a.s, {{here, mqtt::qos::at_most_once}, {"x/+", mqtt::qos::at_least_once}}),
            (std::vector<std::uint8_t>{0, 1}));
        co_await settle(); // interest reaches the owners
        publish(here, "h", mqtt::qos::at_least_once);
        publish(there, "t", mqtt::qos::at_most_once);
        publish("y/1", "no", mqtt::qos::at_most_once);
        EXPECT_TRUE(co_await eventually([&] { return link.publishes().size() >= 2; }));
        co_await settle();
        auto got = link.publishes();
        CO_ASSERT_EQ(got.size(), 2u);
        // One copy of `here` at the highest granted QoS (1), one of `there`.
        std::sort(got.begin(), got.end(),
                  [](auto& a1, auto& b1) { return a1.payload < b1.payload; });
        EXPECT_EQ(got[0].payload, "h");
        EXPECT_EQ(got[0].qos, mqtt::qos::at_least_once);
        EXPECT_NE(got[0].id, 0);
        EXPECT_EQ(got[1].payload, "t");
        EXPECT_EQ(got[1].qos, mqtt::qos::at_most_once);
        EXPECT_FALSE(got[1].retain);
        r.detach(*a.s);
    });
}

TEST(Router, SubscriptionsBeyondTheLimitAreRefused) {
    fake_link link;
    router_config c = small_config();
    c.max_subscriptions_per_client = 2;
    on_two_shards(c, [&]() -> rt::task<void> {
        router& r = router::local();
        attach_result a = co_await r.attach("many", true, &link);
        EXPECT_EQ(subscribe(*a.s, {{"a", mqtt::qos::at_least_once},
                                   {"b", mqtt::qos::at_most_once},
                                   {"c", mqtt::qos::at_least_once}}),
                  (std::vector<std::uint8_t>{1, 0, mqtt::suback_failure}));
        // At the limit, a filter it holds can still change its QoS; a new
        // one is refused until one is unsubscribed.
        EXPECT_EQ(subscribe(*a.s, {{"b", mqtt::qos::exactly_once}, {"d", mqtt::qos::at_most_once}}),
                  (std::vector<std::uint8_t>{2, mqtt::suback_failure}));
        std::vector<std::string_view> gone{"a"};
        r.unsubscribe(*a.s, mqtt::filter_list(gone));
        EXPECT_EQ(subscribe(*a.s, {{"d", mqtt::qos::at_most_once}}),
                  (std::vector<std::uint8_t>{0}));
        EXPECT_EQ(a.s->state().subscriptions.size(), 2u);
        co_await settle();
        publish("c", "refused filter", mqtt::qos::at_most_once);
        publish("d", "held filter", mqtt::qos::at_most_once);
        EXPECT_TRUE(co_await eventually([&] { return !link.publishes().empty(); }));
        co_await settle();
        const auto got = link.publishes();
        CO_ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0].payload, "held filter");
        r.detach(*a.s);
    });
}

TEST(Router, PublisherTicketsAreAcknowledgedOnceStored) {
    fake_link link;
    on_two_shards(small_config(), [&]() -> rt::task<void> {
        router& r = router::local();
        attach_result a = co_await r.attach("pub", true, &link);
        publish(topic_on_shard(1, "p/"), "1", mqtt::qos::at_least_once, false, &link, 7);
        publish(topic_on_shard(0, "p/"), "2", mqtt::qos::exactly_once, false, &link, 8);
        publish("p/q0", "3", mqtt::qos::at_most_once, false, &link, 0);
        EXPECT_TRUE(co_await eventually([&] { return link.stored.size() == 2; }));
        std::sort(link.stored.begin(), link.stored.end());
        EXPECT_EQ(link.stored, (std::vector<std::uint64_t>{7, 8}));
        r.detach(*a.s);
    });
}

TEST(Router, InflightWindowHoldsQos1UntilPubackAndKeepsOrder) {
    router_config c = small_config();
    c.max_inflight_messages = 2;
    fake_link link;
    on_two_shards(c, [&]() -> rt::task<void> {
        router& r = router::local();
        attach_result a = co_await r.attach("win", true, &link);
        const std::string t = topic_on_shard(1, "w/");
        subscribe(*a.s, {{t, mqtt::qos::at_least_once}});
        co_await settle();
        for (int i = 0; i < 5; ++i) {
            publish(t, std::to_string(i), mqtt::qos::at_least_once);
        }
        EXPECT_TRUE(co_await eventually([&] { return link.publishes().size() >= 2; }));
        co_await settle();
        EXPECT_EQ(link.publishes().size(), 2u);
        for (int acked = 0; acked < 3; ++acked) {
            r.puback(*a.s, mqtt::packet_id{link.publishes()[static_cast<std::size_t>(acked)].id});
        }
        EXPECT_TRUE(co_await eventually([&] { return link.publishes().size() == 5; }));
        auto got = link.publishes();
        for (int i = 0; i < 5; ++i) {
            EXPECT_EQ(got[static_cast<std::size_t>(i)].payload, std::to_string(i));
        }
        r.detach(*a.s);
    });
}

TEST(Router, Qos0OverTheQueueBoundIsDroppedAndCounted) {
    router_config c = small_config();
    c.max_queued_bytes = 100;
    fake_link link;
    link.backlog = 1000; // the client is not reading
    on_two_shards(c, [&]() -> rt::task<void> {
        router& r = router::local();
        attach_result a = co_await r.attach("slow", true, &link);
        const std::string t = topic_on_shard(0, "d/");
        subscribe(*a.s, {{t, mqtt::qos::at_least_once}});
        co_await settle();
        publish(t, "dropped", mqtt::qos::at_most_once);
        publish(t, "waits", mqtt::qos::at_least_once);
        co_await settle();
        EXPECT_TRUE(link.publishes().empty());
        EXPECT_EQ(a.s->dropped, 1u);
        // Room again: the QoS 1 message comes, the QoS 0 one is gone.
        link.backlog = 0;
        r.writable(*a.s);
        auto got = link.publishes();
        CO_ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0].payload, "waits");
        r.detach(*a.s);
    });
}

TEST(Router, PersistentSessionGetsItsOfflineBacklogInOrderWithoutQos0) {
    fake_link first;
    fake_link second;
    on_two_shards(small_config(), [&]() -> rt::task<void> {
        router& r = router::local();
        attach_result a = co_await r.attach("keep", false, &first);
        const std::string t1 = topic_on_shard(1, "k/");
        const std::string t0 = topic_on_shard(0, "k/");
        subscribe(*a.s, {{"k/#", mqtt::qos::exactly_once}});
        co_await settle();
        r.detach(*a.s); // offline, persistent
        for (int i = 0; i < 5; ++i) {
            publish(i % 2 == 0 ? t1 : t0, "m" + std::to_string(i), mqtt::qos::at_least_once);
        }
        publish(t1, "qos0", mqtt::qos::at_most_once);
        co_await settle();
        attach_result b = co_await r.attach("keep", false, &second);
        EXPECT_TRUE(b.session_present);
        r.resume(*b.s);
        EXPECT_TRUE(co_await eventually([&] { return second.publishes().size() >= 5; }));
        co_await settle();
        auto got = second.publishes();
        CO_ASSERT_EQ(got.size(), 5u);
        // In order per partition; nothing at QoS 0.
        std::vector<std::string> in_t1;
        std::vector<std::string> in_t0;
        for (const auto& m : got) {
            EXPECT_EQ(m.qos, mqtt::qos::at_least_once);
            (m.topic == t1 ? in_t1 : in_t0).push_back(m.payload);
        }
        EXPECT_EQ(in_t1, (std::vector<std::string>{"m0", "m2", "m4"}));
        EXPECT_EQ(in_t0, (std::vector<std::string>{"m1", "m3"}));
        // Still subscribed after the reconnect.
        publish(t0, "live", mqtt::qos::at_least_once);
        EXPECT_TRUE(co_await eventually([&] { return second.publishes().size() == 6; }));
        r.detach(*b.s);
        attach_result clean = co_await r.attach("keep", true, &first);
        EXPECT_FALSE(clean.session_present); // clean session discards it
        EXPECT_TRUE(clean.s->state().subscriptions.empty());
        r.detach(*clean.s);
    });
}

TEST(Router, InflightMessagesAreResentWithDupOnResume) {
    fake_link first;
    fake_link second;
    on_two_shards(small_config(), [&]() -> rt::task<void> {
        router& r = router::local();
        attach_result a = co_await r.attach("dup", false, &first);
        const std::string t = topic_on_shard(1, "dup/");
        subscribe(*a.s, {{t, mqtt::qos::exactly_once}});
        co_await settle();
        publish(t, "one", mqtt::qos::at_least_once);
        publish(t, "two", mqtt::qos::exactly_once);
        EXPECT_TRUE(co_await eventually([&] { return first.publishes().size() == 2; }));
        const auto sent = first.publishes();
        EXPECT_FALSE(sent[0].dup);
        // The QoS 2 one gets its PUBREC; neither is completed.
        EXPECT_TRUE(r.pubrec(*a.s, mqtt::packet_id{sent[1].id}));
        r.detach(*a.s);
        attach_result b = co_await r.attach("dup", false, &second);
        r.resume(*b.s);
        auto again = second.publishes();
        CO_ASSERT_EQ(again.size(), 1u);
        EXPECT_EQ(again[0].payload, "one");
        EXPECT_TRUE(again[0].dup);
        EXPECT_EQ(again[0].id, sent[0].id);
        EXPECT_EQ(second.pubrels(), 1u); // the PUBREL of the QoS 2 one
        r.puback(*b.s, mqtt::packet_id{sent[0].id});
        r.pubcomp(*b.s, mqtt::packet_id{sent[1].id});
        EXPECT_TRUE(b.s->state().outbound.empty());
        r.detach(*b.s);
    });
}

TEST(Router, SecondAttachTakesOverTheFirstAndItsSession) {
    fake_link first;
    fake_link second;
    on_two_shards(small_config(), [&]() -> rt::task<void> {
        router& r = router::local();
        attach_result a = co_await r.attach("same", false, &first);
        subscribe(*a.s, {{"s/#", mqtt::qos::at_least_once}});
        attach_result b = co_await r.attach("same", false, &second);
        EXPECT_TRUE(first.taken);
        EXPECT_TRUE(b.session_present);
        CO_ASSERT_EQ(b.s->state().subscriptions.size(), 1u);
        EXPECT_EQ(b.s->state().subscriptions[0].filter, "s/#");
        r.resume(*b.s);
        publish(topic_on_shard(1, "s/"), "after", mqtt::qos::at_least_once);
        EXPECT_TRUE(co_await eventually([&] { return second.publishes().size() == 1; }));
        EXPECT_TRUE(first.publishes().empty());
        r.detach(*b.s);
    });
}

// A session that moves to the other shard keeps its cursors: that shard
// never received the partition's earlier batches, so it reads the owner's
// log.
TEST(Router, SessionMovedToAnotherShardCatchesUpFromTheOwner) {
    fake_link first;
    fake_link second;
    on_two_shards(small_config(), [&]() -> rt::task<void> {
        router& r = router::local();
        attach_result a = co_await r.attach("mover", false, &first);
        const std::string t = topic_on_shard(0, "mv/");
        subscribe(*a.s, {{t, mqtt::qos::at_least_once}});
        co_await settle();
        publish(t, "seen", mqtt::qos::at_least_once);
        EXPECT_TRUE(co_await eventually([&] { return first.publishes().size() == 1; }));
        r.puback(*a.s, mqtt::packet_id{first.publishes()[0].id});
        r.detach(*a.s);
        for (int i = 0; i < 3; ++i) {
            publish(t, "offline" + std::to_string(i), mqtt::qos::at_least_once);
        }
        co_await settle();
        // Reconnect on shard 1.
        auto reconnect = [&second]() -> rt::task<int> {
            router& r1 = router::local();
            attach_result b = co_await r1.attach("mover", false, &second);
            r1.resume(*b.s);
            co_return b.session_present ? 1 : 0;
        };
        const int present = co_await rt::engine::local().submit_to(1, std::move(reconnect));
        EXPECT_EQ(present, 1);
        co_await settle();
        auto got = second.publishes();
        CO_ASSERT_EQ(got.size(), 3u);
        EXPECT_EQ(got[0].payload, "offline0");
        EXPECT_EQ(got[2].payload, "offline2");
        auto leave = [] {
            router& r1 = router::local();
            (void)r1.release_session("mover", false);
        };
        co_await rt::engine::local().submit_to(1, std::move(leave));
    });
}

TEST(Router, RetainedMessagesAreKeptReplacedAndDeleted) {
    fake_link link;
    on_two_shards(small_config(), [&]() -> rt::task<void> {
        router& r = router::local();
        const std::string a0 = topic_on_shard(0, "r/");
        const std::string a1 = topic_on_shard(1, "r/");
        publish(a0, "old", mqtt::qos::at_least_once, true);
        publish(a0, "new", mqtt::qos::at_least_once, true);
        publish(a1, "other", mqtt::qos::exactly_once, true);
        publish("r/gone", "x", mqtt::qos::at_most_once, true);
        publish("r/gone", "", mqtt::qos::at_most_once, true); // deletes it
        co_await settle();
        attach_result s = co_await r.attach("ret", true, &link);
        subscribe(*s.s, {{"r/#", mqtt::qos::at_least_once}});
        EXPECT_TRUE(co_await eventually([&] { return link.publishes().size() >= 2; }));
        co_await settle();
        auto got = link.publishes();
        CO_ASSERT_EQ(got.size(), 2u);
        std::sort(got.begin(), got.end(), [](auto& x, auto& y) { return x.payload < y.payload; });
        EXPECT_EQ(got[0].payload, "new");
        EXPECT_TRUE(got[0].retain);
        EXPECT_EQ(got[1].payload, "other");
        EXPECT_EQ(got[1].qos, mqtt::qos::at_least_once); // min(2, granted 1)
        // A live message keeps RETAIN clear even when published retained.
        publish(a1, "live", mqtt::qos::at_least_once, true);
        EXPECT_TRUE(co_await eventually([&] { return link.publishes().size() == 3; }));
        EXPECT_FALSE(link.publishes().back().retain);
        r.detach(*s.s);
    });
}

// With a tiny per-shard tail the batches a lagging session needs are gone
// from its shard: it reads them from the owner's log, in order.
TEST(Router, LaggingSessionReadsFromTheOwnerWhenItsShardForgot) {
    router_config c = small_config();
    c.shard_tail_bytes = 1;
    c.max_inflight_messages = 1;
    fake_link link;
    on_two_shards(c, [&]() -> rt::task<void> {
        router& r = router::local();
        attach_result a = co_await r.attach("lag", true, &link);
        const std::string t = topic_on_shard(1, "lag/");
        subscribe(*a.s, {{t, mqtt::qos::at_least_once}});
        co_await settle();
        for (int i = 0; i < 10; ++i) {
            publish(t, std::to_string(i), mqtt::qos::at_least_once);
            co_await settle(); // one batch each
        }
        for (int i = 0; i < 10; ++i) {
            EXPECT_TRUE(co_await eventually(
                [&] { return link.publishes().size() == static_cast<std::size_t>(i + 1); }));
            const auto got = link.publishes();
            EXPECT_EQ(got.back().payload, std::to_string(i));
            r.puback(*a.s, mqtt::packet_id{got.back().id});
        }
        r.detach(*a.s);
    });
}

} // namespace
} // namespace zama::router
