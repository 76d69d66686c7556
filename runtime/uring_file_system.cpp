#include "runtime/uring_file_system.hpp"

#include "runtime/blocking_pool.hpp"
#include "runtime/reactor.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace zama::rt {
namespace {

// Not in liburing 2.3's headers; the kernel has it since 6.9.
constexpr int op_ftruncate = 55;

std::errc to_errc(int negative_errno) noexcept {
    return static_cast<std::errc>(-negative_errno);
}

result<void, std::errc> status(int res) noexcept {
    if (res < 0) {
        return to_errc(res);
    }
    return {};
}

class uring_file final : public file {
  public:
    uring_file(int fd, std::uint64_t size) noexcept
        : _fd(fd)
        , _size(size) {}
    ~uring_file() override {
        if (_fd >= 0) {
            ::close(_fd); // not closed through close(): nothing may be in flight
        }
    }

    task<result<void, std::errc>> append(std::span<const iovec> data) override {
        co_return co_await write_all(_size, data);
    }

    task<result<void, std::errc>> write_at(std::uint64_t offset,
                                           std::span<const iovec> data) override {
        co_return co_await write_all(offset, data);
    }

    /// writev at `at` until all of `data` is written (continued if short).
    task<result<void, std::errc>> write_all(std::uint64_t at, std::span<const iovec> data) {
        std::vector<iovec> left(data.begin(), data.end());
        std::size_t first = 0;
        reactor& r = reactor::local();
        while (first < left.size()) {
            const int res = co_await r.op([&](io_uring_sqe* sqe) {
                io_uring_prep_writev(
                    sqe, _fd, left.data() + first,
                    static_cast<unsigned>(std::min<std::size_t>(left.size() - first, IOV_MAX)), at);
            });
            if (res < 0) {
                co_return to_errc(res);
            }
            if (res == 0) {
                co_return std::errc::io_error;
            }
            at += static_cast<std::uint64_t>(res);
            _size = std::max(_size, at);
            auto done = static_cast<std::size_t>(res);
            while (done > 0) {
                iovec& v = left[first];
                if (done >= v.iov_len) {
                    done -= v.iov_len;
                    ++first;
                } else {
                    v.iov_base = static_cast<std::uint8_t*>(v.iov_base) + done;
                    v.iov_len -= done;
                    done = 0;
                }
            }
            while (first < left.size() && left[first].iov_len == 0) {
                ++first;
            }
        }
        co_return result<void, std::errc>{};
    }

    task<result<std::size_t, std::errc>> read(std::uint64_t offset,
                                              std::span<std::uint8_t> into) override {
        std::size_t got = 0;
        reactor& r = reactor::local();
        while (got < into.size()) {
            const int res = co_await r.op([&](io_uring_sqe* sqe) {
                io_uring_prep_read(sqe, _fd, into.data() + got,
                                   static_cast<unsigned>(into.size() - got), offset + got);
            });
            if (res < 0) {
                co_return to_errc(res);
            }
            if (res == 0) {
                break; // end of file
            }
            got += static_cast<std::size_t>(res);
        }
        co_return got;
    }

    task<result<void, std::errc>> datasync() override {
        const int res = co_await reactor::local().op(
            [&](io_uring_sqe* sqe) { io_uring_prep_fsync(sqe, _fd, IORING_FSYNC_DATASYNC); });
        co_return status(res);
    }

    task<result<void, std::errc>> sync_filesystem() override {
        // io_uring has no syncfs: a pool thread waits for it. The fd stays
        // open meanwhile (the caller awaits this before closing the file).
        // It must be an fd opened before the writes it covers: syncfs
        // reports writeback errors since the fd was opened.
        const int fd = _fd;
        const int res =
            co_await blocking_pool::instance().run([fd] { return ::syncfs(fd) == 0 ? 0 : -errno; });
        co_return status(res);
    }

    task<result<void, std::errc>> truncate(std::uint64_t size) override {
        reactor& r = reactor::local();
        int res = 0;
        if (r.supports(op_ftruncate)) {
            res = co_await r.op([&](io_uring_sqe* sqe) {
                io_uring_prep_rw(op_ftruncate, sqe, _fd, nullptr, 0, size);
            });
        } else {
            const int fd = _fd;
            res = co_await blocking_pool::instance().run(
                [fd, size] { return ::ftruncate(fd, static_cast<off_t>(size)) == 0 ? 0 : -errno; });
        }
        if (res < 0) {
            co_return to_errc(res);
        }
        _size = size;
        co_return result<void, std::errc>{};
    }

    task<result<void, std::errc>> close() override {
        const int fd = std::exchange(_fd, -1);
        if (fd < 0) {
            co_return result<void, std::errc>{};
        }
        const int res =
            co_await reactor::local().op([fd](io_uring_sqe* sqe) { io_uring_prep_close(sqe, fd); });
        co_return status(res);
    }

    std::uint64_t size() const noexcept override { return _size; }

  private:
    int _fd;
    std::uint64_t _size;
};

task<int> open_fd(std::string path, int flags) {
    co_return co_await reactor::local().op([&](io_uring_sqe* sqe) {
        io_uring_prep_openat(sqe, AT_FDCWD, path.c_str(), flags | O_CLOEXEC, 0644);
    });
}

} // namespace

task<result<std::unique_ptr<file>, std::errc>> uring_file_system::open(std::string path,
                                                                       open_options options) {
    int flags = options.write ? O_RDWR : O_RDONLY;
    if (options.create) {
        flags |= O_CREAT;
    }
    if (options.exclusive) {
        flags |= O_EXCL;
    }
    if (options.truncate) {
        flags |= O_TRUNC;
    }
    if (options.direct) {
        flags |= O_DIRECT;
    }
    if (options.dsync) {
        flags |= O_DSYNC;
    }
    const int fd = co_await open_fd(path, flags);
    if (fd < 0) {
        co_return to_errc(fd);
    }
    struct statx st {};
    const int res = co_await reactor::local().op([&](io_uring_sqe* sqe) {
        io_uring_prep_statx(sqe, fd, "", AT_EMPTY_PATH, STATX_SIZE, &st);
    });
    if (res < 0) {
        ::close(fd);
        co_return to_errc(res);
    }
    co_return std::unique_ptr<file>(std::make_unique<uring_file>(fd, st.stx_size));
}

task<result<void, std::errc>> uring_file_system::rename(std::string from, std::string to) {
    const int res = co_await reactor::local().op([&](io_uring_sqe* sqe) {
        io_uring_prep_renameat(sqe, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), 0);
    });
    co_return status(res);
}

task<result<void, std::errc>> uring_file_system::remove(std::string path) {
    const int res = co_await reactor::local().op(
        [&](io_uring_sqe* sqe) { io_uring_prep_unlinkat(sqe, AT_FDCWD, path.c_str(), 0); });
    co_return status(res);
}

task<result<void, std::errc>> uring_file_system::make_directory(std::string path) {
    const int res = co_await reactor::local().op(
        [&](io_uring_sqe* sqe) { io_uring_prep_mkdirat(sqe, AT_FDCWD, path.c_str(), 0755); });
    co_return status(res);
}

task<result<void, std::errc>> uring_file_system::sync_directory(std::string path) {
    const int fd = co_await open_fd(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        co_return to_errc(fd);
    }
    reactor& r = reactor::local();
    const int res = co_await r.op([fd](io_uring_sqe* sqe) { io_uring_prep_fsync(sqe, fd, 0); });
    co_await r.op([fd](io_uring_sqe* sqe) { io_uring_prep_close(sqe, fd); });
    co_return status(res);
}

task<result<std::vector<std::string>, std::errc>> uring_file_system::list(std::string directory) {
    // The awaiter is a named local: g++ 12 destroys a temporary awaiter
    // holding a non-trivial callable twice when it is co_awaited directly.
    auto listing_op = blocking_pool::instance().run(
        [dir = std::move(directory)]() -> result<std::vector<std::string>, std::errc> {
            DIR* d = ::opendir(dir.c_str());
            if (d == nullptr) {
                return static_cast<std::errc>(errno);
            }
            std::vector<std::string> names;
            while (const dirent* e = ::readdir(d)) {
                const std::string_view name = e->d_name;
                if (name != "." && name != "..") {
                    names.emplace_back(name);
                }
            }
            ::closedir(d);
            std::sort(names.begin(), names.end());
            return names;
        });
    auto listing = co_await listing_op;
    co_return listing;
}

} // namespace zama::rt
