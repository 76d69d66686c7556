// The shard journal: flushes commit to it instead of syncing segments, a
// power loss loses nothing committed once the journal is replayed, a full
// journal checkpoints and starts again (and syncs in the background each
// quarter), a large round is synced instead of written, a torn or stale entry ends it, and
// a failed write sends the logs back to their own files.

#include "commitlog/data_dir.hpp"
#include "commitlog/journal.hpp"
#include "commitlog/journal_replay.hpp"

#include "log_test_util.hpp"

namespace zama::commitlog::test {
namespace {

const std::string data_dir = "d";
constexpr std::uint32_t partitions = 4;
constexpr std::uint64_t small_journal = 8 * journal_block;
// Large enough that the tests' few entries never reach a quarter of it
// (no background sync).
constexpr std::uint64_t roomy_journal = std::uint64_t{1} << 20;

std::string journal_path(unsigned shard = 0) {
    return journal_directory(data_dir) + "/" + journal_file_name(shard);
}

/// A data directory with its journal directory.
void make_dirs(rt::memory_file_system& fs) {
    ASSERT_TRUE(run(fs.make_directory(data_dir)).has_value());
    ASSERT_TRUE(run(fs.make_directory(journal_directory(data_dir))).has_value());
}

std::unique_ptr<journal> open_journal(rt::memory_file_system& fs,
                                      std::uint64_t capacity = small_journal, unsigned shard = 0,
                                      std::uint64_t round_limit = default_journal_round_limit) {
    auto j = run(journal::open(fs, journal_path(shard), capacity, round_limit));
    EXPECT_TRUE(j.has_value());
    return j ? std::move(*j) : nullptr;
}

disk_log_options journaled(journal& j) {
    disk_log_options o;
    o.segment_bytes = 2000;
    o.shard_journal = &j;
    return o;
}

std::unique_ptr<disk_log> open_partition(rt::file_system& fs, partition_id p,
                                         disk_log_options options = {}) {
    auto r = run(disk_log::open(fs, partition_directory(data_dir, p), p, options));
    EXPECT_TRUE(r.has_value());
    return r ? std::move(*r) : nullptr;
}

/// Appends and flushes `rounds` batches to `log`, one flush each.
std::vector<batch_ptr> append_and_flush(disk_log& log, std::size_t rounds,
                                        const std::string& prefix = "t") {
    std::vector<batch_ptr> all;
    for (std::size_t i = 0; i < rounds; ++i) {
        auto b = make_batch(log.end(), 1 + i % 3, prefix, 1'000, log.partition());
        EXPECT_TRUE(append(log, b).has_value());
        EXPECT_TRUE(flush(log).has_value());
        EXPECT_EQ(log.durable_end(), log.end());
        all.push_back(b);
    }
    return all;
}

replay_report replay(rt::memory_file_system& fs, unsigned shards = 1) {
    auto r = run(replay_journals(fs, data_dir, partitions, {.segment_bytes = 2000}, shards));
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error());
    return r ? *r : replay_report{};
}

TEST(Journal, FlushesCommitToTheJournalInsteadOfSyncingSegments) {
    rt::memory_file_system fs;
    make_dirs(fs);
    auto j = open_journal(fs, roomy_journal);
    auto log = open_partition(fs, partition_id{0}, journaled(*j));
    ASSERT_TRUE(j && log);
    append_and_flush(*log, 2); // new topics (t/0, t/1, t/2): the dictionary is synced
    const std::size_t syncs = fs.syncs();
    EXPECT_GT(syncs, 0u);
    append_and_flush(*log, 3);
    EXPECT_EQ(fs.syncs(), syncs); // known topics: no fdatasync at all
    EXPECT_EQ(fs.filesystem_syncs(), 0u);
    EXPECT_EQ(j->writes(), 5u);
    close(log);
    ASSERT_TRUE(run(j->close()).has_value());
    EXPECT_EQ(j->checkpoints(), 1u); // a clean close leaves nothing to replay
    auto read = run(read_journal(fs, journal_path()));
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->entries, 0u);
}

TEST(Journal, PowerLossLosesNothingCommittedOnceReplayed) {
    rt::memory_file_system fs;
    make_dirs(fs);
    auto j = open_journal(fs, std::uint64_t{1} << 20);
    auto a = open_partition(fs, partition_id{0}, journaled(*j));
    auto b = open_partition(fs, partition_id{3}, journaled(*j));
    ASSERT_TRUE(j && a && b);
    const std::size_t syncs = fs.syncs();
    auto in_a = append_and_flush(*a, 70, "a"); // rolls segments (synced at each roll)
    auto in_b = append_and_flush(*b, 3, "b");
    EXPECT_GE(a->segments().size(), 3u);
    // Each roll synced the segment it sealed, its dictionary and directory.
    EXPECT_GE(fs.syncs(), syncs + a->segments().size() - 1);
    const offset end_a = a->end();
    const offset end_b = b->end();
    // Power loss: unsynced segment bytes go; the logs and journal are gone
    // without closing.
    fs.crash();
    a.reset();
    b.reset();
    j.reset();
    {
        auto lost = open_partition(fs, partition_id{0});
        ASSERT_TRUE(lost);
        EXPECT_LT(lost->end(), end_a); // the test would pass without a journal otherwise
        close(lost);
    }
    const replay_report r = replay(fs);
    EXPECT_EQ(r.journals, 1u);
    EXPECT_EQ(r.partitions, 2u);
    EXPECT_GT(r.records, 0u);
    fs.crash(); // the replay synced what it wrote
    auto a2 = open_partition(fs, partition_id{0});
    auto b2 = open_partition(fs, partition_id{3});
    ASSERT_TRUE(a2 && b2);
    EXPECT_EQ(a2->end(), end_a);
    EXPECT_EQ(b2->end(), end_b);
    EXPECT_EQ(flatten(read_all(*a2)), flatten(in_a));
    EXPECT_EQ(flatten(read_all(*b2)), flatten(in_b));
    close(a2);
    close(b2);
    // Replaying again changes nothing.
    EXPECT_EQ(replay(fs).records, 0u);
}

TEST(Journal, AFullJournalCheckpointsAndStartsAgain) {
    rt::memory_file_system fs;
    make_dirs(fs);
    auto j = open_journal(fs, 4 * journal_block); // the header and 3 entries
    auto log = open_partition(fs, partition_id{1}, journaled(*j));
    ASSERT_TRUE(j && log);
    auto written = append_and_flush(*log, 10);
    // 3 entries, then a checkpoint covers the 4th round, which is not written.
    EXPECT_EQ(j->checkpoints(), 2u);
    EXPECT_EQ(j->writes() + j->checkpoints(), 10u);
    EXPECT_EQ(fs.filesystem_syncs(), j->checkpoints() + j->background_syncs());
    const offset end = log->end();
    fs.crash();
    log.reset();
    j.reset();
    replay(fs);
    auto again = open_partition(fs, partition_id{1});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->end(), end);
    EXPECT_EQ(flatten(read_all(*again)), flatten(written));
    close(again);
}

TEST(Journal, ARoundOverTheLimitIsCoveredByACheckpoint) {
    rt::memory_file_system fs;
    make_dirs(fs);
    auto j = open_journal(fs, std::uint64_t{1} << 20, 0, journal_block);
    auto log = open_partition(fs, partition_id{2}, journaled(*j));
    ASSERT_TRUE(j && log);
    auto written = append_and_flush(*log, 3); // one entry block each
    EXPECT_EQ(j->writes(), 3u);
    EXPECT_EQ(j->checkpoints(), 0u);
    batch_ptr large = batch_ptr::make(partition_id{2}, log->end());
    const std::string payload(journal_block, 'x');
    large->append("t/0", bytes_of(payload), {1, false});
    large->set_timestamp(1'000);
    ASSERT_TRUE(append(*log, large).has_value());
    ASSERT_TRUE(flush(*log).has_value());
    written.push_back(large);
    EXPECT_EQ(j->writes(), 3u);
    EXPECT_EQ(j->checkpoints(), 1u);
    EXPECT_EQ(fs.filesystem_syncs(), 1u);
    EXPECT_EQ(log->durable_end(), log->end());
    const offset end = log->end();
    fs.crash();
    log.reset();
    j.reset();
    replay(fs);
    auto again = open_partition(fs, partition_id{2});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->end(), end);
    EXPECT_EQ(flatten(read_all(*again)), flatten(written));
    close(again);
}

TEST(Journal, EachQuarterWrittenStartsABackgroundSync) {
    rt::memory_file_system fs;
    make_dirs(fs);
    auto j = open_journal(fs, 17 * journal_block); // the header, 16 entries of one block
    auto log = open_partition(fs, partition_id{0}, journaled(*j));
    ASSERT_TRUE(j && log);
    append_and_flush(*log, 3);
    EXPECT_EQ(j->background_syncs(), 0u);
    append_and_flush(*log, 1); // the 4th block: a quarter
    EXPECT_EQ(j->background_syncs(), 1u);
    append_and_flush(*log, 4);
    EXPECT_EQ(j->background_syncs(), 2u);
    EXPECT_EQ(fs.filesystem_syncs(), 2u);
    EXPECT_EQ(j->checkpoints(), 0u);
    // A failed one breaks the journal: its error is not reported twice, so
    // a later checkpoint could not tell that segment data was lost.
    fs.fail_filesystem_syncs(std::errc::io_error);
    append_and_flush(*log, 4);
    EXPECT_TRUE(j->broken());
    EXPECT_EQ(j->background_syncs(), 3u);
    fs.clear_faults();
    const std::size_t syncs = fs.syncs();
    append_and_flush(*log, 1); // the log syncs its own files
    EXPECT_GT(fs.syncs(), syncs);
    close(log);
    ASSERT_TRUE(run(j->close()).has_value());
}

TEST(Journal, ReadingStopsAtATornEntryAndReopeningRetiresEveryEntry) {
    rt::memory_file_system fs;
    make_dirs(fs);
    auto j = open_journal(fs);
    auto log = open_partition(fs, partition_id{2}, journaled(*j));
    ASSERT_TRUE(j && log);
    append_and_flush(*log, 3);
    auto read = run(read_journal(fs, journal_path()));
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->entries, 3u);
    EXPECT_EQ(read->sections.size(), 3u);
    EXPECT_TRUE(read->stopped.starts_with("at byte 16384")) << read->stopped;
    fs.corrupt(journal_path(), 2 * journal_block + 30, 0x01); // in the second entry
    read = run(read_journal(fs, journal_path()));
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->entries, 1u);
    EXPECT_NE(read->stopped.find("CRC"), std::string::npos) << read->stopped;
    close(log);
    j.reset(); // not closed: no checkpoint
    auto reopened = open_journal(fs);
    ASSERT_TRUE(reopened);
    read = run(read_journal(fs, journal_path()));
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->entries, 0u); // the first entry is of the old generation now
    ASSERT_TRUE(run(reopened->close()).has_value());
}

TEST(Journal, AFailedWriteBreaksItAndLogsSyncTheirOwnFiles) {
    rt::memory_file_system fs;
    make_dirs(fs);
    auto j = open_journal(fs);
    auto log = open_partition(fs, partition_id{0}, journaled(*j));
    ASSERT_TRUE(j && log);
    append_and_flush(*log, 1);
    ASSERT_TRUE(append(*log, make_batch(log->end(), 2)).has_value());
    fs.fail_writes_after(0, std::errc::io_error); // the journal write fails
    const std::size_t syncs = fs.syncs();
    ASSERT_TRUE(flush(*log).has_value()); // through the segment's own sync
    EXPECT_TRUE(j->broken());
    EXPECT_GT(fs.syncs(), syncs);
    EXPECT_EQ(log->durable_end(), log->end());
    fs.clear_faults();
    const offset end = log->end();
    append_and_flush(*log, 2);
    fs.crash();
    log.reset();
    j.reset();
    auto again = open_partition(fs, partition_id{0});
    ASSERT_TRUE(again);
    EXPECT_GT(again->end(), end); // synced on its own, no replay needed
    close(again);
}

TEST(JournalReplay, RemovesTheJournalsOfShardsThatNoLongerExist) {
    rt::memory_file_system fs;
    make_dirs(fs);
    for (unsigned shard : {0u, 1u, 2u}) {
        auto j = open_journal(fs, roomy_journal, shard);
        ASSERT_TRUE(j);
        auto log = open_partition(fs, partition_id{shard}, journaled(*j));
        ASSERT_TRUE(log);
        append_and_flush(*log, 2);
        log.reset();
        j.reset();
    }
    fs.crash();
    const replay_report r = replay(fs, 2);
    EXPECT_EQ(r.journals, 3u);
    EXPECT_EQ(r.partitions, 3u);
    EXPECT_TRUE(fs.contents(journal_path(0)).has_value());
    EXPECT_TRUE(fs.contents(journal_path(1)).has_value());
    EXPECT_FALSE(fs.contents(journal_path(2)).has_value());
    for (unsigned p = 0; p < 3; ++p) {
        auto log = open_partition(fs, partition_id{p});
        ASSERT_TRUE(log);
        EXPECT_EQ(log->end(), 3u) << "partition " << p; // 1 + 2 records
        close(log);
    }
    // A broker that writes no journal now (no fsync = always) removes all.
    EXPECT_EQ(replay(fs, 0).journals, 2u);
    EXPECT_FALSE(fs.contents(journal_path(0)).has_value());
    EXPECT_FALSE(fs.contents(journal_path(1)).has_value());
}

} // namespace
} // namespace zama::commitlog::test
