#include "mqtt/frame.hpp"

namespace zama::mqtt {
namespace {

// The rule a first byte breaks, if any: its type must not be reserved and
// its flag bits must be those Table 2.2 gives the type. PUBLISH's flags are
// DUP, QoS and RETAIN, checked on their own.
constexpr std::optional<errc> check_first_byte(std::uint8_t first_byte) noexcept {
    const unsigned type = first_byte >> 4;
    const std::uint8_t flags = first_byte & 0x0F;
    if (type == 0 || type == 15) {
        return errc::reserved_packet_type;
    }
    switch (static_cast<packet_type>(type)) {
    case packet_type::publish: {
        const unsigned q = (flags >> 1) & 0x03;
        if (q == 3) {
            return errc::publish_qos_invalid;
        }
        if (q == 0 && (flags & 0x08) != 0) {
            return errc::publish_dup_qos0;
        }
        return std::nullopt;
    }
    case packet_type::pubrel:
    case packet_type::subscribe:
    case packet_type::unsubscribe:
        // MQTT-3.6.1-1, MQTT-3.8.1-1, MQTT-3.10.1-1: flags 0010.
        return flags == 0x02 ? std::nullopt : std::optional{errc::invalid_header_flags};
    default:
        return flags == 0 ? std::nullopt : std::optional{errc::invalid_header_flags};
    }
}

constexpr std::array<std::uint8_t, 256> make_first_byte_errors() noexcept {
    std::array<std::uint8_t, 256> table{};
    for (unsigned b = 0; b < 256; ++b) {
        if (auto e = check_first_byte(static_cast<std::uint8_t>(b))) {
            table[b] = static_cast<std::uint8_t>(static_cast<unsigned>(*e) + 1);
        }
    }
    return table;
}

} // namespace

constinit const std::array<std::uint8_t, 256> detail::first_byte_errors = make_first_byte_errors();

std::size_t write_fixed_header(std::uint8_t first_byte, std::uint32_t remaining_length,
                               std::uint8_t* out) noexcept {
    out[0] = first_byte;
    std::size_t n = 1;
    do {
        std::uint8_t b = remaining_length & 0x7F;
        remaining_length >>= 7;
        if (remaining_length != 0) {
            b |= 0x80;
        }
        out[n++] = b;
    } while (remaining_length != 0);
    return n;
}

} // namespace zama::mqtt
