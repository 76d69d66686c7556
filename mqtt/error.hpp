#pragma once

#include "mqtt/packet.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zama::mqtt {

/// Why a byte stream is not valid MQTT 3.1.1. Every value maps to the rule it
/// breaks: a conformance statement id of the specification ("MQTT-3.1.2-3")
/// or, where the specification states the requirement without an id, the
/// section that does ("MQTT-2.2.3"). The receiver of any of these closes the
/// connection (MQTT-4.8.0-1); two of them first answer a CONNECT with a
/// CONNACK code, see connack_for().
enum class errc : std::uint8_t {
    // Fixed header and framing.
    reserved_packet_type,      // MQTT-2.2.1   packet type 0 or 15
    invalid_header_flags,      // MQTT-2.2.2-2 reserved flag bits not as Table 2.2 says
    remaining_length_overflow, // MQTT-2.2.3   remaining length longer than 4 bytes
    packet_too_large,          // limit        larger than the configured max_packet_size
    bad_remaining_length,      // MQTT-2.2.3   remaining length does not fit the packet's fields

    // Strings.
    utf8_ill_formed,  // MQTT-1.5.3-1
    utf8_null,        // MQTT-1.5.3-2
    string_truncated, // MQTT-1.5.3   a length prefix runs past the packet

    // Packet identifiers.
    zero_packet_id, // MQTT-2.3.1-1

    // CONNECT.
    bad_protocol_name,          // MQTT-3.1.2-1
    unsupported_protocol_level, // MQTT-3.1.2-2  → CONNACK 0x01
    reserved_connect_flag,      // MQTT-3.1.2-3
    will_flags_without_will,    // MQTT-3.1.2-11 will QoS or retain set without the will flag
    will_qos_invalid,           // MQTT-3.1.2-14 will QoS 3
    password_without_username,  // MQTT-3.1.2-22
    username_missing,           // MQTT-3.1.2-19
    password_missing,           // MQTT-3.1.2-21
    will_missing,               // MQTT-3.1.2-9  will flag set but will topic/message absent
    client_id_missing,          // MQTT-3.1.3-3
    empty_client_id_persistent, // MQTT-3.1.3-8  → CONNACK 0x02

    // CONNACK (what a client checks).
    connack_reserved_flags,          // MQTT-3.2.2.1 reserved acknowledge flag bits set
    connack_session_present_refused, // MQTT-3.2.2-4
    connack_code_reserved,           // MQTT-3.2.2.3 return code above 5

    // PUBLISH.
    publish_qos_invalid, // MQTT-3.3.1-4 both QoS bits set
    publish_dup_qos0,    // MQTT-3.3.1-2 DUP set on a QoS 0 message
    topic_name_wildcard, // MQTT-3.3.2-2
    topic_empty,         // MQTT-4.7.3-1
    will_topic_wildcard, // MQTT-4.7.1-1 the will topic is a topic name: no wildcards

    // SUBSCRIBE / SUBACK / UNSUBSCRIBE.
    subscribe_empty,            // MQTT-3.8.3-3
    subscribe_qos_invalid,      // MQTT-3.8.3-4 reserved bits set or QoS 3
    suback_empty,               // MQTT-3.9.3   no return code
    suback_code_reserved,       // MQTT-3.9.3-2
    unsubscribe_empty,          // MQTT-3.10.3-2
    filter_multi_level_misused, // MQTT-4.7.1-2 '#' not alone in the last level
    filter_single_level_misused // MQTT-4.7.1-3 '+' not alone in its level
};

/// The rule id, e.g. "MQTT-3.1.2-3".
std::string_view rule(errc e) noexcept;

/// A short description, e.g. "reserved connect flag set".
std::string_view message(errc e) noexcept;

/// "MQTT-3.1.2-3 reserved connect flag set": the text a log line carries.
std::string describe(errc e);

/// The CONNACK code a server sends before closing for `e`, when the
/// specification asks for one: 0x01 for an unsupported protocol level
/// (MQTT-3.1.2-2), 0x02 for a zero-length client id without clean session
/// (MQTT-3.1.3-8). Every other error closes without a CONNACK.
std::optional<connack_code> connack_for(errc e) noexcept;

/// Why a packet could not be encoded; each is the caller's mistake, not the
/// peer's.
enum class encode_errc : std::uint8_t {
    buffer_too_small,
    string_too_long, // a string or binary field over 65,535 bytes
    packet_too_large // remaining length over 268,435,455 bytes
};

std::string_view message(encode_errc e) noexcept;

} // namespace zama::mqtt
