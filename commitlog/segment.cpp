#include "commitlog/segment.hpp"

#include "base/log.hpp"
#include "commitlog/batch_reader.hpp"

#include <algorithm>
#include <cstdio>

namespace zama::commitlog {

namespace {

constexpr std::size_t stem_digits = 20;

std::string log_path(const std::string& dir, offset base) {
    return dir + "/" + segment::file_stem(base) + ".log";
}

std::string index_path(const std::string& dir, offset base) {
    return dir + "/" + segment::file_stem(base) + ".index";
}

} // namespace

std::string segment::file_stem(offset base) {
    char name[stem_digits + 1];
    std::snprintf(name, sizeof(name), "%020llu", static_cast<unsigned long long>(base));
    return name;
}

std::optional<offset> segment::parse_name(std::string_view name, std::string_view extension) {
    if (name.size() != stem_digits + extension.size() || !name.ends_with(extension)) {
        return std::nullopt;
    }
    offset base = 0;
    for (std::size_t i = 0; i < stem_digits; ++i) {
        const char c = name[i];
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        const auto digit = static_cast<offset>(c - '0');
        if (base > (~offset{0} - digit) / 10) {
            return std::nullopt;
        }
        base = base * 10 + digit;
    }
    return base;
}

segment::segment(std::string dir, offset base, segment_options options,
                 std::unique_ptr<rt::file> log, std::unique_ptr<segment_index> index) noexcept
    : _dir(std::move(dir))
    , _base(base)
    , _options(options)
    , _log(std::move(log))
    , _index(std::move(index))
    , _end(base) {}

segment::~segment() = default;

rt::task<result<std::shared_ptr<segment>, std::errc>>
segment::create(rt::file_system& fs, std::string dir, offset base, segment_options options) {
    auto log =
        co_await fs.open(log_path(dir, base), {.write = true, .create = true, .exclusive = true});
    if (!log) {
        co_return log.error();
    }
    auto index = co_await segment_index::open(fs, index_path(dir, base), 0, options.index_interval);
    if (!index) {
        co_return index.error();
    }
    co_return std::shared_ptr<segment>(
        new segment(dir, base, options, std::move(*log), std::move(*index)));
}

rt::task<result<std::shared_ptr<segment>, std::errc>>
segment::open(rt::file_system& fs, std::string dir, offset base, segment_options options,
              std::optional<offset> next_base, std::size_t known_topics, segment_recovery& report) {
    auto log = co_await fs.open(log_path(dir, base), {.write = true});
    if (!log) {
        co_return log.error();
    }
    if ((*log)->size() > 0xFFFF'FFFFu) {
        co_return std::errc::file_too_large; // not one of ours: segments stay under 4 GiB
    }
    const std::uint64_t size = (*log)->size();
    auto index =
        co_await segment_index::open(fs, index_path(dir, base), size, options.index_interval);
    if (!index) {
        co_return index.error();
    }
    std::shared_ptr<segment> s(new segment(dir, base, options, std::move(*log), std::move(*index)));
    if (next_base) {
        auto recovered = co_await s->recover_sealed(*next_base, report);
        if (!recovered) {
            co_return recovered.error();
        }
    } else {
        auto recovered = co_await s->recover_last(known_topics, report);
        if (!recovered) {
            co_return recovered.error();
        }
    }
    report.index_rebuilt = !s->_index->written();
    if (report.index_rebuilt) {
        // The index is a cache: failing to write it costs a rebuild next time.
        auto written = co_await s->_index->write();
        if (!written) {
            log::debug("segment {}/{}: index not written: {}", dir, file_stem(base),
                       std::make_error_code(written.error()).message());
        }
    }
    co_return s;
}

void segment::note_batch(std::uint64_t position, offset base, offset end, std::int64_t timestamp) {
    if (position == 0) {
        _first_timestamp = timestamp;
    }
    _last_timestamp = std::max(_last_timestamp, timestamp);
    _index->observe(base - _base, position);
    _end = end;
}

rt::task<result<void, std::errc>> segment::recover_last(std::size_t known_topics,
                                                        segment_recovery& report) {
    _index->begin_rebuild();
    batch_reader reader(*_log, 0, _log->size(), _options.read_chunk);
    offset expected = _base;
    std::uint64_t good = 0;
    for (;;) {
        auto f = co_await reader.next();
        if (!f) {
            co_return f.error();
        }
        if (!*f) {
            break; // the end, or a batch that does not check out: cut there
        }
        if ((*f)->header.base != expected) {
            break;
        }
        auto ids = check_records((*f)->bytes);
        if (!ids) {
            break;
        }
        if (ids->value() >= known_topics) {
            report.unknown_topic = true;
            break;
        }
        ++report.batches_checked;
        note_batch((*f)->position, (*f)->header.base, (*f)->header.end(), (*f)->header.timestamp);
        expected = (*f)->header.end();
        good = reader.position();
    }
    _index->end_rebuild();
    _size = good;
    report.truncated_bytes = _log->size() - good;
    co_return co_await cut_torn_tail();
}

rt::task<result<void, std::errc>> segment::recover_sealed(offset next_base,
                                                          segment_recovery& report) {
    _size = _log->size();
    if (_size == 0) {
        report.lost_records = next_base > _base ? next_base - _base : 0;
        co_return result<void, std::errc>{};
    }
    // The first timestamp is in the first batch header.
    {
        batch_reader first(*_log, 0, _size, batch_header_size);
        auto f = co_await first.next();
        if (!f) {
            co_return f.error();
        }
        if (*f) {
            _first_timestamp = (*f)->header.timestamp;
        }
    }
    // Only what follows the last index entry needs a scan; if the index
    // does not agree with the log there, it is rebuilt from the start.
    const auto last = _index->lookup(~std::uint64_t{0});
    if (last.position > 0) {
        batch_reader probe(*_log, last.position, _size, _options.read_chunk);
        auto f = co_await probe.next();
        if (!f) {
            co_return f.error();
        }
        if (*f && (*f)->header.base == _base + last.relative) {
            auto scanned =
                co_await scan_sealed(last.position, (*f)->header.base, next_base, report);
            co_return scanned;
        }
        // The index does not match the log (the open reports the rebuild).
        _index->begin_rebuild();
        auto scanned = co_await scan_sealed(0, _base, next_base, report);
        _index->end_rebuild();
        co_return scanned;
    }
    co_return co_await scan_sealed(0, _base, next_base, report);
}

rt::task<result<void, std::errc>> segment::scan_sealed(std::uint64_t from, offset expected,
                                                       offset next_base, segment_recovery& report) {
    batch_reader reader(*_log, from, _size, _options.read_chunk);
    for (;;) {
        auto f = co_await reader.next();
        if (!f) {
            co_return f.error();
        }
        if (*f && (*f)->header.base >= expected) {
            report.lost_records += (*f)->header.base - expected; // a gap, if any
            note_batch((*f)->position, (*f)->header.base, (*f)->header.end(),
                       (*f)->header.timestamp);
            expected = (*f)->header.end();
            continue;
        }
        if (*f) {
            reader.seek((*f)->position); // out of sequence: treated as damage
        } else if (reader.stopped() == batch_reader::stop::end) {
            break;
        }
        const std::uint64_t bad = reader.position();
        const offset end = std::max(expected, next_base);
        auto found = co_await reader.resync(expected, end);
        if (!found) {
            co_return found.error();
        }
        const segment_damage d{bad, *found ? (*found)->position : _size, expected,
                               *found ? (*found)->header.base : end};
        if (add_damage(d)) {
            ++report.damaged_regions;
        }
        report.skipped_bytes += d.resume - d.position;
        report.lost_records += d.lost_to - d.lost_from;
        expected = d.lost_to;
        if (!*found) {
            break;
        }
    }
    _end = std::max(_end, expected);
    if (expected < next_base) {
        report.lost_records += next_base - expected; // missing at the end
    }
    co_return result<void, std::errc>{};
}

std::pair<std::uint64_t, offset> segment::lookup(offset o) const noexcept {
    if (o <= _base) {
        return {0, _base};
    }
    const auto e = _index->lookup(o - _base);
    return {e.position, _base + e.relative};
}

segment_info segment::info() const noexcept {
    return {_base, _end, _size, _first_timestamp, _last_timestamp};
}

rt::task<result<void, std::errc>> segment::cut_torn_tail() {
    if (_log->size() == _size) {
        co_return result<void, std::errc>{};
    }
    co_return co_await _log->truncate(_size);
}

rt::task<result<void, std::errc>> segment::append(std::span<const std::uint8_t> bytes,
                                                  std::span<const batch_mark> marks) {
    ZAMA_ASSERT(_size + bytes.size() <= 0xFFFF'FFFFu, "segment past 4 GiB");
    // An earlier failed append may have left a tail its cut could not remove.
    auto repaired = co_await cut_torn_tail();
    if (!repaired) {
        co_return repaired.error();
    }
    const iovec v{const_cast<std::uint8_t*>(bytes.data()), bytes.size()};
    auto written = co_await _log->append({&v, 1});
    if (!written) {
        auto cut = co_await cut_torn_tail(); // else the next append retries
        (void)cut;
        co_return written.error();
    }
    for (const batch_mark& m : marks) {
        note_batch(_size + m.position, m.base, m.end, m.timestamp);
    }
    _size += bytes.size();
    co_return result<void, std::errc>{};
}

rt::task<void> segment::write_index() {
    if (!_index->written()) {
        auto written = co_await _index->write();
        if (!written) {
            log::debug("segment {}/{}: index not written: {}", _dir, file_stem(_base),
                       std::make_error_code(written.error()).message());
        }
    }
}

rt::task<result<void, std::errc>> segment::flush() {
    co_await write_index();
    co_return co_await _log->datasync();
}

rt::task<result<void, std::errc>> segment::close() {
    if (!_index->written()) {
        auto written = co_await _index->write();
        (void)written; // rebuilt on the next open if it failed
    }
    auto index_closed = co_await _index->close();
    auto log_closed = co_await _log->close();
    if (!log_closed) {
        co_return log_closed.error();
    }
    co_return index_closed;
}

rt::task<result<void, std::errc>> segment::remove(rt::file_system& fs) {
    // The log first: an index left behind alone is removed at the next open.
    auto removed = co_await fs.remove(log_path(_dir, _base));
    if (!removed) {
        co_return removed.error();
    }
    auto index_removed = co_await fs.remove(index_path(_dir, _base));
    (void)index_removed;
    co_return result<void, std::errc>{};
}

const segment_damage* segment::damage_at(std::uint64_t position) const noexcept {
    auto it = _damage.upper_bound(position);
    if (it == _damage.begin()) {
        return nullptr;
    }
    --it;
    return position < it->second.resume ? &it->second : nullptr;
}

bool segment::add_damage(const segment_damage& d) {
    if (damage_at(d.position) != nullptr) {
        return false;
    }
    _damage.emplace(d.position, d);
    return true;
}

} // namespace zama::commitlog
