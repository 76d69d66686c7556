#pragma once

#include <cstdint>
#include <span>

// CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected), the checksum of
// every record batch and dictionary entry on disk. Computed by Intel ISA-L
// (`crc32_iscsi`), which picks its fastest code for the CPU at run time: on
// x86-64 with PCLMULQDQ it folds several streams at once, about three times
// as fast as one crc32 instruction after the other. Pure functions, callable
// from any thread.

namespace zama::commitlog {

/// The CRC32C of `data`.
std::uint32_t crc32c(std::span<const std::uint8_t> data) noexcept;

/// Continues a CRC: crc32c_extend(crc32c(a), b) == crc32c(a followed by b).
std::uint32_t crc32c_extend(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept;

} // namespace zama::commitlog
