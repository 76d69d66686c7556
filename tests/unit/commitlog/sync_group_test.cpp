// The group sync: syncs asked for during a round share the next one, a
// disk_log syncs through the group, and a failed round sends every log back
// to its own files until it has synced them once.

#include "commitlog/sync_group.hpp"

#include "log_test_util.hpp"

namespace zama::commitlog::test {
namespace {

/// A group with two anchors (two rounds at once), as the router makes it.
std::unique_ptr<sync_group> make_group(rt::memory_file_system& fs) {
    fs.put("meta", {1, 2, 3});
    std::vector<std::unique_ptr<rt::file>> anchors;
    for (int i = 0; i < 2; ++i) {
        auto anchor = run(fs.open("meta", {}));
        EXPECT_TRUE(anchor.has_value());
        anchors.push_back(std::move(*anchor));
    }
    return std::make_unique<sync_group>(std::move(anchors));
}

rt::task<void> sync_once(sync_group* g, int* ok) {
    auto synced = co_await g->sync();
    if (synced) {
        ++*ok;
    }
}

rt::task<void> five_syncs(sync_group* g, int* ok) {
    rt::reactor& r = rt::reactor::local();
    r.spawn(sync_once(g, ok));
    const bool first = co_await eventually([g] { return g->rounds() == 1; });
    EXPECT_TRUE(first);
    // Rounds take 50 ms (the file system's delay). Asked for during round
    // 1, these two start round 2 at once, together...
    r.spawn(sync_once(g, ok));
    r.spawn(sync_once(g, ok));
    const bool second = co_await eventually([g] { return g->rounds() == 2; });
    EXPECT_TRUE(second);
    EXPECT_EQ(*ok, 0); // round 1 is still running
    // ...and with two rounds running, these two wait for one to end, then
    // share round 3.
    r.spawn(sync_once(g, ok));
    r.spawn(sync_once(g, ok));
    const bool finished = co_await eventually([ok] { return *ok == 5; });
    EXPECT_TRUE(finished);
}

TEST(SyncGroup, SyncsAskedForDuringRoundsShareTheNext) {
    rt::memory_file_system fs;
    auto g = make_group(fs);
    fs.delay(std::chrono::milliseconds(50));
    int ok = 0;
    run(five_syncs(g.get(), &ok));
    EXPECT_EQ(ok, 5);
    EXPECT_EQ(g->rounds(), 3u);
    EXPECT_EQ(fs.filesystem_syncs(), 3u);
    EXPECT_EQ(fs.syncs(), 0u);
    run(g->close());
}

disk_log_options grouped(sync_group& g) {
    disk_log_options o;
    o.segment_bytes = 2000;
    o.group = &g;
    return o;
}

TEST(SyncGroup, LogsSyncThroughTheGroupAndSurvivePowerLoss) {
    rt::memory_file_system fs;
    auto g = make_group(fs);
    auto a = open_log(fs, "p0", grouped(*g));
    auto b = open_log(fs, "p1", grouped(*g));
    ASSERT_TRUE(a && b);
    const auto in_a = fill(*a, 30, "a"); // rolls segments: those syncs go to the group too
    const auto in_b = fill(*b, 3, "b");
    ASSERT_TRUE(flush(*a).has_value());
    ASSERT_TRUE(flush(*b).has_value());
    EXPECT_EQ(a->durable_end(), a->end());
    EXPECT_EQ(b->durable_end(), b->end());
    EXPECT_EQ(fs.syncs(), 0u); // no fdatasync: recovery's and the flushes' syncs were rounds
    EXPECT_GE(g->rounds(), 4u);
    close(a);
    close(b);
    run(g->close());

    fs.crash();
    auto a2 = open_log(fs, "p0");
    auto b2 = open_log(fs, "p1");
    ASSERT_TRUE(a2 && b2);
    EXPECT_EQ(flatten(read_all(*a2)), flatten(in_a));
    EXPECT_EQ(flatten(read_all(*b2)), flatten(in_b));
}

/// Two logs with data not yet synced, sharing a group; closed at the end.
class SyncGroupTwoLogs : public ::testing::Test {
  protected:
    void SetUp() override {
        g = make_group(fs);
        a = open_log(fs, "p0", grouped(*g));
        b = open_log(fs, "p1", grouped(*g));
        ASSERT_TRUE(a && b);
        fill(*a, 2, "a");
        fill(*b, 2, "b");
    }
    void TearDown() override {
        fs.delay({});
        close(a);
        close(b);
        run(g->close());
    }

    rt::memory_file_system fs;
    std::unique_ptr<sync_group> g;
    std::unique_ptr<disk_log> a;
    std::unique_ptr<disk_log> b;
};

TEST_F(SyncGroupTwoLogs, AFailedRoundSendsEveryLogToItsOwnFilesOnce) {

    // An error elsewhere on the filesystem: the round fails, and the log
    // that asked for it syncs its own files, which are fine.
    fs.fail_filesystem_syncs(std::errc::io_error);
    const std::size_t datasyncs = fs.syncs();
    ASSERT_TRUE(flush(*a).has_value());
    EXPECT_EQ(a->durable_end(), a->end());
    EXPECT_EQ(g->failures(), 1u);
    EXPECT_GT(fs.syncs(), datasyncs);
    fs.clear_faults();

    // b was not in that round. The error it reported is used up, so b
    // checks its own files once instead of trusting the next round...
    const std::size_t rounds = g->rounds();
    const std::size_t before_b = fs.syncs();
    ASSERT_TRUE(flush(*b).has_value());
    EXPECT_GT(fs.syncs(), before_b);
    EXPECT_EQ(g->rounds(), rounds);
    EXPECT_EQ(b->durable_end(), b->end());

    // ...and then goes back to the group, as does a.
    fill(*a, 1, "a");
    fill(*b, 1, "b");
    const std::size_t before = fs.syncs();
    ASSERT_TRUE(flush(*a).has_value());
    ASSERT_TRUE(flush(*b).has_value());
    EXPECT_EQ(fs.syncs(), before);
    EXPECT_EQ(g->rounds(), rounds + 2);
}

rt::task<void> flush_into(disk_log* log, std::optional<result<void, std::errc>>* out) {
    out->emplace(co_await log->flush());
}

rt::task<void> overlapping_rounds(rt::memory_file_system* fs, sync_group* g, disk_log* a,
                                  disk_log* b, std::optional<result<void, std::errc>>* a_done,
                                  std::optional<result<void, std::errc>>* b_done) {
    rt::reactor& r = rt::reactor::local();
    const std::uint64_t before = g->rounds();
    r.spawn(flush_into(a, a_done)); // round 1, ending 100 ms later
    const bool first = co_await eventually([g, before] { return g->rounds() == before + 1; });
    EXPECT_TRUE(first);
    fs->fail_filesystem_syncs(std::errc::io_error); // round 1 fails
    co_await r.sleep_for(std::chrono::milliseconds(20));
    r.spawn(flush_into(b, b_done)); // round 2, on the other anchor, ends later
    const bool failed = co_await eventually([g] { return g->failures() == 1; });
    EXPECT_TRUE(failed);
    fs->clear_faults(); // round 2 succeeds
    const bool done =
        co_await eventually([&] { return a_done->has_value() && b_done->has_value(); });
    EXPECT_TRUE(done);
}

TEST_F(SyncGroupTwoLogs, ARoundThatFailedWhileOursRanSendsUsToOurOwnFiles) {
    // Round 1's error could have been in b's files: round 2 succeeding on
    // the other anchor does not clear them, b's own fdatasync does.
    const std::size_t datasyncs = fs.syncs();
    const std::uint64_t rounds = g->rounds();
    fs.delay(std::chrono::milliseconds(100));
    std::optional<result<void, std::errc>> a_done;
    std::optional<result<void, std::errc>> b_done;
    run(overlapping_rounds(&fs, g.get(), a.get(), b.get(), &a_done, &b_done));
    fs.delay({});
    ASSERT_TRUE(a_done && b_done);
    EXPECT_TRUE(a_done->has_value());
    EXPECT_TRUE(b_done->has_value());
    EXPECT_EQ(g->rounds(), rounds + 2);
    EXPECT_EQ(g->failures(), 1u);
    // Each log synced its dictionary (new topics) and its segment.
    EXPECT_EQ(fs.syncs(), datasyncs + 4);
    EXPECT_EQ(a->durable_end(), a->end());
    EXPECT_EQ(b->durable_end(), b->end());
}

TEST(SyncGroup, WhenTheLogsOwnFilesFailTooTheFlushFails) {
    rt::memory_file_system fs;
    auto g = make_group(fs);
    auto a = open_log(fs, "p0", grouped(*g));
    ASSERT_TRUE(a);
    fill(*a, 2, "a");
    const offset durable = a->durable_end();
    fs.fail_syncs(std::errc::io_error);
    EXPECT_FALSE(flush(*a).has_value());
    EXPECT_EQ(a->durable_end(), durable);
    fs.clear_faults();
    EXPECT_FALSE(flush(*a).has_value()); // broken until reopened
    close(a);
    run(g->close());
}

} // namespace
} // namespace zama::commitlog::test
