// `zama-log verify`: every byte of a data directory checked, read-only.
//
// What it checks, per partition:
// - the topic dictionary: every entry's CRC, duplicate ids or names; a torn
//   last entry is a torn tail;
// - every batch of every segment: framing, header sanity, CRC32C, records
//   that parse, topic ids the dictionary holds;
// - offsets: contiguous between the batches of a segment and between
//   segments (the next segment starts where this one ends);
// - every index entry: it points at the start of a batch holding the offset
//   it says.
//
// What counts as damage, and what recovery would do about it, follows the
// commit log (segment.cpp, topic_dictionary.cpp). In the last segment of a
// partition recovery cuts at the first problem; if nothing intact follows,
// that is a torn tail (an append that did not finish, or batches written
// after the dictionary's last sync), which is not damage unless --strict.
// If intact batches follow, recovery would lose them: damage. The index of
// the last segment is rebuilt on open, so its problems are notes there.

#include "commitlog/batch_format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "commands.hpp"
#include "dictionary_scan.hpp"
#include "progress.hpp"
#include "segment_scan.hpp"
#include "text.hpp"

namespace zama::inspect {

namespace {

struct totals {
    std::uint64_t partitions = 0;
    std::uint64_t batches = 0;
    std::uint64_t bytes = 0;
    std::uint64_t damaged = 0;    // regions
    std::uint64_t torn_tails = 0; // counted as damage too with --strict
};

class verifier {
  public:
    verifier(bool strict, progress& bar) noexcept
        : _strict(strict)
        , _bar(bar) {}

    result<void, tool_error> partition(const partition_files& files, std::uint32_t count);
    const totals& sum() const noexcept { return _sum; }
    /// A line of output (problems, notes, summaries).
    void say(const std::string& line) {
        _bar.clear();
        fmt::print("{}\n", line);
    }

    void damage(std::string_view file, std::uint64_t position, std::string_view what) {
        ++_sum.damaged;
        ++_partition_damage;
        say(fmt::format("{}: byte {}: {}", file, position, what));
    }
    void note(std::string_view file, std::string_view what) {
        say(fmt::format("{}: note: {}", file, what));
    }
    void torn_tail(std::string_view file, std::uint64_t position, std::uint64_t bytes,
                   std::string_view why) {
        ++_sum.torn_tails;
        _partition_torn += bytes;
        if (_strict) {
            ++_sum.damaged;
            ++_partition_damage;
        }
        say(fmt::format("{}: byte {}: torn tail (recovery will cut {} bytes): {}", file, position,
                        bytes, why));
    }

  private:
    result<void, tool_error> segment(const partition_files& files, std::size_t i,
                                     const dictionary_scan& dict, std::uint64_t scanned_before,
                                     offset& end);
    void dictionary(const partition_files& files, const dictionary_scan& dict);

    bool _strict;
    progress& _bar;
    totals _sum;
    std::uint64_t _partition_damage = 0;
    std::uint64_t _partition_torn = 0; // bytes
    /// The largest topic id past the dictionary that a sealed segment names.
    std::optional<std::uint32_t> _max_sealed_past_id;
};

/// Checks a segment's index entries against the batches the walk finds, in
/// one pass (both are in position order). Problems are damage, or notes in
/// the last segment, whose index recovery rebuilds.
class index_checker {
  public:
    index_checker(verifier& v, const segment_files& s, const index_scan& index,
                  std::uint64_t log_size, bool rebuilt_on_open)
        : _v(v)
        , _s(s)
        , _log_size(log_size)
        , _rebuilt(rebuilt_on_open) {
        if (!index.present || index.file_size == 0) {
            _v.note(s.index_name, index.present ? "empty index (written at the next flush or "
                                                  "open)"
                                                : "no index file (rebuilt on open)");
            return;
        }
        if (index.version != commitlog::index_format_version) {
            problem(0, fmt::format("unknown index format version {} (expected {})", *index.version,
                                   commitlog::index_format_version));
            return;
        }
        if (index.stray_bytes > 0) {
            problem(index.file_size - index.stray_bytes,
                    fmt::format("partial entry of {} bytes at the end", index.stray_bytes));
        }
        for (std::size_t k = 0; k < index.entries.size(); ++k) {
            const auto& e = index.entries[k];
            if (e.position == 0) {
                problem(entry_byte(k), fmt::format("entry for offset {} points at byte 0 (the "
                                                   "index never records the first batch)",
                                                   s.base + e.relative));
                continue;
            }
            if (!_entries.empty() && (e.relative <= _entries.back().second.relative ||
                                      e.position <= _entries.back().second.position)) {
                problem(entry_byte(k),
                        fmt::format("entry for offset {} at byte {} is out of order (the one "
                                    "before: offset {} at byte {})",
                                    s.base + e.relative, e.position,
                                    s.base + _entries.back().second.relative,
                                    _entries.back().second.position));
                continue;
            }
            _entries.emplace_back(k, e);
        }
    }

    /// A good batch at `position` holding offsets from `base`.
    void batch(std::uint64_t position, offset base) {
        while (_next < _entries.size() && _entries[_next].second.position < position) {
            unmatched(_entries[_next++]);
        }
        if (_next < _entries.size() && _entries[_next].second.position == position) {
            const auto& [k, e] = _entries[_next++];
            if (_s.base + e.relative != base) {
                problem(entry_byte(k),
                        fmt::format("entry says offset {} is at byte {}, but the batch there "
                                    "starts at offset {}",
                                    _s.base + e.relative, e.position, base));
            }
        }
    }

    /// Damage over [position, resume): entries inside it are part of it.
    void damaged(std::uint64_t position, std::uint64_t resume) {
        while (_next < _entries.size() && _entries[_next].second.position < position) {
            unmatched(_entries[_next++]);
        }
        while (_next < _entries.size() && _entries[_next].second.position < resume) {
            ++_next;
        }
    }

    void finish() {
        while (_next < _entries.size()) {
            unmatched(_entries[_next++]);
        }
    }

  private:
    using numbered = std::pair<std::size_t, commitlog::segment_index::entry>;

    static std::uint64_t entry_byte(std::size_t k) noexcept {
        return 1 + k * commitlog::index_entry_size;
    }
    void unmatched(const numbered& n) {
        const auto& [k, e] = n;
        if (e.position >= _log_size) {
            problem(entry_byte(k),
                    fmt::format("entry for offset {} points at byte {}, past the end of the log "
                                "({} bytes)",
                                _s.base + e.relative, e.position, _log_size));
        } else {
            problem(entry_byte(k),
                    fmt::format("entry for offset {} points at byte {}, where no good batch "
                                "starts",
                                _s.base + e.relative, e.position));
        }
    }
    void problem(std::uint64_t position, const std::string& what) {
        if (_rebuilt) {
            _v.note(_s.index_name,
                    fmt::format("byte {}: {} (the last segment's index is rebuilt on open)",
                                position, what));
        } else {
            _v.damage(_s.index_name, position, what);
        }
    }

    verifier& _v;
    const segment_files& _s;
    std::uint64_t _log_size;
    bool _rebuilt;
    std::vector<numbered> _entries; // in order; out-of-order ones are reported and left out
    std::size_t _next = 0;
};

/// Batches of a segment naming topic ids the dictionary does not hold
/// (damaged dictionary entries): reported once per segment, not per batch.
struct unknown_topics {
    static constexpr std::size_t ids_shown = 5;

    std::uint64_t batches = 0;
    std::uint64_t records = 0;
    std::uint64_t first_position = 0;
    offset first_base = 0;
    offset first_end = 0;
    std::set<std::uint32_t> ids; // the first few
    bool more_ids = false;

    void add(std::uint64_t position, const commitlog::batch_header& h, std::uint32_t id) {
        if (batches++ == 0) {
            first_position = position;
            first_base = h.base;
            first_end = h.end();
        }
        records += h.count;
        if (ids.size() < ids_shown || ids.contains(id)) {
            ids.insert(id);
        } else {
            more_ids = true;
        }
    }
    std::string ids_text() const {
        std::string out = ids.size() == 1 ? "id" : "ids";
        for (std::uint32_t id : ids) {
            out += fmt::format(" {}", id);
        }
        return more_ids ? out + " ..." : out;
    }
};

/// Whether a batch (whose records parse, with `max_id` the largest topic id)
/// names a topic id the dictionary does not hold; the first such id if so.
std::optional<std::uint32_t> unknown_topic(const walk_step& step, commitlog::topic_id max_id,
                                           const dictionary_scan& dict, partition_id p,
                                           bool dictionary_has_holes) {
    if (max_id.value() >= dict.names.size()) {
        return max_id.value();
    }
    if (!dictionary_has_holes) {
        return std::nullopt;
    }
    auto decoded = commitlog::decode_batch(step.batch.bytes, p, dict.names);
    if (!decoded && decoded.error() == commitlog::format_errc::unknown_topic) {
        // Which one: the first whose name is missing.
        for (std::uint32_t id = 0; id <= max_id.value(); ++id) {
            if (dict.names[id].empty()) {
                return id;
            }
        }
    }
    return std::nullopt;
}

void verifier::dictionary(const partition_files& files, const dictionary_scan& dict) {
    if (!files.has_dictionary) {
        note(files.dictionary_name, "no topic dictionary (created on open)");
    }
    for (const auto& problem : dict.problems) {
        if (problem.torn_tail && _max_sealed_past_id) {
            damage(files.dictionary_name, problem.position,
                   fmt::format("the last {} bytes do not read ({}), yet sealed segments name "
                               "topic ids up to {}, past its {} ids: synced entries are damaged; "
                               "recovery will cut them and hand their ids out again",
                               problem.bytes, problem.why, *_max_sealed_past_id,
                               dict.names.size()));
        } else if (problem.torn_tail) {
            torn_tail(files.dictionary_name, problem.position, problem.bytes, problem.why);
        } else {
            damage(files.dictionary_name, problem.position,
                   fmt::format("{} bytes of damaged entries skipped (their topic ids stay "
                               "unknown): {}",
                               problem.bytes, problem.why));
        }
    }
}

result<void, tool_error> verifier::partition(const partition_files& files, std::uint32_t count) {
    ++_sum.partitions;
    _partition_damage = 0;
    _partition_torn = 0;
    _max_sealed_past_id.reset();
    const std::string label = fmt::format("partition {}", files.id.value());
    if (!files.exists) {
        note(files.name, "no directory (created when the broker opens the partition)");
        return {};
    }
    _bar.start(fmt::format("{} ({} of {})", label, files.id.value() + 1, count), files.log_bytes);
    auto dict = scan_dictionary(files.dictionary_path);
    if (!dict) {
        return read_failure(files.dictionary_path, dict.error());
    }
    for (const std::string& stray : files.stray_indexes) {
        note(stray, "an index without its .log (removed on open)");
    }
    if (files.segments.empty()) {
        note(files.name, "no segments (the broker creates one on open)");
    }
    const std::uint64_t batches_before = _sum.batches;
    std::uint64_t scanned = 0;
    offset end = files.segments.empty() ? 0 : files.segments.front().base;
    for (std::size_t i = 0; i < files.segments.size(); ++i) {
        auto checked = segment(files, i, *dict, scanned, end);
        if (!checked) {
            return checked;
        }
        scanned += files.segments[i].log_size;
    }
    // After the segments: what they name tells a torn tail from damage.
    dictionary(files, *dict);
    const std::string what = fmt::format(
        "{}, offsets [{}, {}), {}, {}, {}", count_of(files.segments.size(), "segment", "segments"),
        files.segments.empty() ? 0 : files.segments.front().base, end,
        count_of(_sum.batches - batches_before, "batch", "batches"),
        count_of(files.log_bytes, "byte", "bytes"), count_of(dict->topics, "topic", "topics"));
    if (_partition_damage > 0) {
        say(fmt::format("{}: DAMAGED, {} ({})", label,
                        count_of(_partition_damage, "damaged region", "damaged regions"), what));
    } else if (_partition_torn > 0) {
        say(fmt::format("{}: ok, but a torn tail of {} bytes ({})", label, _partition_torn, what));
    } else {
        say(fmt::format("{}: ok ({})", label, what));
    }
    return {};
}

result<void, tool_error> verifier::segment(const partition_files& files, std::size_t i,
                                           const dictionary_scan& dict,
                                           std::uint64_t scanned_before, offset& end) {
    const segment_files& s = files.segments[i];
    auto opened = open_segment(files, i);
    if (!opened) {
        return opened.error();
    }
    read_only_file& f = *opened->log;
    const index_scan& index = opened->index;
    const std::optional<offset> next_base = opened->next_base;
    const bool last = !next_base;
    index_checker ix(*this, s, index, f.size(), last);
    const bool holes = std::any_of(dict.names.begin(), dict.names.end(),
                                   [](const std::string& n) { return n.empty(); });

    // The last segment: where recovery would cut, and what intact batches
    // follow (lost with the cut).
    struct cut_point {
        std::uint64_t position = 0;
        std::string why;
        bool unsynced = false; // a batch naming a topic past the dictionary's last sync
    };
    std::optional<cut_point> cut;
    std::uint64_t intact_after = 0;
    offset intact_from = 0;
    offset intact_to = 0;

    unknown_topics unknown;
    offset covered = s.base; // one past the last offset accounted for (read or reported lost)
    end = s.base;
    segment_walker walker(f, 0, s.base, next_base);
    for (;;) {
        auto step = walker.next();
        if (!step) {
            return read_failure(s.log_path, step.error());
        }
        _bar.update(scanned_before + walker.position());
        if (step->what == walk_step::kind::end) {
            break;
        }
        if (step->what == walk_step::kind::damage) {
            ix.damaged(step->position, step->resume);
            if (last) {
                if (!cut) {
                    cut = cut_point{step->position, step->why};
                }
                continue;
            }
            const offset lost_to =
                step->resume_base ? *step->resume_base : std::max(step->expected, *next_base);
            damage(s.log_name, step->position,
                   fmt::format("{} bytes unreadable, records [{}, {}) lost: {}",
                               step->resume - step->position, step->expected, lost_to, step->why));
            covered = std::max(covered, lost_to);
            continue;
        }
        const auto& b = step->batch;
        const commitlog::batch_header& h = b.header;
        ++_sum.batches;
        _sum.bytes += h.length;
        ix.batch(b.position, h.base);
        if (cut) {
            if (intact_after++ == 0) {
                intact_from = h.base;
            }
            intact_to = h.end();
            continue;
        }
        std::vector<std::string> problems; // in the last segment, recovery cuts at these
        bool unsynced = false;
        bool intact = true;
        if (h.base > step->expected) {
            problems.push_back(fmt::format("records [{}, {}) missing: the batch here starts at "
                                           "offset {}",
                                           step->expected, h.base, h.base));
        }
        auto max_id = commitlog::check_records(b.bytes);
        if (!max_id) {
            intact = false;
            problems.push_back(fmt::format("batch of offsets [{}, {}): {} (its CRC checks: it was "
                                           "written so)",
                                           h.base, h.end(), commitlog::describe(max_id.error())));
        } else if (auto id = unknown_topic(*step, *max_id, dict, files.id, holes)) {
            const bool past = *id >= dict.names.size();
            if (last && past) {
                // Recovery cuts here (segment.cpp: an id past the dictionary).
                // Normally the batch was written after the dictionary's last
                // sync; but if a sealed segment names the id, its entry had
                // been synced (sealed segments were synced with the
                // dictionary), so the dictionary is damaged.
                const bool synced = _max_sealed_past_id && *id <= *_max_sealed_past_id;
                unsynced = !synced;
                problems.push_back(
                    synced ? fmt::format("batch of offsets [{}, {}) names topic id {}, past the {} "
                                         "ids of {}; sealed segments name ids up to {}, so its "
                                         "entry had been synced: the dictionary is damaged",
                                         h.base, h.end(), *id, dict.names.size(),
                                         files.dictionary_name, *_max_sealed_past_id)
                           : fmt::format("batch of offsets [{}, {}) names topic id {}, past the {} "
                                         "ids of {} (written after its last sync)",
                                         h.base, h.end(), *id, dict.names.size(),
                                         files.dictionary_name));
            } else {
                if (past) {
                    _max_sealed_past_id = std::max(_max_sealed_past_id.value_or(0), *id);
                }
                unknown.add(b.position, h, *id); // reads skip the batch
            }
        }
        if (last && !problems.empty()) {
            std::string why;
            for (const std::string& p : problems) {
                why += why.empty() ? p : "; " + p;
            }
            cut = cut_point{b.position, std::move(why), unsynced};
            if (intact && !unsynced) {
                intact_after = 1; // a gap: this batch reads, yet recovery cuts it
                intact_from = h.base;
                intact_to = h.end();
            }
            continue;
        }
        for (const std::string& p : problems) {
            damage(s.log_name, b.position, p);
        }
        end = h.end();
        covered = std::max(covered, end);
    }
    ix.finish();
    if (unknown.batches > 0) {
        damage(s.log_name, unknown.first_position,
               fmt::format("{} ({} in all) name topic ids that {} does not hold ({}), the first "
                           "of offsets [{}, {}); reads skip them",
                           count_of(unknown.batches, "batch", "batches"),
                           count_of(unknown.records, "record", "records"), files.dictionary_name,
                           unknown.ids_text(), unknown.first_base, unknown.first_end));
    }

    if (cut) {
        const std::uint64_t bytes = f.size() - cut->position;
        if (cut->unsynced || intact_after == 0) {
            torn_tail(s.log_name, cut->position, bytes, cut->why);
        } else {
            damage(s.log_name, cut->position,
                   fmt::format("recovery will cut {} bytes here, losing {} intact batches "
                               "(records [{}, {})): {}",
                               bytes, intact_after, intact_from, intact_to, cut->why));
        }
    }
    if (next_base && covered < *next_base) {
        damage(s.log_name, f.size(),
               fmt::format("records [{}, {}) missing: the segment ends at offset {}, the next "
                           "starts at {}",
                           covered, *next_base, end, *next_base));
        end = *next_base; // reported: the next segment is checked from its base
    } else if (next_base && end > *next_base) {
        damage(s.log_name, f.size(),
               fmt::format("records run to offset {}, past the base of the next segment ({})", end,
                           *next_base));
        end = *next_base;
    } else if (next_base) {
        end = *next_base;
    }
    return {};
}

} // namespace

int verify(const log_options& o) {
    auto opened = open_selection(o.dir, o.partition);
    if (!opened) {
        return fail(opened.error());
    }
    const data_dir_view& d = opened->dir;
    const std::vector<partition_id>& selected = opened->partitions;
    progress bar(stderr_is_terminal());
    verifier v(o.strict, bar);
    if (!o.partition) {
        for (const std::string& name : d.stray_partitions) {
            v.note(name, fmt::format("not a partition of this directory ({} partitions); the "
                                     "broker ignores it",
                                     d.partitions));
        }
    }
    for (partition_id p : selected) {
        auto files = list_partition(d, p);
        if (!files) {
            return fail(files.error());
        }
        auto checked = v.partition(*files, d.partitions);
        if (!checked) {
            return fail(checked.error());
        }
    }
    bar.clear();
    const totals& t = v.sum();
    fmt::print("verify: {}, {} checked ({}), {}, {}{}: {}\n",
               count_of(t.partitions, "partition", "partitions"),
               count_of(t.batches, "batch", "batches"), count_of(t.bytes, "byte", "bytes"),
               count_of(t.damaged, "damaged region", "damaged regions"),
               count_of(t.torn_tails, "torn tail", "torn tails"),
               o.strict ? " (--strict: torn tails count as damage)" : "",
               t.damaged > 0 ? "DAMAGED" : "clean");
    std::fflush(stdout);
    return t.damaged > 0 ? exit_damage : exit_ok;
}

} // namespace zama::inspect
