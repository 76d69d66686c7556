#pragma once

#include "base/vassert.hpp"
#include "runtime/reactor.hpp"

#include <coroutine>
#include <cstddef>
#include <deque>
#include <utility>

namespace zama::router {

/// Bounds the memory one shard spends on catch-up reads: the batches its
/// lagging sessions have read from partition logs (the disk, mostly) and
/// not yet delivered. Without it a fleet of persistent sessions coming back
/// at once after a restart would each hold a read (256 KiB or more) while
/// its window fills, and memory would grow with the number of sessions.
///
/// A read takes a grant before it starts and keeps it until its batches are
/// delivered or dropped; reads beyond the limit wait, first come first
/// served. One read always proceeds, however large, so nothing stalls.
///
/// Per shard, used on its thread only.
class read_budget {
  public:
    /// Bytes held until destroyed (or resized).
    class grant {
      public:
        grant() noexcept = default;
        grant(grant&& o) noexcept
            : _budget(std::exchange(o._budget, nullptr))
            , _bytes(std::exchange(o._bytes, 0)) {}
        grant& operator=(grant&& o) noexcept {
            if (this != &o) {
                release();
                _budget = std::exchange(o._budget, nullptr);
                _bytes = std::exchange(o._bytes, 0);
            }
            return *this;
        }
        grant(const grant&) = delete;
        grant& operator=(const grant&) = delete;
        ~grant() { release(); }

        /// Charges what the read really returned instead of what was asked.
        void resize(std::size_t bytes) noexcept {
            if (_budget != nullptr) {
                _budget->_held += bytes;
                _budget->give_back(std::exchange(_bytes, bytes));
            }
        }
        std::size_t bytes() const noexcept { return _bytes; }

      private:
        friend class read_budget;
        grant(read_budget* b, std::size_t bytes) noexcept
            : _budget(b)
            , _bytes(bytes) {}
        void release() noexcept {
            if (_budget != nullptr) {
                std::exchange(_budget, nullptr)->give_back(std::exchange(_bytes, 0));
            }
        }

        read_budget* _budget = nullptr;
        std::size_t _bytes = 0;
    };

    explicit read_budget(std::size_t limit) noexcept
        : _limit(limit) {}
    read_budget(const read_budget&) = delete;
    read_budget& operator=(const read_budget&) = delete;
    ~read_budget() { ZAMA_ASSERT(_held == 0, "read_budget destroyed before its grants"); }

    /// co_await take(n): a grant of n bytes, once they fit under the limit.
    auto take(std::size_t n) noexcept { return awaiter{this, n, {}}; }

    std::size_t held() const noexcept { return _held; }
    std::size_t waiting() const noexcept { return _waiting.size(); }

    /// At shutdown, when the waiting coroutines are gone with their reactor:
    /// grants released afterwards wake nobody.
    void drop_waiters() noexcept { _waiting.clear(); }

  private:
    struct awaiter {
        read_budget* b = nullptr;
        std::size_t n = 0;
        std::coroutine_handle<> h;
        bool await_ready() noexcept {
            if (b->_waiting.empty() && b->fits(n)) {
                b->_held += n;
                return true;
            }
            return false;
        }
        void await_suspend(std::coroutine_handle<> handle) {
            h = handle;
            b->_waiting.push_back(this);
        }
        grant await_resume() const noexcept { return grant(b, n); }
    };

    bool fits(std::size_t n) const noexcept { return _held == 0 || _held + n <= _limit; }

    // Wakes waiters in order while they fit; their bytes count as held from
    // the moment they are woken.
    void give_back(std::size_t n) noexcept {
        _held -= n;
        while (!_waiting.empty() && fits(_waiting.front()->n)) {
            awaiter* a = _waiting.front();
            _waiting.pop_front();
            _held += a->n;
            rt::reactor::local().schedule(a->h);
        }
    }

    std::size_t _limit;
    std::size_t _held = 0;
    std::deque<awaiter*> _waiting;
};

} // namespace zama::router
