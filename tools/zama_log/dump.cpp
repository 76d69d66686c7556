// `zama-log dump`: one line per record of a partition, from an offset on.

#include "commitlog/batch_format.hpp"
#include "mqtt/topic.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "commands.hpp"
#include "dictionary_scan.hpp"
#include "progress.hpp"
#include "segment_scan.hpp"
#include "text.hpp"

namespace zama::inspect {

namespace {

// Ids past the dictionary get a placeholder name, up to this many more: a
// batch naming an id further out is reported instead of decoded.
constexpr std::size_t max_unknown_ids = std::size_t{1} << 16;

/// Topic names by id for decode_batch: the dictionary's, and a placeholder
/// for each id it does not hold. A placeholder holds '#', which no topic
/// name can, so it cannot be taken for a real name.
class topic_names {
  public:
    explicit topic_names(std::vector<std::string> names)
        : _names(std::move(names))
        , _known(_names.size()) {
        for (std::size_t id = 0; id < _names.size(); ++id) {
            if (_names[id].empty()) {
                _names[id] = placeholder(id);
            }
        }
    }

    /// Makes ids up to `max_id` decodable; false if it is absurdly far out.
    bool cover(std::uint32_t max_id) {
        if (max_id < _names.size()) {
            return true;
        }
        if (max_id >= _known + max_unknown_ids) {
            return false;
        }
        while (_names.size() <= max_id) {
            _names.push_back(placeholder(_names.size()));
        }
        return true;
    }

    std::span<const std::string> all() const noexcept { return _names; }
    static bool unknown(std::string_view name) noexcept {
        return name.find('#') != std::string_view::npos;
    }

  private:
    static std::string placeholder(std::size_t id) {
        return fmt::format("#unknown-topic-id-{}", id);
    }

    std::vector<std::string> _names;
    std::size_t _known;
};

class dumper {
  public:
    dumper(const log_options& o, const partition_files& files, topic_names names, progress& bar)
        : _o(o)
        , _files(files)
        , _names(std::move(names))
        , _bar(bar)
        , _from(o.from.value_or(0))
        , _left(o.count.value_or(std::numeric_limits<std::uint64_t>::max())) {}

    /// Dumps from segment `first` on; false on an I/O error (printed).
    result<void, tool_error> run(std::size_t first);
    bool met_damage() const noexcept { return _met_damage; }

  private:
    result<void, tool_error> segment(std::size_t i, std::uint64_t scanned_before);
    /// Prints the records of a batch from _from on; false once --count is reached.
    bool print(const walk_step& step, std::string_view log_name);
    void report(const std::string& line) {
        _bar.clear();
        std::fflush(stdout);
        fmt::print(stderr, "{}\n", line);
    }

    const log_options& _o;
    const partition_files& _files;
    topic_names _names;
    progress& _bar;
    offset _from;
    std::uint64_t _left;
    bool _met_damage = false;
};

result<void, tool_error> dumper::run(std::size_t first) {
    std::uint64_t scanned = 0;
    std::uint64_t total = 0;
    for (std::size_t i = first; i < _files.segments.size(); ++i) {
        total += _files.segments[i].log_size;
    }
    _bar.start(fmt::format("partition {}", _files.id.value()), total);
    for (std::size_t i = first; i < _files.segments.size() && _left > 0; ++i) {
        auto done = segment(i, scanned);
        if (!done) {
            return done;
        }
        scanned += _files.segments[i].log_size;
    }
    _bar.clear();
    return {};
}

result<void, tool_error> dumper::segment(std::size_t i, std::uint64_t scanned_before) {
    const segment_files& s = _files.segments[i];
    auto opened = open_segment(_files, i);
    if (!opened) {
        return opened.error();
    }
    read_only_file& f = *opened->log;
    const index_scan& index = opened->index;
    const std::optional<offset> next_base = opened->next_base;
    const bool last = !next_base;
    std::uint64_t position = 0;
    offset expected = s.base;
    if (_from > s.base) {
        if (auto e = index.lookup(_from - s.base, f.size())) {
            position = e->position;
            expected = s.base + e->relative;
        }
    }
    std::optional<segment_walker> walker;
    walker.emplace(f, position, expected, next_base);
    bool first = position > 0;
    while (_left > 0) {
        auto step = walker->next();
        if (!step) {
            return read_failure(s.log_path, step.error());
        }
        _bar.update(scanned_before + walker->position());
        if (first &&
            (step->what != walk_step::kind::batch || step->batch.header.base != step->expected)) {
            walker.emplace(f, 0, s.base, next_base); // the index is wrong: from the start
            first = false;
            continue;
        }
        first = false;
        if (step->what == walk_step::kind::end) {
            break;
        }
        if (step->what == walk_step::kind::damage) {
            const std::uint64_t bytes = step->resume - step->position;
            if (last && !step->resume_base) {
                report(fmt::format("{}: byte {}: torn tail (recovery will cut {} bytes): {}",
                                   s.log_name, step->position, bytes, step->why));
            } else {
                _met_damage = true;
                report(fmt::format("{}: byte {}: damaged, {} bytes skipped: {}", s.log_name,
                                   step->position, bytes, step->why));
            }
            continue;
        }
        if (step->batch.header.end() <= _from) {
            continue;
        }
        if (!print(*step, s.log_name)) {
            break;
        }
    }
    return {};
}

bool dumper::print(const walk_step& step, std::string_view log_name) {
    const auto& framed = step.batch;
    auto max_id = commitlog::check_records(framed.bytes);
    if (!max_id || !_names.cover(max_id->value())) {
        _met_damage = true;
        report(fmt::format(
            "{}: byte {}: batch of offsets [{}, {}) not shown: {}", log_name, framed.position,
            framed.header.base, framed.header.end(),
            max_id ? fmt::format("it names topic id {}, far past the dictionary", max_id->value())
                   : std::string(commitlog::describe(max_id.error()))));
        return true;
    }
    auto batch = commitlog::decode_batch(framed.bytes, _files.id, _names.all());
    if (!batch) {
        _met_damage = true;
        report(fmt::format("{}: byte {}: batch of offsets [{}, {}) not shown: {}", log_name,
                           framed.position, framed.header.base, framed.header.end(),
                           commitlog::describe(batch.error())));
        return true;
    }
    const std::string time = iso8601(framed.header.timestamp);
    for (std::size_t i = 0; i < (*batch)->size() && _left > 0; ++i) {
        const commitlog::record& r = (*batch)->at(i);
        if (r.at < _from) {
            continue;
        }
        const std::string_view topic = (*batch)->topic(r);
        if (_o.topic && (topic_names::unknown(topic) || !mqtt::topic_matches(*_o.topic, topic))) {
            continue;
        }
        _bar.clear();
        fmt::print("{} {} {} qos={} retain={} size={} {}\n", r.at, time, topic_word(topic),
                   r.flags.qos, r.flags.retain ? 1 : 0, r.payload_size,
                   payload_preview((*batch)->payload(r)));
        --_left;
    }
    return _left > 0;
}

} // namespace

int dump_records(const log_options& o) {
    auto opened = open_selection(o.dir, o.partition);
    if (!opened) {
        return fail(opened.error());
    }
    const data_dir_view& d = opened->dir;
    const std::vector<partition_id>& selected = opened->partitions;
    if (o.topic && mqtt::validate_topic_filter(*o.topic)) {
        return fail({fmt::format("--topic {}: not a valid MQTT topic filter", *o.topic)});
    }
    auto files = list_partition(d, selected.front());
    if (!files) {
        return fail(files.error());
    }
    if (!files->exists || files->segments.empty()) {
        fmt::print(stderr, "zama-log: partition {} holds no records\n", files->id.value());
        return exit_ok;
    }
    auto dict = scan_dictionary(files->dictionary_path);
    if (!dict) {
        return fail(read_failure(files->dictionary_path, dict.error()));
    }
    const offset start = files->segments.front().base;
    const offset from = o.from.value_or(start);
    if (from < start) {
        fmt::print(stderr,
                   "zama-log: partition {} starts at offset {} (older records were "
                   "deleted by retention)\n",
                   files->id.value(), start);
    }
    // The segment holding `from`: the last one starting at or before it.
    const auto& segs = files->segments;
    auto it = std::upper_bound(segs.begin(), segs.end(), from,
                               [](offset at, const segment_files& s) { return at < s.base; });
    const std::size_t first =
        it == segs.begin() ? 0 : static_cast<std::size_t>(it - segs.begin()) - 1;

    // With records scrolling on the terminal, a progress line would only get in the way.
    progress bar(stderr_is_terminal() && !stdout_is_terminal());
    log_options effective = o;
    effective.from = from;
    dumper dump(effective, *files, topic_names(std::move(dict->names)), bar);
    auto done = dump.run(first);
    std::fflush(stdout);
    if (!done) {
        return fail(done.error());
    }
    return dump.met_damage() ? exit_damage : exit_ok;
}

} // namespace zama::inspect
