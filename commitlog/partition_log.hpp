#pragma once

#include "base/result.hpp"
#include "commitlog/disk_log.hpp"
#include "commitlog/memory_log.hpp"

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

// One partition's log as its owner shard uses it: the in-memory hot tail
// (memory_log) over the segments on disk (disk_log), and the fsync policy.
//
// An append goes into the tail at once (fanout and caught-up readers never
// touch the disk) and is queued for the disk. One writer task per partition
// writes everything queued so far in one write, then syncs per the policy;
// whatever arrives while it writes or syncs goes in the next round (group
// commit). covered_end() is how far acknowledgements may go:
//
//   fsync = always     synced (fdatasync) before the ack: nothing acked is
//                      lost, even on power loss.
//   fsync = N ms       written to the kernel before the ack, synced within
//                      N ms: a crash of zama (kill -9) loses nothing acked;
//                      a power loss or kernel crash up to N ms of acks.
//   fsync = never      written to the kernel before the ack, synced only at
//                      segment roll and shutdown: kill -9 loses nothing
//                      acked; power loss whatever the kernel had not yet
//                      written back (by default up to ~30 s).
//
// Faults: a failed write (disk full, EIO) is logged, the partition stops
// accepting (accepting() is false, events.failed fires so waiting acks are
// refused) and the writer retries the same batches every retry_interval
// until one succeeds. A failed sync cannot be retried (the kernel may have
// dropped the pages it could not write): the partition stops accepting
// until zama restarts and recovery sees what is really on disk.
//
// Without a disk (memory only: tests, and a log that has nothing to
// survive), covered_end() is end() and batches are dropped past the bound.

namespace zama::commitlog {

enum class fsync_mode : std::uint8_t {
    always,
    interval,
    never
};

struct fsync_policy {
    fsync_mode mode = fsync_mode::interval;
    std::chrono::milliseconds interval{5}; // with fsync_mode::interval
};

struct partition_log_options {
    std::size_t memory_bytes = 8u << 20; // the hot tail's bound
    fsync_policy fsync;
    std::chrono::milliseconds retry_interval{1000}; // after a failed write
};

/// Notifications to the owner (the router), on the partition's shard.
struct partition_log_events {
    /// covered_end() moved; `written_bytes` left the disk queue.
    std::function<void(offset covered_end, std::size_t written_bytes)> progress;
    /// The partition stopped accepting (a write or sync failed).
    std::function<void(std::errc)> failed;
};

/// Batches read back for a lagging reader.
struct log_batches {
    std::vector<batch_ptr> batches;
    bool from_disk = false; // fresh copies, not yet shared (delivery headers unset)
};

class partition_log {
  public:
    /// Memory only.
    partition_log(partition_id p, partition_log_options options, partition_log_events events);
    /// Opens (and recovers) the partition's directory.
    static rt::task<result<std::unique_ptr<partition_log>, std::errc>>
    open(rt::file_system& fs, std::string dir, partition_id p, disk_log_options disk,
         partition_log_options options, partition_log_events events);

    partition_log(const partition_log&) = delete;
    partition_log& operator=(const partition_log&) = delete;
    ~partition_log();

    partition_id partition() const noexcept { return _memory.partition(); }
    /// The first offset held (on disk or in memory), one past the last appended.
    offset start() const noexcept;
    offset end() const noexcept { return _memory.end(); }
    /// Acknowledgements may be sent for offsets below this (see the policy above).
    offset covered_end() const noexcept;
    /// False after a disk fault: refuse new messages.
    bool accepting() const noexcept { return !_failed && !_sync_broken; }
    /// Bytes appended, not yet written to disk.
    std::size_t unwritten_bytes() const noexcept { return _unwritten_bytes; }
    /// The on-disk log (null when memory only).
    const disk_log* disk() const noexcept { return _disk.get(); }

    /// A new batch to fill, starting at end().
    batch_ptr open_batch() const { return _memory.open(); }
    /// Appends a sealed batch (starting at end()).
    void append(batch_ptr batch);

    /// Batches holding offsets from `from` on (at least `max_bytes` of them
    /// unless the log ends first): from the tail when it reaches back that
    /// far, else from disk. Never blocks the writer.
    rt::task<result<log_batches, std::errc>> read(offset from, std::size_t max_bytes);

    /// Asks the writer to delete old segments past the retention limits.
    void request_retention() noexcept;

    /// Writes and syncs what is queued (unless the disk failed), waits for
    /// the writer to finish and closes the files.
    rt::task<void> close();

  private:
    partition_log(partition_id p, offset start, partition_log_options options,
                  partition_log_events events, std::unique_ptr<disk_log> disk);
    rt::task<void> write_loop();
    rt::task<void> sync_later();
    rt::task<void> write_queued();
    rt::task<void> sync();
    rt::task<void> retain();
    void fail(std::errc e, bool sync_failed);
    void wake() noexcept;

    struct work_awaiter {
        partition_log* log;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) noexcept { log->_writer_waiting = h; }
        void await_resume() const noexcept {}
    };

    memory_log _memory;
    partition_log_options _options;
    partition_log_events _events;
    std::unique_ptr<disk_log> _disk;

    // The writer's state (disk only).
    std::deque<batch_ptr> _queue; // appended, not yet written
    std::size_t _unwritten_bytes = 0;
    offset _written_end = 0; // one past the last offset written to the kernel
    bool _sync_due = false;
    bool _sync_scheduled = false; // a sync_later() task is sleeping
    bool _retention_due = false;
    bool _failed = false;      // the last write failed: retrying
    bool _sync_broken = false; // a sync failed: nothing more is durable
    bool _closing = false;
    bool _writer_running = false;
    std::coroutine_handle<> _writer_waiting; // the writer, idle
    std::coroutine_handle<> _close_waiting;  // close(), waiting for the writer and sync_later()
};

} // namespace zama::commitlog
