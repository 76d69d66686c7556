#include "commitlog/journal_replay.hpp"

#include "base/errc.hpp"
#include "base/log.hpp"
#include "commitlog/data_dir.hpp"
#include "commitlog/journal.hpp"

#include <fmt/format.h>

#include <map>
#include <vector>

namespace zama::commitlog {

std::string journal_directory(const std::string& data_dir) {
    return data_dir + "/journal";
}

namespace {

std::string describe(std::errc e) {
    return std::make_error_code(e).message();
}

/// Appends `sections` (one partition's, in the order written) to its log
/// and syncs it; returns the records appended.
rt::task<result<std::uint64_t, std::string>>
restore_partition(rt::file_system& fs, std::string data_dir, partition_id p,
                  const std::vector<const journal_section*>& sections, disk_log_options options) {
    auto opened = co_await disk_log::open(fs, partition_directory(data_dir, p), p, options);
    if (!opened) {
        co_return fmt::format("partition {}: {}", p.value(), describe(opened.error()));
    }
    std::unique_ptr<disk_log> log = std::move(*opened);
    std::uint64_t records = 0;
    result<void, std::errc> outcome{};
    for (const journal_section* s : sections) {
        auto restored = co_await log->restore(s->bytes);
        if (!restored) {
            // invalid_argument: logged by restore(); the partition keeps
            // what it has. Anything else is an I/O error.
            if (restored.error() != std::errc::invalid_argument) {
                outcome = restored.error();
            }
            break;
        }
        records += *restored;
    }
    if (outcome && records > 0) {
        outcome = co_await log->flush();
    }
    auto closed = co_await log->close();
    if (!outcome || !closed) {
        co_return fmt::format("partition {}: {}", p.value(),
                              describe(!outcome ? outcome.error() : closed.error()));
    }
    co_return records;
}

} // namespace

bool is_journal_file_name(std::string_view name) noexcept {
    constexpr std::string_view suffix = ".journal";
    return name.size() > suffix.size() && name.ends_with(suffix);
}

rt::task<result<replay_report, std::string>>
replay_journals(rt::file_system& fs, std::string data_dir, std::uint32_t partitions,
                disk_log_options options, unsigned shards) {
    replay_report report;
    const std::string dir = journal_directory(data_dir);
    auto made = co_await fs.make_directory(dir);
    if (made) {
        auto synced = co_await fs.sync_directory(data_dir);
        if (!synced) {
            co_return fmt::format("{}: {}", data_dir, describe(synced.error()));
        }
    } else if (made.error() != std::errc::file_exists) {
        co_return fmt::format("{}: {}", dir, describe(made.error()));
    }
    auto names = co_await fs.list(dir);
    if (!names) {
        co_return fmt::format("{}: {}", dir, describe(names.error()));
    }
    // Every journal's sections, grouped by partition in file order. A
    // partition's pending batches are in one journal (its shard's at the
    // last start); older copies in others are skipped as already present.
    std::vector<journal_contents> all;
    std::map<std::uint32_t, std::vector<const journal_section*>> by_partition;
    for (const std::string& name : *names) {
        if (!is_journal_file_name(name)) {
            continue;
        }
        const std::string path = dir + "/" + name;
        auto read = co_await read_journal(fs, path);
        if (!read) {
            co_return fmt::format("{}: {}", path, describe(read.error()));
        }
        if (!read->header_ok) {
            log::warn("journal {}: the header does not check; it was being rewritten after a "
                      "sync, so nothing in it is needed",
                      path);
        }
        ++report.journals;
        report.entries += read->entries;
        all.push_back(std::move(*read));
    }
    for (const journal_contents& j : all) {
        for (const journal_section& s : j.sections) {
            if (s.partition.value() >= partitions) {
                co_return fmt::format("a journal in {} holds partition {}, but the data "
                                      "directory has {} partitions",
                                      dir, s.partition.value(), partitions);
            }
            by_partition[s.partition.value()].push_back(&s);
        }
    }
    for (const auto& [p, sections] : by_partition) {
        auto restored =
            co_await restore_partition(fs, data_dir, partition_id{p}, sections, options);
        if (!restored) {
            co_return restored.error();
        }
        if (*restored > 0) {
            ++report.partitions;
            report.records += *restored;
        }
    }
    for (const std::string& name : *names) {
        if (!is_journal_file_name(name)) {
            continue;
        }
        bool current = false;
        for (unsigned s = 0; s < shards && !current; ++s) {
            current = name == journal_file_name(s);
        }
        if (!current) {
            auto removed = co_await fs.remove(dir + "/" + name);
            if (!removed) {
                co_return fmt::format("{}/{}: {}", dir, name, describe(removed.error()));
            }
        }
    }
    if (report.journals > 0) {
        log::info("journals in {}: {} read, {} entries; {} messages restored to {} partitions", dir,
                  report.journals, report.entries, report.records, report.partitions);
    }
    co_return report;
}

} // namespace zama::commitlog
