#pragma once

#include "commitlog/record_batch.hpp"

#include <cstddef>
#include <deque>
#include <vector>

namespace zama::commitlog {

/// The in-memory tail of one partition's log: the most recent sealed
/// batches, up to a byte bound; older batches are dropped whole. Over a
/// disk log (partition_log) a batch is dropped only once it is written, and
/// readers behind start() read the disk; without one, a reader behind
/// start() has lost those records.
///
/// Owned by the partition's shard; single-threaded. Batches handed out are
/// shared and stay valid while referenced.
class memory_log {
  public:
    /// An empty tail whose next offset is `start` (the disk log's end).
    explicit memory_log(partition_id p, std::size_t max_bytes, offset start = 0) noexcept
        : _partition(p)
        , _max_bytes(max_bytes)
        , _start(start)
        , _end(start) {}

    partition_id partition() const noexcept { return _partition; }
    /// The first offset still held, and one past the last appended.
    offset start() const noexcept { return _start; }
    offset end() const noexcept { return _end; }
    std::size_t bytes() const noexcept { return _bytes; }

    /// A new batch to fill, starting at end(). Append it with append().
    batch_ptr open() const { return batch_ptr::make(_partition, _end); }
    /// Adds a sealed batch (it must start at end()), then trims.
    void append(batch_ptr batch, offset evictable_end = ~offset{0});
    /// Drops the oldest batches while over the bound, but only those that
    /// end at or before `evictable_end` (what the disk holds), and never
    /// the newest.
    void trim(offset evictable_end);

    /// The batches holding offsets from `from` on, until they add up to at
    /// least `max_bytes` (at least one); empty if `from` >= end(). If `from`
    /// < start(), the first batch starts at start().
    std::vector<batch_ptr> read(offset from, std::size_t max_bytes) const;

    /// Records dropped by the byte bound so far.
    std::uint64_t dropped() const noexcept { return _dropped; }

  private:
    partition_id _partition;
    std::size_t _max_bytes;
    std::deque<batch_ptr> _batches;
    offset _start = 0;
    offset _end = 0;
    std::size_t _bytes = 0;
    std::uint64_t _dropped = 0;
};

} // namespace zama::commitlog
