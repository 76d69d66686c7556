#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace zama::rt {

/// A move-only `void()` callable sent to another shard and run there. One
/// cache line: callables up to 48 bytes (a few pointers and ids, which is
/// what the data path sends) live inline; larger ones are boxed on the heap.
/// `_storage` is raw space for the callable, deliberately not zeroed.
// NOLINTBEGIN(cppcoreguidelines-pro-type-member-init)
class shard_message {
  public:
    static constexpr std::size_t inline_size = 48;

    shard_message() noexcept = default;

    template <typename F,
              typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, shard_message>>>
    shard_message(F&& f) { // NOLINT(google-explicit-constructor): built from lambdas
        using fn = std::decay_t<F>;
        constexpr bool fits = sizeof(fn) <= inline_size;
        constexpr bool aligned = alignof(fn) <= alignof(std::max_align_t);
        if constexpr (fits && aligned && std::is_nothrow_move_constructible_v<fn>) {
            ::new (static_cast<void*>(_storage)) fn(std::forward<F>(f));
            _ops = &inline_ops<fn>;
        } else {
            ::new (static_cast<void*>(_storage)) fn*(new fn(std::forward<F>(f)));
            _ops = &boxed_ops<fn>;
        }
    }

    shard_message(shard_message&& other) noexcept
        : _ops(std::exchange(other._ops, nullptr)) {
        if (_ops != nullptr) {
            _ops->move(other._storage, _storage);
        }
    }
    shard_message& operator=(shard_message&& other) noexcept {
        if (this != &other) {
            reset();
            _ops = std::exchange(other._ops, nullptr);
            if (_ops != nullptr) {
                _ops->move(other._storage, _storage);
            }
        }
        return *this;
    }
    shard_message(const shard_message&) = delete;
    shard_message& operator=(const shard_message&) = delete;
    ~shard_message() { reset(); }

    explicit operator bool() const noexcept { return _ops != nullptr; }
    void operator()() { _ops->invoke(_storage); }

  private:
    struct ops {
        void (*invoke)(void*);
        void (*move)(void* from, void* to) noexcept; // move-constructs into `to`, destroys `from`
        void (*destroy)(void*) noexcept;
    };

    template <typename F>
    static constexpr ops inline_ops{
        [](void* p) { (*static_cast<F*>(p))(); },
        [](void* from, void* to) noexcept {
            ::new (to) F(std::move(*static_cast<F*>(from)));
            static_cast<F*>(from)->~F();
        },
        [](void* p) noexcept { static_cast<F*>(p)->~F(); },
    };
    template <typename F>
    static constexpr ops boxed_ops{
        [](void* p) { (**static_cast<F**>(p))(); },
        [](void* from, void* to) noexcept { *static_cast<F**>(to) = *static_cast<F**>(from); },
        [](void* p) noexcept { delete *static_cast<F**>(p); },
    };

    void reset() noexcept {
        if (_ops != nullptr) {
            _ops->destroy(_storage);
            _ops = nullptr;
        }
    }

    alignas(std::max_align_t) unsigned char _storage[inline_size];
    const ops* _ops = nullptr;
};
// NOLINTEND(cppcoreguidelines-pro-type-member-init)

} // namespace zama::rt
