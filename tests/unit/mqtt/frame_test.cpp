// The fixed header: remaining length encoding at every size boundary, and
// the header checks in the order the bytes arrive.

#include "mqtt/frame.hpp"

#include "codec_test_util.hpp"

namespace zama::mqtt::test {
namespace {

TEST(Frame, RemainingLengthBoundaries) {
    struct boundary {
        std::uint32_t length;
        const char* encoded;
    };
    // Table 2.4 of the specification.
    for (const boundary& b :
         {boundary{0, "00"}, boundary{127, "7f"}, boundary{128, "80 01"}, boundary{16'383, "ff 7f"},
          boundary{16'384, "80 80 01"}, boundary{2'097'151, "ff ff 7f"},
          boundary{2'097'152, "80 80 80 01"}, boundary{268'435'455, "ff ff ff 7f"}}) {
        std::uint8_t out[5];
        const std::size_t n = write_fixed_header(0x30, b.length, out);
        bytes expected = hex(b.encoded);
        expected.insert(expected.begin(), 0x30);
        EXPECT_EQ(bytes(out, out + n), expected) << b.length;
        EXPECT_EQ(n, 1 + remaining_length_size(b.length));

        const frame_result f = read_frame_header(bytes_view(out, n), max_packet_size_limit);
        ASSERT_EQ(f.status, frame_status::complete) << b.length;
        EXPECT_EQ(f.header.remaining_length, b.length);
        EXPECT_EQ(f.header.header_size, n);
        EXPECT_EQ(f.header.type(), packet_type::publish);
    }
}

TEST(Frame, NonMinimalLengthIsAccepted) {
    // 3.1.1 does not require the shortest form: 0x80 0x00 is zero.
    const bytes wire = hex("c0 80 00");
    const frame_result f = read_frame_header(view(wire), max_packet_size_limit);
    ASSERT_EQ(f.status, frame_status::complete);
    EXPECT_EQ(f.header.remaining_length, 0u);
    EXPECT_EQ(f.header.header_size, 3u);
}

TEST(Frame, NeedsMoreUntilTheLengthEnds) {
    const bytes wire = hex("30 80 80 01");
    for (std::size_t n = 0; n < wire.size(); ++n) {
        EXPECT_EQ(read_frame_header(bytes_view(wire.data(), n), max_packet_size_limit).status,
                  frame_status::need_more)
            << n;
    }
    EXPECT_EQ(read_frame_header(view(wire), max_packet_size_limit).status, frame_status::complete);
}

TEST(Frame, FirstByteIsCheckedAlone) {
    const bytes wire = hex("36");
    const frame_result f = read_frame_header(view(wire), max_packet_size_limit);
    ASSERT_EQ(f.status, frame_status::error);
    EXPECT_EQ(f.error, errc::publish_qos_invalid);
}

TEST(Frame, PublishFlagsEveryCombination) {
    for (unsigned flags = 0; flags < 16; ++flags) {
        const bytes wire{static_cast<std::uint8_t>(0x30 | flags), 0x00};
        const frame_result f = read_frame_header(view(wire), max_packet_size_limit);
        const unsigned q = (flags >> 1) & 3;
        const bool dup = (flags & 8) != 0;
        if (q == 3) {
            EXPECT_EQ(f.error, errc::publish_qos_invalid) << flags;
        } else if (q == 0 && dup) {
            EXPECT_EQ(f.error, errc::publish_dup_qos0) << flags;
        } else {
            EXPECT_EQ(f.status, frame_status::complete) << flags;
        }
    }
}

TEST(Frame, PublishHelpersMatchTheEncoder) {
    const bytes payload(100, 1);
    for (qos q : {qos::at_most_once, qos::at_least_once, qos::exactly_once}) {
        const publish p{.topic = "abc/def",
                        .payload = view(payload),
                        .id = packet_id{static_cast<std::uint16_t>(q == qos::at_most_once ? 0 : 5)},
                        .qos = q,
                        .dup = q != qos::at_most_once,
                        .retain = true};
        const bytes wire = encode_packet(p);
        EXPECT_EQ(wire[0], publish_first_byte(q, p.dup, true));
        const std::size_t remaining = publish_remaining_length(7, 100, q);
        EXPECT_EQ(wire.size(),
                  1 + remaining_length_size(static_cast<std::uint32_t>(remaining)) + remaining);
    }
}

} // namespace
} // namespace zama::mqtt::test
