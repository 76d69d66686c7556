#pragma once

#include "base/result.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data_dir_view.hpp"
#include "progress.hpp"

// Reads a compacted key → value log (format in commitlog/kv_log.hpp: a
// partition's `sessions.kv` or `retained.kv`) without touching it.
// kv_log::open reads the same records, but it opens the file for writing,
// cuts a torn tail and may compact; this applies the same rules and only
// reports where the broker's open would cut.

namespace zama::inspect {

/// The first record that does not read. The broker's open cuts the file
/// there, losing everything from it on.
struct kv_cut {
    std::uint64_t position = 0; // byte in the file
    std::uint64_t bytes = 0;    // from there to the end
    std::string why;            // what is wrong with the record there
};

struct kv_scan {
    std::uint64_t size_bytes = 0;
    std::uint64_t records = 0; // puts and erases before the cut
    /// The live entries by key: each key's last put, unless erased since.
    std::map<std::string, std::vector<std::uint8_t>> entries;
    std::optional<kv_cut> cut;
};

/// Scans the file at `path` (`name` in messages), showing the bytes read on
/// `bar` under `label`. Fails if the file cannot be read or is not format
/// version 1 (the broker refuses to start on it then).
result<kv_scan, tool_error> scan_kv(const std::string& path, const std::string& name, progress& bar,
                                    std::string label);

} // namespace zama::inspect
