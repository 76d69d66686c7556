// Codec throughput: decode (GB/s and packets/s) of a PUBLISH stream with
// 64-byte payloads, fed whole and in 16 KiB fragments as a socket delivers
// it, and of a CONNECT/SUBSCRIBE mix; encode of PUBLISH.
//
// Run pinned to one core:
//   taskset -c 1 build/release/tools/bench/codec_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true     (one line)
// "GB/s" is 10^9 bytes per second; "packets" is packets per second.

#include "mqtt/decoder.hpp"
#include "mqtt/encoder.hpp"
#include "mqtt/topic.hpp"

#include <benchmark/benchmark.h>

#include <array>
#include <string>
#include <vector>

namespace {

using namespace zama::mqtt;
using bytes = std::vector<std::uint8_t>;

void append(bytes& stream, const packet& p) {
    const std::size_t at = stream.size();
    stream.resize(at + *encoded_size(p));
    (void)encode(p, std::span(stream).subspan(at));
}

// About 1 MiB of back-to-back PUBLISH packets.
bytes publish_stream(std::string_view topic, qos q, std::size_t* count) {
    const bytes payload(64, 0x5A);
    bytes stream;
    *count = 0;
    while (stream.size() < (1u << 20)) {
        const auto id = static_cast<std::uint16_t>(*count % 65535 + 1);
        append(stream, publish{.topic = topic,
                               .payload = payload,
                               .id = packet_id{q == qos::at_most_once ? std::uint16_t{0} : id},
                               .qos = q});
        ++*count;
    }
    return stream;
}

bytes connect_subscribe_stream(std::size_t* count) {
    const std::array<std::uint8_t, 16> password{};
    const std::array<subscription, 3> subs{{{"devices/+/telemetry", qos::at_least_once},
                                            {"devices/d-42/commands/#", qos::exactly_once},
                                            {"$SYS/broker/clients/connected", qos::at_most_once}}};
    bytes stream;
    *count = 0;
    while (stream.size() < (1u << 20)) {
        const std::string id = "device-" + std::to_string(*count);
        append(stream, connect{.client_id = id,
                               .keep_alive = 60,
                               .clean_session = false,
                               .will = will_message{.topic = "devices/d-42/status",
                                                    .payload = password,
                                                    .qos = qos::at_least_once,
                                                    .retain = true},
                               .username = "fleet-user",
                               .password = bytes_view(password)});
        append(stream, subscribe{packet_id{1}, subscription_list(subs)});
        *count += 2;
    }
    return stream;
}

// Decodes `stream` fed in fragments of `fragment` bytes; counts packets.
std::size_t decode_all(const bytes& stream, std::size_t fragment) {
    decoder d;
    std::size_t packets = 0;
    packet p;
    for (std::size_t at = 0; at < stream.size(); at += fragment) {
        d.feed(bytes_view(stream).subspan(at, std::min(fragment, stream.size() - at)));
        while (d.next(p) == decode_status::ready) {
            benchmark::DoNotOptimize(&p);
            ++packets;
        }
    }
    return packets;
}

void report(benchmark::State& state, std::size_t stream_bytes, std::size_t packets) {
    const auto iterations = static_cast<double>(state.iterations());
    state.counters["GB/s"] =
        benchmark::Counter(iterations * static_cast<double>(stream_bytes),
                           benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
    state.counters["packets"] =
        benchmark::Counter(iterations * static_cast<double>(packets), benchmark::Counter::kIsRate,
                           benchmark::Counter::kIs1000);
}

void decode_publishes(benchmark::State& state, std::string_view topic, qos q) {
    const std::size_t fragment = static_cast<std::size_t>(state.range(0));
    std::size_t count = 0;
    const bytes stream = publish_stream(topic, q, &count);
    for (auto _ : state) {
        if (decode_all(stream, fragment) != count) {
            state.SkipWithError("lost packets");
        }
    }
    report(state, stream.size(), count);
}

// A typical IoT topic (31 bytes) and a short one (8 bytes): shorter topics
// mean more packets per byte.
void BM_DecodePublishQos0(benchmark::State& state) {
    decode_publishes(state, "sensors/device-0042/temperature", qos::at_most_once);
}
void BM_DecodePublishQos0ShortTopic(benchmark::State& state) {
    decode_publishes(state, "sensor/1", qos::at_most_once);
}
void BM_DecodePublishQos1(benchmark::State& state) {
    decode_publishes(state, "sensors/device-0042/temperature", qos::at_least_once);
}

// Arg: fragment size. 1 MiB = the whole stream at once; 16 KiB = a socket's
// recv, so some packets straddle fragments and are reassembled.
BENCHMARK(BM_DecodePublishQos0)->Arg(1 << 20)->Arg(16 << 10);
BENCHMARK(BM_DecodePublishQos0ShortTopic)->Arg(1 << 20)->Arg(16 << 10);
BENCHMARK(BM_DecodePublishQos1)->Arg(1 << 20)->Arg(16 << 10);

void BM_DecodeConnectSubscribeMix(benchmark::State& state) {
    std::size_t count = 0;
    const bytes stream = connect_subscribe_stream(&count);
    for (auto _ : state) {
        if (decode_all(stream, 16 << 10) != count) {
            state.SkipWithError("lost packets");
        }
    }
    report(state, stream.size(), count);
}
BENCHMARK(BM_DecodeConnectSubscribeMix);

void BM_EncodePublishQos1(benchmark::State& state) {
    const bytes payload(64, 0x5A);
    bytes out(1 << 20);
    std::size_t packets = 0;
    std::size_t written = 0;
    for (auto _ : state) {
        std::size_t at = 0;
        for (std::uint16_t id = 1; at + 128 < out.size(); ++id) {
            const publish p{.topic = "sensors/device-0042/temperature",
                            .payload = payload,
                            .id = packet_id{id},
                            .qos = qos::at_least_once};
            at += *encode(p, std::span(out).subspan(at));
            ++packets;
        }
        written += at;
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["GB/s"] = benchmark::Counter(
        static_cast<double>(written), benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
    state.counters["packets"] = benchmark::Counter(
        static_cast<double>(packets), benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_EncodePublishQos1);

void BM_TopicMatch(benchmark::State& state) {
    const std::array<std::string_view, 4> filters{"sensors/+/temperature", "sensors/#",
                                                  "sensors/device-0042/humidity", "+/+/+"};
    std::size_t matches = 0;
    for (auto _ : state) {
        for (std::string_view f : filters) {
            matches += topic_matches(f, "sensors/device-0042/temperature") ? 1 : 0;
        }
    }
    benchmark::DoNotOptimize(matches);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * filters.size()));
}
BENCHMARK(BM_TopicMatch);

} // namespace

BENCHMARK_MAIN();
