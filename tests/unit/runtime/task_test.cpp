// Coroutine tasks: values, chains, detached tasks, frame sizes.

#include "runtime/task.hpp"

#include <string>

#include "runtime_test_util.hpp"

namespace zama::rt::test {
namespace {

task<int> answer() {
    co_return 42;
}

task<std::string> greet(std::string who) {
    const int n = co_await answer();
    co_return "hello " + who + " " + std::to_string(n);
}

task<int> depth(int n) {
    if (n == 0) {
        co_return 0;
    }
    co_return 1 + co_await depth(n - 1);
}

TEST(Task, ReturnsValuesThroughAwait) {
    EXPECT_EQ(run(greet("zama")), "hello zama 42");
}

TEST(Task, IsLazyUntilAwaited) {
    bool started = false;
    auto t = [](bool* s) -> task<void> {
        *s = true;
        co_return;
    }(&started);
    EXPECT_FALSE(started);
    run(std::move(t));
    EXPECT_TRUE(started);
}

// Symmetric transfer: a deep chain of awaits does not grow the stack. g++
// makes the transfer a tail call only when optimising (-O2 and up), so the
// sanitizer and -O0 builds check a shallower chain.
#if defined(__SANITIZE_ADDRESS__) || !defined(__OPTIMIZE__)
constexpr int deep_chain = 2'000;
#else
constexpr int deep_chain = 200'000;
#endif

TEST(Task, DeepChainsDoNotOverflowTheStack) {
    EXPECT_EQ(run(depth(deep_chain)), deep_chain);
}

TEST(Task, DroppedTaskFreesItsFrame) {
    const std::size_t before = frame_stats::local().live;
    {
        auto t = answer();
        EXPECT_EQ(frame_stats::local().live, before + 1);
    }
    EXPECT_EQ(frame_stats::local().live, before);
}

TEST(Task, SpawnedTasksRunDetachedAndFreeTheirFrames) {
    auto r = make_reactor();
    const std::size_t before = frame_stats::local().live;
    int ran = 0;
    for (int i = 0; i < 100; ++i) {
        r->spawn([](int* counter) -> task<void> {
            co_await reactor::local().yield();
            ++*counter;
        }(&ran));
    }
    EXPECT_EQ(frame_stats::local().live, before + 100);
    reactor::loop_hooks hooks;
    hooks.done = [&] { return ran == 100; };
    r->run(hooks);
    EXPECT_EQ(ran, 100);
    EXPECT_EQ(frame_stats::local().live, before);
}

// The frame of a small connection-like loop, for the record.
TEST(Task, FrameSizeIsReported) {
    auto t = greet("x");
    EXPECT_GT(frame_stats::local().last_size, 0u);
    RecordProperty("greet_frame_bytes", static_cast<int>(frame_stats::local().last_size));
}

} // namespace
} // namespace zama::rt::test
