#pragma once

#include "base/result.hpp"
#include "commitlog/batch_format.hpp"
#include "commitlog/segment_index.hpp"
#include "runtime/file_system.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

// One segment of a partition log: `<base_offset>.log`, batches back to back
// in the format of batch_format.hpp, and its sparse index
// `<base_offset>.index` (segment_index.hpp). The base offset is written with
// 20 digits so that file names sort by offset.

namespace zama::commitlog {

struct segment_info {
    offset base = 0;
    offset end = 0; // one past the last record
    std::uint64_t size_bytes = 0;
    std::int64_t first_timestamp = 0; // of the first batch
    // The largest seen: after a reopen, among the batches past the last
    // index entry (the newest ones), which retention by age goes by.
    std::int64_t last_timestamp = 0;
};

/// What recovery found in one segment.
struct segment_recovery {
    std::uint64_t batches_checked = 0;
    std::uint64_t truncated_bytes = 0; // last segment: torn or unusable tail cut off
    bool unknown_topic = false;        // the cut was at a batch naming a topic never recorded
    bool index_rebuilt = false;
    std::uint64_t damaged_regions = 0; // sealed segment: stretches passed over
    std::uint64_t skipped_bytes = 0;
    std::uint64_t lost_records = 0;
};

/// A damaged stretch of a segment: [position, resume) does not read, and
/// the records [lost_from, lost_to) are gone.
struct segment_damage {
    std::uint64_t position = 0;
    std::uint64_t resume = 0;
    offset lost_from = 0;
    offset lost_to = 0;
};

/// A batch within the bytes given to segment::append.
struct batch_mark {
    std::uint64_t position = 0; // from the start of those bytes
    offset base = 0;
    offset end = 0;
    std::int64_t timestamp = 0;
};

struct segment_options {
    std::size_t index_interval = 4096;
    std::size_t read_chunk = std::size_t{64} * 1024;
};

/// Owned by the partition's disk_log and shared (shared_ptr) with the reads
/// in flight, so that retention can drop a segment a read still walks; its
/// files close when the last holder lets go. One shard; one write at a time
/// (append, flush, close), reads alongside.
class segment {
  public:
    static std::string file_stem(offset base);
    /// The base offset of a file named "<20 digits><extension>".
    static std::optional<offset> parse_name(std::string_view name, std::string_view extension);

    /// A new, empty segment; its files must not exist.
    static rt::task<result<std::shared_ptr<segment>, std::errc>>
    create(rt::file_system& fs, std::string dir, offset base, segment_options options);

    /// Opens a segment and recovers it. The last segment of the log
    /// (`next_base` empty) is verified batch by batch and cut at the first
    /// one that is torn, damaged, out of sequence or names a topic id past
    /// `known_topics` (written after the dictionary's last sync). A sealed
    /// segment is scanned from its last index entry only (to find its end
    /// and complete a short index); damage found there is passed over.
    static rt::task<result<std::shared_ptr<segment>, std::errc>>
    open(rt::file_system& fs, std::string dir, offset base, segment_options options,
         std::optional<offset> next_base, std::size_t known_topics, segment_recovery& report);

    segment(const segment&) = delete;
    segment& operator=(const segment&) = delete;
    ~segment();

    offset base() const noexcept { return _base; }
    offset end() const noexcept { return _end; }
    bool empty() const noexcept { return _size == 0; }
    std::uint64_t size() const noexcept { return _size; }
    segment_info info() const noexcept;
    rt::file& log_file() noexcept { return *_log; }

    /// Where to start reading for offset `o`: a batch start at or before the
    /// batch holding `o`, and that batch's base offset.
    std::pair<std::uint64_t, offset> lookup(offset o) const noexcept;

    /// Writes `bytes` (whole encoded batches, described by `marks`) in one
    /// append. On error the torn part is cut off (or, if that fails too,
    /// before the next append) and the segment is as before.
    rt::task<result<void, std::errc>> append(std::span<const std::uint8_t> bytes,
                                             std::span<const batch_mark> marks);
    /// Writes the index (not synced) and syncs the log.
    rt::task<result<void, std::errc>> flush();
    /// Writes the index if it changed (never synced: it can be rebuilt).
    rt::task<void> write_index();
    rt::task<result<void, std::errc>> close();
    /// Deletes both files (the object stays usable by reads in flight).
    rt::task<result<void, std::errc>> remove(rt::file_system& fs);

    /// The known damage covering `position`, if any.
    const segment_damage* damage_at(std::uint64_t position) const noexcept;
    /// Remembers damage; false if it was known already.
    bool add_damage(const segment_damage& d);

  private:
    segment(std::string dir, offset base, segment_options options, std::unique_ptr<rt::file> log,
            std::unique_ptr<segment_index> index) noexcept;
    rt::task<result<void, std::errc>> recover_last(std::size_t known_topics,
                                                   segment_recovery& report);
    rt::task<result<void, std::errc>> recover_sealed(offset next_base, segment_recovery& report);
    rt::task<result<void, std::errc>> scan_sealed(std::uint64_t from, offset expected,
                                                  offset next_base, segment_recovery& report);
    rt::task<result<void, std::errc>> cut_torn_tail();
    void note_batch(std::uint64_t position, offset base, offset end, std::int64_t timestamp);

    std::string _dir;
    offset _base;
    segment_options _options;
    std::unique_ptr<rt::file> _log;
    std::unique_ptr<segment_index> _index;
    offset _end;
    std::uint64_t _size = 0; // bytes of whole batches; the file may hold a torn tail past it
    std::int64_t _first_timestamp = 0;
    std::int64_t _last_timestamp = 0;
    std::map<std::uint64_t, segment_damage> _damage;
};

} // namespace zama::commitlog
