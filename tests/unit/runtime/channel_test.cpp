// The SPSC ring under two threads, and the messages it carries.

#include "runtime/shard_message.hpp"
#include "runtime/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

namespace zama::rt {
namespace {

TEST(SpscRing, TwoThreadStressLosesAndReordersNothing) {
    constexpr std::uint64_t count = 2'000'000;
    spsc_ring<std::uint64_t> ring(1024);
    std::uint64_t full_seen = 0;
    std::thread producer([&] {
        for (std::uint64_t i = 0; i < count; ++i) {
            std::uint64_t v = i;
            while (!ring.try_push(v)) {
                ++full_seen; // backpressure: the producer waits, nothing is dropped
            }
        }
    });
    std::uint64_t expected = 0;
    std::uint64_t mismatches = 0;
    while (expected < count) {
        std::uint64_t* v = ring.front();
        if (v == nullptr) {
            continue;
        }
        mismatches += *v != expected ? 1 : 0;
        ring.pop();
        ++expected;
    }
    producer.join();
    EXPECT_EQ(mismatches, 0u);
    EXPECT_EQ(expected, count);
    EXPECT_EQ(ring.front(), nullptr);
    RecordProperty("producer_saw_full", static_cast<int>(full_seen));
}

TEST(SpscRing, FullRingRefusesAndKeepsTheValue) {
    spsc_ring<std::unique_ptr<int>> ring(4);
    for (int i = 0; i < 4; ++i) {
        auto v = std::make_unique<int>(i);
        ASSERT_TRUE(ring.try_push(v));
        EXPECT_EQ(v, nullptr); // moved in
    }
    auto extra = std::make_unique<int>(99);
    EXPECT_FALSE(ring.try_push(extra));
    ASSERT_NE(extra, nullptr); // not consumed when refused
    EXPECT_EQ(*extra, 99);
    EXPECT_EQ(**ring.front(), 0);
    ring.pop();
    EXPECT_TRUE(ring.try_push(extra));
    for (int want : {1, 2, 3, 99}) {
        ASSERT_NE(ring.front(), nullptr);
        EXPECT_EQ(**ring.front(), want);
        ring.pop();
    }
}

struct counted {
    static inline int alive = 0;
    counted() { ++alive; }
    counted(const counted&) { ++alive; }
    counted(counted&&) noexcept { ++alive; }
    ~counted() { --alive; }
};

TEST(ShardMessage, SmallCallablesInlineLargeBoxedBothDestroyed) {
    int calls = 0;
    {
        counted c;
        shard_message small([&calls, c] { ++calls; });
        std::array<char, 200> big{};
        shard_message large([&calls, c, big] { calls += 1 + big[0]; });
        shard_message moved = std::move(large);
        EXPECT_FALSE(static_cast<bool>(large)); // NOLINT(bugprone-use-after-move): checks the move
        small();
        moved();
        EXPECT_EQ(calls, 2);
    }
    EXPECT_EQ(counted::alive, 0);
    EXPECT_EQ(sizeof(shard_message), 64u); // one cache line per ring slot
}

TEST(ShardMessage, RingDestroysQueuedMessages) {
    {
        spsc_ring<shard_message> ring(8);
        for (int i = 0; i < 5; ++i) {
            shard_message m([c = counted()] {});
            ASSERT_TRUE(ring.try_push(m));
        }
        EXPECT_EQ(counted::alive, 5);
    }
    EXPECT_EQ(counted::alive, 0);
}

} // namespace
} // namespace zama::rt
