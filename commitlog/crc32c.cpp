#include "commitlog/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace zama::commitlog {
namespace detail {
namespace {

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero
// bytes, so eight bytes fold in with eight lookups and no data dependency
// between them.
using tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr tables make_tables() {
    constexpr std::uint32_t poly = 0x82F63B78; // 0x1EDC6F41 reflected
    tables t{};
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t c = b;
        for (int i = 0; i < 8; ++i) {
            c = (c & 1) != 0 ? (c >> 1) ^ poly : c >> 1;
        }
        t[0][b] = c;
    }
    for (std::uint32_t b = 0; b < 256; ++b) {
        for (std::size_t k = 1; k < 8; ++k) {
            t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
        }
    }
    return t;
}

constexpr tables table = make_tables();

} // namespace

std::uint32_t crc32c_software(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept {
    std::uint32_t c = ~crc;
    const std::uint8_t* p = data.data();
    std::size_t n = data.size();
    while (n >= 8) {
        std::uint32_t lo = 0;
        std::uint32_t hi = 0;
        std::memcpy(&lo, p, 4); // little-endian host (x86-64, aarch64)
        std::memcpy(&hi, p + 4, 4);
        lo ^= c;
        c = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^ table[5][(lo >> 16) & 0xFF] ^
            table[4][lo >> 24] ^ table[3][hi & 0xFF] ^ table[2][(hi >> 8) & 0xFF] ^
            table[1][(hi >> 16) & 0xFF] ^ table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) {
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xFF];
    }
    return ~c;
}

#if defined(__x86_64__)

bool crc32c_hardware_available() noexcept {
    return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2"))) std::uint32_t
crc32c_hardware(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept {
    std::uint64_t c = ~crc;
    const std::uint8_t* p = data.data();
    std::size_t n = data.size();
    while (n >= 8) {
        std::uint64_t v = 0;
        std::memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        n -= 8;
    }
    auto c32 = static_cast<std::uint32_t>(c);
    while (n-- > 0) {
        c32 = _mm_crc32_u8(c32, *p++);
    }
    return ~c32;
}

#else

bool crc32c_hardware_available() noexcept {
    return false;
}

std::uint32_t crc32c_hardware(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept {
    return crc32c_software(crc, data);
}

#endif

} // namespace detail

namespace {

using crc_function = std::uint32_t (*)(std::uint32_t, std::span<const std::uint8_t>) noexcept;

// Chosen once; a static local is initialised thread-safely.
crc_function chosen() noexcept {
    static const crc_function f =
        detail::crc32c_hardware_available() ? &detail::crc32c_hardware : &detail::crc32c_software;
    return f;
}

} // namespace

std::uint32_t crc32c(std::span<const std::uint8_t> data) noexcept {
    return chosen()(0, data);
}

std::uint32_t crc32c_extend(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept {
    return chosen()(crc, data);
}

} // namespace zama::commitlog
