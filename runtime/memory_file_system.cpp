#include "runtime/memory_file_system.hpp"

#include "runtime/reactor.hpp"

#include <algorithm>
#include <cstring>

namespace zama::rt {

struct memory_file_system::node {
    std::vector<std::uint8_t> bytes;
    std::size_t synced = 0;
};

namespace {

constexpr std::size_t direct_alignment = 4096;

std::string parent_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

} // namespace

class memory_file final : public file {
  public:
    memory_file(memory_file_system& fs, std::shared_ptr<memory_file_system::node> n,
                open_options options) noexcept
        : _fs(fs)
        , _node(std::move(n))
        , _writable(options.write)
        , _direct(options.direct)
        , _dsync(options.dsync) {}

    task<result<void, std::errc>> write_at(std::uint64_t offset,
                                           std::span<const iovec> data) override {
        co_await _fs.pause();
        co_return write(offset, data);
    }

    task<result<void, std::errc>> append(std::span<const iovec> data) override {
        co_await _fs.pause();
        co_return write(_node->bytes.size(), data);
    }

    task<result<std::size_t, std::errc>> read(std::uint64_t offset,
                                              std::span<std::uint8_t> into) override {
        co_await _fs.pause();
        if (_fs._faults.read_error) {
            co_return *_fs._faults.read_error;
        }
        if (offset >= _node->bytes.size()) {
            co_return std::size_t{0};
        }
        const std::size_t n = std::min<std::size_t>(into.size(), _node->bytes.size() - offset);
        std::memcpy(into.data(), _node->bytes.data() + offset, n);
        co_return n;
    }

    // A sync covers what was written before the call; what is written
    // while it runs (the delay) stays unsynced, the strictest reading of
    // fdatasync(2) and syncfs(2).
    task<result<void, std::errc>> datasync() override {
        const std::size_t covered = _node->bytes.size();
        co_await _fs.pause();
        if (_fs._faults.sync_error) {
            co_return *_fs._faults.sync_error;
        }
        _node->synced = std::max(_node->synced, std::min(covered, _node->bytes.size()));
        ++_fs._syncs;
        co_return result<void, std::errc>{};
    }

    task<result<void, std::errc>> sync_filesystem() override {
        std::vector<std::pair<std::shared_ptr<memory_file_system::node>, std::size_t>> covered;
        covered.reserve(_fs._files.size() + 1);
        for (auto& [path, n] : _fs._files) {
            covered.emplace_back(n, n->bytes.size());
        }
        covered.emplace_back(_node, _node->bytes.size()); // even if removed meanwhile
        co_await _fs.pause();
        if (auto e = _fs._faults.sync_error ? _fs._faults.sync_error
                                            : _fs._faults.filesystem_sync_error) {
            co_return *e;
        }
        for (auto& [n, size] : covered) {
            n->synced = std::max(n->synced, std::min(size, n->bytes.size()));
        }
        ++_fs._filesystem_syncs;
        co_return result<void, std::errc>{};
    }

    task<result<void, std::errc>> truncate(std::uint64_t size) override {
        co_await _fs.pause();
        _node->bytes.resize(size);
        _node->synced = std::min<std::size_t>(_node->synced, size);
        co_return result<void, std::errc>{};
    }

    task<result<void, std::errc>> close() override {
        co_await _fs.pause();
        co_return result<void, std::errc>{};
    }

    std::uint64_t size() const noexcept override { return _node->bytes.size(); }

  private:
    // Bytes are written in place, extending the file as needed; with dsync,
    // what a completed write covers is durable (it extends the synced
    // prefix when it reaches it). A torn write (the write budget) stops
    // part-way. O_DIRECT's alignment rules are checked.
    result<void, std::errc> write(std::size_t offset, std::span<const iovec> data) {
        if (!_writable) {
            return std::errc::bad_file_descriptor;
        }
        if (_direct && offset % direct_alignment != 0) {
            return std::errc::invalid_argument;
        }
        auto& f = _fs._faults;
        std::size_t at = offset;
        for (const iovec& v : data) {
            if (_direct && (v.iov_len % direct_alignment != 0 ||
                            reinterpret_cast<std::uintptr_t>(v.iov_base) % direct_alignment != 0)) {
                return std::errc::invalid_argument;
            }
            const auto* p = static_cast<const std::uint8_t*>(v.iov_base);
            std::size_t n = v.iov_len;
            if (f.write_budget) {
                n = std::min(n, *f.write_budget);
                *f.write_budget -= n;
            }
            if (n > 0) { // an empty iovec may have no base
                if (_node->bytes.size() < at + n) {
                    _node->bytes.resize(at + n);
                }
                std::memcpy(_node->bytes.data() + at, p, n);
                at += n;
            }
            if (n < v.iov_len) {
                return f.write_error;
            }
        }
        if (_dsync && offset <= _node->synced) {
            _node->synced = std::max(_node->synced, at);
        }
        return result<void, std::errc>{};
    }

    memory_file_system& _fs;
    std::shared_ptr<memory_file_system::node> _node;
    bool _writable;
    bool _direct;
    bool _dsync;
};

memory_file_system::memory_file_system() {
    _directories.insert(".");
}

memory_file_system::~memory_file_system() = default;

task<void> memory_file_system::pause() const {
    if (_faults.delay > duration::zero()) {
        co_await reactor::local().sleep_for(_faults.delay);
    }
}

task<result<std::unique_ptr<file>, std::errc>> memory_file_system::open(std::string path,
                                                                        open_options options) {
    co_await pause();
    if (!_directories.contains(parent_of(path))) {
        co_return std::errc::no_such_file_or_directory;
    }
    auto it = _files.find(path);
    if (it == _files.end()) {
        if (!options.create) {
            co_return std::errc::no_such_file_or_directory;
        }
        it = _files.emplace(path, std::make_shared<node>()).first;
    } else if (options.create && options.exclusive) {
        co_return std::errc::file_exists;
    }
    if (options.truncate) {
        it->second->bytes.clear();
        it->second->synced = 0;
    }
    co_return std::unique_ptr<file>(std::make_unique<memory_file>(*this, it->second, options));
}

task<result<void, std::errc>> memory_file_system::rename(std::string from, std::string to) {
    co_await pause();
    auto it = _files.find(from);
    if (it == _files.end()) {
        co_return std::errc::no_such_file_or_directory;
    }
    if (!_directories.contains(parent_of(to))) {
        co_return std::errc::no_such_file_or_directory;
    }
    auto n = it->second;
    _files.erase(it);
    _files[to] = std::move(n);
    co_return result<void, std::errc>{};
}

task<result<void, std::errc>> memory_file_system::remove(std::string path) {
    co_await pause();
    if (_files.erase(path) == 0) {
        co_return std::errc::no_such_file_or_directory;
    }
    co_return result<void, std::errc>{};
}

task<result<void, std::errc>> memory_file_system::make_directory(std::string path) {
    co_await pause();
    if (_directories.contains(path) || _files.contains(path)) {
        co_return std::errc::file_exists;
    }
    if (!_directories.contains(parent_of(path))) {
        co_return std::errc::no_such_file_or_directory;
    }
    _directories.insert(path);
    co_return result<void, std::errc>{};
}

task<result<void, std::errc>> memory_file_system::sync_directory(std::string path) {
    co_await pause();
    if (!_directories.contains(path)) {
        co_return std::errc::no_such_file_or_directory;
    }
    if (_faults.sync_error) {
        co_return *_faults.sync_error;
    }
    co_return result<void, std::errc>{};
}

task<result<std::vector<std::string>, std::errc>> memory_file_system::list(std::string directory) {
    co_await pause();
    if (!_directories.contains(directory)) {
        co_return std::errc::no_such_file_or_directory;
    }
    std::vector<std::string> names;
    const std::string prefix = directory + "/";
    auto add_child = [&](const std::string& path) {
        if (path.starts_with(prefix) && path.find('/', prefix.size()) == std::string::npos) {
            names.push_back(path.substr(prefix.size()));
        }
    };
    for (const auto& [path, n] : _files) {
        add_child(path);
    }
    for (const auto& d : _directories) {
        add_child(d);
    }
    std::sort(names.begin(), names.end());
    co_return names;
}

void memory_file_system::fail_writes_after(std::size_t bytes, std::errc error) {
    _faults.write_budget = bytes;
    _faults.write_error = error;
}

void memory_file_system::fail_reads(std::errc error) {
    _faults.read_error = error;
}

void memory_file_system::fail_syncs(std::errc error) {
    _faults.sync_error = error;
}

void memory_file_system::fail_filesystem_syncs(std::errc error) {
    _faults.filesystem_sync_error = error;
}

void memory_file_system::delay(duration d) {
    _faults.delay = d;
}

void memory_file_system::clear_faults() {
    _faults = {};
}

void memory_file_system::crash(std::size_t keep_unsynced) {
    for (auto& [path, n] : _files) {
        const std::size_t keep = std::min(n->bytes.size(), n->synced + keep_unsynced);
        n->bytes.resize(keep);
        n->synced = keep;
    }
}

std::optional<std::vector<std::uint8_t>>
memory_file_system::contents(const std::string& path) const {
    auto it = _files.find(path);
    if (it == _files.end()) {
        return std::nullopt;
    }
    return it->second->bytes;
}

void memory_file_system::put(const std::string& path, std::vector<std::uint8_t> bytes) {
    auto n = std::make_shared<node>();
    n->synced = bytes.size();
    n->bytes = std::move(bytes);
    _files[path] = std::move(n);
}

void memory_file_system::corrupt(const std::string& path, std::size_t offset, std::uint8_t mask) {
    auto it = _files.find(path);
    if (it != _files.end() && offset < it->second->bytes.size()) {
        it->second->bytes[offset] ^= mask;
    }
}

} // namespace zama::rt
