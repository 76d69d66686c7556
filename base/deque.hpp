#pragma once

#include <boost/container/deque.hpp>

#include <cstddef>
#include <memory>
#include <utility>

namespace zama {

/// A double-ended queue that holds memory only while it holds elements: one
/// pointer when empty.
///
/// Every connection and session has queues that are empty nearly all the
/// time (acks waiting for the log, messages in flight, retained messages
/// waiting for the window). libstdc++'s std::deque allocates 576 B when
/// constructed, and an empty Boost deque is 80 B inline, kept for the
/// connection's life. Here the Boost deque is made on the first push and
/// freed when the last element leaves, so an idle client owns none of it.
/// A queue that empties once per message (a publisher that waits for each
/// ack) pays one allocation per message for it.
///
/// The subset of the std::deque interface the broker uses; move-only. Iterators of an
/// empty queue are value-initialized, and compare equal.
template <typename T>
class deque {
    using impl = boost::container::deque<T>;

  public:
    using value_type = T;
    using iterator = typename impl::iterator;
    using const_iterator = typename impl::const_iterator;

    deque() noexcept = default;
    deque(deque&&) noexcept = default;
    deque& operator=(deque&&) noexcept = default;
    deque(const deque&) = delete; // nothing copies a queue
    deque& operator=(const deque&) = delete;
    ~deque() = default;

    bool empty() const noexcept { return !_q; }
    std::size_t size() const noexcept { return _q ? _q->size() : 0; }

    iterator begin() noexcept { return _q ? _q->begin() : iterator(); }
    iterator end() noexcept { return _q ? _q->end() : iterator(); }
    const_iterator begin() const noexcept { return _q ? _q->cbegin() : const_iterator(); }
    const_iterator end() const noexcept { return _q ? _q->cend() : const_iterator(); }

    T& front() noexcept { return _q->front(); }
    const T& front() const noexcept { return _q->front(); }
    T& back() noexcept { return _q->back(); }
    const T& back() const noexcept { return _q->back(); }

    void push_back(T v) { emplace_back(std::move(v)); }
    template <typename... Args>
    T& emplace_back(Args&&... args) {
        if (_q) {
            return _q->emplace_back(std::forward<Args>(args)...);
        }
        // Installed once it holds the element, so a throw leaves it empty.
        auto q = std::make_unique<impl>();
        q->emplace_back(std::forward<Args>(args)...);
        _q = std::move(q);
        return _q->back();
    }

    void pop_front() noexcept {
        _q->pop_front();
        release_if_empty();
    }
    /// Erases the element at `it`; returns the iterator after it (end()
    /// when that was the last element).
    iterator erase(const_iterator it) {
        iterator next = _q->erase(it);
        if (_q->empty()) {
            _q.reset();
            return iterator();
        }
        return next;
    }
    void clear() noexcept { _q.reset(); }

  private:
    void release_if_empty() noexcept {
        if (_q->empty()) {
            _q.reset();
        }
    }

    // Invariant: null or non-empty.
    std::unique_ptr<impl> _q;
};

} // namespace zama
