#pragma once

#include "mqtt/error.hpp"
#include "mqtt/packet.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

// Framing: where one packet ends. A packet is a fixed header (one byte of
// type and flags, then the remaining length in 1 to 4 bytes of 7 bits each,
// least significant first, bit 7 meaning "more") followed by
// `remaining length` bytes. Framing checks only what the fixed header says;
// the body is parsed separately (parse.hpp).

namespace zama::mqtt {

/// The largest remaining length four bytes can encode (section 2.2.3).
inline constexpr std::uint32_t max_remaining_length = 268'435'455;

/// The largest packet: a 5-byte fixed header and the largest remaining length.
inline constexpr std::size_t max_packet_size_limit = max_remaining_length + 5;

struct frame_header {
    std::uint8_t first_byte = 0;  // type << 4 | flags
    std::uint8_t header_size = 0; // 2 to 5 bytes
    std::uint32_t remaining_length = 0;

    packet_type type() const noexcept { return static_cast<packet_type>(first_byte >> 4); }
    std::uint8_t flags() const noexcept { return first_byte & 0x0F; }
    std::size_t packet_size() const noexcept { return header_size + std::size_t{remaining_length}; }
};

enum class frame_status : std::uint8_t {
    complete, // the header is complete (the body may not be there yet)
    need_more,
    error,
};

struct frame_result {
    frame_status status = frame_status::need_more;
    errc error{};
    frame_header header;
};

namespace detail {

/// For each possible first byte: 0 if the type and flags are valid, else
/// 1 + the errc (a reserved type, flags other than Table 2.2's, PUBLISH QoS 3
/// or DUP on QoS 0). Built at compile time in frame.cpp.
extern const std::array<std::uint8_t, 256> first_byte_errors;

} // namespace detail

/// Reads the fixed header at the start of `bytes`. Checks, in byte order:
/// the packet type is not reserved (MQTT-2.2.1), the flag bits are those the
/// type requires (MQTT-2.2.2-2, MQTT-3.3.1-4, MQTT-3.3.1-2, ...), the
/// remaining length is at most four bytes (MQTT-2.2.3), and the whole packet
/// is at most `max_packet_size` bytes. Each check runs as soon as its bytes
/// are present, so the verdict for a stream never depends on how it was cut.
/// Inline: it runs once per packet.
inline frame_result read_frame_header(bytes_view bytes, std::size_t max_packet_size) noexcept {
    frame_result r;
    if (bytes.empty()) {
        return r;
    }
    if (const std::uint8_t e = detail::first_byte_errors[bytes[0]]; e != 0) [[unlikely]] {
        r.status = frame_status::error;
        r.error = static_cast<errc>(e - 1);
        return r;
    }
    std::uint32_t length = 0;
    for (std::size_t i = 1;; ++i) {
        if (i > 4) [[unlikely]] {
            r.status = frame_status::error;
            r.error = errc::remaining_length_overflow;
            return r;
        }
        if (i >= bytes.size()) {
            return r; // need more
        }
        const std::uint8_t b = bytes[i];
        length |= std::uint32_t{b & 0x7Fu} << (7 * (i - 1));
        if ((b & 0x80) == 0) {
            r.header.first_byte = bytes[0];
            r.header.header_size = static_cast<std::uint8_t>(i + 1);
            r.header.remaining_length = length;
            if (r.header.packet_size() > max_packet_size) [[unlikely]] {
                r.status = frame_status::error;
                r.error = errc::packet_too_large;
                return r;
            }
            r.status = frame_status::complete;
            return r;
        }
    }
}

/// Bytes needed to encode `remaining_length` (1 to 4).
constexpr std::size_t remaining_length_size(std::uint32_t remaining_length) noexcept {
    return remaining_length < 128       ? 1
           : remaining_length < 16384   ? 2
           : remaining_length < 2097152 ? 3
                                        : 4;
}

/// Writes a fixed header (first byte, remaining length) to `out`, which has
/// room for 5 bytes; returns the bytes written. remaining_length must be at
/// most max_remaining_length.
std::size_t write_fixed_header(std::uint8_t first_byte, std::uint32_t remaining_length,
                               std::uint8_t* out) noexcept;

/// The first byte of a PUBLISH with these flags.
constexpr std::uint8_t publish_first_byte(qos q, bool dup, bool retain) noexcept {
    return static_cast<std::uint8_t>((static_cast<unsigned>(packet_type::publish) << 4) |
                                     (dup ? 0x08u : 0u) | (static_cast<unsigned>(q) << 1) |
                                     (retain ? 0x01u : 0u));
}

/// The remaining length of a PUBLISH: topic (with its 2-byte length), packet
/// id for QoS 1 and 2, payload. Fanout encodes the per-subscriber fixed
/// header and packet id with this and shares the topic and payload bytes.
constexpr std::size_t publish_remaining_length(std::size_t topic_size, std::size_t payload_size,
                                               qos q) noexcept {
    return 2 + topic_size + (q == qos::at_most_once ? 0 : 2) + payload_size;
}

} // namespace zama::mqtt
