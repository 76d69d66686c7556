#pragma once

#include "base/vassert.hpp"

#include <coroutine>
#include <cstddef>
#include <optional>
#include <utility>

// task<T>: the coroutine type of the runtime. Connection, router and log
// code is written as straight-line coroutines that co_await I/O.
//
// - Lazy: a task starts when awaited (or when spawned, see reactor::spawn).
// - Awaiting a task resumes the awaiter directly when the task finishes
//   (symmetric transfer: no trip through the run queue). g++ turns the
//   transfer into a tail call from -O2, so chains of synchronous awaits
//   use constant stack in release builds only; -O0 and sanitizer builds
//   use a little stack per await.
// - A spawned task runs detached and frees its own frame when it finishes.
// - An exception escaping a task is a bug: it is logged and aborts, like a
//   failed ZAMA_ASSERT. Expected failures travel as result<T, E>.
//
// Frames come from operator new; their sizes are counted per thread (see
// frame_stats) so that tests and benchmarks can report them.
//
// g++ 12 pitfall: a lambda expression whose captures have destructors
// (a std::string, a shard_message, a unique_ptr), written directly inside a
// co_await expression, is destroyed twice:
//     co_await e.send(to, [s = std::string(...)] { ... });   // double free
// Name it first and move it in:
//     shard_message m([s = std::string(...)] { ... });
//     co_await e.send(to, std::move(m));
// Lambdas capturing only pointers, references and integers are unaffected.

namespace zama::rt {

/// Coroutine frame allocations of this thread.
struct frame_stats {
    std::size_t allocations = 0;
    std::size_t live = 0;
    std::size_t last_size = 0; // bytes of the most recent frame
    std::size_t detached = 0;  // spawned tasks not finished yet

    static frame_stats& local() noexcept {
        thread_local frame_stats stats;
        return stats;
    }
};

namespace detail {

[[noreturn]] void task_exception_escaped() noexcept;

struct promise_base {
    std::coroutine_handle<> continuation;
    bool detached = false;

    static void* operator new(std::size_t size) {
        frame_stats& s = frame_stats::local();
        ++s.allocations;
        ++s.live;
        s.last_size = size;
        return ::operator new(size);
    }
    static void operator delete(void* p) noexcept {
        --frame_stats::local().live;
        ::operator delete(p);
    }

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <typename Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) noexcept {
            promise_base& p = h.promise();
            if (p.continuation) {
                return p.continuation;
            }
            if (p.detached) {
                --frame_stats::local().detached;
                h.destroy();
            }
            return std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };

    std::suspend_always initial_suspend() const noexcept { return {}; }
    final_awaiter final_suspend() const noexcept { return {}; }
    [[noreturn]] void unhandled_exception() const noexcept { task_exception_escaped(); }
};

template <typename T>
struct promise : promise_base {
    std::optional<T> value;

    template <typename U>
    void return_value(U&& v) {
        value.emplace(std::forward<U>(v));
    }
    T take() { return std::move(*value); }
};

template <>
struct promise<void> : promise_base {
    void return_void() const noexcept {}
    void take() const noexcept {}
};

} // namespace detail

template <typename T = void>
class [[nodiscard]] task {
  public:
    struct promise_type : detail::promise<T> {
        task get_return_object() noexcept {
            return task(std::coroutine_handle<promise_type>::from_promise(*this));
        }
    };
    using handle_type = std::coroutine_handle<promise_type>;

    task() = default;
    task(task&& other) noexcept
        : _h(std::exchange(other._h, {})) {}
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            reset();
            _h = std::exchange(other._h, {});
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() { reset(); }

    bool valid() const noexcept { return static_cast<bool>(_h); }

    auto operator co_await() && noexcept {
        struct awaiter {
            handle_type h;
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
                h.promise().continuation = awaiting;
                return h;
            }
            T await_resume() { return h.promise().take(); }
        };
        ZAMA_ASSERT(_h, "awaiting an empty task");
        return awaiter{_h};
    }

    /// Gives up ownership so the task can run detached: it will free its
    /// frame when it finishes. Used by reactor::spawn.
    std::coroutine_handle<> release_detached() && noexcept {
        ZAMA_ASSERT(_h, "spawning an empty task");
        _h.promise().detached = true;
        ++frame_stats::local().detached;
        return std::exchange(_h, {});
    }

  private:
    explicit task(handle_type h) noexcept
        : _h(h) {}

    void reset() noexcept {
        if (_h) {
            _h.destroy();
            _h = {};
        }
    }

    handle_type _h;
};

/// The value a callable's result yields when awaited: T for task<T>, the
/// type itself otherwise.
template <typename T>
struct awaited_value {
    using type = T;
};
template <typename T>
struct awaited_value<task<T>> {
    using type = T;
};
template <typename T>
using awaited_value_t = typename awaited_value<T>::type;

} // namespace zama::rt
