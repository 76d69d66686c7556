#pragma once

#include "base/result.hpp"
#include "runtime/file_system.hpp"

#include <coroutine>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

// zama-log reads a data directory offline with plain blocking POSIX reads:
// it is a command-line program, not a shard, and it should run wherever the
// files are (no io_uring needed). Nothing here can write: files are opened
// O_RDONLY, and every writing operation of rt::file fails.
//
// The commit log's scanners (batch_reader) are coroutines over rt::file;
// run_now() drives one to its end on the calling thread, which works
// because every read here completes before it returns.

namespace zama::inspect {

/// A file opened read-only, with its size taken at open (the broker must not
/// be running on the directory, so it does not change). Owned by its opener;
/// one thread.
class read_only_file final : public rt::file {
  public:
    static result<std::unique_ptr<read_only_file>, std::errc> open(const std::string& path);

    read_only_file(const read_only_file&) = delete;
    read_only_file& operator=(const read_only_file&) = delete;
    ~read_only_file() override;

    /// Reads up to into.size() bytes at `offset`, blocking; fewer only at the end.
    result<std::size_t, std::errc> read_now(std::uint64_t offset, std::span<std::uint8_t> into);

    rt::task<result<std::size_t, std::errc>> read(std::uint64_t offset,
                                                  std::span<std::uint8_t> into) override;
    std::uint64_t size() const noexcept override { return _size; }

    // Writing operations: refused (std::errc::bad_file_descriptor).
    rt::task<result<void, std::errc>> append(std::span<const iovec> data) override;
    rt::task<result<void, std::errc>> write_at(std::uint64_t offset,
                                               std::span<const iovec> data) override;
    rt::task<result<void, std::errc>> datasync() override;
    rt::task<result<void, std::errc>> sync_filesystem() override;
    rt::task<result<void, std::errc>> truncate(std::uint64_t size) override;
    rt::task<result<void, std::errc>> close() override;

  private:
    read_only_file(int fd, std::uint64_t size) noexcept
        : _fd(fd)
        , _size(size) {}

    int _fd;
    std::uint64_t _size;
};

/// The whole contents of a (small) file: meta, an index, a dictionary.
result<std::vector<std::uint8_t>, std::errc> read_whole_file(const std::string& path);

/// The message of an errno-style error.
std::string describe(std::errc e);

namespace detail {
template <typename T>
rt::task<void> finish_into(rt::task<T> t, std::optional<T>* out) {
    out->emplace(co_await std::move(t));
}
} // namespace detail

/// Runs `t` to its end on this thread and returns its value. Every await
/// inside must complete at once (the reads of read_only_file do).
template <typename T>
T run_now(rt::task<T> t) {
    std::optional<T> out;
    std::coroutine_handle<> h = detail::finish_into(std::move(t), &out).release_detached();
    h.resume();
    ZAMA_ASSERT(out.has_value(), "a zama-log task suspended: its I/O must complete at once");
    return std::move(*out);
}

} // namespace zama::inspect
