#include "commitlog/topic_dictionary.hpp"

#include "commitlog/crc32c.hpp"

#include <cstring>

namespace zama::commitlog {

namespace {

constexpr std::size_t at_crc = 1;
constexpr std::size_t at_id = 5;
constexpr std::size_t at_name_size = 9;

struct entry {
    topic_id id;
    std::string_view name;
    std::size_t size = 0; // bytes of the whole entry
};

/// The entry at the start of `bytes`, if it is whole and checks out.
std::optional<entry> parse_entry(std::span<const std::uint8_t> bytes) noexcept {
    if (bytes.size() < dictionary_entry_header_size || bytes[0] != dictionary_format_version) {
        return std::nullopt;
    }
    std::uint32_t crc = 0;
    std::uint32_t id = 0;
    std::uint16_t name_size = 0;
    std::memcpy(&crc, bytes.data() + at_crc, 4);
    std::memcpy(&id, bytes.data() + at_id, 4);
    std::memcpy(&name_size, bytes.data() + at_name_size, 2);
    const std::size_t size = dictionary_entry_header_size + name_size;
    if (name_size == 0 || bytes.size() < size ||
        crc32c(bytes.subspan(at_id, size - at_id)) != crc) {
        return std::nullopt;
    }
    return entry{
        topic_id{id},
        {reinterpret_cast<const char*>(bytes.data()) + dictionary_entry_header_size, name_size},
        size};
}

} // namespace

topic_dictionary::topic_dictionary(std::unique_ptr<rt::file> f) noexcept
    : _file(std::move(f)) {}

topic_dictionary::~topic_dictionary() = default;

rt::task<result<std::unique_ptr<topic_dictionary>, std::errc>>
topic_dictionary::open(rt::file_system& fs, std::string path) {
    auto f = co_await fs.open(path, {.write = true, .create = true});
    if (!f) {
        co_return f.error();
    }
    std::unique_ptr<topic_dictionary> d(new topic_dictionary(std::move(*f)));
    auto recovered = co_await d->recover();
    if (!recovered) {
        co_return recovered.error();
    }
    co_return d;
}

rt::task<result<void, std::errc>> topic_dictionary::recover() {
    const std::uint64_t size = _file->size();
    std::vector<std::uint8_t> bytes(size);
    std::uint64_t got = 0;
    while (got < size) {
        auto n = co_await _file->read(got, std::span(bytes).subspan(got));
        if (!n) {
            co_return n.error();
        }
        if (*n == 0) {
            break; // the file shrank under us: what is missing is a torn tail
        }
        got += *n;
    }
    bytes.resize(got);

    const std::span<const std::uint8_t> all(bytes);
    // Ids are dense, one entry each, so none can exceed the number of
    // entries the file could hold; a larger one is not ours.
    const std::size_t max_id = all.size() / (dictionary_entry_header_size + 1);
    auto usable = [this, max_id](const std::optional<entry>& e) {
        return e && e->id.value() <= max_id && !_ids.contains(e->name) &&
               (e->id.value() >= _names.size() || _names[e->id.value()].empty());
    };
    std::size_t at = 0;
    while (at < all.size()) {
        auto e = parse_entry(all.subspan(at));
        if (usable(e)) {
            add(e->id, e->name);
            at += e->size;
            continue;
        }
        // Torn or damaged: skip to the next entry that checks out, if any.
        std::size_t next = at + 1;
        while (next < all.size() && !usable(parse_entry(all.subspan(next)))) {
            ++next;
        }
        if (next >= all.size()) {
            _recovered.truncated_bytes = all.size() - at;
            break;
        }
        _recovered.skipped_bytes += next - at;
        at = next;
    }
    _good_size = all.size() - _recovered.truncated_bytes;
    if (_file->size() != _good_size) {
        auto cut = co_await _file->truncate(_good_size);
        if (!cut) {
            co_return cut.error();
        }
    }
    _synced_size = _good_size;
    _recovered.topics = _ids.size();
    co_return result<void, std::errc>{};
}

void topic_dictionary::add(topic_id id, std::string_view name) {
    if (id.value() >= _names.size()) {
        _names.resize(std::size_t{id.value()} + 1);
    }
    _names[id.value()] = name;
    _ids.emplace(name, id);
}

std::optional<topic_id> topic_dictionary::find(std::string_view name) const {
    auto it = _ids.find(name);
    if (it == _ids.end()) {
        return std::nullopt;
    }
    return it->second;
}

topic_id topic_dictionary::intern(std::string_view name) {
    if (auto it = _ids.find(name); it != _ids.end()) {
        return it->second;
    }
    ZAMA_ASSERT(!name.empty() && name.size() <= 0xFFFF, "topic name of 1 to 65535 bytes");
    ZAMA_ASSERT(_names.size() < 0xFFFF'FFFFu, "topic ids exhausted");
    const topic_id id{static_cast<std::uint32_t>(_names.size())};
    add(id, name);

    const std::size_t start = _pending.size();
    const std::size_t size = dictionary_entry_header_size + name.size();
    _pending.resize(start + size);
    std::uint8_t* p = _pending.data() + start;
    const std::uint32_t raw_id = id.value();
    const auto name_size = static_cast<std::uint16_t>(name.size());
    p[0] = dictionary_format_version;
    std::memcpy(p + at_id, &raw_id, 4);
    std::memcpy(p + at_name_size, &name_size, 2);
    std::memcpy(p + dictionary_entry_header_size, name.data(), name.size());
    const std::uint32_t crc = crc32c({p + at_id, size - at_id});
    std::memcpy(p + at_crc, &crc, 4);
    return id;
}

rt::task<result<void, std::errc>> topic_dictionary::cut_torn_tail() {
    if (_file->size() == _good_size) {
        co_return result<void, std::errc>{};
    }
    co_return co_await _file->truncate(_good_size);
}

rt::task<result<void, std::errc>> topic_dictionary::write_pending() {
    if (_pending.empty()) {
        co_return result<void, std::errc>{};
    }
    // A previous failed write may have left a torn entry that could not be cut.
    auto repaired = co_await cut_torn_tail();
    if (!repaired) {
        co_return repaired.error();
    }
    const iovec v{_pending.data(), _pending.size()};
    auto written = co_await _file->append({&v, 1});
    if (!written) {
        auto cut = co_await cut_torn_tail(); // if this fails too, the next write retries
        (void)cut;
        co_return written.error();
    }
    _good_size += _pending.size();
    _pending.clear();
    co_return result<void, std::errc>{};
}

rt::task<result<void, std::errc>> topic_dictionary::sync() {
    if (_synced_size == _good_size) {
        co_return result<void, std::errc>{};
    }
    const std::uint64_t target = _good_size;
    auto synced = co_await _file->datasync();
    if (!synced) {
        co_return synced.error();
    }
    _synced_size = target;
    co_return result<void, std::errc>{};
}

rt::task<result<void, std::errc>> topic_dictionary::close() {
    co_return co_await _file->close();
}

} // namespace zama::commitlog
