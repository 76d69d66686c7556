#include "offline_io.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace zama::inspect {

namespace {

std::errc last_error() noexcept {
    return static_cast<std::errc>(errno);
}

} // namespace

std::string describe(std::errc e) {
    return std::make_error_code(e).message();
}

result<std::unique_ptr<read_only_file>, std::errc> read_only_file::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return last_error();
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const std::errc e = last_error();
        ::close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return std::errc::invalid_argument;
    }
    return std::unique_ptr<read_only_file>(
        new read_only_file(fd, static_cast<std::uint64_t>(st.st_size)));
}

read_only_file::~read_only_file() {
    ::close(_fd);
}

result<std::size_t, std::errc> read_only_file::read_now(std::uint64_t offset,
                                                        std::span<std::uint8_t> into) {
    std::size_t got = 0;
    while (got < into.size()) {
        const ssize_t n =
            ::pread(_fd, into.data() + got, into.size() - got, static_cast<off_t>(offset + got));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return last_error();
        }
        if (n == 0) {
            break; // the end of the file
        }
        got += static_cast<std::size_t>(n);
    }
    return got;
}

rt::task<result<std::size_t, std::errc>> read_only_file::read(std::uint64_t offset,
                                                              std::span<std::uint8_t> into) {
    co_return read_now(offset, into);
}

rt::task<result<void, std::errc>> read_only_file::append(std::span<const iovec> /*data*/) {
    co_return std::errc::bad_file_descriptor;
}

rt::task<result<void, std::errc>> read_only_file::write_at(std::uint64_t /*offset*/,
                                                           std::span<const iovec> /*data*/) {
    co_return std::errc::bad_file_descriptor;
}

rt::task<result<void, std::errc>> read_only_file::datasync() {
    co_return std::errc::bad_file_descriptor;
}

rt::task<result<void, std::errc>> read_only_file::sync_filesystem() {
    co_return std::errc::bad_file_descriptor;
}

rt::task<result<void, std::errc>> read_only_file::truncate(std::uint64_t /*size*/) {
    co_return std::errc::bad_file_descriptor;
}

rt::task<result<void, std::errc>> read_only_file::close() {
    co_return result<void, std::errc>{}; // the destructor closes
}

result<std::vector<std::uint8_t>, std::errc> read_whole_file(const std::string& path) {
    auto f = read_only_file::open(path);
    if (!f) {
        return f.error();
    }
    std::vector<std::uint8_t> bytes((*f)->size());
    auto n = (*f)->read_now(0, bytes);
    if (!n) {
        return n.error();
    }
    bytes.resize(*n);
    return bytes;
}

} // namespace zama::inspect
