// `zama-log partitions` and `zama-log segments`: what a data directory
// holds, found the cheap way (segment_scan.hpp's summarize_segment).

#include <fmt/format.h>

#include "commands.hpp"
#include "dictionary_scan.hpp"
#include "progress.hpp"
#include "segment_scan.hpp"
#include "text.hpp"

namespace zama::inspect {

int fail(const tool_error& e) {
    std::fflush(stdout);
    fmt::print(stderr, "zama-log: {}\n", e.message);
    return exit_error;
}

namespace {

void print_strays(const data_dir_view& d) {
    for (const std::string& name : d.stray_partitions) {
        fmt::print("{}: not a partition of this directory ({} partitions); the broker ignores "
                   "it\n",
                   name, d.partitions);
    }
}

} // namespace

int list_partitions(const log_options& o) {
    auto d = open_data_dir(o.dir);
    if (!d) {
        return fail(d.error());
    }
    progress bar(stderr_is_terminal());
    bar.start("reading partitions", d->partitions, false);
    table t({"partition", "segments", "start", "end", "bytes", "topics"});
    for (std::uint32_t p = 0; p < d->partitions; ++p) {
        bar.update(p);
        auto files = list_partition(*d, partition_id{p});
        if (!files) {
            return fail(files.error());
        }
        if (!files->exists) {
            t.add({std::to_string(p), "0", "-", "-", "-", "-", "(no directory)"});
            continue;
        }
        auto dict = scan_dictionary(files->dictionary_path);
        if (!dict) {
            return fail(read_failure(files->dictionary_path, dict.error()));
        }
        auto sum = summarize_partition(*files);
        if (!sum) {
            return fail(sum.error());
        }
        if (!*sum) {
            t.add({std::to_string(p), "0", "-", "-", std::to_string(files->log_bytes),
                   std::to_string(dict->topics)});
            continue;
        }
        const partition_summary& log = **sum;
        std::vector<std::string> row{std::to_string(p),
                                     std::to_string(files->segments.size()),
                                     std::to_string(log.start),
                                     std::to_string(log.end),
                                     std::to_string(files->log_bytes),
                                     std::to_string(dict->topics)};
        if (log.met_damage || !dict->problems.empty()) {
            row.emplace_back("(damaged: run zama-log verify)");
        }
        t.add(std::move(row));
    }
    bar.clear();
    fmt::print("data directory {}: meta format {}, {} partitions\n", d->path, d->meta_version,
               d->partitions);
    t.print(stdout);
    print_strays(*d);
    return exit_ok;
}

int list_segments(const log_options& o) {
    auto opened = open_selection(o.dir, o.partition);
    if (!opened) {
        return fail(opened.error());
    }
    const data_dir_view& d = opened->dir;
    const std::vector<partition_id>& selected = opened->partitions;
    progress bar(stderr_is_terminal());
    table t({"partition", "base", "end", "records", "bytes", "first_batch", "last_batch",
             "index_entries"});
    for (partition_id p : selected) {
        auto files = list_partition(d, p);
        if (!files) {
            return fail(files.error());
        }
        bar.start(fmt::format("partition {}", p.value()), files->segments.size(), false);
        std::size_t done = 0;
        for (const segment_files& s : files->segments) {
            bar.update(done++);
            auto sum = summarize_segment(s);
            if (!sum) {
                return fail(sum.error());
            }
            auto time = [](const std::optional<std::int64_t>& ms) {
                return ms ? iso8601(*ms) : std::string("-");
            };
            std::vector<std::string> row{
                std::to_string(p.value()),  std::to_string(sum->base),
                std::to_string(sum->end),   std::to_string(sum->end - sum->base),
                std::to_string(sum->bytes), time(sum->first_timestamp),
                time(sum->last_timestamp),  std::to_string(sum->index_entries)};
            if (sum->met_damage) {
                row.emplace_back("(damaged: run zama-log verify)");
            }
            t.add(std::move(row));
        }
    }
    bar.clear();
    t.print(stdout);
    if (!o.partition) {
        print_strays(d);
    }
    return exit_ok;
}

} // namespace zama::inspect
