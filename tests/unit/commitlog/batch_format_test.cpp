// The on-disk batch format: round trip, the documented layout, and that no
// truncation, bit flip or malformed length gets past the checks or reads
// out of bounds (the ASan build watches the last part).

#include "commitlog/batch_format.hpp"
#include "commitlog/crc32c.hpp"

#include <cstring>
#include <random>

#include "log_test_util.hpp"

namespace zama::commitlog::test {
namespace {

// Names by id for make_batch("t") topics: t/0, t/1, t/2.
std::vector<std::string> names() {
    return {"t/0", "t/1", "t/2"};
}

std::vector<std::uint8_t> encode(const batch_ptr& b) {
    std::vector<topic_id> ids;
    for (std::size_t i = 0; i < b->size(); ++i) {
        const std::string_view topic = b->topic(b->at(i)); // "t/<id>"
        ids.emplace_back(static_cast<std::uint32_t>(topic.back() - '0'));
    }
    std::vector<std::uint8_t> out;
    encode_batch(*b, b->timestamp(), ids, out);
    return out;
}

void fix_crc(std::vector<std::uint8_t>& bytes) {
    const std::uint32_t crc = crc32c(std::span(bytes).subspan(5));
    std::memcpy(bytes.data() + 1, &crc, 4);
}

/// Whether `bytes` gets through framing, the CRC and decoding.
bool accepted(std::span<const std::uint8_t> bytes) {
    auto h = read_header(bytes);
    if (!h || bytes.size() != h->length || !check_crc(*h, bytes)) {
        return false;
    }
    const auto n = names();
    return decode_batch(bytes, partition_id{0}, n).has_value();
}

TEST(BatchFormat, RoundTrip) {
    batch_ptr b = make_batch(1000, 5, "t", 1'700'000'000'123);
    b->append("t/1", {}, {2, true}); // an empty payload
    const auto bytes = encode(b);
    const auto n = names();
    auto back = decode_batch(bytes, partition_id{7}, n);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ((*back)->partition(), partition_id{7});
    EXPECT_EQ((*back)->base(), 1000u);
    EXPECT_EQ((*back)->timestamp(), 1'700'000'000'123);
    EXPECT_EQ(flatten({*back}), flatten({b}));
    auto ids = check_records(bytes);
    ASSERT_TRUE(ids.has_value());
    EXPECT_EQ(*ids, topic_id{2});
}

TEST(BatchFormat, LayoutIsAsDocumented) {
    batch_ptr b = make_batch(0x0102030405060708, 2, "t", -5);
    const auto bytes = encode(b);
    ASSERT_GE(bytes.size(), batch_header_size);
    EXPECT_EQ(bytes[0], batch_format_version);
    std::uint32_t length = 0;
    std::memcpy(&length, bytes.data() + 5, 4);
    EXPECT_EQ(length, bytes.size());
    EXPECT_EQ(bytes[9], 0x08); // base offset, little-endian
    EXPECT_EQ(bytes[16], 0x01);
    EXPECT_EQ(bytes[17], 2); // count
    std::int64_t ts = 0;
    std::memcpy(&ts, bytes.data() + 21, 8);
    EXPECT_EQ(ts, -5);
    // First record: topic id, then flags (QoS = offset % 3, no retain: even offset).
    EXPECT_EQ(bytes[29], 0x0102030405060708 % 3);
    EXPECT_EQ(bytes[33], 0x0102030405060708 % 3);
    std::uint32_t payload_size = 0;
    std::memcpy(&payload_size, bytes.data() + 34, 4);
    EXPECT_EQ(payload_size, b->at(0).payload_size);
    std::uint32_t crc = 0;
    std::memcpy(&crc, bytes.data() + 1, 4);
    EXPECT_EQ(crc, crc32c(std::span(bytes).subspan(5)));
}

TEST(BatchFormat, EveryTruncationIsRejected) {
    const auto bytes = encode(make_batch(10, 3));
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
        const std::span<const std::uint8_t> part(bytes.data(), cut);
        EXPECT_FALSE(accepted(part)) << cut;
        auto h = read_header(part);
        if (cut < batch_header_size) {
            EXPECT_EQ(h.error(), format_errc::need_more);
        } else {
            EXPECT_EQ(decode_batch(part, partition_id{0}, names()).error(), format_errc::need_more);
        }
    }
    EXPECT_TRUE(accepted(bytes));
}

TEST(BatchFormat, EveryBitFlipIsCaught) {
    const auto bytes = encode(make_batch(10, 3));
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            auto damaged = bytes;
            damaged[i] ^= static_cast<std::uint8_t>(1u << bit);
            EXPECT_FALSE(accepted(damaged)) << "byte " << i << " bit " << bit;
        }
    }
}

TEST(BatchFormat, MalformedContentWithAValidCrcIsAnError) {
    const auto good = encode(make_batch(10, 2));
    const std::size_t first = batch_header_size;
    {
        auto b = good; // payload length past the end
        const std::uint32_t huge = 0xFFFF'FFF0;
        std::memcpy(b.data() + first + 5, &huge, 4);
        fix_crc(b);
        EXPECT_EQ(decode_batch(b, partition_id{0}, names()).error(), format_errc::malformed);
        EXPECT_EQ(check_records(b).error(), format_errc::malformed);
    }
    {
        auto b = good; // QoS 3
        b[first + 4] = 3;
        fix_crc(b);
        EXPECT_EQ(decode_batch(b, partition_id{0}, names()).error(), format_errc::malformed);
    }
    {
        auto b = good; // an unknown flag bit
        b[first + 4] = 0x80;
        fix_crc(b);
        EXPECT_EQ(decode_batch(b, partition_id{0}, names()).error(), format_errc::malformed);
    }
    {
        auto b = good; // more records announced than there are
        b[17] = 3;
        fix_crc(b);
        EXPECT_EQ(decode_batch(b, partition_id{0}, names()).error(), format_errc::malformed);
    }
    {
        auto b = good; // a count the length cannot hold
        const std::uint32_t count = 1'000'000;
        std::memcpy(b.data() + 17, &count, 4);
        fix_crc(b);
        EXPECT_EQ(read_header(b).error(), format_errc::bad_length);
    }
    {
        auto b = good; // a topic id the dictionary does not know, then a hole
        const std::uint32_t id = 9;
        std::memcpy(b.data() + first, &id, 4);
        fix_crc(b);
        EXPECT_EQ(decode_batch(b, partition_id{0}, names()).error(), format_errc::unknown_topic);
        std::vector<std::string> with_hole = names();
        with_hole[1].clear(); // the topic of offset 10
        EXPECT_EQ(decode_batch(good, partition_id{0}, with_hole).error(),
                  format_errc::unknown_topic);
    }
    {
        auto b = good; // a version this build does not know
        b[0] = 2;
        EXPECT_EQ(read_header(b).error(), format_errc::bad_version);
    }
}

// Random damage with the CRC fixed up (what a bug or a hash collision would
// leave): decoding must fail cleanly or succeed, never read out of bounds.
TEST(BatchFormat, RandomDamageWithValidCrcNeverReadsOutOfBounds) {
    std::mt19937 gen(7);
    const auto good = encode(make_batch(10, 4));
    int rejected = 0;
    for (int round = 0; round < 3000; ++round) {
        auto b = good;
        const int flips = 1 + static_cast<int>(gen() % 4);
        for (int i = 0; i < flips; ++i) {
            b[batch_header_size + gen() % (b.size() - batch_header_size)] ^=
                static_cast<std::uint8_t>(1 + gen() % 255);
        }
        if (gen() % 4 == 0) {
            b.resize(batch_header_size + gen() % (b.size() - batch_header_size));
            const auto length = static_cast<std::uint32_t>(b.size());
            std::memcpy(b.data() + 5, &length, 4);
        }
        fix_crc(b);
        auto decoded = decode_batch(b, partition_id{0}, names());
        rejected += decoded ? 0 : 1;
        if (decoded) {
            EXPECT_EQ((*decoded)->size(), 4u);
        }
    }
    EXPECT_GT(rejected, 0);
}

} // namespace
} // namespace zama::commitlog::test
