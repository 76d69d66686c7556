#pragma once

#include "runtime/reactor.hpp"

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "client.hpp"
#include "histogram.hpp"
#include "verifier.hpp"

namespace zama::bench {

inline std::uint64_t now_ns() noexcept {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

/// One waiting coroutine, resumed by notify() (on the same shard).
class wakeup {
  public:
    auto wait() noexcept {
        struct awaiter {
            wakeup* w;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<> h) noexcept { w->_waiter = h; }
            void await_resume() const noexcept {}
        };
        return awaiter{this};
    }
    void notify() {
        if (_waiter) {
            rt::reactor::local().schedule(std::exchange(_waiter, {}));
        }
    }

  private:
    std::coroutine_handle<> _waiter;
};

/// A stream of messages: one publisher's messages on one topic, numbered
/// from 0. Its id is what the payload stamp calls the publisher.
struct stream_spec {
    std::uint32_t id = 0;
    std::string topic;
};

struct publisher_spec {
    unsigned index = 0;
    std::vector<stream_spec> streams; // published round robin
};

struct subscriber_spec {
    unsigned index = 0;
    std::vector<std::string> filters;
    std::vector<std::uint32_t> expected; // streams it should receive
};

/// What a subscriber has seen; kept by its shard after the task ends.
struct subscriber_result {
    subscriber_spec spec;
    verifier seen;
    bool failed = false;

    explicit subscriber_result(subscriber_spec s, std::uint32_t streams)
        : spec(std::move(s))
        , seen(streams) {}
};

struct publisher_state {
    publisher_spec spec;
    std::unique_ptr<client> connection; // until run_publisher takes it
    client* live = nullptr;             // while run_publisher runs
    std::vector<std::uint64_t> sent;    // per stream of spec.streams
    std::uint64_t acked = 0;
    unsigned in_flight = 0;
    wakeup window_open;
    bool failed = false;
    bool done = false;
};

/// The load generator's state on one shard. Written only by the shard's
/// own tasks; the counters are atomics so that shard 0 can read them for
/// the progress line without a message.
struct shard_load {
    std::atomic<std::uint64_t> sent{0};
    std::atomic<std::uint64_t> received{0};
    std::atomic<std::uint64_t> connects{0};
    histogram latency;  // since the measured window began
    histogram interval; // since the last progress line
    histogram connect_latency;

    bool publishing = false;
    bool closing = false;      // subscribers are being shut down: their end is expected
    std::vector<client*> live; // subscribers' connections, to shut down at the end
    std::vector<std::unique_ptr<client>> held; // connect-storm and idle connections
    std::uint64_t connect_failures = 0;
    unsigned subscribers_done = 0;
    std::vector<std::unique_ptr<publisher_state>> publishers;
    std::vector<std::unique_ptr<subscriber_result>> subscribers;
    std::vector<std::string> errors;

    void record_latency(std::uint64_t ns) noexcept {
        latency.record(ns);
        interval.record(ns);
    }
    void stop_publishing() {
        publishing = false;
        for (auto& p : publishers) {
            p->window_open.notify();
        }
    }
    /// Closes the connections of publishers still stuck in a send (a
    /// broker that stopped reading them); returns how many.
    unsigned abandon_publishers();
};

} // namespace zama::bench
