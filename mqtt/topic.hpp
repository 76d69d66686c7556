#pragma once

#include "mqtt/error.hpp"
#include "mqtt/swar.hpp"

#include <optional>
#include <string_view>

// Topic names (what a PUBLISH carries) and topic filters (what a SUBSCRIBE
// carries, with '+' and '#'), section 4.7 of the specification.

namespace zama::mqtt {

/// Maximum length of a topic name or filter (MQTT-4.7.3-3).
inline constexpr std::size_t max_topic_size = 65535;

namespace detail {

/// True if every byte of `s` (not empty) is ASCII other than NUL, '+' and
/// '#': a valid topic name, the common case, decided a word at a time. The
/// last word overlaps the one before rather than going byte by byte.
inline bool plain_topic_bytes(std::string_view s) noexcept {
    // Non-zero iff a byte of w is >= 0x80, NUL, '+' or '#'. Once bytes with
    // the high bit are flagged by `w` itself, the others are 1..0x7F and
    // `b - 1` sets the high bit exactly for NUL (a borrow only comes from a
    // NUL, itself flagged). '+' is 0x2B and '#' 0x23: they differ in bit 3
    // alone, so `(b | 0x08) ^ 0x2B` is zero for exactly those two.
    const auto suspicious = [](std::uint64_t w) {
        const std::uint64_t wild = (w | (swar::ones * 0x08)) ^ (swar::ones * 0x2B);
        return (w | (w - swar::ones) | (wild - swar::ones)) & swar::high_bits;
    };
    const std::size_t n = s.size();
    if (n < 8) {
        std::uint64_t w = swar::ones * 'a'; // padding that passes every test
        std::memcpy(&w, s.data(), n);
        return suspicious(w) == 0;
    }
    std::uint64_t acc = suspicious(swar::load(s.data() + n - 8));
    for (std::size_t i = 0; i + 8 < n; i += 8) {
        acc |= suspicious(swar::load(s.data() + i));
    }
    return acc == 0;
}

std::optional<errc> validate_topic_name_slow(std::string_view name) noexcept;

} // namespace detail

/// A topic name: at least one character (MQTT-4.7.3-1), valid UTF-8 without
/// U+0000 (MQTT-1.5.3-1/2), no wildcard (MQTT-3.3.2-2). Returns the rule the
/// first offending byte breaks, or nothing when the name is valid.
/// Inline: it runs on every PUBLISH.
inline std::optional<errc> validate_topic_name(std::string_view name) noexcept {
    if (!name.empty() && detail::plain_topic_bytes(name)) [[likely]] {
        return std::nullopt;
    }
    return detail::validate_topic_name_slow(name);
}

/// A topic filter: at least one character, valid UTF-8 without U+0000, '#'
/// only as the whole last level (MQTT-4.7.1-2), '+' only as a whole level
/// (MQTT-4.7.1-3).
std::optional<errc> validate_topic_filter(std::string_view filter) noexcept;

/// True if the filter has a '+' or '#' level.
bool has_wildcard(std::string_view filter) noexcept;

/// Topics starting with '$' are the server's ($SYS/...): filters starting
/// with a wildcard do not match them (MQTT-4.7.2-1).
inline bool is_dollar_topic(std::string_view name) noexcept {
    return !name.empty() && name.front() == '$';
}

/// Whether a valid topic filter matches a valid topic name. '+' matches one
/// level (possibly empty), '#' matches any number of levels including the
/// parent ("sport/#" matches "sport"), and a filter starting with a wildcard
/// matches no '$' topic.
bool topic_matches(std::string_view filter, std::string_view name) noexcept;

} // namespace zama::mqtt
