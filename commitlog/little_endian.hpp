#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

// Little-endian integers in the commit log's file formats (the machines
// Zama runs on are little-endian; memcpy keeps unaligned access defined).

namespace zama::commitlog {

static_assert(std::endian::native == std::endian::little, "the formats are little-endian");

template <typename T>
T load_le(const std::uint8_t* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

template <typename T>
void store_le(std::uint8_t* p, T v) noexcept {
    std::memcpy(p, &v, sizeof(T));
}

} // namespace zama::commitlog
