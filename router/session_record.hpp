#pragma once

#include "router/session.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

// A persistent session as the session store (a kv_log per partition, key:
// client id) keeps it. Version 1, little-endian:
//
//   u8  version (1)
//   u16 next outbound packet id
//   u16 subscriptions; each: u16 filter size, filter, u8 granted QoS
//   u32 cursors; each: u32 partition, u64 offset — the first offset not yet
//       acknowledged by the client (in-flight messages are resent from here)
//   u16 outbound QoS 2 ids released (PUBREL sent, PUBCOMP awaited)
//   u16 inbound QoS 2 ids stored (PUBREC sent, PUBREL awaited)
//
// Messages in flight are not stored: the cursors point at them, so after a
// restart they are delivered again (as new deliveries: the client may see
// a QoS 1 message twice).

namespace zama::router {

inline constexpr std::uint8_t session_record_version = 1;

std::vector<std::uint8_t> encode_session(const session_state& st);

/// nullopt if the bytes are not a version-1 record (logged by the caller).
std::optional<session_state> decode_session(std::string client_id,
                                            std::span<const std::uint8_t> bytes);

} // namespace zama::router
