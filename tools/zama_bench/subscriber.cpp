#include "roles.hpp"
#include "stamp.hpp"

namespace zama::bench {
namespace {

void queue_ack(std::vector<std::uint8_t>& out, std::uint8_t first_byte, mqtt::packet_id id) {
    out.push_back(first_byte);
    out.push_back(2);
    out.push_back(static_cast<std::uint8_t>(id.value() >> 8));
    out.push_back(static_cast<std::uint8_t>(id.value()));
}

constexpr std::uint8_t puback_byte = 0x40;
constexpr std::uint8_t pubrec_byte = 0x50;
constexpr std::uint8_t pubcomp_byte = 0x70;

} // namespace

rt::task<void> run_subscriber(const bench_options& o, shard_load& load, subscriber_result& result,
                              std::unique_ptr<client> c) {
    (void)o;
    load.live.push_back(c.get());
    std::vector<std::uint8_t> acks;
    std::uint64_t received = 0;
    for (;;) {
        // Bytes already in the decoder (after SUBACK) come first.
        const std::uint64_t now = now_ns();
        for (;;) {
            const mqtt::decode_status st = c->next();
            if (st == mqtt::decode_status::need_more) {
                break;
            }
            if (st == mqtt::decode_status::error) {
                load.errors.push_back(
                    "subscriber " + std::to_string(result.spec.index) +
                    ": malformed packet from the broker: " + mqtt::describe(c->decode_error()));
                result.failed = true;
                c->stream().shutdown();
                break;
            }
            const mqtt::packet& p = c->packet();
            if (const auto* pub = std::get_if<mqtt::publish>(&p)) {
                stamp s;
                if (stamp::read(pub->payload, s)) {
                    result.seen.on_message(s.publisher, s.sequence);
                    if (now > s.sent_ns) {
                        load.record_latency(now - s.sent_ns);
                    }
                } else {
                    result.seen.on_foreign();
                }
                ++received;
                if (pub->qos == mqtt::qos::at_least_once) {
                    queue_ack(acks, puback_byte, pub->id);
                } else if (pub->qos == mqtt::qos::exactly_once) {
                    queue_ack(acks, pubrec_byte, pub->id);
                }
            } else if (const auto* rel = std::get_if<mqtt::pubrel>(&p)) {
                queue_ack(acks, pubcomp_byte, rel->id);
            }
        }
        if (received > 0) {
            load.received.fetch_add(received, std::memory_order_relaxed);
            received = 0;
        }
        if (!acks.empty()) {
            c->stream().send_copy(acks);
            acks.clear();
        }
        if (result.failed || !co_await c->receive()) {
            break;
        }
    }
    if (!load.closing && !result.failed) {
        const std::errc why = c->stream().error();
        load.errors.push_back(
            "subscriber " + std::to_string(result.spec.index) + ": connection lost" +
            (why != std::errc{} ? ": " + std::make_error_code(why).message() : std::string()));
        result.failed = true;
    }
    std::erase(load.live, c.get());
    co_await c->disconnect();
    ++load.subscribers_done;
}

} // namespace zama::bench
