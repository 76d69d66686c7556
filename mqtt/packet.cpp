#include "mqtt/packet.hpp"

#include <algorithm>

namespace zama::mqtt {
namespace {

bool same_bytes(bytes_view a, bytes_view b) noexcept {
    return std::ranges::equal(a, b);
}

} // namespace

std::string_view to_string(packet_type t) noexcept {
    switch (t) {
    case packet_type::connect:
        return "CONNECT";
    case packet_type::connack:
        return "CONNACK";
    case packet_type::publish:
        return "PUBLISH";
    case packet_type::puback:
        return "PUBACK";
    case packet_type::pubrec:
        return "PUBREC";
    case packet_type::pubrel:
        return "PUBREL";
    case packet_type::pubcomp:
        return "PUBCOMP";
    case packet_type::subscribe:
        return "SUBSCRIBE";
    case packet_type::suback:
        return "SUBACK";
    case packet_type::unsubscribe:
        return "UNSUBSCRIBE";
    case packet_type::unsuback:
        return "UNSUBACK";
    case packet_type::pingreq:
        return "PINGREQ";
    case packet_type::pingresp:
        return "PINGRESP";
    case packet_type::disconnect:
        return "DISCONNECT";
    }
    return "RESERVED";
}

bool operator==(const will_message& a, const will_message& b) noexcept {
    return a.topic == b.topic && same_bytes(a.payload, b.payload) && a.qos == b.qos &&
           a.retain == b.retain;
}

bool operator==(const connect& a, const connect& b) noexcept {
    const bool same_password = a.password.has_value() == b.password.has_value() &&
                               (!a.password || same_bytes(*a.password, *b.password));
    return a.client_id == b.client_id && a.keep_alive == b.keep_alive &&
           a.clean_session == b.clean_session && a.will == b.will && a.username == b.username &&
           same_password;
}

bool operator==(const publish& a, const publish& b) noexcept {
    return a.topic == b.topic && same_bytes(a.payload, b.payload) && a.id == b.id &&
           a.qos == b.qos && a.dup == b.dup && a.retain == b.retain;
}

bool operator==(const suback& a, const suback& b) noexcept {
    return a.id == b.id && same_bytes(a.return_codes, b.return_codes);
}

} // namespace zama::mqtt
