#include "mqtt/error.hpp"

#include <array>

namespace zama::mqtt {
namespace {

struct rule_text {
    std::string_view rule;
    std::string_view message;
};

// Indexed by errc; the order must follow the enum.
constexpr std::array<rule_text, 35> rules{{
    {"MQTT-2.2.1", "reserved packet type"},
    {"MQTT-2.2.2-2", "invalid fixed header flags"},
    {"MQTT-2.2.3", "remaining length longer than 4 bytes"},
    {"max_packet_size", "packet larger than max_packet_size"},
    {"MQTT-2.2.3", "remaining length does not match the packet's fields"},
    {"MQTT-1.5.3-1", "ill-formed UTF-8 string"},
    {"MQTT-1.5.3-2", "UTF-8 string contains U+0000"},
    {"MQTT-1.5.3", "string or binary field runs past the end of the packet"},
    {"MQTT-2.3.1-1", "packet identifier is zero"},
    {"MQTT-3.1.2-1", "protocol name is not \"MQTT\""},
    {"MQTT-3.1.2-2", "unsupported protocol level"},
    {"MQTT-3.1.2-3", "reserved connect flag set"},
    {"MQTT-3.1.2-11", "will QoS or will retain set without the will flag"},
    {"MQTT-3.1.2-14", "will QoS is 3"},
    {"MQTT-3.1.2-22", "password flag set without the user name flag"},
    {"MQTT-3.1.2-19", "user name flag set but no user name"},
    {"MQTT-3.1.2-21", "password flag set but no password"},
    {"MQTT-3.1.2-9", "will flag set but no will topic and message"},
    {"MQTT-3.1.3-3", "client identifier missing"},
    {"MQTT-3.1.3-8", "zero-length client identifier without clean session"},
    {"MQTT-3.2.2.1", "reserved CONNACK flag bits set"},
    {"MQTT-3.2.2-4", "session present set on a refused connection"},
    {"MQTT-3.2.2.3", "reserved CONNACK return code"},
    {"MQTT-3.3.1-4", "PUBLISH QoS is 3"},
    {"MQTT-3.3.1-2", "DUP flag set on a QoS 0 PUBLISH"},
    {"MQTT-3.3.2-2", "wildcard in a PUBLISH topic name"},
    {"MQTT-4.7.3-1", "empty topic name or filter"},
    {"MQTT-4.7.1-1", "wildcard in the will topic"},
    {"MQTT-3.8.3-3", "SUBSCRIBE without a topic filter"},
    {"MQTT-3.8.3-4", "SUBSCRIBE requested QoS has reserved bits set or is 3"},
    {"MQTT-3.9.3", "SUBACK without a return code"},
    {"MQTT-3.9.3-2", "reserved SUBACK return code"},
    {"MQTT-3.10.3-2", "UNSUBSCRIBE without a topic filter"},
    {"MQTT-4.7.1-2", "'#' is not alone in the last level of the filter"},
    {"MQTT-4.7.1-3", "'+' does not occupy a whole level of the filter"},
}};

static_assert(rules.size() == static_cast<std::size_t>(errc::filter_single_level_misused) + 1,
              "one rule per errc value");

} // namespace

std::string_view rule(errc e) noexcept {
    return rules[static_cast<std::size_t>(e)].rule;
}

std::string_view message(errc e) noexcept {
    return rules[static_cast<std::size_t>(e)].message;
}

std::string describe(errc e) {
    std::string s(rule(e));
    s += ' ';
    s += message(e);
    return s;
}

std::optional<connack_code> connack_for(errc e) noexcept {
    switch (e) {
    case errc::unsupported_protocol_level:
        return connack_code::unacceptable_protocol_version;
    case errc::empty_client_id_persistent:
        return connack_code::identifier_rejected;
    default:
        return std::nullopt;
    }
}

std::string_view message(encode_errc e) noexcept {
    switch (e) {
    case encode_errc::buffer_too_small:
        return "output buffer too small";
    case encode_errc::string_too_long:
        return "string or binary field longer than 65535 bytes";
    case encode_errc::packet_too_large:
        return "remaining length over 268435455 bytes";
    }
    return "unknown encode error";
}

} // namespace zama::mqtt
