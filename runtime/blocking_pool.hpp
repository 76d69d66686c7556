#pragma once

#include "runtime/reactor.hpp"

#include <condition_variable>
#include <coroutine>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

namespace zama::rt {

/// A small pool of threads for the few blocking calls io_uring cannot make:
/// listing a directory (start-up, recovery, retention) and, on kernels
/// without IORING_OP_FTRUNCATE (before 6.9), truncating a file. Two threads:
/// these calls are rare and short, and a shard never waits on them
/// synchronously (co_await run(...) suspends the task, not the shard).
///
/// Process-wide; any shard may use it. Results come back through the
/// calling reactor's external queue.
class blocking_pool {
  public:
    static constexpr unsigned threads = 2;

    static blocking_pool& instance();
    ~blocking_pool();

    /// co_await run(fn): runs fn() on a pool thread and resumes the caller
    /// on its own shard with the result.
    template <typename F>
    auto run(F fn);

  private:
    blocking_pool();
    void submit(std::function<void()> job);
    void worker();

    std::mutex _mutex;
    std::condition_variable _cv;
    std::vector<std::function<void()>> _jobs;
    bool _stopping = false;
    std::vector<std::thread> _threads;
};

template <typename F>
auto blocking_pool::run(F fn) {
    using value = std::invoke_result_t<F>;
    struct awaiter {
        blocking_pool* pool;
        F fn;
        std::optional<value> out;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) {
            reactor* home = &reactor::local();
            pool->submit([this, home, h] {
                out.emplace(fn());
                home->post_external([home, h] { home->schedule(h); });
            });
        }
        value await_resume() { return std::move(*out); }
    };
    return awaiter{this, std::move(fn), std::nullopt};
}

} // namespace zama::rt
