#pragma once

#include "base/vassert.hpp"

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <utility>

namespace zama::rt {

/// A bounded single-producer single-consumer ring of T (lock-free). One
/// thread pushes, one thread pops. Each side caches the other's index and
/// reads the shared one only when its cache says full (producer) or empty
/// (consumer), so a steady stream costs no cache-line ping-pong per item.
///
/// Shared by exactly two shards: the producer owns push(), the consumer
/// front()/pop(). Neither blocks; backpressure is the caller's (engine).
template <typename T>
class spsc_ring {
  public:
    explicit spsc_ring(std::size_t capacity)
        : _mask(capacity - 1)
        , _slots(std::make_unique<slot[]>(capacity)) {
        ZAMA_ASSERT(capacity >= 2 && (capacity & (capacity - 1)) == 0,
                    "spsc_ring capacity must be a power of two");
    }
    spsc_ring(const spsc_ring&) = delete;
    spsc_ring& operator=(const spsc_ring&) = delete;
    ~spsc_ring() {
        while (front() != nullptr) {
            pop();
        }
    }

    std::size_t capacity() const noexcept { return _mask + 1; }

    /// Producer: moves `v` in, or returns false (leaving `v` alone) if full.
    bool try_push(T& v) noexcept {
        const std::size_t tail = _tail.load(std::memory_order_relaxed);
        if (tail - _head_cache == capacity()) {
            _head_cache = _head.load(std::memory_order_acquire);
            if (tail - _head_cache == capacity()) {
                return false;
            }
        }
        ::new (_slots[tail & _mask].bytes) T(std::move(v));
        _tail.store(tail + 1, std::memory_order_release);
        return true;
    }

    /// Consumer: the oldest item, or nullptr if empty.
    T* front() noexcept {
        const std::size_t head = _head.load(std::memory_order_relaxed);
        if (head == _tail_cache) {
            _tail_cache = _tail.load(std::memory_order_acquire);
            if (head == _tail_cache) {
                return nullptr;
            }
        }
        return std::launder(reinterpret_cast<T*>(_slots[head & _mask].bytes));
    }

    /// Consumer: destroys the item front() returned.
    void pop() noexcept {
        const std::size_t head = _head.load(std::memory_order_relaxed);
        std::launder(reinterpret_cast<T*>(_slots[head & _mask].bytes))->~T();
        _head.store(head + 1, std::memory_order_release);
    }

  private:
    struct slot {
        alignas(T) unsigned char bytes[sizeof(T)];
    };
    static constexpr std::size_t line = 64;

    const std::size_t _mask;
    std::unique_ptr<slot[]> _slots;
    alignas(line) std::atomic<std::size_t> _head{0}; // written by the consumer
    std::size_t _tail_cache = 0;                     // consumer's copy of _tail
    alignas(line) std::atomic<std::size_t> _tail{0}; // written by the producer
    std::size_t _head_cache = 0;                     // producer's copy of _head
};

} // namespace zama::rt
