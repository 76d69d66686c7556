// Cross-shard message rate between two shards (messages/s and ns/message),
// and the round-trip time of submit_to.
//
//   build/release/tools/bench/channel_bench [messages] [runs]
//
// Shard 0 sends small messages to shard 1 with co_await send() (so a full
// channel holds it back), each bumping a counter there. Shards are pinned
// to CPUs 0 and 1. Prints each run and the median.

#include "runtime/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace zama::rt;

namespace {

struct figures {
    double messages_per_second = 0;
    double ns_per_message = 0;
    double round_trip_us = 0;
};

figures measure(std::uint64_t messages) {
    engine_options options;
    options.shards = 2;
    options.reactor.sq_entries = 256;
    options.reactor.recv_buffer_count = 64;
    options.reactor.recv_buffer_size = 4096;
    engine e(options);
    figures f;
    std::uint64_t received = 0; // shard 1's
    auto ok = e.run([&](shard_id id) -> task<void> {
        engine& eng = engine::local();
        if (id == 0) {
            const auto start = std::chrono::steady_clock::now();
            for (std::uint64_t i = 0; i < messages; ++i) {
                co_await eng.send(1, [&received] { ++received; });
            }
            // The last one has been run once this round trip returns.
            const auto n = co_await eng.submit_to(1, [&received] { return received; });
            const double seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            if (n != messages) {
                std::fprintf(stderr, "lost messages: %llu of %llu\n",
                             static_cast<unsigned long long>(n),
                             static_cast<unsigned long long>(messages));
                std::exit(1);
            }
            f.messages_per_second = static_cast<double>(messages) / seconds;
            f.ns_per_message = seconds * 1e9 / static_cast<double>(messages);

            constexpr int trips = 20'000;
            const auto t0 = std::chrono::steady_clock::now();
            for (int i = 0; i < trips; ++i) {
                (void)co_await eng.submit_to(1, [] { return 1; });
            }
            f.round_trip_us =
                std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                    .count() /
                trips;
            eng.request_stop();
        }
        co_await eng.stop_signal();
    });
    if (!ok) {
        std::fprintf(stderr, "%s\n", ok.error().message.c_str());
        std::exit(1);
    }
    return f;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    const std::uint64_t messages = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20'000'000;
    const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
    std::vector<double> rate;
    std::vector<double> ns;
    std::vector<double> rtt;
    for (int i = 0; i < runs; ++i) {
        const figures f = measure(messages);
        std::printf("run %d: %.2f M messages/s, %.1f ns/message, round trip %.2f us\n", i + 1,
                    f.messages_per_second / 1e6, f.ns_per_message, f.round_trip_us);
        rate.push_back(f.messages_per_second);
        ns.push_back(f.ns_per_message);
        rtt.push_back(f.round_trip_us);
    }
    std::printf("median: %.2f M messages/s, %.1f ns/message, submit_to round trip %.2f us\n",
                median(rate) / 1e6, median(ns), median(rtt));
    return 0;
}
