#pragma once

#include "base/result.hpp"
#include "commitlog/record_batch.hpp"
#include "runtime/file_system.hpp"
#include "runtime/task.hpp"

#include <coroutine>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

// A shard's journal. With `fsync = always` and `fsync_method = "journal"`
// (the default), the partitions of a shard make their appends durable with
// one write to this file per round, not a sync of each partition's files.
//
// Why: a sync of the partitions' own files costs per dirty file. On the
// benchmark machine's ext4, one syncfs(2) took 0.25 ms a round with one
// dirty file and 0.86 ms with 64, while an O_DIRECT | O_DSYNC write over a
// block of a file already written and synced took 0.21 ms with or without
// 64 other dirty files: it is a device write, not a filesystem journal
// commit. So the file has a fixed size, zero-filled and synced when it is
// created, and is written in place.
//
// Protocol: a partition writes its batches to its segment (buffered), then
// commit()s the same bytes here; commit returns once a journal write that
// holds them has completed. Partitions committing while a write runs share
// the next one; one write at a time, so a torn entry is always the last.
// When the file is full, a checkpoint runs: one syncfs makes every segment
// durable (each committed batch was written to its segment before it was
// committed), the generation goes up, and writing starts again at the first
// entry. At start-up, before any shard writes, the broker replays every
// journal into the partitions (journal_replay.hpp), so a batch that was
// acknowledged but whose segment bytes a power loss took is written again.
//
// A round of more than `round_limit` bytes is not written: a checkpoint
// covers it. Written here, its bytes would go to the disk twice (here, and
// from the segment at a checkpoint), and large rounds fill the journal
// fast, each fill holding every commit for one syncfs of all they dirtied.
// With 16 KiB payloads at 164 MB/s, publish-to-delivery p99 was 16-30 ms
// with every round written, 2.2-3.0 ms with rounds over 256 KiB synced
// instead, and 2.4-3.3 ms with syncfs alone (docs/benchmarks.md). Rounds
// of 64-byte messages from 100 publishers stay far below the limit.
//
// Each time a quarter of the file has been written, a syncfs starts in the
// background: the checkpoint at the end then has at most about a quarter's
// segment data left to write while commits wait for it. A checkpoint waits
// for a background sync to end before its own: both go through this file,
// and an error is reported to one syncfs on it only.
//
// A failed write, background sync or checkpoint breaks the journal: every
// later commit fails at once (disk_log then syncs its own files), and
// nothing already committed is overwritten.
//
// Format, version 1, little-endian:
//
//   the header, block 0 (4096 bytes):
//        0  1  version (1)
//        1  4  crc: CRC32C of bytes [5, 13)
//        5  8  generation: raised by each checkpoint and each open
//   entries from byte 4096, each at a multiple of 4096, zero-padded:
//        0  1  version (1)
//        1  4  crc: CRC32C of bytes [5, length)
//        5  4  length: bytes of the entry, this header included
//        9  8  generation: the header's when the entry was written
//       17  4  section count
//       21     sections, back to back: partition (u32), size (u32), then
//              `size` bytes: whole encoded batches of that partition
//              (batch_format.hpp), in offset order
//
// Reading stops at the first entry that does not check (version, the
// header's generation, length, CRC): entries of an older generation, a torn
// last write and never-written zeros all end the journal there.
//
// One per shard; single-threaded.

namespace zama::commitlog {

inline constexpr std::uint8_t journal_format_version = 1;
inline constexpr std::size_t journal_block = 4096;
inline constexpr std::size_t journal_entry_header_size = 21;
inline constexpr std::uint64_t default_journal_bytes = std::uint64_t{64} << 20;
inline constexpr std::uint64_t default_journal_round_limit = std::uint64_t{256} << 10;

/// The name of shard `shard`'s journal in `<data dir>/journal/`.
std::string journal_file_name(unsigned shard);

class journal {
  public:
    /// Opens (or creates, zero-filled to `capacity` bytes and synced) the
    /// journal at `path`. Its entries are not replayed: the caller replayed
    /// them first. The generation goes up, so they no longer count.
    static rt::task<result<std::unique_ptr<journal>, std::errc>>
    open(rt::file_system& fs, std::string path, std::uint64_t capacity = default_journal_bytes,
         std::uint64_t round_limit = default_journal_round_limit);

    journal(const journal&) = delete;
    journal& operator=(const journal&) = delete;
    ~journal();

    /// Durable once it returns: `batches` (whole encoded batches of `p`,
    /// already written to its segment, kept unchanged until this returns)
    /// are in a completed journal write, or covered by a checkpoint.
    rt::task<result<void, std::errc>> commit(partition_id p, std::span<const std::uint8_t> batches);

    /// A checkpoint (so a clean restart replays nothing), then closes the
    /// file, once a background sync is done. No commit may be waiting.
    rt::task<result<void, std::errc>> close();

    std::uint64_t writes() const noexcept { return _writes; }
    std::uint64_t checkpoints() const noexcept { return _checkpoints; }
    std::uint64_t background_syncs() const noexcept { return _background_syncs; }
    bool broken() const noexcept { return _broken; }

  private:
    struct waiter {
        partition_id partition;
        std::span<const std::uint8_t> bytes;
        std::coroutine_handle<> handle;
        result<void, std::errc> outcome{};
    };
    struct wait_for_write;
    struct wait_for_sync;
    struct aligned_free {
        void operator()(std::uint8_t* p) const noexcept;
    };

    journal(std::unique_ptr<rt::file> f, std::uint64_t capacity, std::uint64_t round_limit,
            std::uint64_t generation) noexcept;
    rt::task<void> run();
    /// Bytes of the entry holding `round`, before padding.
    static std::size_t entry_length(std::span<waiter* const> round) noexcept;
    /// One entry of `round` into _buffer; returns its padded size.
    std::size_t encode(std::span<waiter* const> round);
    rt::task<result<void, std::errc>> checkpoint();
    /// A syncfs that no commit waits for (see the top), started each time
    /// this many bytes of entries were written: a quarter of the room.
    rt::task<void> sync_in_background();
    static std::uint64_t sync_step(std::uint64_t capacity) noexcept {
        return (capacity - journal_block) / 4;
    }
    rt::task<result<void, std::errc>> write_header();
    void reserve(std::size_t bytes);

    std::unique_ptr<rt::file> _file;
    std::uint64_t _capacity;
    std::uint64_t _round_limit; // a larger round is covered by a checkpoint
    std::uint64_t _generation;
    std::uint64_t _position = journal_block; // where the next entry goes
    std::unique_ptr<std::uint8_t, aligned_free> _buffer;
    std::size_t _buffer_size = 0;
    std::vector<waiter*> _next; // waiting for a write that has not started
    bool _running = false;      // run() is writing
    bool _broken = false;
    bool _syncing = false;                // sync_in_background() runs
    std::coroutine_handle<> _sync_waiter; // close(), waiting for it
    std::uint64_t _next_sync_at = 0;      // the position that starts one
    std::uint64_t _writes = 0;
    std::uint64_t _checkpoints = 0;
    std::uint64_t _background_syncs = 0;
};

/// A partition's bytes found in a journal.
struct journal_section {
    partition_id partition;
    std::vector<std::uint8_t> bytes; // whole encoded batches
};

struct journal_contents {
    std::uint64_t generation = 0;
    std::size_t entries = 0;
    std::vector<journal_section> sections; // in the order written
    /// Why reading stopped before the end of the file, if it did: a torn
    /// or stale entry is the normal end; a bad header is not.
    std::string stopped;
    bool header_ok = true;
};

/// Reads a journal's valid entries (recovery).
rt::task<result<journal_contents, std::errc>> read_journal(rt::file_system& fs, std::string path);
/// The same from a file opened for reading (zama-log); leaves it open.
rt::task<result<journal_contents, std::errc>> read_journal(rt::file& f);

} // namespace zama::commitlog
