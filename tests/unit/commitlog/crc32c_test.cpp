// CRC32C: known vectors (RFC 3720 appendix B.4 and the "123456789" check
// value), chaining, and the library against the bit-by-bit definition.

#include "commitlog/crc32c.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace zama::commitlog {
namespace {

std::span<const std::uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

struct vector_case {
    std::vector<std::uint8_t> data;
    std::uint32_t crc;
};

std::vector<vector_case> known_vectors() {
    std::vector<vector_case> v;
    const std::string check = "123456789";
    v.push_back({{check.begin(), check.end()}, 0xE3069283});
    v.push_back({{}, 0x00000000});
    v.push_back({std::vector<std::uint8_t>(32, 0x00), 0x8A9136AA});
    v.push_back({std::vector<std::uint8_t>(32, 0xFF), 0x62A8AB43});
    std::vector<std::uint8_t> up(32);
    std::vector<std::uint8_t> down(32);
    for (std::size_t i = 0; i < 32; ++i) {
        up[i] = static_cast<std::uint8_t>(i);
        down[i] = static_cast<std::uint8_t>(31 - i);
    }
    v.push_back({up, 0x46DD794E});
    v.push_back({down, 0x113FDB5C});
    return v;
}

/// CRC32C one bit at a time, straight from the definition: the reference
/// the library's folded, multi-stream code is checked against.
std::uint32_t crc32c_bitwise(std::span<const std::uint8_t> data) {
    std::uint32_t c = 0xFFFF'FFFFu;
    for (std::uint8_t b : data) {
        c ^= b;
        for (int i = 0; i < 8; ++i) {
            c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6'3B78u : c >> 1;
        }
    }
    return ~c;
}

TEST(Crc32c, KnownVectors) {
    for (const auto& c : known_vectors()) {
        EXPECT_EQ(crc32c(c.data), c.crc);
        EXPECT_EQ(crc32c_bitwise(c.data), c.crc);
    }
}

TEST(Crc32c, ExtendChainsPieces) {
    const std::string s = "The quick brown fox jumps over the lazy dog, twice over.";
    const auto all = bytes_of(s);
    for (std::size_t cut = 0; cut <= s.size(); ++cut) {
        EXPECT_EQ(crc32c_extend(crc32c(all.first(cut)), all.subspan(cut)), crc32c(all)) << cut;
    }
}

TEST(Crc32c, MatchesTheDefinitionOnRandomData) {
    std::mt19937 gen(42);
    std::vector<std::uint8_t> data(70'000);
    for (auto& b : data) {
        b = static_cast<std::uint8_t>(gen());
    }
    // Every alignment and every length up to a few folding blocks, then the
    // sizes batches have: the vector code has a different path for each.
    for (std::size_t start = 0; start < 16; ++start) {
        for (std::size_t n = 0; n < 600; ++n) {
            const std::span<const std::uint8_t> s(data.data() + start, n);
            ASSERT_EQ(crc32c(s), crc32c_bitwise(s)) << start << " " << n;
        }
    }
    for (std::size_t n : {1023u, 1024u, 4096u, 65'537u, 69'990u}) {
        const std::span<const std::uint8_t> s(data.data() + 3, n);
        EXPECT_EQ(crc32c(s), crc32c_bitwise(s)) << n;
        const std::size_t cut = n / 3;
        EXPECT_EQ(crc32c_extend(crc32c(s.first(cut)), s.subspan(cut)), crc32c_bitwise(s)) << n;
    }
}

} // namespace
} // namespace zama::commitlog
