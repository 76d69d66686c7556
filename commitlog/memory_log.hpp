#pragma once

#include "commitlog/record_batch.hpp"

#include <cstddef>
#include <deque>
#include <vector>

namespace zama::commitlog {

/// The in-memory tail of one partition's log: the most recent sealed
/// batches, up to a byte bound; older batches are dropped whole (their
/// records are then gone: a reader behind start() has lost them). The
/// on-disk segments of the commit log will sit beneath this interface.
///
/// Owned by the partition's shard; single-threaded. Batches handed out are
/// shared and stay valid while referenced.
class memory_log {
  public:
    explicit memory_log(partition_id p, std::size_t max_bytes) noexcept
        : _partition(p)
        , _max_bytes(max_bytes) {}

    partition_id partition() const noexcept { return _partition; }
    /// The first offset still held, and one past the last appended.
    offset start() const noexcept { return _start; }
    offset end() const noexcept { return _end; }
    std::size_t bytes() const noexcept { return _bytes; }

    /// A new batch to fill, starting at end(). Append it with append().
    batch_ptr open() const { return batch_ptr::make(_partition, _end); }
    /// Adds a sealed batch (it must start at end()), then drops the oldest
    /// batches while over the bound (never the newest).
    void append(batch_ptr batch);

    /// The batches holding offsets from `from` on (at most `max_batches`);
    /// empty if `from` >= end(). If `from` < start(), the first batch
    /// starts at start().
    std::vector<batch_ptr> read(offset from, std::size_t max_batches) const;

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
