#pragma once

#include "base/result.hpp"
#include "commitlog/record_batch.hpp"
#include "runtime/file_system.hpp"

#include <cstdint>
#include <string>

// The data directory: a `meta` file at its root, and one directory per
// partition (`partition-<n>`, disk_log.hpp).
//
// `meta` records what must never change under existing data. Version 1,
// little-endian, 9 bytes:
//
//   offset size  field
//        0    1  version (1)
//        1    4  partitions (u32): topics map to partitions by hash, so a
//                different count would put a topic's records in two logs
//        5    4  CRC32C of bytes [0, 5)
//
// It is written once, to `meta.tmp`, synced, then renamed into place.

namespace zama::commitlog {

inline constexpr std::uint8_t meta_format_version = 1;

struct metadata_error {
    std::string message;
};

/// Creates the data directory and its meta file if they are missing;
/// otherwise checks that the data was written with `partitions` partitions
/// (and a meta format this build reads). Errors say what to do.
rt::task<result<void, metadata_error>>
check_or_create_metadata(rt::file_system& fs, std::string data_dir, std::uint32_t partitions);

/// The directory of partition `p` under `data_dir`.
std::string partition_directory(const std::string& data_dir, partition_id p);

} // namespace zama::commitlog
