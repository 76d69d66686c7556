#pragma once

#include "base/result.hpp"
#include "runtime/file_system.hpp"
#include "runtime/task.hpp"

#include <coroutine>
#include <cstdint>
#include <memory>
#include <system_error>
#include <vector>

// Group sync: the partitions of one shard that need a sync at the same time
// share one syncfs(2) instead of one fdatasync each. Used with fsync =
// always (see router::open_logs for why not with an interval).
//
// With fsync = always every writer round of every partition ends in a sync,
// and a shard serving 64 busy partitions issued 64 fdatasyncs per round,
// each a data write, an inode write and a device cache flush. One syncfs
// writes all of it and flushes once: on the benchmark machine's ext4 over
// virtio, 64 files took 8.0 ms a round with fdatasync and 1.1 ms with
// syncfs; one file 0.33 ms against 0.17 ms.
//
// A caller's sync is covered only by a syncfs that starts after the call
// (its writes are complete by then). A call made while a round runs starts
// a second one at once (one per anchor file); calls made while every anchor
// is busy wait, and share the next round.
//
// syncfs also writes other programs' data on the same filesystem, and its
// error may come from any file there; it reports an error once per open
// file description. So each concurrent round syncs through an anchor file
// of its own, opened before anything is written (a round then sees every
// error recorded before it, whatever the other round saw), and the group
// counts failed rounds: a partition that has not synced on its own since
// the last failure syncs its files (fdatasync, which reports errors per
// file) instead of trusting a later round on an anchor that already
// reported that error (disk_log does this).
//
// One per shard; single-threaded.

namespace zama::commitlog {

class sync_group {
  public:
    /// `anchors`: files on the filesystem to sync (separate opens of any
    /// file there), opened before anything the group will cover was
    /// written; one round at a time runs on each. The group keeps them open.
    explicit sync_group(std::vector<std::unique_ptr<rt::file>> anchors);
    sync_group(const sync_group&) = delete;
    sync_group& operator=(const sync_group&) = delete;
    ~sync_group();

    /// Makes durable everything written on the filesystem before the call.
    rt::task<result<void, std::errc>> sync();

    /// Rounds that failed so far.
    std::uint64_t failures() const noexcept { return _failures; }
    /// syncfs calls made so far.
    std::uint64_t rounds() const noexcept { return _rounds; }

    /// Closes the anchors; no sync may be waiting.
    rt::task<void> close();

  private:
    struct waiter {
        std::coroutine_handle<> handle;
        result<void, std::errc> outcome{};
    };
    struct wait_for_round;

    rt::task<void> run(std::size_t slot);

    struct anchor {
        std::unique_ptr<rt::file> file;
        bool busy = false; // a run() task syncs through it
    };
    std::vector<anchor> _anchors;
    std::vector<waiter*> _next; // waiting for a round that has not started
    std::uint64_t _rounds = 0;
    std::uint64_t _failures = 0;
};

} // namespace zama::commitlog
