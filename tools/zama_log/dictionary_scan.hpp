#pragma once

#include "base/result.hpp"

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

// Reads a partition's topic dictionary (`topics.dict`, format in
// commitlog/topic_dictionary.hpp) without touching it. topic_dictionary::open
// would do the same reading, but it opens the file for writing and cuts a
// torn tail; this applies the same rules and only reports what recovery
// would do.

namespace zama::inspect {

struct dictionary_problem {
    std::uint64_t position = 0; // byte in the file
    std::uint64_t bytes = 0;    // how many bytes the problem covers
    bool torn_tail = false;     // nothing valid follows: recovery cuts these bytes
    std::string why;            // what is wrong with the first entry there
};

struct dictionary_scan {
    /// Names by topic id; an empty name is an id the dictionary does not hold.
    std::vector<std::string> names;
    std::size_t topics = 0;
    std::uint64_t entries_checked = 0;
    std::uint64_t size_bytes = 0;
    std::vector<dictionary_problem> problems;
};

/// Scans the dictionary file at `path`; a missing file is an empty dictionary.
result<dictionary_scan, std::errc> scan_dictionary(const std::string& path);

} // namespace zama::inspect
