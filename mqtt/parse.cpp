#include "mqtt/parse.hpp"

#include "mqtt/topic.hpp"
#include "mqtt/utf8.hpp"
#include "mqtt/wire.hpp"

namespace zama::mqtt {
namespace {

using wire::reader;

std::optional<errc> parse_connect(bytes_view body, packet& out) noexcept {
    reader r(body);
    std::string_view protocol_name;
    std::uint8_t level = 0;
    if (!r.string(protocol_name)) {
        return errc::string_truncated;
    }
    if (!r.u8(level)) {
        return errc::bad_remaining_length;
    }
    // Check the level before anything else: a client of another version
    // lays out the rest differently, and is owed CONNACK 0x01. "MQIsdp" is
    // MQTT 3.1's name; its clients get the same answer.
    if (protocol_name == "MQIsdp") {
        return errc::unsupported_protocol_level;
    }
    if (protocol_name != "MQTT") {
        return errc::bad_protocol_name;
    }
    if (level != protocol_level_v311) {
        return errc::unsupported_protocol_level;
    }

    std::uint8_t flags = 0;
    connect c;
    if (!r.u8(flags) || !r.u16(c.keep_alive)) {
        return errc::bad_remaining_length;
    }
    if ((flags & 0x01) != 0) {
        return errc::reserved_connect_flag;
    }
    c.clean_session = (flags & 0x02) != 0;
    const bool has_will = (flags & 0x04) != 0;
    const unsigned will_qos = (flags >> 3) & 0x03;
    const bool will_retain = (flags & 0x20) != 0;
    const bool has_password = (flags & 0x40) != 0;
    const bool has_username = (flags & 0x80) != 0;
    if (!has_will && (will_qos != 0 || will_retain)) {
        return errc::will_flags_without_will;
    }
    if (will_qos == 3) {
        return errc::will_qos_invalid;
    }
    if (has_password && !has_username) {
        return errc::password_without_username;
    }

    // Payload, in the order of MQTT-3.1.3-1.
    if (!r.string(c.client_id)) {
        return errc::client_id_missing;
    }
    if (auto e = validate_utf8(c.client_id)) {
        return e;
    }
    if (has_will) {
        will_message w;
        w.qos = static_cast<qos>(will_qos);
        w.retain = will_retain;
        if (!r.string(w.topic) || !r.binary(w.payload)) {
            return errc::will_missing;
        }
        if (auto e = validate_topic_name(w.topic)) {
            return *e == errc::topic_name_wildcard ? errc::will_topic_wildcard : *e;
        }
        c.will = w;
    }
    if (has_username) {
        std::string_view username;
        if (!r.string(username)) {
            return errc::username_missing;
        }
        if (auto e = validate_utf8(username)) {
            return e;
        }
        c.username = username;
    }
    if (has_password) {
        bytes_view password;
        if (!r.binary(password)) {
            return errc::password_missing;
        }
        c.password = password;
    }
    if (!r.at_end()) {
        return errc::bad_remaining_length;
    }
    // Checked last so that a malformed packet is closed without a CONNACK.
    if (c.client_id.empty() && !c.clean_session) {
        return errc::empty_client_id_persistent;
    }
    out.emplace<connect>(c);
    return std::nullopt;
}

std::optional<errc> parse_connack(bytes_view body, packet& out) noexcept {
    if (body.size() != 2) {
        return errc::bad_remaining_length;
    }
    if ((body[0] & 0xFE) != 0) {
        return errc::connack_reserved_flags;
    }
    if (body[1] > static_cast<std::uint8_t>(connack_code::not_authorized)) {
        return errc::connack_code_reserved;
    }
    connack c{(body[0] & 0x01) != 0, static_cast<connack_code>(body[1])};
    if (c.session_present && c.code != connack_code::accepted) {
        return errc::connack_session_present_refused;
    }
    out.emplace<connack>(c);
    return std::nullopt;
}

std::optional<errc> parse_publish(std::uint8_t flags, bytes_view body, packet& out) noexcept {
    reader r(body);
    publish p;
    p.dup = (flags & 0x08) != 0;
    p.qos = static_cast<qos>((flags >> 1) & 0x03);
    p.retain = (flags & 0x01) != 0;
    if (!r.string(p.topic)) {
        return errc::string_truncated;
    }
    if (auto e = validate_topic_name(p.topic)) {
        return e;
    }
    if (p.qos != qos::at_most_once) {
        std::uint16_t id = 0;
        if (!r.u16(id)) {
            return errc::bad_remaining_length;
        }
        if (id == 0) {
            return errc::zero_packet_id;
        }
        p.id = packet_id{id};
    }
    p.payload = r.rest();
    out.emplace<publish>(p);
    return std::nullopt;
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK: a packet id and nothing else.
template <typename T>
std::optional<errc> parse_id_only(bytes_view body, packet& out) noexcept {
    if (body.size() != 2) {
        return errc::bad_remaining_length;
    }
    const auto id = static_cast<std::uint16_t>((body[0] << 8) | body[1]);
    if (id == 0) {
        return errc::zero_packet_id;
    }
    out.emplace<T>(T{packet_id{id}});
    return std::nullopt;
}

/// The packet id that starts SUBSCRIBE, SUBACK and UNSUBSCRIBE.
std::optional<errc> read_nonzero_id(reader& r, packet_id& id) noexcept {
    std::uint16_t v = 0;
    if (!r.u16(v)) {
        return errc::bad_remaining_length;
    }
    if (v == 0) {
        return errc::zero_packet_id;
    }
    id = packet_id{v};
    return std::nullopt;
}

std::optional<errc> read_filter(reader& r, std::string_view& filter) noexcept {
    if (!r.string(filter)) {
        return errc::string_truncated;
    }
    return validate_topic_filter(filter);
}

std::optional<errc> parse_subscribe(bytes_view body, packet& out) noexcept {
    reader r(body);
    subscribe s;
    if (auto e = read_nonzero_id(r, s.id)) {
        return e;
    }
    const bytes_view payload = r.rest();
    if (payload.empty()) {
        return errc::subscribe_empty;
    }
    std::size_t count = 0;
    while (!r.at_end()) {
        std::string_view filter;
        std::uint8_t requested = 0;
        if (auto e = read_filter(r, filter)) {
            return e;
        }
        if (!r.u8(requested)) {
            return errc::bad_remaining_length;
        }
        if (requested > 2) { // reserved bits set, or QoS 3
            return errc::subscribe_qos_invalid;
        }
        ++count;
    }
    s.subscriptions = subscription_list::from_wire(payload, count);
    out.emplace<subscribe>(s);
    return std::nullopt;
}

std::optional<errc> parse_suback(bytes_view body, packet& out) noexcept {
    reader r(body);
    suback s;
    if (auto e = read_nonzero_id(r, s.id)) {
        return e;
    }
    s.return_codes = r.rest();
    if (s.return_codes.empty()) {
        return errc::suback_empty;
    }
    for (std::uint8_t code : s.return_codes) {
        if (code > 2 && code != suback_failure) {
            return errc::suback_code_reserved;
        }
    }
    out.emplace<suback>(s);
    return std::nullopt;
}

std::optional<errc> parse_unsubscribe(bytes_view body, packet& out) noexcept {
    reader r(body);
    unsubscribe u;
    if (auto e = read_nonzero_id(r, u.id)) {
        return e;
    }
    const bytes_view payload = r.rest();
    if (payload.empty()) {
        return errc::unsubscribe_empty;
    }
    std::size_t count = 0;
    while (!r.at_end()) {
        std::string_view filter;
        if (auto e = read_filter(r, filter)) {
            return e;
        }
        ++count;
    }
    u.filters = filter_list::from_wire(payload, count);
    out.emplace<unsubscribe>(u);
    return std::nullopt;
}

template <typename T>
std::optional<errc> parse_empty(bytes_view body, packet& out) noexcept {
    if (!body.empty()) {
        return errc::bad_remaining_length;
    }
    out.emplace<T>();
    return std::nullopt;
}

} // namespace

std::optional<errc> parse_packet(const frame_header& header, bytes_view body,
                                 packet& out) noexcept {
    switch (header.type()) {
    case packet_type::connect:
        return parse_connect(body, out);
    case packet_type::connack:
        return parse_connack(body, out);
    case packet_type::publish:
        return parse_publish(header.flags(), body, out);
    case packet_type::puback:
        return parse_id_only<puback>(body, out);
    case packet_type::pubrec:
        return parse_id_only<pubrec>(body, out);
    case packet_type::pubrel:
        return parse_id_only<pubrel>(body, out);
    case packet_type::pubcomp:
        return parse_id_only<pubcomp>(body, out);
    case packet_type::subscribe:
        return parse_subscribe(body, out);
    case packet_type::suback:
        return parse_suback(body, out);
    case packet_type::unsubscribe:
        return parse_unsubscribe(body, out);
    case packet_type::unsuback:
        return parse_id_only<unsuback>(body, out);
    case packet_type::pingreq:
        return parse_empty<pingreq>(body, out);
    case packet_type::pingresp:
        return parse_empty<pingresp>(body, out);
    case packet_type::disconnect:
        return parse_empty<disconnect>(body, out);
    }
    return errc::reserved_packet_type; // read_frame_header() rejects 0 and 15 first
}

// entry_list reads the entries of a validated payload with these.
namespace detail {

subscription read_subscription(bytes_view wire, std::size_t& pos) noexcept {
    reader r(wire.subspan(pos));
    subscription s;
    std::uint8_t q = 0;
    r.string(s.filter);
    r.u8(q);
    s.max_qos = static_cast<qos>(q);
    pos += r.position();
    return s;
}

std::string_view read_filter(bytes_view wire, std::size_t& pos) noexcept {
    reader r(wire.subspan(pos));
    std::string_view filter;
    r.string(filter);
    pos += r.position();
    return filter;
}

} // namespace detail

} // namespace zama::mqtt
