// The filter trie and the partition function.

#include "base/string_map.hpp"
#include "router/filter_trie.hpp"
#include "router/partitioner.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace zama::router {
namespace {

std::vector<std::string> matches(filter_trie<std::string>& t, std::string_view topic) {
    std::vector<std::string> out;
    t.match(topic, [&](std::string& v) { out.push_back(v); });
    std::sort(out.begin(), out.end());
    return out;
}

TEST(FilterTrie, MatchesLikeTheSpecification) {
    filter_trie<std::string> t;
    for (const char* f :
         {"#", "a/#", "a/+", "a/b", "+/b", "+/+", "a/b/#", "$SYS/#", "+", "/+", "a//b"}) {
        t.at(f) = f;
    }
    using v = std::vector<std::string>;
    EXPECT_EQ(matches(t, "a/b"), (v{"#", "+/+", "+/b", "a/#", "a/+", "a/b", "a/b/#"}));
    EXPECT_EQ(matches(t, "a"), (v{"#", "+", "a/#"}));
    EXPECT_EQ(matches(t, "a/c"), (v{"#", "+/+", "a/#", "a/+"}));
    EXPECT_EQ(matches(t, "/x"), (v{"#", "+/+", "/+"}));
    EXPECT_EQ(matches(t, "a//b"), (v{"#", "a/#", "a//b"}));
    // MQTT-4.7.2-1: no leading wildcard matches a '$' topic.
    EXPECT_EQ(matches(t, "$SYS/x"), (v{"$SYS/#"}));
    EXPECT_EQ(matches(t, "$SYS"), (v{"$SYS/#"}));
}

// The trie agrees with mqtt::topic_matches on every pair.
TEST(FilterTrie, AgreesWithTheMatcher) {
    const std::vector<std::string> filters{"#",  "+",    "a/#",  "+/+",  "a/+/c", "+/b/#",  "a/b",
                                           "/#", "$x/#", "$x/+", "a//c", "+//+",  "a/b/c/#"};
    const std::vector<std::string> topics{"a",    "a/b", "a/b/c", "a/x/c",   "/", "/a",
                                          "$x/y", "$x",  "a//c",  "x/b/c/d", "b"};
    filter_trie<std::string> t;
    for (const auto& f : filters) {
        t.at(f) = f;
    }
    for (const auto& topic : topics) {
        std::vector<std::string> expected;
        for (const auto& f : filters) {
            if (mqtt::topic_matches(f, topic)) {
                expected.push_back(f);
            }
        }
        std::sort(expected.begin(), expected.end());
        EXPECT_EQ(matches(t, topic), expected) << topic;
    }
}

TEST(FilterTrie, EraseForgetsAndPrunes) {
    filter_trie<int> t;
    t.at("a/b/c") = 1;
    t.at("a/+") = 2;
    EXPECT_EQ(t.size(), 2u);
    t.erase("a/b/c");
    EXPECT_EQ(t.size(), 1u);
    EXPECT_EQ(t.find("a/b/c"), nullptr);
    ASSERT_NE(t.find("a/+"), nullptr);
    int seen = 0;
    t.match("a/b", [&](int& v) { seen += v; });
    EXPECT_EQ(seen, 2);
    t.erase("a/+");
    EXPECT_TRUE(t.empty());
    t.erase("never/there");
    std::set<std::string> all;
    t.at("x/#");
    t.at("/y");
    t.for_each([&](std::string_view f, int&) { all.emplace(f); });
    EXPECT_EQ(all, (std::set<std::string>{"/y", "x/#"}));
}

// The topic -> partition function decides where messages are stored: it
// must never change. These values pin it.
TEST(Partitioner, IsStable) {
    EXPECT_EQ(partition_of("sensors/1/temperature", 64).value(),
              partition_of("sensors/1/temperature", 64).value());
    const std::uint32_t a = partition_of("a", 64).value();
    const std::uint32_t b = partition_of("devices/42/state", 64).value();
    const std::uint32_t c = partition_of("$SYS/broker/uptime", 1024).value();
    EXPECT_EQ(a, 31u);
    EXPECT_EQ(b, 53u);
    EXPECT_EQ(c, 172u);
    EXPECT_EQ(owner_of(commitlog::partition_id{41}, 2), 1u);
    // Spread: 64 partitions all used by 10,000 topics.
    std::set<std::uint32_t> used;
    for (int i = 0; i < 10'000; ++i) {
        used.insert(partition_of("topic/" + std::to_string(i), 64).value());
    }
    EXPECT_EQ(used.size(), 64u);
}

// The maps of one partition hold keys of that partition only: their hash
// must not repeat the partitioner's bits. Abseil filters probes by the low 7
// bits of the hash; here they must still spread over those keys.
TEST(Partitioner, MapHashesDoNotFollowIt) {
    std::set<std::size_t> low_bits;
    int keys = 0;
    for (int i = 0; keys < 500; ++i) {
        const std::string topic = "topic/" + std::to_string(i);
        if (partition_of(topic, 64).value() == 0) {
            ++keys;
            low_bits.insert(string_hash{}(topic)&0x7F);
        }
    }
    EXPECT_GT(low_bits.size(), 100u) << "of 128 possible values";
}

} // namespace
} // namespace zama::router
