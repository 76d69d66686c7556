// `zama-log journals`: the shard journals that `fsync_method = "journal"`
// writes (commitlog/journal.hpp), and what the broker's next start replays
// from them (commitlog/journal_replay.hpp). Per journal: its generation,
// its valid entries and why reading stopped. Per partition named in them:
// the batches held, the records the partition already has, and the records
// a replay would append, following disk_log::restore()'s rules.

#include "commitlog/batch_format.hpp"
#include "commitlog/journal.hpp"
#include "commitlog/journal_replay.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "commands.hpp"
#include "dictionary_scan.hpp"
#include "segment_scan.hpp"
#include "text.hpp"

namespace zama::inspect {

namespace {

namespace stdfs = std::filesystem;

struct loaded_journal {
    std::string name; // relative to the data directory
    commitlog::journal_contents contents;
};

/// The journal files of `dir`, by name; none if there is no such directory.
result<std::vector<std::string>, tool_error> journal_names(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    if (!stdfs::is_directory(dir, ec)) {
        return out;
    }
    for (stdfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (commitlog::is_journal_file_name(name)) {
            out.push_back(name);
        }
    }
    if (ec) {
        return read_failure(dir, static_cast<std::errc>(ec.value()));
    }
    std::sort(out.begin(), out.end());
    return out;
}

/// What a replay does with one partition's sections.
struct partition_replay {
    std::uint64_t batches = 0;
    std::uint64_t records = 0;
    std::optional<offset> first; // of the journal's batches
    offset end = 0;
    std::uint64_t present = 0;  // records the partition already holds
    std::uint64_t restored = 0; // records a replay appends
    std::string stop;           // why a replay would stop early, if it would
};

/// Follows disk_log::restore() over `sections`, from the partition's end
/// `next`, against a dictionary of `topics` ids. Batches past where the
/// replay stops are still counted.
partition_replay plan_replay(const std::vector<const commitlog::journal_section*>& sections,
                             offset next, std::size_t topics) {
    partition_replay out;
    for (const commitlog::journal_section* s : sections) {
        std::span<const std::uint8_t> bytes = s->bytes;
        while (!bytes.empty()) {
            auto h = commitlog::read_header(bytes);
            if (!h || h->length > bytes.size() ||
                !commitlog::check_crc(*h, bytes.first(h->length))) {
                if (out.stop.empty()) {
                    out.stop = fmt::format("a batch after offset {} does not check", next);
                }
                break;
            }
            const auto batch = bytes.first(h->length);
            bytes = bytes.subspan(h->length);
            ++out.batches;
            out.records += h->count;
            out.first = std::min(out.first.value_or(h->base), h->base);
            out.end = std::max(out.end, h->end());
            if (!out.stop.empty()) {
                continue;
            }
            if (h->end() <= next) {
                out.present += h->count;
                continue;
            }
            auto ids = commitlog::check_records(batch);
            if (h->base != next) {
                out.stop = fmt::format("batch [{}, {}) does not follow the log's end {}", h->base,
                                       h->end(), next);
            } else if (!ids) {
                out.stop =
                    fmt::format("batch [{}, {}) has records that do not parse", h->base, h->end());
            } else if (ids->value() >= topics) {
                out.stop = fmt::format("batch [{}, {}) names a topic the dictionary lacks", h->base,
                                       h->end());
            } else {
                out.restored += h->count;
                next = h->end();
            }
        }
    }
    return out;
}

std::string journal_line(const loaded_journal& j) {
    const commitlog::journal_contents& c = j.contents;
    if (!c.header_ok) {
        return fmt::format("{}: {} (the broker writes the header after a sync: nothing in it "
                           "is needed)",
                           j.name, c.stopped);
    }
    std::size_t bytes = 0;
    for (const commitlog::journal_section& s : c.sections) {
        bytes += s.bytes.size();
    }
    std::string line = fmt::format("{}: generation {}, {}, {} of batches", j.name, c.generation,
                                   count_of(c.entries, "entry", "entries"), human_bytes(bytes));
    if (!c.stopped.empty()) {
        line += "; reading stopped " + c.stopped;
    }
    return line;
}

} // namespace

int list_journals(const log_options& o) {
    auto d = open_data_dir(o.dir);
    if (!d) {
        return fail(d.error());
    }
    const std::string dir = commitlog::journal_directory(d->path);
    auto names = journal_names(dir);
    if (!names) {
        return fail(names.error());
    }
    if (names->empty()) {
        fmt::print("no shard journals in {} (written with fsync = \"always\" and fsync_method = "
                   "\"journal\")\n",
                   dir);
        return exit_ok;
    }
    std::vector<loaded_journal> journals;
    for (const std::string& name : *names) {
        const std::string path = dir + "/" + name;
        auto f = read_only_file::open(path);
        if (!f) {
            return fail(read_failure(path, f.error()));
        }
        auto contents = run_now(commitlog::read_journal(**f));
        if (!contents) {
            return fail(read_failure(path, contents.error()));
        }
        journals.push_back({"journal/" + name, std::move(*contents)});
    }
    int status = exit_ok;
    // Grouped as the replay groups them: per partition, in file order.
    std::map<std::uint32_t, std::vector<const commitlog::journal_section*>> by_partition;
    for (const loaded_journal& j : journals) {
        fmt::print("{}\n", journal_line(j));
        for (const commitlog::journal_section& s : j.contents.sections) {
            by_partition[s.partition.value()].push_back(&s);
        }
    }
    table t({"partition", "batches", "records", "offsets", "in_log", "to_restore"});
    std::uint64_t restored = 0;
    std::size_t restored_partitions = 0;
    for (const auto& [p, sections] : by_partition) {
        if (p >= d->partitions) {
            t.add({std::to_string(p), "-", "-", "-", "-", "-",
                   fmt::format("(not a partition of this directory: it has {}; the broker "
                               "refuses to start)",
                               d->partitions)});
            status = exit_damage;
            continue;
        }
        auto files = list_partition(*d, partition_id{p});
        if (!files) {
            return fail(files.error());
        }
        auto dict = scan_dictionary(files->dictionary_path);
        if (!dict) {
            return fail(read_failure(files->dictionary_path, dict.error()));
        }
        auto sum = summarize_partition(*files);
        if (!sum) {
            return fail(sum.error());
        }
        const offset end = *sum ? (*sum)->end : 0;
        const partition_replay r = plan_replay(sections, end, dict->names.size());
        std::vector<std::string> row{
            std::to_string(p),
            std::to_string(r.batches),
            std::to_string(r.records),
            r.first ? fmt::format("[{},{})", *r.first, r.end) : std::string("-"),
            std::to_string(r.present),
            std::to_string(r.restored)};
        if (!r.stop.empty()) {
            row.push_back(fmt::format("(replay stops: {}; the later records are lost)", r.stop));
            status = exit_damage;
        } else if (*sum && (*sum)->met_damage) {
            row.emplace_back("(log damaged: run zama-log verify)");
        }
        t.add(std::move(row));
        if (r.restored > 0) {
            restored += r.restored;
            ++restored_partitions;
        }
    }
    if (!by_partition.empty()) {
        t.print(stdout);
    }
    fmt::print("the next start restores {} to {}\n", count_of(restored, "record", "records"),
               count_of(restored_partitions, "partition", "partitions"));
    return status;
}

} // namespace zama::inspect
