#pragma once

#include "base/result.hpp"
#include "commitlog/journal.hpp"
#include "commitlog/record_batch.hpp"
#include "commitlog/segment.hpp"
#include "commitlog/sync_group.hpp"
#include "commitlog/topic_dictionary.hpp"
#include "runtime/file_system.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

// The log of one partition on disk: a directory holding segments
// (`<base_offset>.log` + `.index`, segment.hpp) and the topic dictionary
// (`topics.dict`, topic_dictionary.hpp). It sits beneath the in-memory tail
// (memory_log): batches are appended here as the partition accepts them, and
// readers that fall behind the tail read them back from here.
//
// Durability: append() writes, flush() syncs. durable_end() is one past the
// last offset a flush covered; acknowledgements that promise durability wait
// for it. The fsync policy (always, every N ms, never) is the caller's.
//
// Invariants that recovery relies on:
// - Every segment but the last was synced in full (with the dictionary)
//   before the next one was created, so only the last can have a torn tail.
// - A topic's dictionary entry is written before, and synced no later than,
//   the first batch that names it (see topic_dictionary.hpp).

namespace zama::commitlog {

struct disk_log_options {
    /// Roll to a new segment when the active one reaches this size...
    std::uint64_t segment_bytes = 1ull << 30;
    /// ...or when its first batch is this old (0: no age limit).
    std::int64_t segment_ms = 7ll * 24 * 3600 * 1000;
    /// Retention: delete the oldest segments while the partition holds more
    /// bytes than this, or while their newest batch is older than this. The
    /// active segment is never deleted.
    std::optional<std::uint64_t> retention_bytes;
    std::optional<std::int64_t> retention_ms;
    std::size_t index_interval_bytes = 4096;
    std::size_t read_chunk_bytes = std::size_t{64} * 1024;
    /// Sync a segment when the log rolls past it, so that only the last
    /// segment can be torn by a power loss. False under `fsync = never`:
    /// there a roll would sync up to a whole segment at once, holding the
    /// partition's appends back for seconds, for a policy that promises no
    /// durability (the system writes back in its own order anyway).
    bool sync_on_roll = true;
    /// The shard's group sync (one syncfs for every partition waiting), or
    /// null for one fdatasync per file. Must outlive the log.
    sync_group* group = nullptr;
    /// The shard's journal (journal.hpp): a flush commits the bytes
    /// appended since the last one there instead of syncing the segment.
    /// Takes precedence over `group`. Must outlive the log.
    journal* shard_journal = nullptr;
};

/// What opening the log found and did; also logged in one line.
struct recovery_report {
    std::size_t segments = 0;
    offset start = 0;
    offset end = 0;
    std::uint64_t bytes = 0;
    std::uint64_t batches_checked = 0;    // in the last segment, by CRC
    std::uint64_t truncated_bytes = 0;    // cut from the last segment's tail
    bool truncated_unknown_topic = false; // the cut was at a batch naming an unrecorded topic
    std::size_t indexes_rebuilt = 0;
    std::uint64_t damaged_bytes = 0; // passed over in sealed segments
    std::uint64_t lost_records = 0;  // in sealed segments
    std::size_t topics = 0;
    std::uint64_t dictionary_truncated_bytes = 0;
    std::uint64_t dictionary_damaged_bytes = 0;
    std::size_t stray_files_removed = 0; // indexes without a log
};

/// Damage met by reads (and recovery) since the log was opened: each
/// damaged stretch counts once.
struct damage_stats {
    std::uint64_t regions = 0;
    std::uint64_t bytes = 0;
    std::uint64_t records = 0;
};

struct retention_report {
    std::size_t segments_removed = 0;
    std::uint64_t bytes_removed = 0;
    std::uint64_t records_removed = 0;
    offset start = 0; // the log's start afterwards
};

/// The partition's on-disk log. Owned by the partition's shard, which
/// serializes the writers: append(), flush(), apply_retention() and close()
/// never overlap one another (asserted). read() may run alongside them, any
/// number at once.
class disk_log {
  public:
    static rt::task<result<std::unique_ptr<disk_log>, std::errc>>
    open(rt::file_system& fs, std::string dir, partition_id p, disk_log_options options);

    disk_log(const disk_log&) = delete;
    disk_log& operator=(const disk_log&) = delete;
    ~disk_log();

    partition_id partition() const noexcept { return _partition; }
    /// The first offset held, one past the last appended, one past the last synced.
    offset start() const noexcept;
    offset end() const noexcept { return _end; }
    offset durable_end() const noexcept { return _durable_end; }
    std::uint64_t size_bytes() const noexcept { return _bytes; }
    std::vector<segment_info> segments() const;
    const recovery_report& recovered() const noexcept { return _recovered; }
    const damage_stats& damage() const noexcept { return _damage; }

    /// Appends sealed batches of this partition, in order from end(): every
    /// batch in one write (plus one for the dictionary entries of new
    /// topics). Rolls to a new segment first if the active one is full or
    /// old (which syncs the old one). A batch without a timestamp is stamped
    /// with the current time on disk. Does not sync.
    /// On error nothing of the call is in the log, end() is unchanged, the
    /// log stays readable, and the same batches may be appended again.
    rt::task<result<void, std::errc>> append(std::span<const batch_ptr> batches);

    /// Syncs what was appended (the dictionary first); durable_end() moves
    /// up to end() as it was when flush() began. After a failed sync the
    /// kernel may have dropped the unsynced pages, so every later flush
    /// fails too: the log must be reopened (recovery sees what is really on
    /// disk) before anything more can be called durable.
    rt::task<result<void, std::errc>> flush();

    /// Appends whole encoded batches found in the shard journal at start-up
    /// (journal_replay.hpp), as they were encoded: those that end at or
    /// before end() are already here and skipped. Each is framed and
    /// CRC-checked; one that would leave a gap, or names a topic the
    /// dictionary does not hold, stops the call with invalid_argument
    /// (logged). Returns the records appended. Does not sync.
    rt::task<result<std::uint64_t, std::errc>> restore(std::span<const std::uint8_t> encoded);

    /// Batches holding offsets from `from` on, until they add up to at least
    /// `max_bytes` (encoded) or the log ends; always at least one if
    /// `from` < end(). The first may start before `from`. If `from` <
    /// start(), reading begins at start(). Includes appended batches not yet
    /// synced. Damaged batches are skipped, counted in damage() and logged.
    rt::task<result<std::vector<batch_ptr>, std::errc>> read(offset from, std::size_t max_bytes);

    /// Deletes whole old segments past the retention limits (see
    /// disk_log_options); `now_ms` is the current time in ms since the epoch.
    rt::task<result<retention_report, std::errc>> apply_retention(std::int64_t now_ms);

    /// Writes the indexes and closes every file. No read may be in flight.
    rt::task<result<void, std::errc>> close();

  private:
    disk_log(rt::file_system& fs, std::string dir, partition_id p,
             disk_log_options options) noexcept;
    rt::task<result<void, std::errc>> recover();
    rt::task<result<void, std::errc>> roll(offset base);
    rt::task<result<void, std::errc>> flush_locked();
    /// Writes _buffer (whole batches described by _marks, ending at `next`)
    /// to the active segment, rolling first if needed.
    rt::task<result<void, std::errc>> write_buffer(offset next);
    rt::task<result<void, std::errc>> sync_files();
    bool should_roll(std::int64_t timestamp) const noexcept;
    /// Reads batches from one segment into `out`; true once `max_bytes` is reached.
    rt::task<result<bool, std::errc>> read_segment(std::shared_ptr<segment> seg, offset limit_end,
                                                   offset& from, std::size_t max_bytes,
                                                   std::size_t& bytes, std::vector<batch_ptr>& out);
    void note_damage(segment& seg, const segment_damage& d, const char* why);
    segment_options seg_options() const noexcept;

    rt::file_system& _fs;
    std::string _dir;
    partition_id _partition;
    disk_log_options _options;
    std::unique_ptr<topic_dictionary> _dictionary;
    std::vector<std::shared_ptr<segment>> _segments; // by base offset; the last is active
    offset _end = 0;
    offset _durable_end = 0;
    std::uint64_t _bytes = 0;
    bool _directory_dirty = false; // a segment was created since the last directory sync
    // group->failures() when this log last synced its own files: a group
    // round that failed since may have reported (and so used up) an error
    // in them, which a later round would not report again.
    std::uint64_t _group_failures_seen = 0;
    bool _sync_failed = false;
    // Segments sealed since the last flush without being synced.
    std::vector<std::shared_ptr<segment>> _sealed_unsynced;
    bool _writing = false;
    recovery_report _recovered;
    damage_stats _damage;

    // Reused by every append: no allocation per record once warm.
    std::vector<std::uint8_t> _buffer;
    // With a journal: what was appended since the last flush, to commit.
    std::vector<std::uint8_t> _unjournaled;
    std::vector<topic_id> _ids;
    std::vector<batch_mark> _marks;
};

} // namespace zama::commitlog
