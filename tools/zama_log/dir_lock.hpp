#pragma once

#include "base/result.hpp"

#include <string>
#include <utility>

#include "data_dir_view.hpp"

// The broker holds flock(LOCK_EX) on `<data_dir>/lock` for its lifetime
// (commitlog/data_dir_lock.hpp). zama-log takes the same lock shared before
// it reads anything, and holds it until it exits: a running broker makes it
// stop with a clear message, and a broker started meanwhile fails to take
// its lock instead of changing the files under the reader. Several zama-log
// may read one directory at once.

namespace zama::inspect {

/// A shared lock on a data directory, held by the command for as long as it
/// reads. Owned by main(); released (closed) on destruction.
class shared_dir_lock {
  public:
    /// Locks `<dir>/lock` shared, if the file exists (a directory no broker
    /// ever ran on has none: nothing to lock, nothing to fear). Fails, naming
    /// the broker's pid, if a broker holds it.
    static result<shared_dir_lock, tool_error> take(const std::string& dir);

    shared_dir_lock(shared_dir_lock&& other) noexcept
        : _fd(std::exchange(other._fd, -1)) {}
    shared_dir_lock& operator=(shared_dir_lock&&) = delete;
    shared_dir_lock(const shared_dir_lock&) = delete;
    shared_dir_lock& operator=(const shared_dir_lock&) = delete;
    ~shared_dir_lock();

  private:
    explicit shared_dir_lock(int fd) noexcept
        : _fd(fd) {}

    int _fd; // -1: no lock file
};

} // namespace zama::inspect
