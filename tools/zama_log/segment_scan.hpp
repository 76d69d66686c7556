#pragma once

#include "base/result.hpp"
#include "commitlog/batch_reader.hpp"
#include "commitlog/segment_index.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "data_dir_view.hpp"
#include "offline_io.hpp"

// Walking the batches of one segment file, read-only. segment::open would
// find the same batches, but it recovers: it cuts a torn tail and rewrites
// the index. zama-log builds on the pieces beneath it instead: batch_reader
// frames batches and checks their CRCs, and resync() finds the next good
// batch past damage; the walker adds the offset sequence and says what is
// wrong where a batch does not check out.

namespace zama::inspect {

/// The index file of a segment as it is on disk (segment_index.hpp).
struct index_scan {
    bool present = false;
    std::uint64_t file_size = 0;
    std::optional<std::uint8_t> version; // none if the file is empty
    /// Every whole entry, as written (not filtered the way segment_index
    /// filters them on open).
    std::vector<commitlog::segment_index::entry> entries;
    std::uint64_t stray_bytes = 0; // a partial entry at the end

    /// The last entry of the consistent prefix (increasing, inside a log of
    /// `log_size` bytes), which is where a reader may start; none if none.
    std::optional<commitlog::segment_index::entry> last_usable(std::uint64_t log_size) const;
    /// Among those, the last at or before `relative` (where to start reading
    /// for that offset); none: from the start.
    std::optional<commitlog::segment_index::entry> lookup(std::uint64_t relative,
                                                          std::uint64_t log_size) const;
};

result<index_scan, std::errc> read_index(const segment_files& s);

/// Segment `i` of a partition opened for a walk: its log file, its index as
/// on disk, and where the next segment starts (none for the last one).
struct opened_segment {
    std::unique_ptr<read_only_file> log;
    index_scan index;
    std::optional<offset> next_base;
};
result<opened_segment, tool_error> open_segment(const partition_files& files, std::size_t i);

struct walk_step {
    enum class kind : std::uint8_t {
        batch,  // a batch that frames, checks out and is not behind the sequence
        damage, // bytes that do not read
        end,
    };
    kind what = kind::end;
    /// The offset the walk expected next (before this step).
    offset expected = 0;

    // kind::batch: bytes valid until the next step. Its base may be past
    // `expected` (a gap); the walker does not judge that.
    commitlog::batch_reader::framed batch;

    // kind::damage: [position, resume) does not read. If a good batch
    // follows, it starts at `resume` with offset `*resume_base` (the walk
    // expects that offset next: [expected, *resume_base) is lost); otherwise
    // the damage runs to the end of the file.
    std::uint64_t position = 0;
    std::uint64_t resume = 0;
    std::optional<offset> resume_base;
    std::string why;
};

/// Walks one segment file from a batch start, batch by batch. A short-lived
/// cursor; the file must outlive it.
class segment_walker {
  public:
    /// `expected`: the offset of the batch at `from`; `max_end`: no batch
    /// past it belongs here (the next segment's base; none for the last).
    segment_walker(read_only_file& f, std::uint64_t from, offset expected,
                   std::optional<offset> max_end);

    result<walk_step, std::errc> next();
    /// How far the walk has read (for progress).
    std::uint64_t position() const noexcept { return _reader.position(); }

  private:
    /// Why the bytes at `position` are not a good batch.
    std::string diagnose(std::uint64_t position);

    read_only_file& _file;
    commitlog::batch_reader _reader;
    offset _expected;
    std::optional<offset> _max_end;
};

/// Why the batch at `position` of `f` does not check out, in words.
std::string diagnose_batch(read_only_file& f, std::uint64_t position);

/// What a segment holds, found the cheap way: the first batch header, then a
/// walk from the last usable index entry (from the start if the index does
/// not agree with the log).
struct segment_summary {
    offset base = 0;
    offset end = 0; // one past the last record of the last good batch
    std::uint64_t bytes = 0;
    std::optional<std::int64_t> first_timestamp;
    std::optional<std::int64_t> last_timestamp;
    std::size_t index_entries = 0;
    bool met_damage = false; // in the part walked (`zama-log verify` checks all of it)
};

result<segment_summary, tool_error> summarize_segment(const segment_files& s);

/// A partition's offsets, found the cheap way: it starts at its first
/// segment's base and ends where the summary of its last segment ends.
struct partition_summary {
    offset start = 0;
    offset end = 0;
    bool met_damage = false; // in the last segment's part walked
};

/// None if the partition has no segment (no directory, or an empty one).
result<std::optional<partition_summary>, tool_error>
summarize_partition(const partition_files& files);

} // namespace zama::inspect
