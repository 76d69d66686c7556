// The decoder gives the same packets (and the same error) however the byte
// stream is cut: whole, one byte at a time, at every boundary, at random.

#include <array>
#include <random>

#include "codec_test_util.hpp"

namespace zama::mqtt::test {
namespace {

bytes concat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const bytes& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

// One of every packet type, and PUBLISHes whose remaining length takes 1, 2
// and 3 bytes.
bytes mixed_stream() {
    static const bytes payload_64(64, 0x11);
    static const bytes payload_300(300, 0x22);
    static const bytes payload_70k(70'000, 0x33);
    static const std::array<subscription, 2> subs{
        {{"a/+", qos::at_least_once}, {"b/#", qos::exactly_once}}};
    static const std::array<std::string_view, 2> filters{"a/+", "b/#"};
    static const std::array<std::uint8_t, 2> codes{1, suback_failure};
    static const bytes will_payload = text_bytes("gone");
    return concat({
        encode_packet(connect{.client_id = "client-1",
                              .keep_alive = 30,
                              .clean_session = false,
                              .will = will_message{.topic = "w/t",
                                                   .payload = view(will_payload),
                                                   .qos = qos::at_least_once},
                              .username = "u",
                              .password = bytes_view(codes)}),
        encode_packet(connack{true, connack_code::accepted}),
        encode_packet(publish{.topic = "s/1", .payload = view(payload_64)}),
        encode_packet(publish{.topic = "s/2",
                              .payload = view(payload_300),
                              .id = packet_id{1},
                              .qos = qos::at_least_once}),
        encode_packet(publish{.topic = "s/3",
                              .payload = {},
                              .id = packet_id{2},
                              .qos = qos::exactly_once,
                              .dup = true}),
        encode_packet(puback{packet_id{1}}),
        encode_packet(pubrec{packet_id{2}}),
        encode_packet(pubrel{packet_id{2}}),
        encode_packet(pubcomp{packet_id{2}}),
        encode_packet(subscribe{packet_id{3}, subscription_list(subs)}),
        encode_packet(suback{packet_id{3}, bytes_view(codes)}),
        encode_packet(unsubscribe{packet_id{4}, filter_list(filters)}),
        encode_packet(unsuback{packet_id{4}}),
        encode_packet(pingreq{}),
        encode_packet(pingresp{}),
        encode_packet(publish{.topic = "big", .payload = view(payload_70k), .retain = true}),
        encode_packet(disconnect{}),
    });
}

constexpr std::size_t mixed_count = 17;

TEST(Fragments, WholeStreamDecodesEveryPacket) {
    const bytes stream = mixed_stream();
    const decode_outcome whole = decode_whole(view(stream));
    EXPECT_FALSE(whole.error.has_value());
    ASSERT_EQ(whole.packets.size(), mixed_count);
    // Re-encoding what was decoded gives back the stream.
    bytes again;
    for (const bytes& p : whole.packets) {
        again.insert(again.end(), p.begin(), p.end());
    }
    EXPECT_TRUE(again == stream);
}

TEST(Fragments, OneByteAtATimeEqualsWhole) {
    const bytes stream = mixed_stream();
    const decode_outcome whole = decode_whole(view(stream));
    const decode_outcome bytewise = decode_cut(view(stream), [](std::size_t) { return 1; });
    EXPECT_EQ(bytewise, whole);
}

TEST(Fragments, EverySplitPointEqualsWhole) {
    // Without the 70 kB PUBLISH, to keep n splits of n bytes small.
    const bytes stream = mixed_stream();
    const bytes tail = encode_packet(disconnect{});
    const decode_outcome whole = decode_whole(view(stream));
    bytes small;
    for (std::size_t i = 0; i + 2 < whole.packets.size(); ++i) {
        small.insert(small.end(), whole.packets[i].begin(), whole.packets[i].end());
    }
    small.insert(small.end(), tail.begin(), tail.end());
    const decode_outcome expected = decode_whole(view(small));
    ASSERT_EQ(expected.packets.size(), mixed_count - 1);
    for (std::size_t split = 1; split < small.size(); ++split) {
        bool first = true;
        const decode_outcome got = decode_cut(view(small), [&](std::size_t) {
            const std::size_t n = first ? split : small.size();
            first = false;
            return n;
        });
        ASSERT_EQ(got, expected) << "split at " << split;
    }
}

TEST(Fragments, RandomCutsEqualWhole) {
    const bytes stream = mixed_stream();
    const decode_outcome whole = decode_whole(view(stream));
    std::mt19937 rng(20261121);
    for (int round = 0; round < 50; ++round) {
        std::uniform_int_distribution<std::size_t> size(1, round % 2 == 0 ? 16 : 9000);
        const decode_outcome got = decode_cut(view(stream), [&](std::size_t) { return size(rng); });
        ASSERT_EQ(got, whole) << "round " << round;
    }
}

// An error after good packets: the same packets, then the same error, for
// every cut; bytes after the error are never looked at.
TEST(Fragments, ErrorsAreReportedAtTheSamePointForEveryCut) {
    const bytes good = encode_packet(publish{.topic = "ok", .payload = view(text_bytes("1"))});
    for (const char* bad : {"c1 00", "30 ff ff ff ff 01", "30 03 00 01 23", "82 02 00 01",
                            "10 0d 00 04 4d 51 54 54 03 02 00 3c 00 01 63"}) {
        const bytes stream = concat({good, good, hex(bad), good});
        const decode_outcome whole = decode_whole(view(stream));
        ASSERT_TRUE(whole.error.has_value()) << bad;
        EXPECT_EQ(whole.packets.size(), 2u);
        for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
            EXPECT_EQ(decode_cut(view(stream), [&](std::size_t) { return chunk; }), whole)
                << bad << " in chunks of " << chunk;
        }
    }
}

TEST(Fragments, PacketInsideOneFragmentIsNotCopied) {
    const bytes payload = text_bytes("payload");
    const bytes stream = encode_packet(publish{.topic = "zero/copy", .payload = view(payload)});
    decoder d;
    d.feed(view(stream));
    packet got;
    ASSERT_EQ(d.next(got), decode_status::ready);
    const auto& p = std::get<publish>(got);
    EXPECT_EQ(reinterpret_cast<const std::uint8_t*>(p.topic.data()), stream.data() + 4);
    EXPECT_EQ(p.payload.data(), stream.data() + 4 + 9);
    EXPECT_EQ(d.heap_bytes(), 0u);
}

TEST(Fragments, ReassemblyBufferHoldsOnlyTheSplitPacketAndIsFreed) {
    const bytes payload(1000, 0x44);
    const bytes one = encode_packet(publish{.topic = "t", .payload = view(payload)});
    const bytes stream = concat({one, one});
    // Cut in the middle of the second packet.
    const std::size_t cut = one.size() + 100;
    const bytes first(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(cut));
    const bytes second(stream.begin() + static_cast<std::ptrdiff_t>(cut), stream.end());

    decoder d;
    packet p;
    d.feed(view(first));
    ASSERT_EQ(d.next(p), decode_status::ready);
    ASSERT_EQ(d.next(p), decode_status::need_more);
    EXPECT_EQ(d.buffered(), 100u);

    d.feed(view(second));
    ASSERT_EQ(d.next(p), decode_status::ready);
    EXPECT_EQ(std::get<publish>(p).payload.size(), 1000u);
    EXPECT_EQ(d.buffered(), one.size());
    EXPECT_GE(d.heap_bytes(), one.size());
    ASSERT_EQ(d.next(p), decode_status::need_more);
    EXPECT_EQ(d.buffered(), 0u);
    EXPECT_EQ(d.heap_bytes(), 0u); // an idle connection holds no buffer
}

TEST(Fragments, EmptyFragmentAsksForMore) {
    decoder d;
    d.feed({});
    packet p;
    EXPECT_EQ(d.next(p), decode_status::need_more);
}

} // namespace
} // namespace zama::mqtt::test
