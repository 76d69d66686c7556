#pragma once

#include "runtime/clock.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace zama::rt {

class timer_wheel;

/// A one-shot timer: an intrusive node in its shard's timer wheel. The
/// owner keeps the timer alive while it is armed; destroying it cancels it.
/// Re-arming moves it. Not copyable, not movable (the wheel points to it).
///
/// Owned by one shard; used only on that shard's thread.
class timer {
  public:
    using callback_fn = void (*)(timer&) noexcept;

    explicit timer(callback_fn fn) noexcept
        : _fn(fn) {}
    timer(const timer&) = delete;
    timer& operator=(const timer&) = delete;
    ~timer() { cancel(); }

    /// Fires `fn(*this)` at `when` (on the first loop turn at or after it),
    /// on `wheel`. Re-arming an armed timer moves it.
    void arm(timer_wheel& wheel, time_point when) noexcept;
    void cancel() noexcept;
    bool armed() const noexcept { return _wheel != nullptr; }
    time_point expiry() const noexcept { return _expiry; }

  private:
    friend class timer_wheel;

    callback_fn _fn;
    timer_wheel* _wheel = nullptr;
    timer* _prev = nullptr;
    timer* _next = nullptr;
    time_point _expiry{};
    std::uint64_t _tick = 0;
};

/// A timer that calls `(owner->*Fn)()` when it fires: the usual way for an
/// object to own a timer.
template <typename Owner, void (Owner::*Fn)() noexcept>
class member_timer : public timer {
  public:
    explicit member_timer(Owner* owner) noexcept
        : timer(&fire)
        , _owner(owner) {}

  private:
    static void fire(timer& t) noexcept {
        auto& self = static_cast<member_timer&>(t);
        (self._owner->*Fn)();
    }
    Owner* _owner;
};

/// A hashed timing wheel: 1 ms ticks, 4096 slots (one turn is about 4 s).
/// Arm and cancel are O(1); a timer further away than one turn stays in its
/// slot and is skipped until its tick comes. Advancing visits each slot
/// passed, so the cost per tick is the number of timers per slot, which is
/// small for thousands of timers (10,000 keepalive timers: ~2.5 per slot).
///
/// Owned by one shard's reactor; single-threaded.
class timer_wheel {
  public:
    static constexpr std::size_t slots = 4096;
    static constexpr duration tick = std::chrono::milliseconds(1);

    explicit timer_wheel(time_point start) noexcept;
    timer_wheel(const timer_wheel&) = delete;
    timer_wheel& operator=(const timer_wheel&) = delete;
    ~timer_wheel();

    /// Fires every timer due at `now`, in expiry order within a tick's slot
    /// order; returns how many fired. A callback may arm or cancel timers,
    /// itself included.
    std::size_t advance(time_point now) noexcept;

    /// The earliest time a timer may be due, to bound how long the reactor
    /// sleeps; nothing when no timer is armed. Early rather than late: it may
    /// name a slot whose timers are a turn or more away.
    std::optional<time_point> next_due() const noexcept;

    std::size_t size() const noexcept { return _count; }

  private:
    friend class timer;

    void insert(timer& t) noexcept;
    void remove(timer& t) noexcept;
    std::uint64_t tick_of(time_point t) const noexcept;
    time_point time_of(std::uint64_t tick) const noexcept;

    time_point _start;
    std::uint64_t _current = 0; // every tick before this one has been processed
    std::size_t _count = 0;
    bool _advancing = false;
    std::array<timer*, slots> _slots{};
};

} // namespace zama::rt
