#pragma once

#include <cstdint>
#include <span>

// CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected), the checksum of
// every record batch and dictionary entry on disk. Debian ships no C/C++
// library for it, so it lives here: the SSE4.2 crc32 instruction where the
// CPU has it (chosen once at start-up), a table otherwise. Pure functions,
// callable from any thread.

namespace zama::commitlog {

/// The CRC32C of `data`.
std::uint32_t crc32c(std::span<const std::uint8_t> data) noexcept;

/// Continues a CRC: crc32c_extend(crc32c(a), b) == crc32c(a followed by b).
std::uint32_t crc32c_extend(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept;

namespace detail {
// The two implementations, exposed so tests can check one against the other.
std::uint32_t crc32c_software(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept;
bool crc32c_hardware_available() noexcept;
/// Only when crc32c_hardware_available().
std::uint32_t crc32c_hardware(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept;
} // namespace detail

} // namespace zama::commitlog
