// The partition log on disk, on the in-memory file system: round trips
// across segment rolls and reopening, the write path (one write per
// append), durability, errors on the way in, retention.

#include "commitlog/disk_log.hpp"

#include "log_test_util.hpp"

namespace zama::commitlog::test {
namespace {

const std::string dir = "p0";

disk_log_options small_segments() {
    disk_log_options o;
    o.segment_bytes = 2000;
    o.index_interval_bytes = 200;
    o.read_chunk_bytes = 512; // smaller than some batches: reads must grow
    return o;
}

TEST(DiskLog, RoundTripAcrossSegmentsAndReopening) {
    rt::memory_file_system fs;
    auto log = open_log(fs, dir, small_segments());
    ASSERT_TRUE(log);
    EXPECT_EQ(log->start(), 0u);
    EXPECT_EQ(log->end(), 0u);
    const auto written = fill(*log, 120);
    const auto expected = flatten(written);
    EXPECT_EQ(log->end(), expected.size());
    EXPECT_GT(log->segments().size(), 3u);
    EXPECT_EQ(flatten(read_all(*log)), expected);

    // Segments are contiguous, named by base offset, and each but the last
    // reached the roll size.
    const auto segments = log->segments();
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (i + 1 < segments.size()) {
            EXPECT_EQ(segments[i].end, segments[i + 1].base);
            EXPECT_GE(segments[i].size_bytes, 2000u);
        }
        EXPECT_TRUE(fs.contents(segment_file(dir, segments[i].base, ".log")));
        total += segments[i].size_bytes;
    }
    EXPECT_EQ(total, log->size_bytes());
    EXPECT_EQ(segment::file_stem(segments[1].base).size(), 20u);

    // Reading from any offset yields the batch holding it first.
    for (offset from = 0; from < log->end(); from += 7) {
        auto got = run(log->read(from, 1));
        ASSERT_TRUE(got.has_value());
        ASSERT_EQ(got->size(), 1u);
        EXPECT_LE((*got)[0]->base(), from);
        EXPECT_GT((*got)[0]->end(), from);
        EXPECT_EQ(
            flatten(read_all(*log, from), from),
            std::vector(expected.begin() + static_cast<std::ptrdiff_t>(from), expected.end()));
    }
    EXPECT_TRUE(run(log->read(log->end(), 1 << 20))->empty());

    ASSERT_TRUE(flush(*log).has_value());
    close(log);
    log = open_log(fs, dir, small_segments());
    ASSERT_TRUE(log);
    EXPECT_EQ(log->end(), expected.size());
    EXPECT_EQ(log->durable_end(), expected.size());
    EXPECT_EQ(log->segments().size(), segments.size());
    EXPECT_EQ(log->recovered().truncated_bytes, 0u);
    EXPECT_EQ(log->recovered().indexes_rebuilt, 0u);
    EXPECT_EQ(log->recovered().topics, 3u);
    EXPECT_EQ(flatten(read_all(*log)), expected);

    // Appends carry on from where the log ended, with the same topic ids.
    const auto more = fill(*log, 10);
    auto all = written;
    all.insert(all.end(), more.begin(), more.end());
    EXPECT_EQ(flatten(read_all(*log)), flatten(all));
    EXPECT_EQ(log->recovered().topics, 3u);
}

TEST(DiskLog, ReadsReturnRecordBatchesWithTimestamps) {
    rt::memory_file_system fs;
    auto log = open_log(fs, dir);
    ASSERT_TRUE(log);
    batch_ptr stamped = make_batch(0, 2, "t", 1'234);
    batch_ptr unstamped = make_batch(2, 2, "t", 0);
    ASSERT_TRUE(append(*log, {stamped, unstamped}).has_value());
    auto got = run(log->read(0, 1 << 20));
    ASSERT_TRUE(got.has_value());
    ASSERT_EQ(got->size(), 2u);
    EXPECT_EQ((*got)[0]->timestamp(), 1'234);
    EXPECT_GT((*got)[1]->timestamp(), 1'600'000'000'000); // stamped with the wall clock
    EXPECT_EQ((*got)[0]->partition(), partition_id{0});
}

TEST(DiskLog, OneWritePerAppend) {
    rt::memory_file_system mem;
    counting_file_system fs(mem);
    auto log = open_log(fs, dir);
    ASSERT_TRUE(log);
    std::vector<batch_ptr> batches;
    for (offset base = 0; base < 40; base += 4) {
        batches.push_back(make_batch(base, 4, "many"));
    }
    ASSERT_TRUE(append(*log, batches).has_value());
    EXPECT_EQ(fs.appends[segment_file(dir, 0, ".log")], 1);
    EXPECT_EQ(fs.appends[dir + "/topics.dict"], 1); // three new topics, one write
    ASSERT_TRUE(append(*log, make_batch(40, 3, "many")).has_value());
    EXPECT_EQ(fs.appends[segment_file(dir, 0, ".log")], 2);
    EXPECT_EQ(fs.appends[dir + "/topics.dict"], 1); // no new topic, no write
    EXPECT_EQ(flatten(read_all(*log)).size(), 43u);
}

TEST(DiskLog, FlushMovesDurableEndAndSurvivesPowerLoss) {
    std::vector<batch_ptr> flushed;
    std::vector<batch_ptr> unflushed;
    {
        rt::memory_file_system fs;
        auto log = open_log(fs, dir, small_segments());
        ASSERT_TRUE(log);
        flushed = fill(*log, 60);
        EXPECT_LT(log->durable_end(), log->end()); // only what rolls synced
        ASSERT_TRUE(flush(*log).has_value());
        EXPECT_EQ(log->durable_end(), log->end());
        // Unflushed appends, some with topics the dictionary has not synced.
        unflushed = fill(*log, 5, "late");
        EXPECT_EQ(log->durable_end(), flatten(flushed).size());
    }
    const std::size_t durable = flatten(flushed).size();

    // Power loss keeping 0 to 1000 unsynced bytes of each file.
    for (std::size_t keep : {0u, 1u, 17u, 50u, 100u, 1000u}) {
        SCOPED_TRACE(keep);
        rt::memory_file_system crashed;
        auto l = open_log(crashed, dir, small_segments());
        ASSERT_TRUE(l);
        std::vector<batch_ptr> all;
        for (const auto& b : flushed) {
            ASSERT_TRUE(append(*l, b).has_value());
            all.push_back(b);
        }
        ASSERT_TRUE(flush(*l).has_value());
        for (const auto& b : unflushed) {
            ASSERT_TRUE(append(*l, b).has_value());
            all.push_back(b);
        }
        l.reset();
        crashed.crash(keep);
        l = open_log(crashed, dir, small_segments());
        ASSERT_TRUE(l);
        const auto got = flatten(read_all(*l));
        const auto everything = flatten(all);
        // All that was flushed, then a prefix of the rest, nothing else.
        ASSERT_GE(got.size(), durable);
        ASSERT_LE(got.size(), everything.size());
        EXPECT_EQ(got, std::vector(everything.begin(),
                                   everything.begin() + static_cast<std::ptrdiff_t>(got.size())));
        EXPECT_EQ(l->end(), got.size());
        EXPECT_EQ(l->durable_end(), l->end()); // recovery synced what it kept
        if (keep == 0) {
            EXPECT_EQ(got.size(), durable);
        }
    }
}

TEST(DiskLog, EnospcMidAppendKeepsTheLogValid) {
    rt::memory_file_system fs;
    auto log = open_log(fs, dir);
    ASSERT_TRUE(log);
    const auto before = fill(*log, 10);
    ASSERT_TRUE(flush(*log).has_value());
    const offset end = log->end();
    const std::uint64_t size = log->size_bytes();

    batch_ptr next = make_batch(end, 4);
    fs.fail_writes_after(20, std::errc::no_space_on_device);
    auto failed = append(*log, next);
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error(), std::errc::no_space_on_device);
    EXPECT_EQ(log->end(), end);
    EXPECT_EQ(log->durable_end(), end);
    EXPECT_EQ(log->size_bytes(), size);
    EXPECT_EQ(fs.contents(segment_file(dir, 0, ".log"))->size(), size); // the torn tail was cut
    EXPECT_EQ(flatten(read_all(*log)), flatten(before));

    // A full disk also fails the next append; nothing is written.
    auto still = append(*log, next);
    EXPECT_FALSE(still.has_value());
    EXPECT_EQ(fs.contents(segment_file(dir, 0, ".log"))->size(), size);

    // Space comes back: the same batch goes in.
    fs.clear_faults();
    ASSERT_TRUE(append(*log, next).has_value());
    ASSERT_TRUE(flush(*log).has_value());
    auto all = before;
    all.push_back(next);
    EXPECT_EQ(flatten(read_all(*log)), flatten(all));
    close(log);
    log = open_log(fs, dir);
    ASSERT_TRUE(log);
    EXPECT_EQ(flatten(read_all(*log)), flatten(all));
    EXPECT_EQ(log->recovered().truncated_bytes, 0u);
}

TEST(DiskLog, FailedAppendAtEveryByteIsCutBack) {
    rt::memory_file_system fs;
    auto log = open_log(fs, dir);
    ASSERT_TRUE(log);
    const auto before = fill(*log, 3);
    const std::uint64_t size = log->size_bytes();
    // Two batches in one write, one of them with a new topic.
    const std::vector<batch_ptr> next = {make_batch(log->end(), 2),
                                         make_batch(log->end() + 2, 3, "fresh")};
    for (std::size_t budget = 0;; ++budget) {
        fs.fail_writes_after(budget, std::errc::io_error);
        auto r = append(*log, next);
        fs.clear_faults();
        if (r) {
            break; // the budget covered the whole write
        }
        ASSERT_EQ(r.error(), std::errc::io_error);
        EXPECT_EQ(fs.contents(segment_file(dir, 0, ".log"))->size(), size) << budget;
        EXPECT_EQ(flatten(read_all(*log)), flatten(before)) << budget;
    }
    auto all = before;
    all.insert(all.end(), next.begin(), next.end());
    EXPECT_EQ(flatten(read_all(*log)), flatten(all));
    ASSERT_TRUE(flush(*log).has_value());
    close(log);
    log = open_log(fs, dir);
    ASSERT_TRUE(log);
    EXPECT_EQ(flatten(read_all(*log)), flatten(all));
}

TEST(DiskLog, FailedSyncIsNeverReportedDurable) {
    rt::memory_file_system fs;
    auto log = open_log(fs, dir);
    ASSERT_TRUE(log);
    const auto written = fill(*log, 5);
    fs.fail_syncs(std::errc::io_error);
    auto failed = flush(*log);
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error(), std::errc::io_error);
    EXPECT_EQ(log->durable_end(), 0u);
    fs.clear_faults();
    // The kernel may have dropped the pages: a later sync proves nothing.
    EXPECT_FALSE(flush(*log).has_value());
    EXPECT_EQ(log->durable_end(), 0u);
    EXPECT_EQ(flatten(read_all(*log)), flatten(written)); // reads go on
    log.reset();
    log = open_log(fs, dir);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->durable_end(), log->end());
    EXPECT_EQ(flatten(read_all(*log)), flatten(written));
}

TEST(DiskLog, RollsByAge) {
    rt::memory_file_system fs;
    disk_log_options o;
    o.segment_ms = 1000;
    auto log = open_log(fs, dir, o);
    ASSERT_TRUE(log);
    for (std::int64_t t : {0, 500, 999, 1000, 1500, 2100, 2200}) {
        ASSERT_TRUE(append(*log, make_batch(log->end(), 1, "t", 10'000 + t)).has_value());
    }
    const auto segments = log->segments();
    ASSERT_EQ(segments.size(), 3u);
    EXPECT_EQ(segments[0].first_timestamp, 10'000);
    EXPECT_EQ(segments[0].last_timestamp, 10'999);
    EXPECT_EQ(segments[1].base, 3u);
    EXPECT_EQ(segments[1].first_timestamp, 11'000);
    EXPECT_EQ(segments[2].base, 5u);
    EXPECT_EQ(segments[2].last_timestamp, 12'200);
    // The old segments were synced when the log rolled past them.
    EXPECT_EQ(log->durable_end(), 5u);
}

TEST(DiskLog, RollsWithoutSyncUnderNever) {
    rt::memory_file_system fs;
    disk_log_options o = small_segments();
    o.sync_on_roll = false;
    auto log = open_log(fs, dir, o);
    ASSERT_TRUE(log);
    const std::size_t syncs = fs.syncs();
    const auto written = fill(*log, 60);
    ASSERT_GT(log->segments().size(), 2u);
    EXPECT_EQ(log->durable_end(), 0u);
    EXPECT_EQ(fs.syncs(), syncs);
    // The sealed segments' indexes were written when the log rolled.
    EXPECT_TRUE(fs.contents(segment_file(dir, 0, ".index")));
    EXPECT_EQ(flatten(read_all(*log)), flatten(written));
    // A flush (at shutdown) syncs the sealed segments too.
    ASSERT_TRUE(flush(*log).has_value());
    EXPECT_EQ(log->durable_end(), log->end());
    log.reset();
    fs.crash();
    log = open_log(fs, dir, o);
    ASSERT_TRUE(log);
    EXPECT_EQ(flatten(read_all(*log)), flatten(written));
    EXPECT_EQ(log->recovered().lost_records, 0u);
}

TEST(DiskLog, RetentionByBytes) {
    rt::memory_file_system fs;
    disk_log_options o = small_segments();
    o.retention_bytes = 5000;
    auto log = open_log(fs, dir, o);
    ASSERT_TRUE(log);
    const auto written = fill(*log, 150);
    const auto before = log->segments();
    ASSERT_GT(log->size_bytes(), 10'000u);
    auto report = run(log->apply_retention(0));
    ASSERT_TRUE(report.has_value());
    EXPECT_GT(report->segments_removed, 0u);
    EXPECT_LE(log->size_bytes(), 5000u);
    EXPECT_GT(log->size_bytes() + before[report->segments_removed - 1].size_bytes, 5000u)
        << "removed one segment too many";
    EXPECT_EQ(log->start(), before[report->segments_removed].base);
    EXPECT_EQ(report->start, log->start());
    EXPECT_EQ(report->records_removed, log->start());
    for (std::size_t i = 0; i < report->segments_removed; ++i) {
        EXPECT_FALSE(fs.contents(segment_file(dir, before[i].base, ".log")));
        EXPECT_FALSE(fs.contents(segment_file(dir, before[i].base, ".index")));
    }
    // A reader behind the start jumps to it.
    const auto all = flatten(written);
    EXPECT_EQ(flatten(read_all(*log, 0)),
              std::vector(all.begin() + static_cast<std::ptrdiff_t>(log->start()), all.end()));
    // The active segment stays, however small the limit.
    close(log);
    o.retention_bytes = 0;
    log = open_log(fs, dir, o);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->start(), report->start);
    ASSERT_TRUE(run(log->apply_retention(0)).has_value());
    ASSERT_EQ(log->segments().size(), 1u);
    EXPECT_EQ(log->end(), all.size());
    EXPECT_EQ(flatten(read_all(*log)).back(), all.back());
}

TEST(DiskLog, RetentionByAge) {
    rt::memory_file_system fs;
    disk_log_options o = small_segments();
    o.retention_ms = 10'000;
    auto log = open_log(fs, dir, o);
    ASSERT_TRUE(log);
    fill(*log, 40, "t", 100'000);
    const offset young_from = log->end();
    fill(*log, 40, "t", 200'000);
    // Nothing is old enough yet.
    auto none = run(log->apply_retention(105'000));
    ASSERT_TRUE(none.has_value());
    EXPECT_EQ(none->segments_removed, 0u);
    EXPECT_EQ(log->start(), 0u);
    // The segments holding only old batches go; the one that also holds a
    // young batch stays.
    auto report = run(log->apply_retention(150'000));
    ASSERT_TRUE(report.has_value());
    EXPECT_GT(report->segments_removed, 0u);
    EXPECT_GT(log->start(), 0u);
    EXPECT_LE(log->start(), young_from);
    for (const auto& s : log->segments()) {
        EXPECT_EQ(s.last_timestamp, 200'000);
    }
    // Everything is old: all but the active segment go.
    ASSERT_TRUE(run(log->apply_retention(1'000'000)).has_value());
    EXPECT_EQ(log->segments().size(), 1u);
}

} // namespace
} // namespace zama::commitlog::test
