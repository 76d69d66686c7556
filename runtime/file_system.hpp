#pragma once

#include "base/result.hpp"
#include "runtime/task.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <sys/uio.h>
#include <system_error>
#include <vector>

// The storage seam: the commit log does all its file I/O through these two
// interfaces. uring_file_system is the real one (every operation through the
// shard's io_uring); memory_file_system keeps files in memory and injects
// faults (torn writes, full disk, I/O errors, slow completions, power loss)
// for tests.

namespace zama::rt {

struct open_options {
    bool write = false;     // read-write (else read-only)
    bool create = false;    // create if missing
    bool exclusive = false; // with create: fail with file_exists if present
    bool truncate = false;  // empty it on open
    /// Writes bypass the page cache (O_DIRECT): buffers, offsets and
    /// lengths must be multiples of 4096. EINVAL where the filesystem
    /// cannot; callers then open without it.
    bool direct = false;
    /// A write is durable when it completes (O_DSYNC): no datasync needed.
    /// Overwriting blocks already written and synced then costs a device
    /// write, not a filesystem journal commit.
    bool dsync = false;
};

/// An open file. Writes append, except write_at(); the file tracks its size.
/// Used by one task at a time, on the shard that opened it.
class file {
  public:
    virtual ~file() = default;

    /// Writes all of `data` at the end of the file (one writev, continued if
    /// short). On error returns it; size() then says how far it got, so a
    /// caller can cut a torn tail.
    virtual task<result<void, std::errc>> append(std::span<const iovec> data) = 0;

    /// Writes all of `data` at `offset` (over what is there, or extending
    /// the file). On error returns it; the bytes at `offset` are then in an
    /// unknown state.
    virtual task<result<void, std::errc>> write_at(std::uint64_t offset,
                                                   std::span<const iovec> data) = 0;

    /// Reads up to into.size() bytes at `offset`; fewer only at the end of the file.
    virtual task<result<std::size_t, std::errc>> read(std::uint64_t offset,
                                                      std::span<std::uint8_t> into) = 0;

    /// Makes what was written durable (fdatasync).
    virtual task<result<void, std::errc>> datasync() = 0;
    /// Makes everything written to any file of this file's filesystem
    /// durable, directory entries included (syncfs(2)): one call instead of
    /// a datasync() per file. It also writes other programs' data on that
    /// filesystem, and an error may come from any file there.
    virtual task<result<void, std::errc>> sync_filesystem() = 0;

    /// Cuts (or extends with zeros) the file to `size` bytes.
    virtual task<result<void, std::errc>> truncate(std::uint64_t size) = 0;

    virtual task<result<void, std::errc>> close() = 0;

    virtual std::uint64_t size() const noexcept = 0;
};

class file_system {
  public:
    virtual ~file_system() = default;

    virtual task<result<std::unique_ptr<file>, std::errc>> open(std::string path,
                                                                open_options options) = 0;
    virtual task<result<void, std::errc>> rename(std::string from, std::string to) = 0;
    virtual task<result<void, std::errc>> remove(std::string path) = 0;
    /// Creates a directory; file_exists if it is there.
    virtual task<result<void, std::errc>> make_directory(std::string path) = 0;
    /// Makes the directory's entries durable (creates, renames, removes).
    virtual task<result<void, std::errc>> sync_directory(std::string path) = 0;
    /// Names in a directory (not "." or ".."), sorted.
    virtual task<result<std::vector<std::string>, std::errc>> list(std::string directory) = 0;
};

} // namespace zama::rt
