#pragma once

#include "base/result.hpp"
#include "commitlog/record_batch.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// What zama-log sees of a data directory (commitlog/data_dir.hpp): the meta
// file, checked, and the files of each partition directory, listed. Only
// reads; the layout and the formats are the commit log's.

namespace zama::inspect {

using commitlog::offset;
using commitlog::partition_id;

/// A failure that stops the command: printed as one line, exit status 2.
struct tool_error {
    std::string message;
};

/// "cannot read PATH: why".
tool_error read_failure(const std::string& path, std::errc e);

struct segment_files {
    offset base = 0;
    std::string log_path;
    std::string index_path;
    std::string log_name; // relative to the data directory, for messages
    std::string index_name;
    std::uint64_t log_size = 0;
    bool has_index = false;
};

struct partition_files {
    partition_id id;
    std::string path;
    std::string name; // "partition-<n>"
    bool exists = false;
    std::vector<segment_files> segments;    // by base offset
    std::vector<std::string> stray_indexes; // an .index without its .log (names)
    std::string dictionary_path;
    std::string dictionary_name;
    bool has_dictionary = false;
    std::string sessions_path; // the persistent sessions (commitlog/kv_log.hpp)
    std::string sessions_name;
    bool has_sessions = false;
    std::uint64_t log_bytes = 0; // of every .log file
};

struct data_dir_view {
    std::string path;
    std::uint8_t meta_version = 0;
    std::uint32_t partitions = 0;
    /// partition-<n> directories with n past the count (names).
    std::vector<std::string> stray_partitions;
};

/// Checks that `path` is a data directory and reads its meta file.
result<data_dir_view, tool_error> open_data_dir(const std::string& path);

/// A data directory opened for a command, and the partitions the command
/// covers: `only`, or all of them.
struct selection {
    data_dir_view dir;
    std::vector<partition_id> partitions;
};

/// open_data_dir(), then the partitions; fails if `only` is not one.
result<selection, tool_error> open_selection(const std::string& path,
                                             std::optional<std::uint32_t> only);

/// Lists the files of partition `p` (a partition without a directory is
/// `exists == false`, not an error).
result<partition_files, tool_error> list_partition(const data_dir_view& d, partition_id p);

} // namespace zama::inspect
