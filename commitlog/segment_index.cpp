#include "commitlog/segment_index.hpp"

#include <algorithm>
#include <cstring>

namespace zama::commitlog {

segment_index::segment_index(std::unique_ptr<rt::file> f, std::size_t interval) noexcept
    : _file(std::move(f))
    , _interval(interval) {}

segment_index::~segment_index() = default;

rt::task<result<std::unique_ptr<segment_index>, std::errc>>
segment_index::open(rt::file_system& fs, std::string path, std::uint64_t log_size,
                    std::size_t interval) {
    auto f = co_await fs.open(path, {.write = true, .create = true});
    if (!f) {
        co_return f.error();
    }
    std::unique_ptr<segment_index> index(new segment_index(std::move(*f), interval));
    auto loaded = co_await index->load(log_size);
    if (!loaded) {
        co_return loaded.error();
    }
    co_return index;
}

rt::task<result<void, std::errc>> segment_index::load(std::uint64_t log_size) {
    const std::uint64_t size = _file->size();
    if (size == 0) {
        co_return result<void, std::errc>{};
    }
    std::vector<std::uint8_t> bytes(size);
    auto n = co_await _file->read(0, bytes);
    if (!n) {
        co_return n.error();
    }
    bytes.resize(*n);
    if (bytes.empty() || bytes[0] != index_format_version) {
        co_return result<void, std::errc>{}; // unknown: rebuilt and rewritten whole
    }
    const std::size_t whole = (bytes.size() - 1) / index_entry_size;
    for (std::size_t i = 0; i < whole; ++i) {
        entry e;
        std::memcpy(&e.relative, bytes.data() + 1 + i * index_entry_size, 4);
        std::memcpy(&e.position, bytes.data() + 1 + i * index_entry_size + 4, 4);
        const bool increasing = _entries.empty() || (e.relative > _entries.back().relative &&
                                                     e.position > _entries.back().position);
        if (!increasing || e.position == 0 || e.position >= log_size) {
            break; // only a consistent prefix is trusted
        }
        _entries.push_back(e);
    }
    _in_file = _entries.size();
    _file_entries = whole;
    _header_ok = (bytes.size() - 1) % index_entry_size == 0;
    co_return result<void, std::errc>{};
}

segment_index::entry segment_index::lookup(std::uint64_t relative) const noexcept {
    auto it = std::upper_bound(_entries.begin(), _entries.end(), relative,
                               [](std::uint64_t r, const entry& e) { return r < e.relative; });
    if (it == _entries.begin()) {
        return {};
    }
    return *std::prev(it);
}

void segment_index::observe(std::uint64_t relative, std::uint64_t position) {
    const std::uint64_t last = _entries.empty() ? 0 : _entries.back().position;
    if (position < last + _interval) {
        return;
    }
    ZAMA_ASSERT(relative <= 0xFFFF'FFFFu && position <= 0xFFFF'FFFFu,
                "segment past the 32-bit index range");
    _entries.push_back(
        {static_cast<std::uint32_t>(relative), static_cast<std::uint32_t>(position)});
}

void segment_index::truncate(std::uint64_t log_size) noexcept {
    while (!_entries.empty() && _entries.back().position >= log_size) {
        _entries.pop_back();
    }
    _in_file = std::min(_in_file, _entries.size());
}

void segment_index::begin_rebuild() {
    _before_rebuild = std::move(_entries);
    _entries.clear();
}

bool segment_index::end_rebuild() {
    const bool same = _before_rebuild == _entries;
    std::size_t agree = 0;
    while (agree < _in_file && agree < _entries.size() &&
           _before_rebuild[agree] == _entries[agree]) {
        ++agree;
    }
    _in_file = agree;
    _before_rebuild = {};
    return !same;
}

rt::task<result<void, std::errc>> segment_index::write() {
    if (written()) {
        co_return result<void, std::errc>{};
    }
    // Keep the prefix the file already has right; write the rest after it.
    const std::size_t keep = _header_ok ? _in_file : 0;
    const std::uint64_t keep_bytes = _header_ok ? 1 + keep * index_entry_size : 0;
    if (_file->size() != keep_bytes) {
        auto cut = co_await _file->truncate(keep_bytes);
        if (!cut) {
            _header_ok = false;
            co_return cut.error();
        }
    }
    _file_entries = keep;
    _buffer.clear();
    if (keep_bytes == 0) {
        _buffer.push_back(index_format_version);
    }
    const std::size_t at = _buffer.size();
    _buffer.resize(at + (_entries.size() - keep) * index_entry_size);
    std::uint8_t* p = _buffer.data() + at;
    for (std::size_t i = keep; i < _entries.size(); ++i, p += index_entry_size) {
        std::memcpy(p, &_entries[i].relative, 4);
        std::memcpy(p + 4, &_entries[i].position, 4);
    }
    const iovec v{_buffer.data(), _buffer.size()};
    auto appended = co_await _file->append({&v, 1});
    if (!appended) {
        _header_ok = false; // maybe a torn entry: the next write() starts over
        co_return appended.error();
    }
    _header_ok = true;
    _in_file = _file_entries = _entries.size();
    co_return result<void, std::errc>{};
}

rt::task<result<void, std::errc>> segment_index::close() {
    co_return co_await _file->close();
}

} // namespace zama::commitlog
