#include "dir_lock.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "offline_io.hpp"

namespace zama::inspect {

namespace {

// The pid the broker wrote ("<pid>\n"), or "" if the file does not hold one
// (yet: the broker writes it just after it locks).
std::string holder_of(int fd) {
    char buf[32] = {};
    ssize_t n = -1;
    do {
        n = ::pread(fd, buf, sizeof buf - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        return {};
    }
    std::string s(buf, static_cast<std::size_t>(n));
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
        s.pop_back();
    }
    const bool digits =
        !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    return digits ? s : std::string();
}

} // namespace

result<shared_dir_lock, tool_error> shared_dir_lock::take(const std::string& dir) {
    const std::string path = dir + "/lock";
    // Read-only, never created: zama-log writes nothing.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        if (e == ENOENT || e == ENOTDIR) {
            // No lock file (or no directory: the command says so next).
            return shared_dir_lock(-1);
        }
        return tool_error{fmt::format("cannot open {} to check that no broker is running on {}: {}",
                                      path, dir, describe(static_cast<std::errc>(e)))};
    }
    int locked = -1;
    do {
        locked = ::flock(fd, LOCK_SH | LOCK_NB);
    } while (locked != 0 && errno == EINTR);
    if (locked != 0) {
        const int e = errno;
        const std::string pid = e == EWOULDBLOCK ? holder_of(fd) : std::string();
        ::close(fd);
        if (e == EWOULDBLOCK) {
            return tool_error{fmt::format(
                "a broker{} is running on {}; stop it first or inspect a copy of the directory",
                pid.empty() ? "" : fmt::format(" (pid {})", pid), dir)};
        }
        return tool_error{fmt::format("cannot lock {} to check that no broker is running on {}: {}",
                                      path, dir, describe(static_cast<std::errc>(e)))};
    }
    return shared_dir_lock(fd);
}

shared_dir_lock::~shared_dir_lock() {
    if (_fd >= 0) {
        ::close(_fd);
    }
}

} // namespace zama::inspect
