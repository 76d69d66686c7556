#include "commitlog/disk_log.hpp"

#include "base/clock.hpp"
#include "base/errc.hpp"
#include "base/log.hpp"
#include "commitlog/batch_format.hpp"
#include "commitlog/batch_reader.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

namespace zama::commitlog {

namespace {

constexpr std::string_view dictionary_name = "topics.dict";
// Segment positions are 32-bit (segment_index.hpp).
constexpr std::uint64_t max_segment_size = 0xFFFF'FFFFu;

std::string parent_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

/// Marks the log as being written for the scope; writers must not overlap.
class writer_scope {
  public:
    explicit writer_scope(bool& writing) noexcept
        : _writing(writing) {
        ZAMA_ASSERT(!_writing, "disk_log writers overlap (append/flush/retention/close)");
        _writing = true;
    }
    writer_scope(const writer_scope&) = delete;
    writer_scope& operator=(const writer_scope&) = delete;
    ~writer_scope() { _writing = false; }

  private:
    bool& _writing;
};

} // namespace

disk_log::disk_log(rt::file_system& fs, std::string dir, partition_id p,
                   disk_log_options options) noexcept
    : _fs(fs)
    , _dir(std::move(dir))
    , _partition(p)
    , _options(options) {}

disk_log::~disk_log() = default;

segment_options disk_log::seg_options() const noexcept {
    return {_options.index_interval_bytes, _options.read_chunk_bytes};
}

rt::task<result<std::unique_ptr<disk_log>, std::errc>>
disk_log::open(rt::file_system& fs, std::string dir, partition_id p, disk_log_options options) {
    ZAMA_ASSERT(options.segment_bytes > 0 && options.segment_bytes <= max_segment_size,
                "segment_bytes must be within (0, 4 GiB)");
    ZAMA_ASSERT(options.index_interval_bytes > 0, "index interval of 0");
    auto made = co_await fs.make_directory(dir);
    if (!made && made.error() != std::errc::file_exists) {
        co_return made.error();
    }
    std::unique_ptr<disk_log> log(new disk_log(fs, dir, p, options));
    if (made) {
        log->_directory_dirty = true;
        auto parent_synced = co_await fs.sync_directory(parent_of(dir));
        if (!parent_synced) {
            co_return parent_synced.error();
        }
    }
    auto recovered = co_await log->recover();
    if (!recovered) {
        co_return recovered.error();
    }
    co_return log;
}

rt::task<result<void, std::errc>> disk_log::recover() {
    auto names = co_await _fs.list(_dir);
    if (!names) {
        co_return names.error();
    }
    auto dictionary =
        co_await topic_dictionary::open(_fs, _dir + "/" + std::string(dictionary_name));
    if (!dictionary) {
        co_return dictionary.error();
    }
    _dictionary = std::move(*dictionary);
    recovery_report& r = _recovered;
    r.topics = _dictionary->size();
    r.dictionary_truncated_bytes = _dictionary->recovered().truncated_bytes;
    r.dictionary_damaged_bytes = _dictionary->recovered().skipped_bytes;

    std::vector<offset> bases;
    std::set<offset> indexes;
    for (const std::string& name : *names) {
        if (auto base = segment::parse_name(name, ".log")) {
            bases.push_back(*base);
        } else if (auto indexed = segment::parse_name(name, ".index")) {
            indexes.insert(*indexed);
        }
    }
    std::sort(bases.begin(), bases.end());
    for (offset base : indexes) {
        if (!std::binary_search(bases.begin(), bases.end(), base)) {
            auto removed = co_await _fs.remove(_dir + "/" + segment::file_stem(base) + ".index");
            if (removed) {
                ++r.stray_files_removed;
            }
        }
    }

    std::uint64_t regions = 0;
    for (std::size_t i = 0; i < bases.size(); ++i) {
        const std::optional<offset> next =
            i + 1 < bases.size() ? std::optional<offset>(bases[i + 1]) : std::nullopt;
        segment_recovery sr;
        auto s = co_await segment::open(_fs, _dir, bases[i], seg_options(), next,
                                        _dictionary->names().size(), sr);
        if (!s) {
            log::error("partition {}: cannot open segment {} in {}: {}", _partition.value(),
                       segment::file_stem(bases[i]), _dir, message_of(s.error()));
            co_return s.error();
        }
        r.batches_checked += sr.batches_checked;
        r.truncated_bytes += sr.truncated_bytes;
        r.truncated_unknown_topic = r.truncated_unknown_topic || sr.unknown_topic;
        r.indexes_rebuilt += sr.index_rebuilt ? 1 : 0;
        r.damaged_bytes += sr.skipped_bytes;
        r.lost_records += sr.lost_records;
        regions += sr.damaged_regions;
        _bytes += (*s)->size();
        _segments.push_back(std::move(*s));
    }
    if (_segments.empty()) {
        auto s = co_await segment::create(_fs, _dir, 0, seg_options());
        if (!s) {
            co_return s.error();
        }
        _segments.push_back(std::move(*s));
        _directory_dirty = true;
    }
    _end = _segments.back()->end();
    _damage.regions = regions;
    _damage.bytes = r.damaged_bytes;
    _damage.records = r.lost_records;

    // What survived may sit unsynced in the page cache (a process crash):
    // sync it before calling it durable.
    auto flushed = co_await flush();
    if (!flushed) {
        co_return flushed.error();
    }

    r.segments = _segments.size();
    r.start = start();
    r.end = _end;
    r.bytes = _bytes;
    const bool trouble = r.truncated_bytes > 0 || r.damaged_bytes > 0 || r.lost_records > 0 ||
                         r.dictionary_truncated_bytes > 0 || r.dictionary_damaged_bytes > 0;
    // A clean open is a debug line (the owner logs a summary); repairs are
    // worth a line each.
    const bool repaired = r.indexes_rebuilt > 0 || r.stray_files_removed > 0;
    log::log(trouble    ? spdlog::level::warn
             : repaired ? spdlog::level::info
                        : spdlog::level::debug,
             "partition {}: recovered offsets [{}, {}) in {} segments ({} bytes), {} topics; "
             "last segment: {} batches checked, {} bytes cut{}; {} indexes rebuilt; sealed "
             "segments: {} damaged bytes, {} records lost; dictionary: {} bytes cut, {} damaged "
             "bytes skipped",
             _partition.value(), r.start, r.end, r.segments, r.bytes, r.topics, r.batches_checked,
             r.truncated_bytes,
             r.truncated_unknown_topic ? " (at a batch of an unknown topic)" : "",
             r.indexes_rebuilt, r.damaged_bytes, r.lost_records, r.dictionary_truncated_bytes,
             r.dictionary_damaged_bytes);
    co_return result<void, std::errc>{};
}

offset disk_log::start() const noexcept {
    return _segments.empty() ? _end : _segments.front()->base();
}

std::vector<segment_info> disk_log::segments() const {
    std::vector<segment_info> out;
    out.reserve(_segments.size());
    for (const auto& s : _segments) {
        out.push_back(s->info());
    }
    return out;
}

bool disk_log::should_roll(std::int64_t timestamp) const noexcept {
    const segment& active = *_segments.back();
    if (active.empty()) {
        return false;
    }
    if (active.size() >= _options.segment_bytes) {
        return true;
    }
    return _options.segment_ms > 0 &&
           timestamp - active.info().first_timestamp >= _options.segment_ms;
}

rt::task<result<void, std::errc>> disk_log::roll(offset base) {
    // Everything but the last segment is durable in full: recovery only
    // has to verify the last one (unless the policy syncs nothing).
    if (_options.sync_on_roll && _options.shard_journal != nullptr) {
        // Synced in full here too, not through the journal: a replay can
        // only append at the log's end, never fill a hole in a sealed segment.
        const offset target = _end;
        auto synced = co_await sync_files();
        if (!synced) {
            _sync_failed = true;
            co_return synced.error();
        }
        _unjournaled.clear();
        _durable_end = std::max(_durable_end, target);
    } else if (_options.sync_on_roll) {
        auto flushed = co_await flush_locked();
        if (!flushed) {
            co_return flushed.error();
        }
    } else {
        co_await _segments.back()->write_index();
        _sealed_unsynced.push_back(_segments.back()); // for the next flush (shutdown)
    }
    auto s = co_await segment::create(_fs, _dir, base, seg_options());
    if (!s) {
        co_return s.error();
    }
    _segments.push_back(std::move(*s));
    _directory_dirty = true;
    co_return result<void, std::errc>{};
}

rt::task<result<void, std::errc>> disk_log::append(std::span<const batch_ptr> batches) {
    writer_scope writing(_writing);
    _buffer.clear();
    _marks.clear();
    std::int64_t now = 0;
    offset next = _end;
    for (const batch_ptr& b : batches) {
        ZAMA_ASSERT(b->partition() == _partition, "batch of another partition");
        ZAMA_ASSERT(b->base() == next, "batch appended out of order");
        if (b->empty()) {
            continue;
        }
        // Records of a batch often share a topic: look it up once per run.
        _ids.clear();
        std::string_view last_topic;
        topic_id last_id{};
        for (std::size_t i = 0; i < b->size(); ++i) {
            const std::string_view t = b->topic(b->at(i));
            if (i == 0 || t != last_topic) {
                last_topic = t;
                last_id = _dictionary->intern(t);
            }
            _ids.push_back(last_id);
        }
        std::int64_t timestamp = b->timestamp();
        if (timestamp == 0) {
            now = now != 0 ? now : wall_clock_ms();
            timestamp = now;
        }
        const std::uint64_t position = _buffer.size();
        encode_batch(*b, timestamp, _ids, _buffer);
        _marks.push_back({position, b->base(), b->end(), timestamp});
        next = b->end();
    }
    if (_marks.empty()) {
        co_return result<void, std::errc>{};
    }
    co_return co_await write_buffer(next);
}

rt::task<result<void, std::errc>> disk_log::write_buffer(offset next) {
    ZAMA_ASSERT(_buffer.size() <= max_segment_size, "one append larger than a segment can hold");
    const segment& active = *_segments.back();
    if (should_roll(_marks.front().timestamp) ||
        (!active.empty() && active.size() + _buffer.size() > max_segment_size)) {
        auto rolled = co_await roll(_end);
        if (!rolled) {
            co_return rolled.error();
        }
    }
    // Names before the batches that use them.
    auto names_written = co_await _dictionary->write_pending();
    if (!names_written) {
        co_return names_written.error();
    }
    auto written = co_await _segments.back()->append(_buffer, _marks);
    if (!written) {
        log::warn("partition {}: append of offsets [{}, {}) failed: {}", _partition.value(), _end,
                  next, message_of(written.error()));
        co_return written.error();
    }
    _end = next;
    _bytes += _buffer.size();
    if (_options.shard_journal != nullptr) {
        if (_unjournaled.empty()) {
            std::swap(_unjournaled, _buffer); // both keep their capacity
        } else {
            _unjournaled.insert(_unjournaled.end(), _buffer.begin(), _buffer.end());
        }
    }
    co_return result<void, std::errc>{};
}

rt::task<result<std::uint64_t, std::errc>>
disk_log::restore(std::span<const std::uint8_t> encoded) {
    writer_scope writing(_writing);
    _buffer.clear();
    _marks.clear();
    offset next = _end;
    std::uint64_t records = 0;
    while (!encoded.empty()) {
        auto h = read_header(encoded);
        if (!h || h->length > encoded.size() || !check_crc(*h, encoded.first(h->length))) {
            log::error("partition {}: a journal batch at offset {} does not check; the journal's "
                       "later batches for this partition are not restored",
                       _partition.value(), next);
            co_return std::errc::invalid_argument;
        }
        const auto batch = encoded.first(h->length);
        encoded = encoded.subspan(h->length);
        if (h->end() <= next) {
            continue; // already in the log
        }
        auto ids = check_records(batch);
        if (h->base != next || !ids || ids->value() >= _dictionary->names().size()) {
            log::error("partition {}: the journal's batch [{}, {}) does not follow the log's end "
                       "{} or names an unknown topic; it and the later ones are not restored",
                       _partition.value(), h->base, h->end(), next);
            co_return std::errc::invalid_argument;
        }
        _marks.push_back({_buffer.size(), h->base, h->end(), h->timestamp});
        _buffer.insert(_buffer.end(), batch.begin(), batch.end());
        records += h->count;
        next = h->end();
    }
    if (_marks.empty()) {
        co_return records;
    }
    auto written = co_await write_buffer(next);
    if (!written) {
        co_return written.error();
    }
    co_return records;
}

rt::task<result<void, std::errc>> disk_log::flush() {
    writer_scope writing(_writing);
    co_return co_await flush_locked();
}

rt::task<result<void, std::errc>> disk_log::flush_locked() {
    if (_sync_failed) {
        co_return std::errc::io_error;
    }
    const offset target = _end;
    if (_options.shard_journal != nullptr && !_options.shard_journal->broken()) {
        // The segment is synced by the journal's checkpoints; what must be
        // durable now is what recovery cannot rebuild from the journal:
        // names of new topics, and the entries of segments created since
        // (both rare, both small).
        auto names = co_await _dictionary->sync();
        result<void, std::errc> dir{};
        if (_directory_dirty) {
            dir = co_await _fs.sync_directory(_dir);
        }
        if (names && dir) {
            _directory_dirty = false;
            auto committed = co_await _options.shard_journal->commit(_partition, _unjournaled);
            if (committed) {
                _unjournaled.clear();
                _durable_end = std::max(_durable_end, target);
                co_return result<void, std::errc>{};
            }
        }
        // Syncing our own files below says whether the fault is ours.
    }
    _unjournaled.clear();
    sync_group* group = _options.group;
    if (group != nullptr && group->failures() == _group_failures_seen) {
        // Appends never overlap a flush, so the round covers everything
        // this log wrote: dictionary, directory entries and segment. A
        // round that failed meanwhile (another anchor, or this one before
        // our round) may have been the one to report an error in our files.
        const std::uint64_t failures = group->failures();
        co_await _segments.back()->write_index();
        auto synced = co_await group->sync();
        if (synced && group->failures() == failures) {
            _dictionary->synced_elsewhere();
            _directory_dirty = false;
            _sealed_unsynced.clear();
            _durable_end = std::max(_durable_end, target);
            co_return result<void, std::errc>{};
        }
        // The error may be any file's on the filesystem: ours say.
    }
    const std::uint64_t failures = group != nullptr ? group->failures() : 0;
    auto synced = co_await sync_files();
    if (!synced) {
        _sync_failed = true;
        co_return synced.error();
    }
    _group_failures_seen = failures;
    _durable_end = std::max(_durable_end, target);
    co_return result<void, std::errc>{};
}

rt::task<result<void, std::errc>> disk_log::sync_files() {
    auto fail = [this](std::errc e, const char* what) {
        log::error("partition {}: {} failed: {}; nothing more is durable until the log is reopened",
                   _partition.value(), what, message_of(e));
        return e;
    };
    auto names = co_await _dictionary->sync();
    if (!names) {
        co_return fail(names.error(), "dictionary sync");
    }
    if (_directory_dirty) {
        auto dir = co_await _fs.sync_directory(_dir);
        if (!dir) {
            co_return fail(dir.error(), "directory sync");
        }
        _directory_dirty = false;
    }
    // Segments sealed without a sync (sync_on_roll off) before the active one.
    const std::vector<std::shared_ptr<segment>> sealed = std::exchange(_sealed_unsynced, {});
    for (const auto& s : sealed) {
        auto flushed = co_await s->flush();
        if (!flushed) {
            co_return fail(flushed.error(), "sealed segment sync");
        }
    }
    auto synced = co_await _segments.back()->flush();
    if (!synced) {
        co_return fail(synced.error(), "segment sync");
    }
    co_return result<void, std::errc>{};
}

void disk_log::note_damage(segment& seg, const segment_damage& d, const char* why) {
    if (!seg.add_damage(d)) {
        return;
    }
    ++_damage.regions;
    _damage.bytes += d.resume - d.position;
    _damage.records += d.lost_to - d.lost_from;
    log::warn("partition {}: segment {}: {} bytes at position {} unreadable ({}); records [{}, {}) "
              "lost",
              _partition.value(), segment::file_stem(seg.base()), d.resume - d.position, d.position,
              why, d.lost_from, d.lost_to);
}

rt::task<result<std::vector<batch_ptr>, std::errc>> disk_log::read(offset from,
                                                                   std::size_t max_bytes) {
    std::vector<batch_ptr> out;
    std::size_t bytes = 0;
    from = std::max(from, start());
    while (from < _end && !_segments.empty()) {
        // The segment holding `from`: the last one starting at or before it.
        auto it = std::upper_bound(_segments.begin(), _segments.end(), from,
                                   [](offset o, const auto& s) { return o < s->base(); });
        if (it == _segments.begin()) {
            from = start(); // retention moved the start while we read
            continue;
        }
        std::shared_ptr<segment> seg = *std::prev(it);
        // Iterators do not survive the awaits below (rolls, retention).
        const bool last = it == _segments.end();
        const offset limit_end = last ? seg->end() : (*it)->base();
        auto done = co_await read_segment(seg, limit_end, from, max_bytes, bytes, out);
        if (!done) {
            if (out.empty()) {
                co_return done.error();
            }
            break; // what was read so far is good
        }
        if (*done || last || seg == _segments.back()) {
            break;
        }
        from = std::max(from, limit_end);
    }
    co_return out;
}

rt::task<result<bool, std::errc>> disk_log::read_segment(std::shared_ptr<segment> seg,
                                                         offset limit_end, offset& from,
                                                         std::size_t max_bytes, std::size_t& bytes,
                                                         std::vector<batch_ptr>& out) {
    auto [position, expected] = seg->lookup(from);
    batch_reader reader(seg->log_file(), position, seg->size(), _options.read_chunk_bytes);
    bool first = position > 0;
    for (;;) {
        if (const segment_damage* d = seg->damage_at(reader.position())) {
            expected = std::max(expected, d->lost_to);
            reader.seek(d->resume);
            first = false;
            continue;
        }
        auto f = co_await reader.next();
        if (!f) {
            co_return f.error();
        }
        if (first && (*f ? (*f)->header.base != expected
                         : reader.stopped() == batch_reader::stop::invalid)) {
            // The index points elsewhere than it says (or at damage, which
            // a scan from the start finds and records): read from the start.
            log::warn("partition {}: segment {}: no batch {} at index position {}; scanning",
                      _partition.value(), segment::file_stem(seg->base()), expected, position);
            reader.seek(0);
            expected = seg->base();
            first = false;
            continue;
        }
        first = false;
        if (*f && (*f)->header.base < expected) {
            reader.seek((*f)->position); // out of sequence: damage
            *f = std::nullopt;
        } else if (!*f && reader.stopped() == batch_reader::stop::end) {
            co_return false;
        }
        if (!*f) {
            const std::uint64_t bad = reader.position();
            const offset end = std::max(expected, limit_end);
            auto found = co_await reader.resync(expected, end);
            if (!found) {
                co_return found.error();
            }
            note_damage(*seg,
                        {bad, *found ? (*found)->position : seg->size(), expected,
                         *found ? (*found)->header.base : end},
                        "CRC mismatch or torn batch");
            if (!*found) {
                co_return false;
            }
            expected = (*found)->header.base;
            continue;
        }
        const batch_header h = (*f)->header;
        expected = h.end();
        if (h.end() <= from) {
            continue; // before what was asked: not decoded
        }
        auto batch = decode_batch((*f)->bytes, _partition, _dictionary->names());
        if (!batch) {
            note_damage(*seg, {(*f)->position, (*f)->position + h.length, h.base, h.end()},
                        describe(batch.error()));
            continue;
        }
        out.push_back(std::move(*batch));
        bytes += h.length;
        from = h.end();
        if (bytes >= max_bytes) {
            co_return true;
        }
    }
}

rt::task<result<retention_report, std::errc>> disk_log::apply_retention(std::int64_t now_ms) {
    writer_scope writing(_writing);
    retention_report report;
    while (_segments.size() > 1) {
        const segment_info oldest = _segments.front()->info();
        const bool by_bytes = _options.retention_bytes && _bytes > *_options.retention_bytes;
        const bool by_age =
            _options.retention_ms && oldest.last_timestamp <= now_ms - *_options.retention_ms;
        if (!by_bytes && !by_age) {
            break;
        }
        auto removed = co_await _segments.front()->remove(_fs);
        if (!removed) {
            log::error("partition {}: retention cannot remove segment {}: {}", _partition.value(),
                       segment::file_stem(oldest.base), message_of(removed.error()));
            if (report.segments_removed == 0) {
                co_return removed.error();
            }
            break;
        }
        const offset next_base = _segments[1]->base();
        ++report.segments_removed;
        report.bytes_removed += oldest.size_bytes;
        report.records_removed += next_base - oldest.base;
        _bytes -= oldest.size_bytes;
        std::erase(_sealed_unsynced, _segments.front());
        _segments.erase(_segments.begin());
    }
    report.start = start();
    if (report.segments_removed > 0) {
        auto synced = co_await _fs.sync_directory(_dir);
        if (!synced) {
            co_return synced.error();
        }
        log::info("partition {}: retention removed {} segments ({} bytes, {} records); the log "
                  "starts at {}",
                  _partition.value(), report.segments_removed, report.bytes_removed,
                  report.records_removed, report.start);
    }
    co_return report;
}

rt::task<result<void, std::errc>> disk_log::close() {
    writer_scope writing(_writing);
    result<void, std::errc> outcome;
    for (const auto& s : _segments) {
        auto closed = co_await s->close();
        if (!closed && outcome) {
            outcome = closed.error();
        }
    }
    auto closed = co_await _dictionary->close();
    if (!closed && outcome) {
        outcome = closed.error();
    }
    co_return outcome;
}

} // namespace zama::commitlog
