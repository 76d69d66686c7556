#pragma once

#include "mqtt/error.hpp"

#include <optional>
#include <string_view>

namespace zama::mqtt {

/// Checks an MQTT UTF-8 string: well-formed UTF-8 as RFC 3629 defines it (no
/// overlong forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF),
/// MQTT-1.5.3-1, and no U+0000, MQTT-1.5.3-2. Returns the rule broken by the
/// first offending byte, or nothing when the string is valid.
std::optional<errc> validate_utf8(std::string_view s) noexcept;

namespace detail {

/// Length of the well-formed UTF-8 sequence at the start of `s` (which is not
/// empty and starts with a byte >= 0x80), or 0 if it is ill-formed.
std::size_t utf8_sequence_length(std::string_view s) noexcept;

} // namespace detail

} // namespace zama::mqtt
