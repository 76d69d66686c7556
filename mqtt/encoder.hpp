#pragma once

#include "base/result.hpp"
#include "mqtt/error.hpp"
#include "mqtt/packet.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace zama::mqtt {

/// The size of `p` on the wire, fixed header included, or why it cannot be
/// encoded (a field over 65,535 bytes, a packet over the protocol maximum).
result<std::size_t, encode_errc> encoded_size(const packet& p) noexcept;

/// Encodes `p` at the start of `out` and returns the bytes written. Writes
/// what it is given: checking that a packet makes sense (a QoS 1 PUBLISH
/// has a non-zero id, a filter is valid) is the caller's job, so that tests
/// can build invalid packets too. A QoS 0 PUBLISH carries no packet id.
result<std::size_t, encode_errc> encode(const packet& p, std::span<std::uint8_t> out) noexcept;

} // namespace zama::mqtt
