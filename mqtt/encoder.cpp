#include "mqtt/encoder.hpp"

#include "mqtt/frame.hpp"
#include "mqtt/wire.hpp"

#include <limits>
#include <type_traits>

namespace zama::mqtt {
namespace {

constexpr std::size_t max_field = std::numeric_limits<std::uint16_t>::max();

/// Adds up a packet body's size and notes any field too long to encode.
struct sizer {
    std::size_t size = 0;
    bool too_long = false;

    void fixed(std::size_t n) noexcept { size += n; }
    void field(std::size_t n) noexcept {
        too_long |= n > max_field;
        size += 2 + n;
    }
};

std::uint8_t first_byte(packet_type t, std::uint8_t flags = 0) noexcept {
    return static_cast<std::uint8_t>((static_cast<unsigned>(t) << 4) | flags);
}

// Each packet type: its first byte, its body's size, and its body.

std::uint8_t header_of(const connect&) noexcept {
    return first_byte(packet_type::connect);
}
void measure(const connect& c, sizer& s) noexcept {
    s.field(4); // "MQTT"
    s.fixed(1 + 1 + 2);
    s.field(c.client_id.size());
    if (c.will) {
        s.field(c.will->topic.size());
        s.field(c.will->payload.size());
    }
    if (c.username) {
        s.field(c.username->size());
    }
    if (c.password) {
        s.field(c.password->size());
    }
}
void write(const connect& c, wire::writer& w) noexcept {
    w.string("MQTT");
    w.u8(protocol_level_v311);
    std::uint8_t flags = c.clean_session ? 0x02 : 0x00;
    if (c.will) {
        flags |= static_cast<std::uint8_t>(0x04 | (static_cast<unsigned>(c.will->qos) << 3) |
                                           (c.will->retain ? 0x20 : 0));
    }
    if (c.password) {
        flags |= 0x40;
    }
    if (c.username) {
        flags |= 0x80;
    }
    w.u8(flags);
    w.u16(c.keep_alive);
    w.string(c.client_id);
    if (c.will) {
        w.string(c.will->topic);
        w.binary(c.will->payload);
    }
    if (c.username) {
        w.string(*c.username);
    }
    if (c.password) {
        w.binary(*c.password);
    }
}

std::uint8_t header_of(const connack&) noexcept {
    return first_byte(packet_type::connack);
}
void measure(const connack&, sizer& s) noexcept {
    s.fixed(2);
}
void write(const connack& c, wire::writer& w) noexcept {
    w.u8(c.session_present ? 1 : 0);
    w.u8(static_cast<std::uint8_t>(c.code));
}

std::uint8_t header_of(const publish& p) noexcept {
    return publish_first_byte(p.qos, p.dup, p.retain);
}
void measure(const publish& p, sizer& s) noexcept {
    s.field(p.topic.size());
    s.fixed((p.qos == qos::at_most_once ? 0 : 2) + p.payload.size());
}
void write(const publish& p, wire::writer& w) noexcept {
    w.string(p.topic);
    if (p.qos != qos::at_most_once) {
        w.u16(p.id.value());
    }
    w.bytes(p.payload.data(), p.payload.size());
}

// PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: a packet id.
template <typename T>
concept id_only = std::is_same_v<T, puback> || std::is_same_v<T, pubrec> ||
    std::is_same_v<T, pubrel> || std::is_same_v<T, pubcomp> || std::is_same_v<T, unsuback>;

template <id_only T>
std::uint8_t header_of(const T&) noexcept {
    constexpr packet_type type = std::is_same_v<T, puback>    ? packet_type::puback
                                 : std::is_same_v<T, pubrec>  ? packet_type::pubrec
                                 : std::is_same_v<T, pubrel>  ? packet_type::pubrel
                                 : std::is_same_v<T, pubcomp> ? packet_type::pubcomp
                                                              : packet_type::unsuback;
    return first_byte(type, type == packet_type::pubrel ? 0x02 : 0x00);
}
template <id_only T>
void measure(const T&, sizer& s) noexcept {
    s.fixed(2);
}
template <id_only T>
void write(const T& p, wire::writer& w) noexcept {
    w.u16(p.id.value());
}

std::uint8_t header_of(const subscribe&) noexcept {
    return first_byte(packet_type::subscribe, 0x02);
}
void measure(const subscribe& p, sizer& s) noexcept {
    s.fixed(2);
    for (const subscription& sub : p.subscriptions) {
        s.field(sub.filter.size());
        s.fixed(1);
    }
}
void write(const subscribe& p, wire::writer& w) noexcept {
    w.u16(p.id.value());
    for (const subscription& sub : p.subscriptions) {
        w.string(sub.filter);
        w.u8(static_cast<std::uint8_t>(sub.max_qos));
    }
}

std::uint8_t header_of(const suback&) noexcept {
    return first_byte(packet_type::suback);
}
void measure(const suback& p, sizer& s) noexcept {
    s.fixed(2 + p.return_codes.size());
}
void write(const suback& p, wire::writer& w) noexcept {
    w.u16(p.id.value());
    w.bytes(p.return_codes.data(), p.return_codes.size());
}

std::uint8_t header_of(const unsubscribe&) noexcept {
    return first_byte(packet_type::unsubscribe, 0x02);
}
void measure(const unsubscribe& p, sizer& s) noexcept {
    s.fixed(2);
    for (std::string_view filter : p.filters) {
        s.field(filter.size());
    }
}
void write(const unsubscribe& p, wire::writer& w) noexcept {
    w.u16(p.id.value());
    for (std::string_view filter : p.filters) {
        w.string(filter);
    }
}

// PINGREQ, PINGRESP, DISCONNECT: no body.
template <typename T>
concept header_only =
    std::is_same_v<T, pingreq> || std::is_same_v<T, pingresp> || std::is_same_v<T, disconnect>;

template <header_only T>
std::uint8_t header_of(const T&) noexcept {
    return first_byte(std::is_same_v<T, pingreq>    ? packet_type::pingreq
                      : std::is_same_v<T, pingresp> ? packet_type::pingresp
                                                    : packet_type::disconnect);
}
template <header_only T>
void measure(const T&, sizer&) noexcept {}
template <header_only T>
void write(const T&, wire::writer&) noexcept {}

result<std::size_t, encode_errc> remaining_length_of(const packet& p) noexcept {
    sizer s;
    std::visit([&s](const auto& v) { measure(v, s); }, p);
    if (s.too_long) {
        return encode_errc::string_too_long;
    }
    if (s.size > max_remaining_length) {
        return encode_errc::packet_too_large;
    }
    return s.size;
}

} // namespace

result<std::size_t, encode_errc> encoded_size(const packet& p) noexcept {
    auto remaining = remaining_length_of(p);
    if (!remaining) {
        return remaining.error();
    }
    const auto length = static_cast<std::uint32_t>(*remaining);
    return 1 + remaining_length_size(length) + *remaining;
}

result<std::size_t, encode_errc> encode(const packet& p, std::span<std::uint8_t> out) noexcept {
    auto remaining = remaining_length_of(p);
    if (!remaining) {
        return remaining.error();
    }
    const auto length = static_cast<std::uint32_t>(*remaining);
    if (out.size() < 1 + remaining_length_size(length) + *remaining) {
        return encode_errc::buffer_too_small;
    }
    return std::visit(
        [&](const auto& v) -> std::size_t {
            wire::writer w(out.data());
            w.advance(write_fixed_header(header_of(v), length, out.data()));
            write(v, w);
            return w.written(out.data());
        },
        p);
}

} // namespace zama::mqtt
