#include "router/packet_id_set.hpp"

#include <gtest/gtest.h>

#include <set>

namespace zama::router {
namespace {

std::set<std::uint16_t> members(const packet_id_set& s) {
    return {s.begin(), s.end()};
}

TEST(PacketIdSet, IsOnePointerUntilItsFirstId) {
    static_assert(sizeof(packet_id_set) == sizeof(void*));
    const packet_id_set s;
    EXPECT_TRUE(s.empty());
    EXPECT_EQ(s.size(), 0u);
    EXPECT_FALSE(s.contains(0));
    EXPECT_FALSE(s.contains(65535));
    EXPECT_EQ(s.begin(), s.end());
}

TEST(PacketIdSet, InsertsErasesAndIterates) {
    packet_id_set s;
    s.erase(7); // nothing to erase: no table is made
    EXPECT_TRUE(s.empty());
    s.insert(7);
    s.insert(65535);
    s.insert(7);
    EXPECT_EQ(s.size(), 2u);
    EXPECT_TRUE(s.contains(7));
    EXPECT_TRUE(s.contains(65535));
    EXPECT_FALSE(s.contains(8));
    EXPECT_EQ(members(s), (std::set<std::uint16_t>{7, 65535}));
    s.erase(7);
    EXPECT_FALSE(s.contains(7));
    s.erase(65535);
    EXPECT_TRUE(s.empty());
    EXPECT_EQ(s.begin(), s.end());
}

TEST(PacketIdSet, CopiesAreIndependent) {
    packet_id_set a{1, 2, 300};
    packet_id_set b = a;
    b.erase(2);
    b.insert(4);
    EXPECT_EQ(members(a), (std::set<std::uint16_t>{1, 2, 300}));
    EXPECT_EQ(members(b), (std::set<std::uint16_t>{1, 4, 300}));
    a = packet_id_set{};
    EXPECT_TRUE(a.empty());
    packet_id_set c = std::move(b);
    EXPECT_EQ(members(c), (std::set<std::uint16_t>{1, 4, 300}));
}

} // namespace
} // namespace zama::router
