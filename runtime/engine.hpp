#pragma once

#include "base/named_type.hpp"
#include "base/result.hpp"
#include "runtime/reactor.hpp"
#include "runtime/shard_message.hpp"
#include "runtime/spsc_ring.hpp"
#include "runtime/task.hpp"

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

namespace zama::rt {

using shard_id = unsigned;

struct engine_options {
    unsigned shards = 0;                 // 0: one per CPU this process may run on
    bool pin = true;                     // pin shard i to the i-th allowed CPU
    std::size_t channel_capacity = 4096; // messages per ordered pair of shards
    reactor_options reactor;
};

/// The shards of the process: one thread per shard, each pinned to a core
/// and running its own reactor, and a bounded SPSC channel for each ordered
/// pair of shards. Shards share nothing mutable; they talk by moving
/// messages (callables run on the target shard).
///
/// run() is called from one thread (main) and blocks until every shard has
/// stopped; request_stop() may be called from any thread (a signal handler
/// thread). Everything else is called on shard threads, about the calling
/// shard (engine::local()).
///
/// Wake-ups: a shard about to sleep publishes it; a sender that pushed to
/// a sleeping shard's channel wakes it once, at the end of the sender's
/// loop turn (IORING_OP_MSG_RING, or an eventfd write). A busy shard is
/// never woken.
///
/// Stopping: request_stop() resumes every shard's stop_requested() waiters.
/// A shard's loop ends once its main task has finished, every main task
/// has finished, and it has no I/O in flight, no ready task, no submit_to()
/// waiting for its reply and nothing in its channels in or out. Threads are
/// then joined.
class engine {
  public:
    explicit engine(engine_options options);
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;
    ~engine();

    /// Starts the shards, runs main(shard) on each as a task, and returns
    /// once all have stopped. Returns the first shard's set-up failure (no
    /// io_uring, ...) if any ring could not be created; then no main ran.
    result<void, setup_failure> run(std::function<task<void>(shard_id)> main);

    /// From any thread, once or more: asks every shard to finish.
    void request_stop() noexcept;

    unsigned size() const noexcept { return _count; }

    /// The engine of the calling shard thread, and the shard's id.
    static engine& local() noexcept;
    static shard_id this_shard() noexcept;

    // --- On a shard thread ---------------------------------------------------

    bool stop_requested() const noexcept;
    /// co_await: resumes when this engine is asked to stop (at once if it was).
    auto stop_signal() noexcept;

    /// Runs `fn` on shard `to`, in order with everything else this shard
    /// sends there. Never waits: if the channel is full the message queues
    /// on this shard until there is room. For replies and control messages;
    /// bulk senders use send() to feel backpressure.
    void post(shard_id to, shard_message fn);

    /// co_await send(to, fn): like post(), but suspends the caller while
    /// the channel to `to` is full, so a fast shard cannot outrun a slow one.
    auto send(shard_id to, shard_message fn);

    /// co_await submit_to(to, fn): runs fn() on shard `to` and resumes here
    /// with its result. fn may return a value, void, or a task<T> (awaited
    /// on `to`).
    template <typename F>
    auto submit_to(shard_id to, F fn) -> task<awaited_value_t<std::invoke_result_t<F>>>;

    /// submit_to() counts the replies this shard waits for: a stopping shard
    /// does not finish while one is outstanding.
    void expect_reply() noexcept;
    void got_reply() noexcept;

  private:
    struct channel {
        explicit channel(std::size_t capacity)
            : ring(capacity) {}
        spsc_ring<shard_message> ring;
        // Set by the producer when it has messages waiting for room; the
        // consumer clears it and wakes the producer after it pops.
        std::atomic<bool> producer_waiting{false};
    };
    struct pending {
        shard_message msg;
        std::coroutine_handle<> waiter; // resumed once msg is in the ring
    };
    struct shard;

    channel& chan(shard_id from, shard_id to) noexcept { return *_channels[from * _count + to]; }
    void shard_main(shard_id id, const std::function<task<void>(shard_id)>& main);
    bool poll(shard& s);
    bool flush_pending(shard& s, shard_id to);
    bool inbound_empty(shard& s);
    bool finished(shard& s);
    void enqueue(shard& s, shard_id to, shard_message msg, std::coroutine_handle<> waiter);

    engine_options _options;
    unsigned _count;
    std::vector<std::unique_ptr<channel>> _channels;
    std::vector<std::unique_ptr<shard>> _shards;
    std::atomic<bool> _stop{false};
    std::atomic<unsigned> _mains_running{0};

    // Start-up: every shard creates its reactor, then all start together or,
    // if one failed, none does.
    std::mutex _start_mutex;
    std::condition_variable _start_cv;
    unsigned _started = 0;
    std::optional<setup_failure> _failure;

  public:
    // Implementation detail of send(), public for the awaiter.
    struct send_awaiter {
        engine* e;
        shard_id to;
        shard_message msg;
        bool await_ready() noexcept;
        void await_suspend(std::coroutine_handle<> h);
        void await_resume() const noexcept {}
    };
    struct stop_awaiter {
        engine* e;
        bool await_ready() const noexcept { return e->stop_requested(); }
        void await_suspend(std::coroutine_handle<> h);
        void await_resume() const noexcept {}
    };
};

inline auto engine::send(shard_id to, shard_message fn) {
    return send_awaiter{this, to, std::move(fn)};
}

inline auto engine::stop_signal() noexcept {
    return stop_awaiter{this};
}

template <typename F>
auto engine::submit_to(shard_id to, F fn) -> task<awaited_value_t<std::invoke_result_t<F>>> {
    using raw = std::invoke_result_t<F>;
    using value = awaited_value_t<raw>;
    constexpr bool is_task = !std::is_same_v<raw, value>;

    if (to == this_shard()) {
        if constexpr (is_task) {
            co_return co_await fn();
        } else {
            co_return fn();
        }
    }

    // The reply lands in this frame and resumes us if we are already
    // waiting (it can arrive first when send() had to wait for room).
    struct reply {
        std::conditional_t<std::is_void_v<value>, bool, std::optional<value>> result{};
        std::coroutine_handle<> waiter;
    };
    reply r;
    const shard_id from = this_shard();
    auto deliver = [this, from, rp = &r](auto&&... v) {
        if constexpr (std::is_void_v<value>) {
            post(from, [rp] {
                rp->result = true;
                engine::local().got_reply();
                if (rp->waiter) {
                    reactor::local().schedule(rp->waiter);
                }
            });
        } else {
            post(from, [rp, val = value(std::forward<decltype(v)>(v)...)]() mutable {
                rp->result.emplace(std::move(val));
                engine::local().got_reply();
                if (rp->waiter) {
                    reactor::local().schedule(rp->waiter);
                }
            });
        }
    };
    // Built as a named message, not as a lambda inside the co_await: see
    // the g++ 12 note in task.hpp.
    shard_message request([fn = std::move(fn), deliver]() mutable {
        if constexpr (is_task) {
            reactor::local().spawn([](F f, decltype(deliver) d) -> task<void> {
                if constexpr (std::is_void_v<value>) {
                    co_await f();
                    d();
                } else {
                    d(co_await f());
                }
            }(std::move(fn), deliver));
        } else if constexpr (std::is_void_v<value>) {
            fn();
            deliver();
        } else {
            deliver(fn());
        }
    });
    expect_reply();
    co_await send(to, std::move(request));
    struct wait_reply {
        reply* r;
        bool await_ready() const noexcept { return static_cast<bool>(r->result); }
        void await_suspend(std::coroutine_handle<> h) noexcept { r->waiter = h; }
        void await_resume() const noexcept {}
    };
    co_await wait_reply{&r};
    if constexpr (!std::is_void_v<value>) {
        co_return std::move(*r.result);
    }
}

} // namespace zama::rt
