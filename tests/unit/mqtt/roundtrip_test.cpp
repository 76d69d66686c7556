// Every packet type survives encode → decode unchanged, and the encoder
// writes the bytes the specification shows.

#include <array>
#include <memory>
#include <string>

#include "codec_test_util.hpp"

namespace zama::mqtt::test {
namespace {

void expect_roundtrip(const packet& p) {
    const bytes wire = encode_packet(p);
    ASSERT_FALSE(wire.empty());
    std::optional<packet> back = decode_one(wire);
    ASSERT_TRUE(back.has_value()) << to_string(type_of(p));
    EXPECT_EQ(type_of(*back), type_of(p));
    EXPECT_TRUE(*back == p) << to_string(type_of(p));
}

const bytes payload_64 = bytes(64, 0xAB);
const std::array<std::uint8_t, 3> secret{0x00, 0xFF, 0x10};

TEST(Roundtrip, Connect) {
    expect_roundtrip(connect{.client_id = "sensor-1", .keep_alive = 60, .clean_session = true});
    expect_roundtrip(connect{.client_id = "", .keep_alive = 0, .clean_session = true});
    expect_roundtrip(
        connect{.client_id = "persistent", .keep_alive = 65535, .clean_session = false});
    expect_roundtrip(connect{.client_id = "with-will",
                             .keep_alive = 30,
                             .clean_session = false,
                             .will = will_message{.topic = "devices/d1/status",
                                                  .payload = view(text_bytes("offline")),
                                                  .qos = qos::exactly_once,
                                                  .retain = true}});
    expect_roundtrip(connect{.client_id = "auth",
                             .keep_alive = 10,
                             .clean_session = true,
                             .username = "user",
                             .password = bytes_view(secret)});
    expect_roundtrip(connect{.client_id = "user-only", .username = "только-имя"});
    expect_roundtrip(
        connect{.client_id = "all",
                .will = will_message{.topic = "w", .payload = {}, .qos = qos::at_least_once},
                .username = "",
                .password = bytes_view{}});
}

TEST(Roundtrip, Connack) {
    expect_roundtrip(connack{.session_present = false, .code = connack_code::accepted});
    expect_roundtrip(connack{.session_present = true, .code = connack_code::accepted});
    for (auto code : {connack_code::unacceptable_protocol_version,
                      connack_code::identifier_rejected, connack_code::server_unavailable,
                      connack_code::bad_username_or_password, connack_code::not_authorized}) {
        expect_roundtrip(connack{.session_present = false, .code = code});
    }
}

TEST(Roundtrip, Publish) {
    expect_roundtrip(publish{.topic = "a", .payload = {}});
    expect_roundtrip(publish{.topic = "sensors/t1", .payload = view(payload_64)});
    expect_roundtrip(publish{.topic = "sensors/t1", .payload = view(payload_64), .retain = true});
    expect_roundtrip(publish{
        .topic = "q1", .payload = view(payload_64), .id = packet_id{1}, .qos = qos::at_least_once});
    expect_roundtrip(publish{.topic = "q2/ü/€/𝄞",
                             .payload = view(payload_64),
                             .id = packet_id{65535},
                             .qos = qos::exactly_once,
                             .dup = true,
                             .retain = true});
    // Payload sizes that need 2, 3 and 4 bytes of remaining length.
    for (std::size_t n : {std::size_t{200}, std::size_t{20'000}, std::size_t{2'200'000}}) {
        const bytes big(n, 0x5A);
        expect_roundtrip(publish{
            .topic = "big", .payload = view(big), .id = packet_id{7}, .qos = qos::at_least_once});
    }
}

TEST(Roundtrip, Acknowledgements) {
    expect_roundtrip(puback{packet_id{1}});
    expect_roundtrip(pubrec{packet_id{2}});
    expect_roundtrip(pubrel{packet_id{3}});
    expect_roundtrip(pubcomp{packet_id{65535}});
    expect_roundtrip(unsuback{packet_id{4}});
}

TEST(Roundtrip, Subscribe) {
    const std::array<subscription, 4> subs{{{"a/b", qos::at_most_once},
                                            {"sport/tennis/+", qos::at_least_once},
                                            {"#", qos::exactly_once},
                                            {"$SYS/broker/uptime", qos::at_most_once}}};
    expect_roundtrip(subscribe{packet_id{10}, subscription_list(subs)});
    const std::array<subscription, 1> one{{{"x", qos::exactly_once}}};
    expect_roundtrip(subscribe{packet_id{65535}, subscription_list(one)});
}

TEST(Roundtrip, Suback) {
    const std::array<std::uint8_t, 4> codes{0, 1, 2, suback_failure};
    expect_roundtrip(suback{packet_id{10}, bytes_view(codes)});
}

TEST(Roundtrip, Unsubscribe) {
    const std::array<std::string_view, 3> filters{"a/b", "+/+", "sport/#"};
    expect_roundtrip(unsubscribe{packet_id{11}, filter_list(filters)});
}

TEST(Roundtrip, NoBody) {
    expect_roundtrip(pingreq{});
    expect_roundtrip(pingresp{});
    expect_roundtrip(disconnect{});
}

TEST(Roundtrip, DecodedListsIterateLikeTheOriginal) {
    const std::array<subscription, 3> subs{
        {{"a", qos::at_most_once}, {"b/+", qos::exactly_once}, {"c/#", qos::at_least_once}}};
    const bytes wire = encode_packet(subscribe{packet_id{5}, subscription_list(subs)});
    auto p = decode_one(wire);
    ASSERT_TRUE(p.has_value());
    const auto& s = std::get<subscribe>(*p);
    ASSERT_EQ(s.subscriptions.size(), 3u);
    std::size_t i = 0;
    for (subscription sub : s.subscriptions) {
        EXPECT_EQ(sub.filter, subs[i].filter);
        EXPECT_EQ(sub.max_qos, subs[i].max_qos);
        ++i;
    }
    EXPECT_EQ(i, 3u);
}

// Bytes from the specification's figures and from mosquitto_pub captures.
TEST(Encode, ExactBytes) {
    EXPECT_EQ(encode_packet(pingreq{}), hex("c0 00"));
    EXPECT_EQ(encode_packet(pingresp{}), hex("d0 00"));
    EXPECT_EQ(encode_packet(disconnect{}), hex("e0 00"));
    EXPECT_EQ(encode_packet(puback{packet_id{0x1234}}), hex("40 02 12 34"));
    EXPECT_EQ(encode_packet(pubrel{packet_id{1}}), hex("62 02 00 01"));
    EXPECT_EQ(encode_packet(connack{true, connack_code::accepted}), hex("20 02 01 00"));
    EXPECT_EQ(encode_packet(publish{.topic = "a/b",
                                    .payload = view(text_bytes("hi")),
                                    .id = packet_id{10},
                                    .qos = qos::at_least_once,
                                    .retain = true}),
              hex("33 09 00 03 61 2f 62 00 0a 68 69"));
    EXPECT_EQ(encode_packet(connect{.client_id = "c", .keep_alive = 60, .clean_session = true}),
              hex("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63"));
    const std::array<subscription, 1> subs{{{"t", qos::at_least_once}}};
    EXPECT_EQ(encode_packet(subscribe{packet_id{1}, subscription_list(subs)}),
              hex("82 06 00 01 00 01 74 01"));
}

TEST(Encode, SizesAndErrors) {
    const publish p{
        .topic = "abc", .payload = view(payload_64), .id = packet_id{1}, .qos = qos::at_least_once};
    auto size = encoded_size(p);
    ASSERT_TRUE(size.has_value());
    EXPECT_EQ(*size, 2u + 2 + 3 + 2 + 64);

    bytes small(*size - 1);
    auto r = encode(p, small);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), encode_errc::buffer_too_small);

    const std::string long_topic(65536, 'x');
    auto too_long = encoded_size(publish{.topic = long_topic});
    ASSERT_FALSE(too_long.has_value());
    EXPECT_EQ(too_long.error(), encode_errc::string_too_long);

    const std::string max_topic(65535, 'x');
    EXPECT_TRUE(encoded_size(publish{.topic = max_topic}).has_value());

    // A payload past the protocol's maximum remaining length (never
    // written: the encoder refuses on size alone, so the pages stay untouched).
    const auto storage = std::make_unique_for_overwrite<std::uint8_t[]>(max_remaining_length);
    const bytes_view huge(storage.get(), max_remaining_length);
    auto too_large = encoded_size(publish{.topic = "t", .payload = huge});
    ASSERT_FALSE(too_large.has_value());
    EXPECT_EQ(too_large.error(), encode_errc::packet_too_large);
}

TEST(Encode, Qos0PublishCarriesNoPacketId) {
    const bytes wire =
        encode_packet(publish{.topic = "t", .payload = view(text_bytes("x")), .id = packet_id{9}});
    EXPECT_EQ(wire, hex("30 04 00 01 74 78"));
}

} // namespace
} // namespace zama::mqtt::test
