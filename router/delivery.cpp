// The router's delivery side: batches arrive from partition owners, are
// matched against this shard's subscriptions, and each session delivers
// from its cursor, within its in-flight window and queue bound.
//
// Rules:
// - A session delivers a partition's records in offset order. When its
//   window (QoS 1/2) or its queue is full it stops, keeps its cursor, and
//   the partition is "lagging": catch_up() continues from the cursor when
//   there is room, reading this shard's recent batches or, if they do not
//   go back far enough, the owner's log.
// - QoS 0 never waits: it goes now or is dropped (and counted) when the
//   client's queue is over its bound.
// - Small packets are copied into the connection's send queue (they then
//   coalesce into few iovecs); large payloads are referenced in the shared
//   batch, which a keepalive holds until written.

#include "base/log.hpp"
#include "mqtt/frame.hpp"
#include "router/partitioner.hpp"
#include "router/router.hpp"

#include <algorithm>
#include <array>

namespace zama::router {
namespace {

// Up to this size a packet (or its prefix) is copied rather than referenced.
constexpr std::size_t copy_limit = 256;

rt::keepalive keep(const commitlog::batch_ptr& b) {
    commitlog::batch_ptr copy = b;
    return rt::keepalive(copy.leak(), [](void* p) noexcept {
        static_cast<const commitlog::record_batch*>(p)->release();
    });
}

mqtt::qos min_qos(std::uint8_t a, mqtt::qos b) {
    return std::min(static_cast<mqtt::qos>(a), b);
}

// Writes a PUBLISH of record `r` with its own fixed header and packet id.
void write_publish(client_link& link, const commitlog::batch_ptr& b, const commitlog::record& r,
                   mqtt::qos qos, mqtt::packet_id id, bool dup, bool retain) {
    const std::span<const std::uint8_t> topic = b->topic_field(r);
    const std::span<const std::uint8_t> payload = b->payload(r);
    const bool with_id = qos != mqtt::qos::at_most_once;
    const std::size_t remaining = topic.size() + (with_id ? 2 : 0) + payload.size();
    // Scratch space, filled before it is read; not zeroed (a hot path).
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
    std::array<std::uint8_t, 5 + 2 + copy_limit> buf;
    std::size_t n = mqtt::write_fixed_header(mqtt::publish_first_byte(qos, dup, retain),
                                             static_cast<std::uint32_t>(remaining), buf.data());
    if (n + topic.size() + 2 <= buf.size()) {
        std::copy(topic.begin(), topic.end(), buf.data() + n);
        n += topic.size();
    } else {
        link.write_copy({buf.data(), n});
        link.write_ref(topic, keep(b));
        n = 0;
    }
    if (with_id) {
        buf[n++] = static_cast<std::uint8_t>(id.value() >> 8);
        buf[n++] = static_cast<std::uint8_t>(id.value());
    }
    if (n + payload.size() <= buf.size()) {
        std::copy(payload.begin(), payload.end(), buf.data() + n);
        link.write_copy({buf.data(), n + payload.size()});
    } else {
        link.write_copy({buf.data(), n});
        link.write_ref(payload, keep(b));
    }
}

} // namespace

void router::on_batch(commitlog::batch_ptr b) {
    const std::uint32_t p = b->partition().value();
    shard_tail& tail = _tails[p];
    if (tail.batches.empty() && tail.complete_from == ~commitlog::offset{0}) {
        tail.complete_from = b->base();
    }
    tail.bytes += b->bytes_size();
    _tail_bytes += b->bytes_size();
    tail.batches.push_back(b);
    tail.arrivals.push_back(_arrivals++);
    // One bound for the shard: the batch that arrived first goes first,
    // whichever its partition (a partition's newest batch stays).
    while (_tail_bytes > _config.shard_tail_bytes) {
        shard_tail* oldest = nullptr;
        for (shard_tail& t : _tails) {
            if (t.batches.size() > 1 &&
                (oldest == nullptr || t.arrivals.front() < oldest->arrivals.front())) {
                oldest = &t;
            }
        }
        if (oldest == nullptr) {
            break;
        }
        oldest->dropped_end = oldest->batches.front()->end();
        oldest->bytes -= oldest->batches.front()->bytes_size();
        _tail_bytes -= oldest->batches.front()->bytes_size();
        oldest->batches.pop_front();
        oldest->arrivals.pop_front();
        oldest->complete_from = std::max(oldest->complete_from, oldest->batches.front()->base());
    }

    // Which sessions want which records: each touched session gets a list
    // of (index, QoS) from a pool that keeps its capacity between batches.
    // A run of consecutive records of one topic has one set of subscribers:
    // one lookup, and each subscriber's list takes the whole run.
    for (std::uint32_t i = 0; i < b->size();) {
        const std::string_view topic = b->topic(b->at(i));
        std::uint32_t end = i + 1;
        while (end < b->size() && b->topic(b->at(end)) == topic) {
            ++end;
        }
        for (const local_sub& ls : local_subscribers(topic)) {
            if (ls.s->batch_slot == session::no_batch_slot) {
                ls.s->batch_slot = static_cast<std::uint32_t>(_touched.size());
                _touched.push_back(ls.s);
                if (_batch_records.size() < _touched.size()) {
                    _batch_records.emplace_back();
                }
            }
            auto& records = _batch_records[ls.s->batch_slot];
            for (std::uint32_t k = i; k < end; ++k) {
                records.emplace_back(k, ls.qos);
            }
        }
        i = end;
    }
    for (std::size_t k = 0; k < _touched.size(); ++k) {
        _touched[k]->batch_slot = session::no_batch_slot;
        offer(*_touched[k], b, _batch_records[k]);
        _batch_records[k].clear();
    }
    _touched.clear();
}

const std::vector<router::local_sub>& router::local_subscribers(std::string_view topic) {
    auto it = _local_topics.find(topic);
    if (it == _local_topics.end()) {
        if (_local_topics.size() >= _config.topic_cache_entries) {
            _local_topics.clear();
        }
        it = _local_topics.emplace(std::string(topic), local_topic{}).first;
    }
    local_topic& t = it->second;
    if (t.epoch != _local_epoch) {
        t.subs.clear();
        auto add = [&t](const std::vector<local_sub>& matching) {
            t.subs.insert(t.subs.end(), matching.begin(), matching.end());
        };
        if (auto e = _exact.find(topic); e != _exact.end()) {
            add(e->second);
        }
        _local_wildcards.match(topic, add);
        // Overlapping filters of one session deliver one copy at the
        // highest QoS (MQTT-3.3.5-1).
        std::sort(t.subs.begin(), t.subs.end(), [](const local_sub& a, const local_sub& c) {
            return a.s != c.s ? std::less<>()(a.s, c.s) : a.qos > c.qos;
        });
        t.subs.erase(std::unique(t.subs.begin(), t.subs.end(),
                                 [](const local_sub& a, const local_sub& c) { return a.s == c.s; }),
                     t.subs.end());
        t.epoch = _local_epoch;
    }
    return t.subs;
}

void router::offer(session& s, const commitlog::batch_ptr& b,
                   const std::vector<std::pair<std::uint32_t, mqtt::qos>>& records) {
    const std::uint32_t p = b->partition().value();
    auto [it, created] = s.state().cursors.try_emplace(p, b->base());
    if (!s.online()) {
        if (created) {
            changed(s); // a new cursor is stored, so it survives a restart
        }
        return; // offline: the cursor holds the place; the log holds the messages
    }
    if (it->second < b->base() || s.lagging(p)) {
        s.lag(p);
        catch_up(s);
        return;
    }
    for (const auto& [index, granted] : records) {
        const commitlog::record& r = b->at(index);
        if (r.at < it->second) {
            continue;
        }
        if (!deliver(s, b, index, min_qos(r.flags.qos, granted), false)) {
            it->second = r.at;
            s.lag(p);
            changed(s);
            return;
        }
    }
    it->second = std::max(it->second, b->end());
    changed(s);
}

bool router::deliver(session& s, const commitlog::batch_ptr& b, std::uint32_t index, mqtt::qos qos,
                     bool retain) {
    client_link& link = *s.link();
    const commitlog::record& r = b->at(index);
    const std::size_t over = _config.max_queued_bytes;
    if (qos == mqtt::qos::at_most_once) {
        if (link.queued_bytes() > over) {
            ++s.dropped;
            ++_stats.dropped;
            return true;
        }
        const std::span<const std::uint8_t> packet = b->packet(r);
        if (retain) {
            write_publish(link, b, r, qos, mqtt::packet_id{0}, false, true);
        } else if (packet.size() <= copy_limit) {
            link.write_copy(packet);
        } else {
            link.write_ref(packet, keep(b));
        }
        ++_stats.messages_sent;
        _stats.bytes_sent += r.payload_size;
        return true;
    }
    if (s.state().outbound.size() >= _config.max_inflight_messages || link.queued_bytes() > over) {
        return false;
    }
    const mqtt::packet_id id = s.next_packet_id();
    write_publish(link, b, r, qos, id, false, retain);
    s.state().outbound.push_back({id, qos, false, retain, b, index});
    ++_stats.messages_sent;
    _stats.bytes_sent += r.payload_size;
    return true;
}

void router::catch_up(session& s) {
    if (!s.online()) {
        return;
    }
    drain_retained(s);
    if (!s.retained_queue().empty()) {
        return;
    }
    catch_up_state* c = s.catching_up();
    if (c == nullptr) {
        s.set_replaying_offline(false);
        return;
    }
    std::vector<std::uint32_t> lagging(c->lagging.begin(), c->lagging.end());
    std::sort(lagging.begin(), lagging.end());
    for (std::uint32_t p : lagging) {
        if (!catch_up_partition(s, *c, p)) {
            return;
        }
    }
    if (c->lagging.empty()) {
        s.set_replaying_offline(false);
    }
}

bool router::catch_up_partition(session& s, catch_up_state& c, std::uint32_t p) {
    if (auto f = c.fetched.find(p); f != c.fetched.end()) {
        if (!deliver_from(s, p, f->second.batches)) {
            // Blocked midway: the rest of the read waits for room (the
            // cursor says where to go on).
            return false;
        }
        c.fetched.erase(f);
    }
    if (c.fetching.contains(p)) {
        return false;
    }
    const commitlog::offset cursor = s.state().cursors[p];
    const shard_tail& tail = _tails[p];
    const bool tail_covers =
        tail.complete_from != ~commitlog::offset{0} && cursor >= tail.complete_from;
    const auto synced = c.synced.find(p);
    // The owner's log was read up to `synced`; what came after is here
    // unless this shard has dropped some of it since.
    const bool owner_synced =
        synced != c.synced.end() && cursor >= synced->second && tail.dropped_end <= synced->second;
    if (!tail_covers && !owner_synced) {
        // This shard's batches do not go back to the cursor: read the owner's log.
        fetch(s, c, p, cursor);
        return false;
    }
    if (!deliver_from(s, p, tail.batches)) {
        return false;
    }
    c.lagging.erase(p);
    return true;
}

template <typename Batches>
bool router::deliver_from(session& s, std::uint32_t p, const Batches& batches) {
    commitlog::offset& cursor = s.state().cursors[p];
    // Offline backlog skips QoS 0 unless queue_qos0_messages asks otherwise.
    const bool skip_qos0 = s.replaying_offline() && !_config.queue_qos0_messages;
    // The batches are read in place, from the first one past the cursor.
    auto first =
        std::partition_point(batches.begin(), batches.end(),
                             [&](const commitlog::batch_ptr& b) { return b->end() <= cursor; });
    for (auto it = first; it != batches.end(); ++it) {
        const commitlog::batch_ptr& b = *it;
        for (commitlog::offset at = std::max(cursor, b->base()); at < b->end(); ++at) {
            const commitlog::record& r = b->by_offset(at);
            const auto granted = s.granted(b->topic(r));
            if (!granted) {
                continue;
            }
            const mqtt::qos qos = min_qos(r.flags.qos, *granted);
            if (qos == mqtt::qos::at_most_once && skip_qos0) {
                continue;
            }
            if (!deliver(s, b, static_cast<std::uint32_t>(at - b->base()), qos, false)) {
                cursor = at;
                changed(s);
                return false;
            }
        }
        cursor = b->end();
    }
    changed(s);
    return true;
}

void router::fetch(session& s, catch_up_state& c, std::uint32_t p, commitlog::offset from) {
    c.fetching.insert(p);
    rt::reactor::local().spawn([](router* self, std::string id, std::uint64_t expected,
                                  std::uint32_t partition,
                                  commitlog::offset start) -> rt::task<void> {
        // The session may have ended, moved or gone offline while this
        // waited; its fetch is then dropped (a reconnect fetches anew).
        auto current = [self, &id, expected]() -> session* {
            auto it = self->_sessions.find(id);
            const bool same = it != self->_sessions.end() && (*it)->generation() == expected;
            return same && (*it)->online() ? it->get() : nullptr;
        };
        read_budget::grant grant = co_await self->_reads.take(fetch_bytes);
        if (current() == nullptr) {
            co_return;
        }
        auto read = [partition, start] { return router::local().read_log(partition, start); };
        const rt::shard_id owner = owner_of(commitlog::partition_id{partition}, self->_shards);
        log_read got = co_await rt::engine::local().submit_to(owner, std::move(read));
        session* live = current();
        if (live == nullptr) {
            co_return;
        }
        session& sess = *live;
        if (got.failed) {
            // Logged by the owner; try again in a while (the partition stays lagging).
            grant = {};
            co_await rt::reactor::local().sleep_for(std::chrono::seconds(1));
            if (session* again = current()) {
                again->catch_up_bookkeeping().fetching.erase(partition);
                self->catch_up(*again);
            }
            co_return;
        }
        catch_up_state& bookkeeping = sess.catch_up_bookkeeping();
        bookkeeping.fetching.erase(partition);
        commitlog::offset& cursor = sess.state().cursors[partition];
        if (got.start > cursor) {
            const commitlog::offset lost = got.start - cursor;
            sess.lost += lost;
            self->_stats.lost += lost;
            zama::log::warn("client {}: {} messages of partition {} left the log before delivery",
                            id, lost, partition);
            cursor = got.start;
        }
        // Read up to the owner's end: from there on, what this shard
        // receives is complete for the session's filters (its interest was
        // registered before this read, on the same channel).
        const commitlog::offset last = got.batches.empty() ? cursor : got.batches.back()->end();
        if (last >= got.end) {
            bookkeeping.synced[partition] = got.end;
        }
        std::size_t bytes = 0;
        for (const commitlog::batch_ptr& b : got.batches) {
            bytes += b->bytes_size();
        }
        grant.resize(bytes);
        bookkeeping.fetched[partition] = {std::move(got.batches), std::move(grant)};
        self->catch_up(sess);
    }(this, s.client_id(), s.generation(), p, from));
}

void router::drain_retained(session& s) {
    auto& queue = s.retained_queue();
    while (!queue.empty()) {
        pending_retained& front = queue.front();
        if (!deliver(s, front.batch, front.index, front.qos, true)) {
            return;
        }
        queue.pop_front();
    }
}

void router::resend_inflight(session& s) {
    client_link& link = *s.link();
    for (const inflight& f : s.state().outbound) {
        if (f.released) {
            const std::array<std::uint8_t, 4> pubrel{0x62, 0x02,
                                                     static_cast<std::uint8_t>(f.id.value() >> 8),
                                                     static_cast<std::uint8_t>(f.id.value())};
            link.write_copy(pubrel);
        } else {
            // Re-delivery sets DUP (MQTT-3.3.1-1).
            write_publish(link, f.batch, f.batch->at(f.index), f.qos, f.id, true, f.retain);
        }
    }
}

void router::puback(session& s, mqtt::packet_id id) {
    auto& out = s.state().outbound;
    auto it = out.find(id);
    if (it != out.end() && it->qos == mqtt::qos::at_least_once) {
        out.erase(it);
        changed(s);
        catch_up(s);
    }
}

bool router::pubrec(session& s, mqtt::packet_id id) {
    auto& out = s.state().outbound;
    if (auto it = out.find(id); it != out.end() && it->qos == mqtt::qos::exactly_once) {
        it->released = true;
        it->batch = {}; // the message is delivered; only the id remains
        // Stored at once: a QoS 2 message past the stored cursor would be
        // delivered again after a restart.
        if (!s.clean()) {
            persist(s);
        }
    }
    return true; // unknown id: PUBREL anyway, so the client can finish
}

void router::pubcomp(session& s, mqtt::packet_id id) {
    auto& out = s.state().outbound;
    auto it = out.find(id);
    if (it != out.end() && it->released) {
        out.erase(it);
        changed(s);
        catch_up(s);
    }
}

void router::writable(session& s) {
    catch_up(s);
}

} // namespace zama::router
