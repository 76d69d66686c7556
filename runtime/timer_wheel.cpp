#include "runtime/timer_wheel.hpp"

#include "base/vassert.hpp"

namespace zama::rt {

void timer::arm(timer_wheel& wheel, time_point when) noexcept {
    cancel();
    _expiry = when;
    wheel.insert(*this);
}

void timer::cancel() noexcept {
    if (_wheel != nullptr) {
        _wheel->remove(*this);
    }
}

timer_wheel::timer_wheel(time_point start) noexcept
    : _start(start) {}

timer_wheel::~timer_wheel() {
    // Timers outliving the wheel must not point into it.
    for (timer*& head : _slots) {
        while (head != nullptr) {
            remove(*head);
        }
    }
}

std::uint64_t timer_wheel::tick_of(time_point t) const noexcept {
    if (t <= _start) {
        return 0;
    }
    // Round up: a timer never fires before its expiry.
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t - _start).count();
    const auto per_tick = std::chrono::duration_cast<std::chrono::nanoseconds>(tick).count();
    return static_cast<std::uint64_t>((ns + per_tick - 1) / per_tick);
}

time_point timer_wheel::time_of(std::uint64_t tick_number) const noexcept {
    return _start + tick * static_cast<std::int64_t>(tick_number);
}

void timer_wheel::insert(timer& t) noexcept {
    // A timer already due goes to the current tick, so the next advance fires
    // it; one armed by a callback during advance() goes to the next tick, so
    // a callback that re-arms for "now" cannot loop forever.
    t._tick = std::max(tick_of(t._expiry), _advancing ? _current + 1 : _current);
    timer*& head = _slots[t._tick % slots];
    t._wheel = this;
    t._prev = nullptr;
    t._next = head;
    if (head != nullptr) {
        head->_prev = &t;
    }
    head = &t;
    ++_count;
}

void timer_wheel::remove(timer& t) noexcept {
    ZAMA_ASSERT(t._wheel == this, "timer removed from a wheel it is not on");
    if (t._prev != nullptr) {
        t._prev->_next = t._next;
    } else {
        _slots[t._tick % slots] = t._next;
    }
    if (t._next != nullptr) {
        t._next->_prev = t._prev;
    }
    t._wheel = nullptr;
    t._prev = t._next = nullptr;
    --_count;
}

std::size_t timer_wheel::advance(time_point now) noexcept {
    if (now < _start) {
        return 0;
    }
    // Ticks whose time is at or before `now` are due.
    const auto per_tick = std::chrono::duration_cast<std::chrono::nanoseconds>(tick).count();
    const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(now - _start).count();
    const std::uint64_t target = static_cast<std::uint64_t>(elapsed / per_tick) + 1;
    std::size_t fired = 0;
    _advancing = true;
    // Tick by tick, even after a long stall: timers then fire in expiry
    // order, and an empty tick costs a load (an hour's stall: ~5 ms).
    while (_current < target) {
        timer* t = _slots[_current % slots];
        while (t != nullptr) {
            timer* next = t->_next;
            if (t->_tick <= _current) {
                remove(*t);
                ++fired;
                t->_fn(*t);
                // The callback may have changed this slot (re-armed timers
                // land in a later tick, or cancelled `next`): restart the slot.
                next = _slots[_current % slots];
            }
            t = next;
        }
        ++_current;
    }
    _advancing = false;
    return fired;
}

std::optional<time_point> timer_wheel::next_due() const noexcept {
    if (_count == 0) {
        return std::nullopt;
    }
    for (std::uint64_t i = 0; i < slots; ++i) {
        if (_slots[(_current + i) % slots] != nullptr) {
            return time_of(_current + i);
        }
    }
    return time_of(_current + slots);
}

} // namespace zama::rt
