#include "commitlog/data_dir_lock.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <sys/file.h>
#include <unistd.h>

namespace zama::commitlog {

namespace {

std::string errno_text(int e) {
    return std::make_error_code(static_cast<std::errc>(e)).message();
}

// The pid the holder wrote, or "" if the file does not hold one yet.
std::string holder_of(int fd) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) {
        return {};
    }
    std::string s(buf, static_cast<std::size_t>(n));
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
        s.pop_back();
    }
    return s;
}

} // namespace

result<data_dir_lock, metadata_error> data_dir_lock::acquire(const std::string& data_dir) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) {
        return metadata_error{
            fmt::format("data directory {}: cannot create it: {}", data_dir, ec.message())};
    }
    const std::string path = data_dir + "/lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return metadata_error{fmt::format("data directory {}: cannot open {}: {}", data_dir, path,
                                          errno_text(errno))};
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        const std::string holder = holder_of(fd);
        ::close(fd);
        if (e == EWOULDBLOCK) {
            // zama-log takes a shared lock while it reads; the pid in the
            // file is the last broker's.
            return metadata_error{fmt::format(
                "data directory {} is in use by another broker{} or by zama-log (they lock {}); "
                "give each broker its own data_dir",
                data_dir, holder.empty() ? "" : fmt::format(" (pid {})", holder), path)};
        }
        return metadata_error{
            fmt::format("data directory {}: cannot lock {}: {}", data_dir, path, errno_text(e))};
    }
    const std::string pid = fmt::format("{}\n", ::getpid());
    // The pid is only for messages: failing to write it does not matter.
    if (::ftruncate(fd, 0) == 0) {
        [[maybe_unused]] const ssize_t n = ::pwrite(fd, pid.data(), pid.size(), 0);
    }
    return data_dir_lock(fd);
}

data_dir_lock::~data_dir_lock() {
    if (_fd >= 0) {
        ::close(_fd);
    }
}

} // namespace zama::commitlog
