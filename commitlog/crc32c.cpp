#include "commitlog/crc32c.hpp"

#include <climits>

#include <algorithm>
#include <isa-l/crc.h>

namespace zama::commitlog {

std::uint32_t crc32c_extend(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept {
    // ISA-L neither inverts the CRC on entry nor on exit; CRC32C does both.
    // Its length is an int: longer data goes in pieces.
    std::uint32_t c = ~crc;
    while (!data.empty()) {
        const std::size_t n = std::min<std::size_t>(data.size(), INT_MAX);
        // ISA-L's parameter is not const; it only reads the buffer.
        c = crc32_iscsi(const_cast<std::uint8_t*>(data.data()), static_cast<int>(n), c);
        data = data.subspan(n);
    }
    return ~c;
}

std::uint32_t crc32c(std::span<const std::uint8_t> data) noexcept {
    return crc32c_extend(0, data);
}

} // namespace zama::commitlog
