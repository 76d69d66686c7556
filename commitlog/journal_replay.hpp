#pragma once

#include "commitlog/disk_log.hpp"
#include "runtime/file_system.hpp"
#include "runtime/task.hpp"

#include <cstdint>
#include <string>
#include <string_view>

// Start-up replay of the shard journals (journal.hpp), before any shard
// opens its partitions: every `<data dir>/journal/*.journal` file, whatever
// shard wrote it (the shard count may have changed), is read, and each
// partition it names gets the batches it lacks, written and synced. Then
// the journals of shards that no longer exist are removed; the others are
// reset by their shards when they open them.
//
// Idempotent: batches already in a partition are skipped, so a crash
// during the replay is replayed again at the next start.

namespace zama::commitlog {

struct replay_report {
    std::size_t journals = 0;
    std::size_t entries = 0;
    std::size_t partitions = 0; // that received batches
    std::uint64_t records = 0;  // appended to them
};

/// The directory holding the shard journals.
std::string journal_directory(const std::string& data_dir);

/// Whether a file of that directory is a journal (replayed, or removed).
bool is_journal_file_name(std::string_view name) noexcept;

/// Replays the journals of `data_dir` (a partition count of `partitions`,
/// opened with `options`), then removes those of shards >= `shards` (all
/// of them with 0: the broker writes none now). An error names the file or
/// partition.
rt::task<result<replay_report, std::string>>
replay_journals(rt::file_system& fs, std::string data_dir, std::uint32_t partitions,
                disk_log_options options, unsigned shards);

} // namespace zama::commitlog
