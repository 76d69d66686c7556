#include "mqtt/encoder.hpp"

#include <algorithm>
#include <bitset>
#include <chrono>
#include <cstring>

#include "roles.hpp"
#include "stamp.hpp"

namespace zama::bench {
namespace {

// A whole PUBLISH of one stream, encoded once; each message is a copy with
// its packet id and stamp written in.
struct message_template {
    std::vector<std::uint8_t> bytes;
    std::size_t id_at = 0;
    std::size_t stamp_at = 0;
};

message_template make_template(const std::string& topic, std::size_t payload_size, int qos) {
    const std::vector<std::uint8_t> filler(payload_size, 'z');
    mqtt::publish p;
    p.topic = topic;
    p.payload = filler;
    p.qos = static_cast<mqtt::qos>(qos);
    p.id = mqtt::packet_id{qos > 0 ? std::uint16_t{1} : std::uint16_t{0}};
    message_template t;
    t.bytes.resize(mqtt::encoded_size(p).value());
    (void)mqtt::encode(p, t.bytes);
    t.stamp_at = t.bytes.size() - payload_size;
    t.id_at = t.stamp_at - 2;
    return t;
}

// Packet ids in use by one publisher's QoS 1/2 messages.
class packet_ids {
  public:
    std::uint16_t take() noexcept {
        do {
            _next = _next == 0xFFFF ? 1 : static_cast<std::uint16_t>(_next + 1);
        } while (_used.test(_next));
        _used.set(_next);
        return _next;
    }
    /// False if the id was not in use (a stray or repeated ack).
    bool give_back(std::uint16_t id) noexcept {
        if (!_used.test(id)) {
            return false;
        }
        _used.reset(id);
        return true;
    }

  private:
    std::bitset<65536> _used;
    std::uint16_t _next = 0;
};

struct ack_reader_state {
    bool done = false;
    wakeup finished;
};

rt::task<void> read_acks(const bench_options& o, shard_load& load, publisher_state& state,
                         client& c, packet_ids& ids, ack_reader_state& reader) {
    while (co_await c.receive()) {
        bool freed = false;
        for (;;) {
            const mqtt::decode_status st = c.next();
            if (st == mqtt::decode_status::need_more) {
                break;
            }
            if (st == mqtt::decode_status::error) {
                load.errors.push_back(
                    "publisher " + std::to_string(state.spec.index) +
                    ": malformed packet from the broker: " + mqtt::describe(c.decode_error()));
                state.failed = true;
                c.stream().shutdown();
                break;
            }
            const mqtt::packet& p = c.packet();
            std::uint16_t done_id = 0;
            if (const auto* a = std::get_if<mqtt::puback>(&p); a != nullptr && o.qos == 1) {
                done_id = a->id.value();
            } else if (const auto* r = std::get_if<mqtt::pubrec>(&p); r != nullptr && o.qos == 2) {
                c.queue(mqtt::pubrel{r->id});
                continue;
            } else if (const auto* m = std::get_if<mqtt::pubcomp>(&p); m != nullptr && o.qos == 2) {
                done_id = m->id.value();
            } else {
                continue; // PINGRESP or a stray packet: not counted
            }
            if (ids.give_back(done_id)) {
                --state.in_flight;
                ++state.acked;
                freed = true;
            }
        }
        c.flush();
        if (freed) {
            state.window_open.notify();
        }
    }
    reader.done = true;
    reader.finished.notify();
    state.window_open.notify();
}

} // namespace

rt::task<void> run_publisher(const bench_options& o, shard_load& load, publisher_state& state,
                             std::unique_ptr<client> c) {
    std::vector<message_template> templates;
    templates.reserve(state.spec.streams.size());
    for (const auto& s : state.spec.streams) {
        templates.push_back(make_template(s.topic, o.payload, o.qos));
    }
    state.sent.assign(state.spec.streams.size(), 0);
    state.live = c.get();

    packet_ids ids;
    ack_reader_state reader;
    if (o.qos > 0) {
        rt::reactor::local().spawn(read_acks(o, load, state, *c, ids, reader));
    } else {
        reader.done = true; // nothing comes back for QoS 0
    }

    constexpr std::size_t chunk_bytes = std::size_t{64} * 1024;
    const std::size_t message_size = templates.front().bytes.size();
    const std::size_t chunk = std::max<std::size_t>(1, chunk_bytes / message_size);
    const double rate = o.rate > 0 ? o.rate / o.publishers : 0;
    const std::uint64_t burst =
        std::clamp<std::uint64_t>(static_cast<std::uint64_t>(rate / 1000), 1, chunk);
    std::vector<std::uint8_t> buffer;
    buffer.reserve(chunk * message_size);

    const std::uint64_t t0 = now_ns();
    std::uint64_t total = 0;
    std::size_t next_stream = 0;
    while (load.publishing && !c->stream().broken() && !state.failed) {
        std::uint64_t n = chunk;
        if (o.count > 0) {
            n = std::min(n, o.count - total);
            if (n == 0) {
                break;
            }
        }
        if (rate > 0) {
            const auto due =
                static_cast<std::uint64_t>(rate * static_cast<double>(now_ns() - t0) / 1e9) + 1;
            // Send in bursts of a millisecond's worth: paced sends of a
            // message or two would cost the kernel more than the broker.
            if (due < total + burst) {
                co_await rt::reactor::local().sleep_for(std::chrono::milliseconds(1));
                continue;
            }
            n = std::min(n, due - total);
        }
        if (o.qos > 0) {
            n = std::min<std::uint64_t>(n, o.window - state.in_flight);
            if (n == 0) {
                co_await state.window_open.wait();
                continue;
            }
        }
        buffer.clear();
        const std::uint64_t ts = now_ns();
        for (std::uint64_t k = 0; k < n; ++k) {
            const message_template& t = templates[next_stream];
            const std::size_t at = buffer.size();
            buffer.insert(buffer.end(), t.bytes.begin(), t.bytes.end());
            std::uint8_t* m = buffer.data() + at;
            stamp{state.spec.streams[next_stream].id, state.sent[next_stream]++, ts}.write(
                m + t.stamp_at);
            if (o.qos > 0) {
                const std::uint16_t id = ids.take();
                m[t.id_at] = static_cast<std::uint8_t>(id >> 8);
                m[t.id_at + 1] = static_cast<std::uint8_t>(id);
                ++state.in_flight;
            }
            if (++next_stream == templates.size()) {
                next_stream = 0;
            }
        }
        total += n;
        load.sent.fetch_add(n, std::memory_order_relaxed);
        c->stream().send_ref(buffer);
        co_await c->stream().drained();
    }
    if (c->stream().broken() && load.publishing) {
        load.errors.push_back("publisher " + std::to_string(state.spec.index) +
                              ": connection lost");
        state.failed = true;
    }

    // Wait for the acks still outstanding, then leave.
    const auto deadline = now_ns() + static_cast<std::uint64_t>(o.drain_timeout * 1e9);
    while (o.qos > 0 && state.in_flight > 0 && !reader.done && now_ns() < deadline) {
        co_await rt::reactor::local().sleep_for(std::chrono::milliseconds(5));
    }
    if (state.in_flight > 0) {
        load.errors.push_back("publisher " + std::to_string(state.spec.index) + ": " +
                              std::to_string(state.in_flight) + " messages never acknowledged");
        state.failed = true;
    }
    co_await c->disconnect();
    while (!reader.done) {
        co_await reader.finished.wait();
    }
    state.live = nullptr;
    state.done = true;
}

unsigned shard_load::abandon_publishers() {
    unsigned n = 0;
    for (auto& p : publishers) {
        if (!p->done && p->live != nullptr) {
            p->live->stream().shutdown();
            ++n;
        }
    }
    return n;
}

} // namespace zama::bench
