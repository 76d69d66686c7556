#include "broker/sys_topics.hpp"

#include "router/router.hpp"
#include "runtime/engine.hpp"

#include <fmt/format.h>

#include <string>

namespace zama::broker {
namespace {

void publish_one(std::string_view topic, const std::string& value) {
    const std::span<const std::uint8_t> payload(reinterpret_cast<const std::uint8_t*>(value.data()),
                                                value.size());
    mqtt::publish p{.topic = topic, .payload = payload, .retain = true};
    router::router::local().publish(p, nullptr, 0);
}

} // namespace

rt::task<void> publish_sys_topics(const config& settings) {
    rt::engine& e = rt::engine::local();
    rt::reactor& r = rt::reactor::local();
    const rt::time_point started = r.now();
    publish_one("$SYS/broker/version", "zama " ZAMA_VERSION);
    while (!e.stop_requested()) {
        router::router_stats total;
        for (rt::shard_id shard = 0; shard < e.size(); ++shard) {
            auto ask = [] { return router::router::local().stats(); };
            const router::router_stats s = co_await e.submit_to(shard, std::move(ask));
            total.messages_received += s.messages_received;
            total.messages_sent += s.messages_sent;
            total.bytes_received += s.bytes_received;
            total.bytes_sent += s.bytes_sent;
            total.dropped += s.dropped;
            total.retained += s.retained;
            total.clients_connected += s.clients_connected;
            total.sessions += s.sessions;
            total.subscriptions += s.subscriptions;
        }
        const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(r.now() - started);
        publish_one("$SYS/broker/uptime", fmt::format("{} seconds", uptime.count()));
        publish_one("$SYS/broker/clients/connected", std::to_string(total.clients_connected));
        publish_one("$SYS/broker/clients/total", std::to_string(total.sessions));
        publish_one(
            "$SYS/broker/clients/disconnected",
            std::to_string(total.sessions - std::min(total.sessions, total.clients_connected)));
        publish_one("$SYS/broker/messages/received", std::to_string(total.messages_received));
        publish_one("$SYS/broker/messages/sent", std::to_string(total.messages_sent));
        publish_one("$SYS/broker/publish/messages/received",
                    std::to_string(total.messages_received));
        publish_one("$SYS/broker/publish/messages/sent", std::to_string(total.messages_sent));
        publish_one("$SYS/broker/publish/messages/dropped", std::to_string(total.dropped));
        publish_one("$SYS/broker/bytes/received", std::to_string(total.bytes_received));
        publish_one("$SYS/broker/bytes/sent", std::to_string(total.bytes_sent));
        publish_one("$SYS/broker/retained messages/count", std::to_string(total.retained));
        publish_one("$SYS/broker/subscriptions/count", std::to_string(total.subscriptions));
        // Sleep in short steps so a stop is noticed promptly.
        const rt::time_point next = r.now() + settings.sys_interval;
        while (!e.stop_requested() && r.now() < next) {
            co_await r.sleep_for(std::chrono::milliseconds(200));
        }
    }
}

} // namespace zama::broker
