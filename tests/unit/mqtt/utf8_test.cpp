// MQTT UTF-8 strings: well-formed (MQTT-1.5.3-1) and without U+0000
// (MQTT-1.5.3-2).

#include "mqtt/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

namespace zama::mqtt {
namespace {

using namespace std::string_view_literals;

TEST(Utf8, WellFormed) {
    for (std::string_view s : {""sv, "plain ascii"sv,
                               "\xc3\xa9"sv,         // U+00E9
                               "\xe2\x82\xac"sv,     // U+20AC
                               "\xf0\x9d\x84\x9e"sv, // U+1D11E
                               "\xed\x9f\xbf"sv,     // U+D7FF, just below the surrogates
                               "\xee\x80\x80"sv,     // U+E000, just above them
                               "\xef\xbf\xbf"sv,     // U+FFFF: a noncharacter, but well-formed
                               "\xf4\x8f\xbf\xbf"sv, // U+10FFFF, the last code point
                               "\x7f"sv}) {
        EXPECT_EQ(validate_utf8(s), std::nullopt) << s;
    }
}

TEST(Utf8, IllFormed) {
    for (std::string_view s : {"\x80"sv,             // lone continuation
                               "\xc0\x80"sv,         // overlong U+0000
                               "\xc1\xbf"sv,         // overlong
                               "\xe0\x80\x80"sv,     // overlong
                               "\xe0\x9f\xbf"sv,     // overlong
                               "\xed\xa0\x80"sv,     // U+D800 surrogate
                               "\xed\xbf\xbf"sv,     // U+DFFF surrogate
                               "\xf0\x80\x80\x80"sv, // overlong
                               "\xf0\x8f\xbf\xbf"sv, // overlong
                               "\xf4\x90\x80\x80"sv, // above U+10FFFF
                               "\xf5\x80\x80\x80"sv, "\xff"sv,
                               "\xe2\x82"sv, // truncated
                               "\xc3"sv, "\xc3\x28"sv}) {
        EXPECT_EQ(validate_utf8(s), errc::utf8_ill_formed) << testing::PrintToString(s);
    }
}

TEST(Utf8, Null) {
    EXPECT_EQ(validate_utf8("\0"sv), errc::utf8_null);
    EXPECT_EQ(validate_utf8("abc\0"sv), errc::utf8_null);
}

// The eight-bytes-at-a-time skip must not step over an offending byte,
// wherever it sits and whatever surrounds it.
TEST(Utf8, OffendingByteAtEveryPosition) {
    for (std::size_t len = 1; len <= 40; ++len) {
        for (std::size_t at = 0; at < len; ++at) {
            std::string s(len, 'a');
            s[at] = '\0';
            EXPECT_EQ(validate_utf8(s), errc::utf8_null) << len << " " << at;
            s[at] = '\xfe';
            EXPECT_EQ(validate_utf8(s), errc::utf8_ill_formed) << len << " " << at;
        }
    }
    // A valid multi-byte sequence straddling an 8-byte word boundary.
    for (std::size_t at = 0; at < 12; ++at) {
        std::string s(16, 'a');
        s.replace(at, 4, "\xf0\x9d\x84\x9e");
        EXPECT_EQ(validate_utf8(s), std::nullopt) << at;
    }
}

} // namespace
} // namespace zama::mqtt
