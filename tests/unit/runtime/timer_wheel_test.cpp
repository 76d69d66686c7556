// The timer wheel, driven with explicit times.

#include "runtime/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

namespace zama::rt {
namespace {

using namespace std::chrono_literals;

struct recorded : timer {
    explicit recorded(std::vector<int>* into, int ident)
        : timer([](timer& t) noexcept {
            auto& self = static_cast<recorded&>(t);
            self.log->push_back(self.id);
        })
        , log(into)
        , id(ident) {}
    std::vector<int>* log;
    int id;
};

TEST(TimerWheel, FiresInExpiryOrderAndNeverEarly) {
    const time_point t0{};
    timer_wheel wheel(t0);
    std::vector<int> fired;
    std::vector<std::unique_ptr<recorded>> timers;
    const int delays_ms[] = {30, 5, 17, 1, 250, 5000, 9000, 2};
    for (int i = 0; i < 8; ++i) {
        timers.push_back(std::make_unique<recorded>(&fired, delays_ms[i]));
        timers.back()->arm(wheel, t0 + std::chrono::milliseconds(delays_ms[i]));
    }
    for (int ms = 0; ms <= 10'000; ++ms) {
        const std::size_t before = fired.size();
        wheel.advance(t0 + std::chrono::milliseconds(ms));
        for (std::size_t i = before; i < fired.size(); ++i) {
            EXPECT_EQ(fired[i], ms) << "timer of " << fired[i] << " ms fired at " << ms << " ms";
        }
    }
    EXPECT_EQ(fired, (std::vector<int>{1, 2, 5, 17, 30, 250, 5000, 9000}));
    EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, SubTickExpiryRoundsUp) {
    const time_point t0{};
    timer_wheel wheel(t0);
    std::vector<int> fired;
    recorded t(&fired, 1);
    t.arm(wheel, t0 + 1500us);
    wheel.advance(t0 + 1499us);
    EXPECT_TRUE(fired.empty());
    wheel.advance(t0 + 1999us);
    EXPECT_TRUE(fired.empty());
    wheel.advance(t0 + 2ms);
    EXPECT_EQ(fired.size(), 1u);
}

TEST(TimerWheel, CancelAndRearm) {
    const time_point t0{};
    timer_wheel wheel(t0);
    std::vector<int> fired;
    recorded a(&fired, 1);
    recorded b(&fired, 2);
    a.arm(wheel, t0 + 10ms);
    b.arm(wheel, t0 + 10ms);
    a.cancel();
    EXPECT_FALSE(a.armed());
    b.arm(wheel, t0 + 20ms); // re-arm moves it
    wheel.advance(t0 + 15ms);
    EXPECT_TRUE(fired.empty());
    wheel.advance(t0 + 20ms);
    EXPECT_EQ(fired, std::vector<int>{2});
    EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, DestroyingAnArmedTimerCancelsIt) {
    const time_point t0{};
    timer_wheel wheel(t0);
    std::vector<int> fired;
    {
        recorded a(&fired, 1);
        a.arm(wheel, t0 + 5ms);
        EXPECT_EQ(wheel.size(), 1u);
    }
    EXPECT_EQ(wheel.size(), 0u);
    wheel.advance(t0 + 10ms);
    EXPECT_TRUE(fired.empty());
}

// A callback that re-arms its own timer for "now" runs once per advance,
// not forever.
TEST(TimerWheel, RearmingForNowFromACallbackDoesNotLoop) {
    const time_point t0{};
    timer_wheel wheel(t0);
    struct periodic : timer {
        explicit periodic(timer_wheel* w)
            : timer([](timer& t) noexcept {
                auto& self = static_cast<periodic&>(t);
                ++self.count;
                self.arm(*self.wheel, self.now);
            })
            , wheel(w) {}
        timer_wheel* wheel;
        time_point now{};
        int count = 0;
    } p(&wheel);
    p.arm(wheel, t0);
    for (int ms = 0; ms < 5; ++ms) {
        p.now = t0 + std::chrono::milliseconds(ms);
        wheel.advance(p.now);
    }
    EXPECT_EQ(p.count, 5);
}

TEST(TimerWheel, TenThousandTimersWithCancellations) {
    const time_point t0{};
    timer_wheel wheel(t0);
    std::vector<int> fired;
    std::vector<std::unique_ptr<recorded>> timers;
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> delay(0, 60'000);
    std::vector<int> expected;
    for (int i = 0; i < 10'000; ++i) {
        timers.push_back(std::make_unique<recorded>(&fired, delay(rng)));
        timers.back()->arm(wheel, t0 + std::chrono::milliseconds(timers.back()->id));
    }
    for (int i = 0; i < 10'000; ++i) {
        if (i % 3 == 0) {
            timers[i]->cancel();
        } else {
            expected.push_back(timers[i]->id);
        }
    }
    EXPECT_EQ(wheel.size(), expected.size());
    // Advance in uneven steps, including a stall longer than a wheel turn.
    for (int ms = 0; ms <= 61'000; ms += (ms % 7 == 0 ? 4500 : 13)) {
        wheel.advance(t0 + std::chrono::milliseconds(ms));
    }
    wheel.advance(t0 + 61s);
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(fired.size(), expected.size());
    EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end()));
    EXPECT_EQ(fired, expected);
}

TEST(TimerWheel, NextDueBoundsTheSleep) {
    const time_point t0{};
    timer_wheel wheel(t0);
    EXPECT_EQ(wheel.next_due(), std::nullopt);
    std::vector<int> fired;
    recorded a(&fired, 1);
    a.arm(wheel, t0 + 40ms);
    ASSERT_TRUE(wheel.next_due().has_value());
    EXPECT_LE(*wheel.next_due(), t0 + 40ms);
    recorded far(&fired, 2);
    a.cancel();
    far.arm(wheel, t0 + 100s);
    ASSERT_TRUE(wheel.next_due().has_value());
    EXPECT_LE(*wheel.next_due(), t0 + 100s);
}

} // namespace
} // namespace zama::rt
