// What an idle client's session holds: queues and catch-up bookkeeping that
// take memory only while in use.

#include "base/deque.hpp"
#include "router/session.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace zama::router {
namespace {

static_assert(sizeof(zama::deque<inflight>) == sizeof(void*), "an empty queue is one pointer");

std::vector<int> items(const zama::deque<int>& q) {
    return {q.begin(), q.end()};
}

TEST(CompactDeque, BehavesAsAQueueAcrossEmptying) {
    zama::deque<int> q;
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.size(), 0U);
    EXPECT_EQ(q.begin(), q.end());
    EXPECT_TRUE(items(q).empty());

    q.push_back(1);
    q.emplace_back(2);
    q.push_back(3);
    EXPECT_EQ(q.front(), 1);
    EXPECT_EQ(q.back(), 3);
    EXPECT_EQ(items(q), (std::vector<int>{1, 2, 3}));

    auto next = q.erase(q.begin() + 1); // the middle
    EXPECT_EQ(*next, 3);
    EXPECT_EQ(items(q), (std::vector<int>{1, 3}));
    q.pop_front();
    q.pop_front();
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.begin(), q.end());

    q.push_back(4); // usable again once emptied
    EXPECT_EQ(items(q), (std::vector<int>{4}));
    const auto after_last = q.erase(q.begin()); // the last one
    EXPECT_EQ(after_last, q.end());
    EXPECT_TRUE(q.empty());
}

TEST(CompactDeque, Moves) {
    zama::deque<std::string> a;
    a.push_back("x");
    a.push_back("y");
    zama::deque<std::string> b(std::move(a));
    EXPECT_EQ(b.size(), 2U);
    EXPECT_EQ(b.front(), "x");
    zama::deque<std::string> c;
    c.push_back("z");
    c = std::move(b);
    EXPECT_EQ(c.size(), 2U);
    EXPECT_EQ(c.back(), "y");
    c.clear();
    EXPECT_TRUE(c.empty());
}

TEST(SessionCatchUp, HeldOnlyOnceTheSessionLags) {
    session s(session_state{.client_id = "idle"}, 1);
    EXPECT_EQ(s.catching_up(), nullptr);
    EXPECT_FALSE(s.lagging(3));

    s.lag(3);
    ASSERT_NE(s.catching_up(), nullptr);
    EXPECT_TRUE(s.lagging(3));
    EXPECT_FALSE(s.lagging(4));

    // Going offline drops what was being caught up, and with nothing synced
    // with an owner, the bookkeeping itself.
    s.stop_catching_up();
    EXPECT_EQ(s.catching_up(), nullptr);
    EXPECT_FALSE(s.lagging(3));

    // What was read from an owner's log stays valid across a reconnect.
    s.lag(5);
    s.catch_up_bookkeeping().synced[5] = 42;
    s.stop_catching_up();
    ASSERT_NE(s.catching_up(), nullptr);
    EXPECT_FALSE(s.lagging(5));
    EXPECT_EQ(s.catching_up()->synced.at(5), 42U);
}

} // namespace
} // namespace zama::router
