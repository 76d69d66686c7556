#pragma once

#include <cstdint>
#include <cstring>

// SIMD-within-a-register helpers: test eight bytes at once for the bytes the
// string checks care about (high bit, NUL, '+', '#', '/'). Private to mqtt/.

namespace zama::mqtt::swar {

inline constexpr std::uint64_t ones = 0x0101010101010101ULL;
inline constexpr std::uint64_t high_bits = 0x8080808080808080ULL;

inline std::uint64_t load(const char* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
}

/// Non-zero iff some byte of w is zero (exact for "any", not for "which").
constexpr std::uint64_t zero_byte(std::uint64_t w) noexcept {
    return (w - ones) & ~w & high_bits;
}

/// Non-zero iff some byte of w equals b.
constexpr std::uint64_t byte_equal(std::uint64_t w, unsigned char b) noexcept {
    return zero_byte(w ^ (ones * b));
}

} // namespace zama::mqtt::swar
