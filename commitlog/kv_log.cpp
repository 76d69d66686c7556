#include "commitlog/kv_log.hpp"

#include "base/errc.hpp"
#include "base/log.hpp"
#include "base/vassert.hpp"
#include "commitlog/crc32c.hpp"
#include "commitlog/little_endian.hpp"
#include "runtime/reactor.hpp"

#include <cstring>
#include <utility>

namespace zama::commitlog {
namespace {

constexpr std::size_t record_header = 11;
constexpr std::uint8_t kind_put = 1;
constexpr std::uint8_t kind_erase = 2;
constexpr std::uint64_t compact_floor = 1u << 20;
constexpr std::size_t read_chunk = 1u << 20;

template <typename T>
void append_le(std::vector<std::uint8_t>& out, T v) {
    const std::size_t at = out.size();
    out.resize(at + sizeof v);
    std::memcpy(out.data() + at, &v, sizeof v);
}

void encode(std::vector<std::uint8_t>& out, std::uint8_t kind, std::string_view key,
            std::span<const std::uint8_t> value) {
    const std::size_t at = out.size();
    append_le<std::uint32_t>(out, 0); // the CRC, filled below
    out.push_back(kind);
    append_le<std::uint16_t>(out, static_cast<std::uint16_t>(key.size()));
    append_le<std::uint32_t>(out, static_cast<std::uint32_t>(value.size()));
    out.insert(out.end(), key.begin(), key.end());
    out.insert(out.end(), value.begin(), value.end());
    const std::uint32_t crc = crc32c({out.data() + at + 4, out.size() - at - 4});
    std::memcpy(out.data() + at, &crc, 4);
}

std::uint64_t encoded_size(std::string_view key, std::size_t value_size) noexcept {
    return record_header + key.size() + value_size;
}

} // namespace

kv_log::kv_log(rt::file_system& fs, std::string dir, std::string name) noexcept
    : _fs(fs)
    , _dir(std::move(dir))
    , _name(std::move(name)) {}

kv_log::~kv_log() {
    ZAMA_ASSERT(!_writer_running, "kv_log destroyed before close()");
}

rt::task<result<std::unique_ptr<kv_log>, std::errc>>
kv_log::open(rt::file_system& fs, std::string dir, std::string name) {
    std::unique_ptr<kv_log> log(new kv_log(fs, std::move(dir), std::move(name)));
    auto loaded = co_await log->load();
    if (!loaded) {
        co_return loaded.error();
    }
    log->_writer_running = true;
    rt::reactor::local().spawn(log->write_loop());
    co_return log;
}

rt::task<result<void, std::errc>> kv_log::load() {
    auto opened = co_await _fs.open(path(), {.write = true, .create = true});
    if (!opened) {
        co_return opened.error();
    }
    _file = std::move(*opened);
    const std::uint64_t size = _file->size();
    if (size == 0) {
        const std::uint8_t version = kv_format_version;
        const iovec v{const_cast<std::uint8_t*>(&version), 1};
        if (auto w = co_await _file->append({&v, 1}); !w) {
            co_return w.error();
        }
        if (auto s = co_await _file->datasync(); !s) {
            co_return s.error();
        }
        // The new file's name must survive a power loss too.
        co_return co_await _fs.sync_directory(_dir);
    }
    std::vector<std::uint8_t> bytes(size);
    for (std::uint64_t at = 0; at < size;) {
        const std::size_t want = std::min<std::uint64_t>(read_chunk, size - at);
        auto got = co_await _file->read(at, {bytes.data() + at, want});
        if (!got) {
            co_return got.error();
        }
        if (*got == 0) {
            bytes.resize(at);
            break;
        }
        at += *got;
    }
    if (bytes.empty() || bytes[0] != kv_format_version) {
        log::error("{}: format version {} is not one this build reads ({})", path(),
                   bytes.empty() ? 0 : bytes[0], kv_format_version);
        co_return std::errc::invalid_argument;
    }
    std::size_t at = 1;
    while (at + record_header <= bytes.size()) {
        const std::uint8_t* r = bytes.data() + at;
        const auto key_size = load_le<std::uint16_t>(r + 5);
        const auto value_size = load_le<std::uint32_t>(r + 7);
        const std::size_t total = record_header + key_size + value_size;
        if (total > bytes.size() - at || load_le<std::uint32_t>(r) != crc32c({r + 4, total - 4}) ||
            (r[4] != kind_put && r[4] != kind_erase)) {
            break;
        }
        std::string key(reinterpret_cast<const char*>(r + record_header), key_size);
        if (auto old = _entries.find(key); old != _entries.end()) {
            _live_bytes -= encoded_size(key, old->second.size());
            _entries.erase(old);
        }
        if (r[4] == kind_put) {
            _live_bytes += encoded_size(key, value_size);
            const std::uint8_t* v = r + record_header + key_size;
            _entries.emplace(std::move(key), std::vector<std::uint8_t>(v, v + value_size));
        }
        at += total;
    }
    if (at < bytes.size()) {
        log::warn("{}: cut {} bytes of a torn or damaged tail at byte {}", path(),
                  bytes.size() - at, at);
        if (auto cut = co_await _file->truncate(at); !cut) {
            co_return cut.error();
        }
        if (auto s = co_await _file->datasync(); !s) {
            co_return s.error();
        }
    }
    if (due_for_compaction()) {
        co_return co_await compact();
    }
    co_return result<void, std::errc>{};
}

bool kv_log::due_for_compaction() const noexcept {
    const std::uint64_t size = _file->size();
    return size > 2 * _live_bytes + compact_floor && size >= _compact_retry_size;
}

std::uint64_t kv_log::put(std::string_view key, std::span<const std::uint8_t> value) {
    auto [it, inserted] = _entries.try_emplace(key);
    if (!inserted) {
        _live_bytes -= encoded_size(key, it->second.size());
    }
    it->second.assign(value.begin(), value.end());
    _live_bytes += encoded_size(key, value.size());
    return queue(kind_put, key, value);
}

std::uint64_t kv_log::erase(std::string_view key) {
    if (auto it = _entries.find(key); it != _entries.end()) {
        _live_bytes -= encoded_size(key, it->second.size());
        _entries.erase(it);
    }
    return queue(kind_erase, key, {});
}

std::uint64_t kv_log::queue(std::uint8_t kind, std::string_view key,
                            std::span<const std::uint8_t> value) {
    encode(_queued, kind, key, value);
    if (_writer_waiting) {
        rt::reactor::local().schedule(std::exchange(_writer_waiting, {}));
    }
    return ++_queued_seq;
}

rt::task<bool> kv_log::durable(std::uint64_t seq) {
    struct waiter {
        kv_log* log;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) { log->_durable_waiting.push_back(h); }
        void await_resume() const noexcept {}
    };
    while (_durable_seq < seq && !_broken) {
        co_await waiter{this};
    }
    co_return _durable_seq >= seq;
}

void kv_log::wake_durable_waiters() noexcept {
    for (auto h : _durable_waiting) {
        rt::reactor::local().schedule(h);
    }
    _durable_waiting.clear();
}

rt::task<void> kv_log::write_loop() {
    for (;;) {
        if (!_queued.empty() && !_broken) {
            // A local, not `if (!co_await ...)`: g++ 12 miscompiled that form
            // here (the loop's frame trapped on its first resume).
            const bool written = co_await write_queued();
            if (!written) {
                _broken = true;
                wake_durable_waiters();
            }
        } else if (_closing) {
            break;
        } else {
            co_await work_awaiter{this};
        }
    }
    _writer_running = false;
    if (_close_waiting) {
        rt::reactor::local().schedule(std::exchange(_close_waiting, {}));
    }
}

rt::task<bool> kv_log::write_queued() {
    const std::vector<std::uint8_t> bytes = std::exchange(_queued, {});
    const std::uint64_t seq = _queued_seq;
    const iovec v{const_cast<std::uint8_t*>(bytes.data()), bytes.size()};
    if (auto w = co_await _file->append({&v, 1}); !w) {
        log::error("{}: write failed: {}; changes are no longer saved until zama restarts", path(),
                   message_of(w.error()));
        co_return false;
    }
    if (auto s = co_await _file->datasync(); !s) {
        log::error("{}: fdatasync failed: {}; changes are no longer saved until zama restarts",
                   path(), message_of(s.error()));
        co_return false;
    }
    _durable_seq = seq;
    wake_durable_waiters();
    if (due_for_compaction()) {
        if (auto c = co_await compact(); !c) {
            log::error("{}: compaction failed after its rename: {}; changes are no longer saved "
                       "until zama restarts",
                       path(), message_of(c.error()));
            co_return false;
        }
    }
    co_return true;
}

// Rewrites the live entries to a new file and renames it over the old one.
// Changes queued meanwhile are in _queued and go to the new file next.
//
// A failure before the rename leaves the old file whole: the temporary file
// is removed, the failure logged, and compaction tried again once another
// MiB is written. An error is returned only when the rename happened but the
// directory sync failed, when what is on disk can no longer be vouched for.
rt::task<result<void, std::errc>> kv_log::compact() {
    const std::string tmp = path() + ".tmp";
    std::unique_ptr<rt::file> fresh;
    if (auto written = co_await write_compacted(tmp, fresh); !written) {
        log::warn("{}: compaction failed, the file is kept as it is: {}", path(),
                  message_of(written.error()));
        if (fresh) {
            co_await fresh->close();
        }
        if (auto r = co_await _fs.remove(tmp);
            !r && r.error() != std::errc::no_such_file_or_directory) {
            log::warn("{}: cannot remove {}: {}", path(), tmp, message_of(r.error()));
        }
        _compact_retry_size = _file->size() + compact_floor;
        co_return result<void, std::errc>{};
    }
    // Renamed: the new file is the store from now on, whatever comes next.
    const std::uint64_t before = _file->size();
    co_await _file->close();
    _file = std::move(fresh);
    if (auto d = co_await _fs.sync_directory(_dir); !d) {
        co_return d.error();
    }
    log::info("{}: compacted {} bytes to {} ({} entries)", path(), before, _file->size(),
              _entries.size());
    co_return result<void, std::errc>{};
}

// Writes the live entries to `tmp`, syncs it and renames it over the file.
rt::task<result<void, std::errc>> kv_log::write_compacted(std::string tmp,
                                                          std::unique_ptr<rt::file>& fresh) {
    std::vector<std::uint8_t> bytes{kv_format_version};
    bytes.reserve(1 + _live_bytes);
    for (const auto& [key, value] : _entries) {
        encode(bytes, kind_put, key, value);
    }
    auto opened = co_await _fs.open(tmp, {.write = true, .create = true, .truncate = true});
    if (!opened) {
        co_return opened.error();
    }
    fresh = std::move(*opened);
    const iovec v{bytes.data(), bytes.size()};
    if (auto w = co_await fresh->append({&v, 1}); !w) {
        co_return w.error();
    }
    if (auto s = co_await fresh->datasync(); !s) {
        co_return s.error();
    }
    co_return co_await _fs.rename(tmp, path());
}

rt::task<void> kv_log::close() {
    _closing = true;
    if (_writer_waiting) {
        rt::reactor::local().schedule(std::exchange(_writer_waiting, {}));
    }
    struct wait_writer {
        kv_log* log;
        bool await_ready() const noexcept { return !log->_writer_running; }
        void await_suspend(std::coroutine_handle<> h) noexcept { log->_close_waiting = h; }
        void await_resume() const noexcept {}
    };
    co_await wait_writer{this};
    if (auto c = co_await _file->close(); !c) {
        log::error("{}: close failed: {}", path(), message_of(c.error()));
    }
}

} // namespace zama::commitlog
