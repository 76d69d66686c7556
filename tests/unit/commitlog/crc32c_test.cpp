// CRC32C: known vectors (RFC 3720 appendix B.4 and the "123456789" check
// value), chaining, and the SSE4.2 path against the table.

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

TEST(Crc32c, KnownVectors) {
    for (const auto& c : known_vectors()) {
        EXPECT_EQ(crc32c(c.data), c.crc);
        EXPECT_EQ(detail::crc32c_software(0, c.data), c.crc);
        if (detail::crc32c_hardware_available()) {
            EXPECT_EQ(detail::crc32c_hardware(0, c.data), c.crc);
        }
    }
}

TEST(Crc32c, ExtendChainsPieces) {
    const std::string s = "The quick brown fox jumps over the lazy dog, twice over.";
    const auto all = bytes_of(s);
    for (std::size_t cut = 0; cut <= s.size(); ++cut) {
        EXPECT_EQ(crc32c_extend(crc32c(all.first(cut)), all.subspan(cut)), crc32c(all)) << cut;
        EXPECT_EQ(
            detail::crc32c_software(detail::crc32c_software(0, all.first(cut)), all.subspan(cut)),
            crc32c(all));
    }
}

TEST(Crc32c, HardwareMatchesSoftwareOnRandomData) {
    if (!detail::crc32c_hardware_available()) {
        GTEST_SKIP() << "no SSE4.2 on this CPU";
    }
    std::mt19937 gen(42);
    std::vector<std::uint8_t> data(4096 + 8);
    for (auto& b : data) {
        b = static_cast<std::uint8_t>(gen());
    }
    // Every alignment and length up to a few blocks, then some long ones.
    for (std::size_t start = 0; start < 8; ++start) {
        for (std::size_t n = 0; n < 300; ++n) {
            const std::span<const std::uint8_t> s(data.data() + start, n);
            ASSERT_EQ(detail::crc32c_hardware(0, s), detail::crc32c_software(0, s))
                << start << " " << n;
        }
    }
    for (std::size_t n : {1000u, 4095u, 4096u}) {
        const std::span<const std::uint8_t> s(data.data() + 3, n);
        EXPECT_EQ(detail::crc32c_hardware(0x12345678, s), detail::crc32c_software(0x12345678, s));
    }
}

} // namespace
} // namespace zama::commitlog
