#pragma once

#include "base/result.hpp"
#include "commitlog/data_dir.hpp"

#include <string>

namespace zama::commitlog {

/// An exclusive lock on a data directory, held for the life of the broker
/// process: two brokers appending to the same partition files would
/// interleave their writes and destroy both logs.
///
/// The lock is flock(2) on `<data_dir>/lock`, which the kernel releases when
/// the process exits however it exits (kill -9 included), so a stale lock
/// never blocks a restart. The file holds the owner's pid, for the message a
/// second broker prints.
///
/// Taken on the main thread before the shards start (it blocks briefly on
/// mkdir and open, which a shard must not).
class data_dir_lock {
  public:
    /// Creates `data_dir` if it is missing and locks it; fails, naming the
    /// holder's pid, if another process holds the lock.
    static result<data_dir_lock, metadata_error> acquire(const std::string& data_dir);

    data_dir_lock(data_dir_lock&& other) noexcept
        : _fd(std::exchange(other._fd, -1)) {}
    data_dir_lock& operator=(data_dir_lock&&) = delete;
    data_dir_lock(const data_dir_lock&) = delete;
    data_dir_lock& operator=(const data_dir_lock&) = delete;
    ~data_dir_lock();

  private:
    explicit data_dir_lock(int fd) noexcept
        : _fd(fd) {}

    int _fd;
};

} // namespace zama::commitlog
