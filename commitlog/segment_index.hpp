#pragma once

#include "base/result.hpp"
#include "runtime/file_system.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

// The sparse index of one segment, file `<base_offset>.index`: where in the
// .log file to start reading for an offset. Version 1, little-endian:
//
//   offset size  field
//        0    1  version (1)
//        1       entries, 8 bytes each, in increasing order of both fields:
//                  relative offset (u32): batch base offset - segment base
//                  position (u32): where that batch starts in the .log file
//
// An entry is added for a batch that starts at least `interval` bytes after
// the previous entry (or the file's start), so there is one per ~4 KiB of
// log. The index is written with flush() but never synced: it can always be
// rebuilt from the log, and is when it is missing, short or inconsistent.
// Segment files stay under 4 GiB so positions fit in 32 bits.
//
// Owned by its segment; single-threaded, one write at a time.

namespace zama::commitlog {

inline constexpr std::uint8_t index_format_version = 1;
inline constexpr std::size_t index_entry_size = 8;

class segment_index {
  public:
    struct entry {
        std::uint32_t relative = 0;
        std::uint32_t position = 0;
        bool operator==(const entry&) const = default;
    };

    /// Opens (creating if missing) the index file at `path` and loads the
    /// entries that are consistent: increasing, and before `log_size`.
    static rt::task<result<std::unique_ptr<segment_index>, std::errc>>
    open(rt::file_system& fs, std::string path, std::uint64_t log_size, std::size_t interval);

    segment_index(const segment_index&) = delete;
    segment_index& operator=(const segment_index&) = delete;
    ~segment_index();

    /// The last entry at or before `relative` ({0, 0} if none): reading
    /// from its position finds the batch holding `relative`.
    entry lookup(std::uint64_t relative) const noexcept;
    /// Called for each batch of the segment in order (appended or scanned).
    void observe(std::uint64_t relative, std::uint64_t position);
    /// Forgets the entries at or past `log_size` (the log was cut).
    void truncate(std::uint64_t log_size) noexcept;
    /// Rebuilding from a scan of the whole log: begin_rebuild() forgets the
    /// entries, observe() adds them again, end_rebuild() keeps the part of
    /// the file that agrees, and says whether anything differed.
    void begin_rebuild();
    bool end_rebuild();

    const std::vector<entry>& entries() const noexcept { return _entries; }
    /// Whether the file holds exactly entries() (else write() fixes it).
    bool written() const noexcept {
        return _header_ok && _in_file == _entries.size() && _file_entries == _entries.size();
    }

    /// Brings the file in line with entries(): cuts what differs, appends
    /// the rest. Not synced.
    rt::task<result<void, std::errc>> write();
    rt::task<result<void, std::errc>> close();

  private:
    segment_index(std::unique_ptr<rt::file> f, std::size_t interval) noexcept;
    rt::task<result<void, std::errc>> load(std::uint64_t log_size);

    std::unique_ptr<rt::file> _file;
    std::size_t _interval;
    std::vector<entry> _entries;
    std::vector<entry> _before_rebuild;
    std::size_t _in_file = 0;      // leading entries the file holds as they are
    std::size_t _file_entries = 0; // whole entries in the file
    bool _header_ok = false;       // the file starts with the version byte, whole entries follow
    std::vector<std::uint8_t> _buffer;
};

} // namespace zama::commitlog
