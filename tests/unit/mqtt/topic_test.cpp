// Topic names, topic filters and matching (section 4.7).

#include "mqtt/topic.hpp"

#include <gtest/gtest.h>

#include <string>

namespace zama::mqtt {
namespace {

using namespace std::string_view_literals;

TEST(TopicName, Valid) {
    for (std::string_view name :
         {"a"sv, "/"sv, "a/b"sv, "//"sv, "$SYS/broker/uptime"sv, "with space"sv, "üñí/€/𝄞"sv,
          "sensors/building-12/floor-3/temperature"sv}) {
        EXPECT_EQ(validate_topic_name(name), std::nullopt) << name;
    }
    EXPECT_EQ(validate_topic_name(std::string(65535, 'x')), std::nullopt);
}

TEST(TopicName, Invalid) {
    EXPECT_EQ(validate_topic_name(""), errc::topic_empty);
    EXPECT_EQ(validate_topic_name("#"), errc::topic_name_wildcard);
    EXPECT_EQ(validate_topic_name("+"), errc::topic_name_wildcard);
    EXPECT_EQ(validate_topic_name("a/#"), errc::topic_name_wildcard);
    EXPECT_EQ(validate_topic_name("a+b"), errc::topic_name_wildcard);
    EXPECT_EQ(validate_topic_name("a\0b"sv), errc::utf8_null);
    EXPECT_EQ(validate_topic_name("a\xff"), errc::utf8_ill_formed);
}

// The word-at-a-time scan must see an offending byte at any position.
TEST(TopicName, OffendingByteAtEveryPosition) {
    for (std::size_t len = 1; len <= 40; ++len) {
        for (std::size_t at = 0; at < len; ++at) {
            std::string s(len, 'a');
            s[at] = '+';
            EXPECT_EQ(validate_topic_name(s), errc::topic_name_wildcard) << len << " " << at;
            s[at] = '#';
            EXPECT_EQ(validate_topic_name(s), errc::topic_name_wildcard) << len << " " << at;
            s[at] = '\0';
            EXPECT_EQ(validate_topic_name(s), errc::utf8_null) << len << " " << at;
            s[at] = '\x80';
            EXPECT_EQ(validate_topic_name(s), errc::utf8_ill_formed) << len << " " << at;
        }
    }
}

// ...and must let every other ASCII byte through, at any position.
TEST(TopicName, EveryOtherAsciiByteIsPlain) {
    for (int c = 1; c < 0x80; ++c) {
        if (c == '+' || c == '#') {
            continue;
        }
        for (std::size_t len : {1u, 7u, 8u, 9u, 16u, 17u, 31u}) {
            for (std::size_t at = 0; at < len; ++at) {
                std::string s(len, 'a');
                s[at] = static_cast<char>(c);
                ASSERT_EQ(validate_topic_name(s), std::nullopt) << c << " " << len << " " << at;
            }
        }
    }
}

TEST(TopicFilter, Valid) {
    for (std::string_view f :
         {"#"sv, "+"sv, "+/+"sv, "/+"sv, "a/#"sv, "a/+/b"sv, "+/#"sv, "$SYS/#"sv, "/"sv, "//"sv,
          "a//b"sv, "sport/tennis/player1"sv, "+/tennis/#"sv, "€/+/𝄞"sv}) {
        EXPECT_EQ(validate_topic_filter(f), std::nullopt) << f;
    }
}

TEST(TopicFilter, Invalid) {
    EXPECT_EQ(validate_topic_filter(""), errc::topic_empty);
    for (std::string_view f : {"a#"sv, "#a"sv, "a/#/b"sv, "##"sv, "#/"sv, "sport/tennis#"sv}) {
        EXPECT_EQ(validate_topic_filter(f), errc::filter_multi_level_misused) << f;
    }
    for (std::string_view f : {"a+"sv, "+a"sv, "a/b+"sv, "++"sv, "sport+"sv, "a/+b/c"sv}) {
        EXPECT_EQ(validate_topic_filter(f), errc::filter_single_level_misused) << f;
    }
    EXPECT_EQ(validate_topic_filter("a/\0"sv), errc::utf8_null);
    EXPECT_EQ(validate_topic_filter("a/\xed\xa0\x80"), errc::utf8_ill_formed);
}

TEST(TopicFilter, HasWildcard) {
    EXPECT_TRUE(has_wildcard("#"));
    EXPECT_TRUE(has_wildcard("a/+/b"));
    EXPECT_FALSE(has_wildcard("a/b"));
    EXPECT_FALSE(has_wildcard("$SYS/broker"));
}

struct match_case {
    std::string_view filter;
    std::string_view name;
    bool matches;
};

// The examples of section 4.7 and the edges around them.
const match_case match_table[] = {
    // Multi-level wildcard.
    {"sport/tennis/player1/#", "sport/tennis/player1", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
    {"sport/tennis/#", "sport/tennis", true},
    {"sport/tennis/#", "sport/tennis/", true},
    {"sport/tennis/#", "sport/tennisx", false},
    {"sport/tennis/#", "sport", false},
    {"sport/#", "sport", true},
    {"#", "a", true},
    {"#", "a/b/c", true},
    {"#", "/", true},
    {"#", "/a", true},
    {"/#", "/", true},
    {"/#", "/a/b", true},
    {"/#", "a", false},
    {"+/#", "a", true},
    {"+/#", "/", true},
    {"a/#", "ab", false},
    // Single-level wildcard.
    {"sport/tennis/+", "sport/tennis/player1", true},
    {"sport/tennis/+", "sport/tennis/player2", true},
    {"sport/tennis/+", "sport/tennis/player1/ranking", false},
    {"sport/+", "sport", false},
    {"sport/+", "sport/", true},
    {"+/+", "/finance", true},
    {"/+", "/finance", true},
    {"+", "/finance", false},
    {"+", "finance", true},
    {"+/tennis/#", "sport/tennis", true},
    {"+/tennis/#", "sport/tennis/player1", true},
    {"a/+/b", "a//b", true},
    {"a/+/b", "a/x/b", true},
    {"a/+/b", "a/x/y/b", false},
    {"a/+", "a/b/", false},
    {"a/b/+", "a/b/", true},
    // Literal levels, empty levels and prefixes.
    {"a//b", "a//b", true},
    {"a/b", "a//b", false},
    {"a/b", "a/b/", false},
    {"a/b/", "a/b/", true},
    {"a/b/", "a/b", false},
    {"sport/ten", "sport/tennis", false},
    {"sport/tennis", "sport/ten", false},
    {"ACCOUNTS", "Accounts", false},
    {"with space", "with space", true},
    {"€/𝄞", "€/𝄞", true},
    // '$' topics (MQTT-4.7.2-1).
    {"#", "$SYS/broker/uptime", false},
    {"+/monitor/Clients", "$SYS/monitor/Clients", false},
    {"+", "$SYS", false},
    {"$SYS/#", "$SYS/broker/uptime", true},
    {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
    {"$SYS", "$SYS", true},
    {"$SYS/#", "$SYS", true},
    {"a/#", "a/$b", true},
    {"+/+", "a/$b", true},
};

TEST(TopicMatch, Table) {
    for (const match_case& c : match_table) {
        EXPECT_EQ(topic_matches(c.filter, c.name), c.matches)
            << "filter '" << c.filter << "' name '" << c.name << "'";
    }
}

// A filter without wildcards matches exactly its own name.
TEST(TopicMatch, ExactFiltersMatchOnlyThemselves) {
    const std::string_view names[] = {"a", "a/b", "a/b/", "/a", "a//b", "$SYS/x"};
    for (std::string_view f : names) {
        for (std::string_view n : names) {
            EXPECT_EQ(topic_matches(f, n), f == n) << f << " " << n;
        }
    }
}

} // namespace
} // namespace zama::mqtt
