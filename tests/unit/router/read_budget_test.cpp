// The shard's budget for catch-up reads: grants within the limit at once,
// beyond it in arrival order as grants are released; one read always
// proceeds.

#include "router/read_budget.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../runtime/runtime_test_util.hpp"

namespace zama::router {
namespace {

using rt::reactor;
using rt::task;

task<void> yield_turns(int n) {
    for (int i = 0; i < n; ++i) {
        co_await reactor::local().yield();
    }
}

// Takes `bytes`, records its name when granted, then holds the grant in
// `out` (so the test decides when it is released).
task<void> taker(read_budget& b, std::size_t bytes, std::string name,
                 std::vector<std::string>& order, read_budget::grant& out) {
    read_budget::grant g = co_await b.take(bytes);
    order.push_back(std::move(name));
    out = std::move(g);
}

task<void> fifo_body() {
    read_budget b(100);
    std::vector<std::string> order;
    read_budget::grant a;
    read_budget::grant c;
    read_budget::grant d;
    read_budget::grant e;
    reactor& r = reactor::local();
    r.spawn(taker(b, 60, "a", order, a));
    r.spawn(taker(b, 60, "c", order, c)); // does not fit beside a
    r.spawn(taker(b, 10, "d", order, d)); // would fit, but c came first
    co_await yield_turns(3);
    EXPECT_EQ(order, (std::vector<std::string>{"a"}));
    EXPECT_EQ(b.held(), 60u);
    EXPECT_EQ(b.waiting(), 2u);

    a = {}; // c and d fit now: both woken, in order
    co_await yield_turns(3);
    EXPECT_EQ(order, (std::vector<std::string>{"a", "c", "d"}));
    EXPECT_EQ(b.held(), 70u);

    // A grant resized to what the read returned: a larger one holds more,
    // a smaller one gives back the rest (and wakes who now fits).
    r.spawn(taker(b, 40, "e", order, e));
    co_await yield_turns(3);
    EXPECT_EQ(b.waiting(), 1u);
    c.resize(20);
    co_await yield_turns(3);
    EXPECT_EQ(order.back(), "e");
    EXPECT_EQ(b.held(), 70u); // c 20, d 10, e 40
    d.resize(50);
    EXPECT_EQ(b.held(), 110u);
    c = {};
    d = {};
    e = {};
    EXPECT_EQ(b.held(), 0u);
}

TEST(ReadBudget, GrantsInArrivalOrderAsTheyFit) {
    rt::test::run(fifo_body());
}

task<void> oversized_body() {
    read_budget b(100);
    std::vector<std::string> order;
    read_budget::grant big;
    read_budget::grant next;
    // Larger than the whole budget: granted when nothing else is held.
    reactor::local().spawn(taker(b, 500, "big", order, big));
    co_await yield_turns(2);
    EXPECT_EQ(order, (std::vector<std::string>{"big"}));
    reactor::local().spawn(taker(b, 1, "next", order, next));
    co_await yield_turns(2);
    EXPECT_EQ(order.size(), 1u) << "granted past the limit";
    big = {};
    co_await yield_turns(2);
    EXPECT_EQ(order, (std::vector<std::string>{"big", "next"}));
    next = {};
}

TEST(ReadBudget, OneReadAlwaysProceeds) {
    rt::test::run(oversized_body());
}

} // namespace
} // namespace zama::router
