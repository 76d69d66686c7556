// Every byte-level rule the decoder enforces, each with a malformed packet
// that must be rejected naming that rule.

#include <set>
#include <string>

#include "codec_test_util.hpp"

namespace zama::mqtt::test {
namespace {

struct malformed_case {
    const char* name;
    const char* wire; // hex
    errc expected;
};

// A valid CONNECT for reference: client id "c", clean session, keepalive 60.
//   10 0d | 00 04 'MQTT' | 04 | 02 | 00 3c | 00 01 'c'
const malformed_case cases[] = {
    // Fixed header.
    {"type_0", "00 00", errc::reserved_packet_type},
    {"type_15", "f0 00", errc::reserved_packet_type},
    {"connect_flags", "11 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63", errc::invalid_header_flags},
    {"puback_flags", "41 02 00 01", errc::invalid_header_flags},
    {"pubrel_flags_0000", "60 02 00 01", errc::invalid_header_flags},
    {"subscribe_flags_0000", "80 06 00 01 00 01 74 01", errc::invalid_header_flags},
    {"unsubscribe_flags_0011", "a3 05 00 01 00 01 74", errc::invalid_header_flags},
    {"pingreq_flags", "c1 00", errc::invalid_header_flags},
    {"disconnect_flags", "e8 00", errc::invalid_header_flags},
    {"remaining_length_5_bytes", "30 ff ff ff ff 01", errc::remaining_length_overflow},
    {"puback_length_3", "40 03 00 01 00", errc::bad_remaining_length},
    {"pingreq_with_body", "c0 01 00", errc::bad_remaining_length},
    {"connack_length_1", "20 01 00", errc::bad_remaining_length},
    {"connect_trailing_byte", "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 01 63 00",
     errc::bad_remaining_length},
    {"connect_truncated_keepalive", "10 08 00 04 4d 51 54 54 04 02", errc::bad_remaining_length},
    {"publish_qos1_without_id", "32 03 00 01 74", errc::bad_remaining_length},
    {"subscribe_without_qos_byte", "82 05 00 01 00 01 74", errc::bad_remaining_length},

    // Strings.
    {"topic_utf8_bad_continuation", "30 04 00 02 c3 28", errc::utf8_ill_formed},
    {"topic_utf8_overlong_slash", "30 04 00 02 c0 af", errc::utf8_ill_formed},
    {"topic_utf8_surrogate", "30 05 00 03 ed a0 80", errc::utf8_ill_formed},
    {"topic_utf8_above_10ffff", "30 06 00 04 f4 90 80 80", errc::utf8_ill_formed},
    {"topic_utf8_truncated_sequence", "30 04 00 02 61 e2", errc::utf8_ill_formed},
    {"client_id_utf8", "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 ff", errc::utf8_ill_formed},
    {"topic_null", "30 05 00 03 61 00 62", errc::utf8_null},
    {"filter_null", "82 08 00 01 00 03 61 00 62 00", errc::utf8_null},
    {"username_null", "10 10 00 04 4d 51 54 54 04 82 00 3c 00 01 63 00 01 00", errc::utf8_null},
    {"topic_length_past_end", "30 03 00 05 61", errc::string_truncated},
    {"protocol_name_past_end", "10 03 00 04 4d", errc::string_truncated},

    // Packet identifiers.
    {"publish_qos1_id_0", "32 05 00 01 74 00 00", errc::zero_packet_id},
    {"publish_qos2_id_0", "34 05 00 01 74 00 00", errc::zero_packet_id},
    {"puback_id_0", "40 02 00 00", errc::zero_packet_id},
    {"pubrel_id_0", "62 02 00 00", errc::zero_packet_id},
    {"subscribe_id_0", "82 06 00 00 00 01 74 01", errc::zero_packet_id},
    {"unsubscribe_id_0", "a2 05 00 00 00 01 74", errc::zero_packet_id},

    // CONNECT.
    {"protocol_name_mqtx", "10 0d 00 04 4d 51 54 58 04 02 00 3c 00 01 63", errc::bad_protocol_name},
    {"protocol_level_3", "10 0d 00 04 4d 51 54 54 03 02 00 3c 00 01 63",
     errc::unsupported_protocol_level},
    {"protocol_level_5", "10 0e 00 04 4d 51 54 54 05 02 00 3c 00 00 01 63",
     errc::unsupported_protocol_level},
    {"mqtt_3_1_mqisdp", "10 0f 00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 63",
     errc::unsupported_protocol_level},
    {"reserved_connect_flag", "10 0d 00 04 4d 51 54 54 04 03 00 3c 00 01 63",
     errc::reserved_connect_flag},
    {"will_qos_without_will", "10 0d 00 04 4d 51 54 54 04 0a 00 3c 00 01 63",
     errc::will_flags_without_will},
    {"will_retain_without_will", "10 0d 00 04 4d 51 54 54 04 22 00 3c 00 01 63",
     errc::will_flags_without_will},
    {"will_qos_3", "10 0d 00 04 4d 51 54 54 04 1e 00 3c 00 01 63", errc::will_qos_invalid},
    {"password_without_username", "10 10 00 04 4d 51 54 54 04 42 00 3c 00 01 63 00 01 70",
     errc::password_without_username},
    {"username_flag_no_username", "10 0d 00 04 4d 51 54 54 04 82 00 3c 00 01 63",
     errc::username_missing},
    {"password_flag_no_password", "10 10 00 04 4d 51 54 54 04 c2 00 3c 00 01 63 00 01 75",
     errc::password_missing},
    {"will_flag_no_will", "10 0d 00 04 4d 51 54 54 04 06 00 3c 00 01 63", errc::will_missing},
    {"will_topic_without_message", "10 10 00 04 4d 51 54 54 04 06 00 3c 00 01 63 00 01 77",
     errc::will_missing},
    {"no_client_id", "10 0a 00 04 4d 51 54 54 04 02 00 3c", errc::client_id_missing},
    {"empty_client_id_persistent", "10 0c 00 04 4d 51 54 54 04 00 00 3c 00 00",
     errc::empty_client_id_persistent},
    {"will_topic_wildcard", "10 14 00 04 4d 51 54 54 04 06 00 3c 00 01 63 00 03 61 2f 23 00 00",
     errc::will_topic_wildcard},
    {"will_topic_empty", "10 11 00 04 4d 51 54 54 04 06 00 3c 00 01 63 00 00 00 00",
     errc::topic_empty},

    // CONNACK.
    {"connack_reserved_flags", "20 02 02 00", errc::connack_reserved_flags},
    {"connack_session_present_refused", "20 02 01 05", errc::connack_session_present_refused},
    {"connack_code_6", "20 02 00 06", errc::connack_code_reserved},

    // PUBLISH.
    {"publish_qos_3", "36 05 00 01 74 00 01", errc::publish_qos_invalid},
    {"publish_dup_qos0", "38 03 00 01 74", errc::publish_dup_qos0},
    {"topic_name_hash", "30 03 00 01 23", errc::topic_name_wildcard},
    {"topic_name_plus", "30 05 00 03 61 2f 2b", errc::topic_name_wildcard},
    {"topic_name_plus_long", "30 0e 00 0c 61 61 61 61 61 61 61 61 61 61 61 2b",
     errc::topic_name_wildcard},
    {"topic_name_empty", "30 02 00 00", errc::topic_empty},

    // SUBSCRIBE, SUBACK, UNSUBSCRIBE.
    {"subscribe_no_payload", "82 02 00 01", errc::subscribe_empty},
    {"subscribe_qos_3", "82 06 00 01 00 01 74 03", errc::subscribe_qos_invalid},
    {"subscribe_reserved_bits", "82 06 00 01 00 01 74 04", errc::subscribe_qos_invalid},
    {"subscribe_reserved_high_bit", "82 06 00 01 00 01 74 80", errc::subscribe_qos_invalid},
    {"subscribe_empty_filter", "82 05 00 01 00 00 00", errc::topic_empty},
    {"suback_no_codes", "90 02 00 01", errc::suback_empty},
    {"suback_code_3", "90 03 00 01 03", errc::suback_code_reserved},
    {"unsubscribe_no_payload", "a2 02 00 01", errc::unsubscribe_empty},
    {"filter_hash_not_alone", "82 07 00 01 00 02 61 23 00", errc::filter_multi_level_misused},
    {"filter_hash_not_last", "82 08 00 01 00 03 23 2f 61 00", errc::filter_multi_level_misused},
    {"filter_plus_not_alone", "82 07 00 01 00 02 61 2b 00", errc::filter_single_level_misused},
    {"unsubscribe_filter_plus_not_alone", "a2 06 00 01 00 02 2b 61",
     errc::filter_single_level_misused},
};

void PrintTo(const malformed_case& c, std::ostream* os) {
    *os << c.name;
}

class Malformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(Malformed, IsRejectedNamingItsRule) {
    const malformed_case& c = GetParam();
    const bytes wire = hex(c.wire);
    const auto error = decode_error(wire);
    ASSERT_TRUE(error.has_value()) << c.name << " was accepted";
    EXPECT_EQ(*error, c.expected) << c.name << ": got " << describe(*error) << ", want "
                                  << describe(c.expected);
    EXPECT_TRUE(describe(*error).starts_with(std::string(rule(*error)) + " "));
}

TEST_P(Malformed, IsRejectedTheSameWayByteByByte) {
    const bytes wire = hex(GetParam().wire);
    const auto outcome = decode_cut(view(wire), [](std::size_t) { return 1; });
    ASSERT_TRUE(outcome.error.has_value());
    EXPECT_EQ(*outcome.error, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(Rules, Malformed, ::testing::ValuesIn(cases),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// Every rule has an example above (packet_too_large has its own tests).
TEST(Rules, EveryErrorHasAMalformedExample) {
    std::set<errc> covered{errc::packet_too_large};
    for (const auto& c : cases) {
        covered.insert(c.expected);
    }
    for (unsigned e = 0; e <= static_cast<unsigned>(errc::filter_single_level_misused); ++e) {
        EXPECT_TRUE(covered.contains(static_cast<errc>(e)))
            << "no malformed example for " << describe(static_cast<errc>(e));
    }
}

TEST(Rules, RuleIdsAreTheSpecificationsWording) {
    EXPECT_EQ(describe(errc::reserved_connect_flag), "MQTT-3.1.2-3 reserved connect flag set");
    EXPECT_EQ(rule(errc::utf8_ill_formed), "MQTT-1.5.3-1");
    EXPECT_EQ(rule(errc::utf8_null), "MQTT-1.5.3-2");
    EXPECT_EQ(rule(errc::invalid_header_flags), "MQTT-2.2.2-2");
    EXPECT_EQ(rule(errc::subscribe_qos_invalid), "MQTT-3.8.3-4");
    EXPECT_EQ(rule(errc::zero_packet_id), "MQTT-2.3.1-1");
}

// Protocol level and empty client id are answered with a CONNACK code before
// closing; everything else is plain malformed.
TEST(Rules, ConnackCodesAreDistinguishableFromMalformed) {
    EXPECT_EQ(connack_for(errc::unsupported_protocol_level),
              connack_code::unacceptable_protocol_version);
    EXPECT_EQ(connack_for(errc::empty_client_id_persistent), connack_code::identifier_rejected);
    EXPECT_EQ(connack_for(errc::reserved_connect_flag), std::nullopt);
    EXPECT_EQ(connack_for(errc::bad_protocol_name), std::nullopt);
    EXPECT_EQ(connack_for(errc::utf8_ill_formed), std::nullopt);
}

// The level is checked before the rest, whose layout differs in other
// versions: an MQTT 5 CONNECT (with properties) still gets CONNACK 0x01.
TEST(Rules, Mqtt5ConnectIsAnUnsupportedLevelNotMalformed) {
    // 10 | len | 00 04 MQTT | 05 | 02 | 00 3c | props len 05, session expiry 11 00 00 00 0a | 00 01
    // c
    const bytes wire = hex("10 13 00 04 4d 51 54 54 05 02 00 3c 05 11 00 00 00 0a 00 01 63");
    EXPECT_EQ(decode_error(wire), errc::unsupported_protocol_level);
}

TEST(Rules, EmptyClientIdWithCleanSessionIsAccepted) {
    const bytes wire = hex("10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00");
    auto p = decode_one(wire);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(std::get<connect>(*p).client_id, "");
}

// A malformed CONNECT with an empty client id is closed as malformed, not
// answered with CONNACK 0x02.
TEST(Rules, MalformedConnectWinsOverEmptyClientId) {
    const bytes wire = hex("10 0d 00 04 4d 51 54 54 04 00 00 3c 00 00 00");
    EXPECT_EQ(decode_error(wire), errc::bad_remaining_length);
}

TEST(Rules, MaxPacketSizeRejectsBeforeBuffering) {
    const bytes big(1000, 0x41);
    const bytes wire = encode_packet(publish{.topic = "t", .payload = view(big)});
    decoder_options options{.max_packet_size = 512};

    // The fixed header alone decides it: feed only the first 3 bytes.
    decoder d(options);
    const bytes head(wire.begin(), wire.begin() + 3);
    d.feed(view(head));
    packet p;
    ASSERT_EQ(d.next(p), decode_status::error);
    EXPECT_EQ(d.error(), errc::packet_too_large);
    EXPECT_EQ(d.buffered(), 0u);

    // At the limit exactly, the packet passes.
    const bytes fits(506, 0x41); // 3-byte fixed header + 2 + "t" + 506 = 512
    const bytes at_limit = encode_packet(publish{.topic = "t", .payload = view(fits)});
    ASSERT_EQ(at_limit.size(), 512u);
    EXPECT_EQ(decode_whole(view(at_limit), options).error, std::nullopt);
    const bytes one_over = encode_packet(publish{.topic = "tt", .payload = view(fits)});
    EXPECT_EQ(decode_whole(view(one_over), options).error, errc::packet_too_large);
}

TEST(Rules, ErrorIsSticky) {
    const bytes wire = hex("c1 00 c0 00");
    decoder d;
    d.feed(view(wire));
    packet p;
    EXPECT_EQ(d.next(p), decode_status::error);
    EXPECT_EQ(d.next(p), decode_status::error);
    EXPECT_EQ(d.error(), errc::invalid_header_flags);
}

// Packets only a client receives still decode (zama-bench and tests use the
// same codec); what a server accepts from a client is the broker's call.
TEST(Rules, ValidPacketsOfEveryTypeDecode) {
    for (const char* w :
         {"20 02 00 00", "40 02 00 01", "50 02 00 01", "62 02 00 01", "70 02 00 01",
          "90 03 00 01 80", "b0 02 00 01", "c0 00", "d0 00", "e0 00", "32 05 00 01 74 00 01",
          "82 06 00 01 00 01 74 02", "a2 05 00 01 00 01 74"}) {
        EXPECT_EQ(decode_error(hex(w)), std::nullopt) << w;
    }
}

} // namespace
} // namespace zama::mqtt::test
