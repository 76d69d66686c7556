#pragma once

#include "mqtt/error.hpp"
#include "mqtt/frame.hpp"
#include "mqtt/packet.hpp"

#include <optional>

namespace zama::mqtt {

/// Parses the body of one complete packet whose fixed header passed
/// read_frame_header(), checking every byte-level rule of its type. On
/// success `out` holds the packet, its strings and payload pointing into
/// `body`; on failure returns the rule broken and `out` is unspecified.
std::optional<errc> parse_packet(const frame_header& header, bytes_view body, packet& out) noexcept;

} // namespace zama::mqtt
