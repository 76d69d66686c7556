// The partition log: the in-memory hot tail over the disk log, with its
// writer task and fsync policy, on the fault-injecting in-memory file
// system. Each test runs one coroutine on a fresh reactor (run()), since the
// writer lives on the reactor of the thread that opened the log; the
// coroutines check with EXPECT_* and co_return (no ASSERT_* in a coroutine).

#include "commitlog/partition_log.hpp"

#include <chrono>
#include <functional>
#include <utility>

#include "log_test_util.hpp"

namespace zama::commitlog::test {
namespace {

using namespace std::chrono_literals;

const std::string dir = "p0";

/// What the partition log told its owner.
struct recorder {
    struct progress_call {
        offset covered = 0;
        std::size_t bytes = 0;
        offset durable = 0; // the disk's durable_end() at the call
        rt::time_point at;
    };
    std::vector<progress_call> progress;
    std::vector<std::errc> failures;
    const partition_log* log = nullptr; // set once open

    partition_log_events events() {
        partition_log_events e;
        e.progress = [this](offset covered, std::size_t bytes) {
            const offset durable = log && log->disk() ? log->disk()->durable_end() : 0;
            progress.push_back({covered, bytes, durable, rt::reactor::local().now()});
        };
        e.failed = [this](std::errc error) { failures.push_back(error); };
        return e;
    }
};

partition_log_options with_fsync(fsync_mode mode, std::chrono::milliseconds interval = 5ms) {
    partition_log_options o;
    o.fsync.mode = mode;
    o.fsync.interval = interval;
    o.retry_interval = 10ms;
    return o;
}

disk_log_options small_segments() {
    disk_log_options o;
    o.segment_bytes = 2000;
    o.index_interval_bytes = 200;
    o.read_chunk_bytes = 512;
    return o;
}

rt::task<std::unique_ptr<partition_log>> open_partition(rt::file_system& fs, recorder& events,
                                                        partition_log_options options,
                                                        disk_log_options disk = {}) {
    auto opened =
        co_await partition_log::open(fs, dir, partition_id{0}, disk, options, events.events());
    EXPECT_TRUE(opened.has_value())
        << (opened ? "" : std::make_error_code(opened.error()).message());
    if (!opened) {
        co_return nullptr;
    }
    events.log = opened->get();
    co_return std::move(*opened);
}

/// Appends a batch of `n` records at end() (topics t/0..t/2, see make_batch).
batch_ptr append_batch(partition_log& log, std::size_t n = 3) {
    batch_ptr b = make_batch(log.end(), n);
    log.append(b);
    return b;
}

std::size_t total_bytes(const std::vector<batch_ptr>& batches) {
    std::size_t n = 0;
    for (const batch_ptr& b : batches) {
        n += b->bytes_size();
    }
    return n;
}

/// Everything readable from `from` on, in reads of `chunk` bytes, and
/// whether the disk (not the tail) served each batch.
struct read_back {
    std::vector<batch_ptr> batches;
    std::vector<bool> from_disk; // per batch
};

rt::task<read_back> read_everything(partition_log& log, offset from, std::size_t chunk = 512) {
    read_back out;
    for (;;) {
        auto got = co_await log.read(from, chunk);
        EXPECT_TRUE(got.has_value());
        if (!got || got->batches.empty()) {
            break;
        }
        for (auto& b : got->batches) {
            from = std::max(from, b->end());
            out.from_disk.push_back(got->from_disk);
            out.batches.push_back(std::move(b));
        }
    }
    co_return out;
}

/// Appends `count` batches of 1..4 records, `per_write` at a time, waiting
/// for each group to be covered: one write each, so segments roll.
rt::task<std::vector<batch_ptr>> append_in_writes(partition_log& log, std::size_t count,
                                                  std::size_t per_write) {
    std::vector<batch_ptr> appended;
    for (std::size_t i = 0; i < count; ++i) {
        appended.push_back(append_batch(log, 1 + i % 4));
        if ((i + 1) % per_write == 0 || i + 1 == count) {
            auto covered = [&] { return log.covered_end() == log.end(); };
            EXPECT_TRUE(co_await eventually(covered));
        }
    }
    co_return appended;
}

std::size_t detached_tasks() {
    return rt::frame_stats::local().detached;
}

// --- 1. Memory only -----------------------------------------------------------

rt::task<void> memory_only_body() {
    recorder events;
    const std::size_t batch_bytes = make_batch(0, 3)->bytes_size();
    partition_log_options options;
    options.memory_bytes = 4 * batch_bytes;
    partition_log log(partition_id{0}, options, events.events());
    EXPECT_EQ(log.disk(), nullptr);
    EXPECT_TRUE(log.accepting());
    EXPECT_EQ(log.open_batch()->base(), 0u);

    std::vector<batch_ptr> appended;
    for (int i = 0; i < 3; ++i) {
        appended.push_back(append_batch(log));
        EXPECT_EQ(log.end(), appended.back()->end());
        EXPECT_EQ(log.covered_end(), log.end()); // nothing to wait for
        EXPECT_EQ(log.unwritten_bytes(), 0u);
    }
    EXPECT_EQ(log.open_batch()->base(), log.end());
    auto got = co_await log.read(0, 1 << 20);
    EXPECT_TRUE(got.has_value());
    if (!got) {
        co_return;
    }
    EXPECT_FALSE(got->from_disk);
    EXPECT_EQ(got->batches.size(), appended.size());
    for (std::size_t i = 0; i < std::min(got->batches.size(), appended.size()); ++i) {
        EXPECT_EQ(got->batches[i].get(), appended[i].get()) << "the tail shares its batches";
    }
    // A read from inside a batch starts with that batch.
    auto middle = co_await log.read(4, 1);
    EXPECT_TRUE(middle && middle->batches.size() == 1 &&
                middle->batches[0].get() == appended[1].get());

    // Past the bound the oldest batches go: start() moves, and a reader
    // behind it gets what is left.
    for (int i = 0; i < 10; ++i) {
        appended.push_back(append_batch(log));
        EXPECT_EQ(log.covered_end(), log.end());
    }
    EXPECT_EQ(log.end(), 39u);
    EXPECT_GT(log.start(), 0u);
    EXPECT_LE(log.start(), log.end() - offset{9}); // three or four batches fit
    auto rest = co_await read_everything(log, 0);
    EXPECT_TRUE(!rest.batches.empty() && rest.batches.front()->base() == log.start());
    const auto all = flatten(appended);
    EXPECT_EQ(flatten(rest.batches),
              std::vector(all.begin() + static_cast<std::ptrdiff_t>(log.start()), all.end()));
    EXPECT_EQ(std::count(rest.from_disk.begin(), rest.from_disk.end(), true), 0);
    EXPECT_TRUE(events.progress.empty());
    co_await log.close(); // nothing to do, and no writer to wait for
}

TEST(PartitionLog, MemoryOnlyCoversAtOnceAndDropsPastTheBound) {
    run(memory_only_body());
}

// --- 2. fsync = always --------------------------------------------------------

rt::task<void> fsync_always_body(rt::memory_file_system& mem, counting_file_system& fs) {
    recorder events;
    auto log = co_await open_partition(fs, events, with_fsync(fsync_mode::always));
    if (!log) {
        co_return;
    }
    const std::string seg = segment_file(dir, 0, ".log");

    // One batch: written, then synced, then covered; the owner hears once.
    mem.delay(5ms);
    const batch_ptr b0 = append_batch(*log);
    EXPECT_EQ(log->end(), 3u);
    EXPECT_EQ(log->covered_end(), 0u);
    EXPECT_EQ(log->unwritten_bytes(), b0->bytes_size());
    bool seen_written_not_covered = false;
    auto covered0 = [&] {
        EXPECT_EQ(log->covered_end(), log->disk()->durable_end());
        EXPECT_LE(log->covered_end(), log->disk()->end());
        if (log->disk()->end() == 3 && log->covered_end() < 3) {
            seen_written_not_covered = true;
        }
        return log->covered_end() == 3;
    };
    EXPECT_TRUE(co_await eventually(covered0));
    EXPECT_TRUE(seen_written_not_covered) << "covered before the sync completed";
    EXPECT_EQ(log->disk()->durable_end(), 3u);
    EXPECT_EQ(log->unwritten_bytes(), 0u);
    EXPECT_EQ(events.progress.size(), 1u);
    if (events.progress.size() == 1) {
        EXPECT_EQ(events.progress[0].covered, 3u);
        EXPECT_EQ(events.progress[0].durable, 3u);
        EXPECT_EQ(events.progress[0].bytes, b0->bytes_size());
    }

    // Group commit: what arrives while a sync is in flight goes in one
    // write and one sync.
    const int writes_before = fs.appends[seg];
    const std::size_t syncs_before = mem.syncs();
    const batch_ptr b1 = append_batch(*log);
    auto b1_written = [&] { return log->disk()->end() == b1->end(); };
    EXPECT_TRUE(co_await eventually(b1_written));
    EXPECT_LT(log->covered_end(), b1->end()); // its sync is in flight
    std::vector<batch_ptr> group;
    for (std::size_t n : {1u, 2u, 3u}) {
        group.push_back(append_batch(*log, n));
    }
    EXPECT_EQ(log->unwritten_bytes(), total_bytes(group));
    auto all_covered = [&] { return log->covered_end() == group.back()->end(); };
    EXPECT_TRUE(co_await eventually(all_covered));
    EXPECT_EQ(fs.appends[seg] - writes_before, 2) << "b1, then the group in one write";
    EXPECT_EQ(mem.syncs() - syncs_before, 2u) << "one sync for b1, one for the group";
    EXPECT_EQ(events.progress.size(), 3u);
    if (events.progress.size() == 3) {
        EXPECT_EQ(events.progress[1].covered, b1->end());
        EXPECT_EQ(events.progress[1].bytes, b1->bytes_size());
        EXPECT_EQ(events.progress[2].covered, group.back()->end());
        EXPECT_EQ(events.progress[2].bytes, total_bytes(group));
        EXPECT_EQ(events.progress[2].durable, group.back()->end());
    }
    EXPECT_TRUE(events.failures.empty());
    EXPECT_TRUE(log->accepting());
    mem.clear_faults();
    co_await log->close();
}

TEST(PartitionLog, FsyncAlwaysCoversAfterTheSyncAndCommitsInGroups) {
    rt::memory_file_system mem;
    counting_file_system fs(mem);
    run(fsync_always_body(mem, fs));
    EXPECT_EQ(detached_tasks(), 0u);
}

// --- 3. fsync = N ms ------------------------------------------------------------

rt::task<void> fsync_interval_body(rt::memory_file_system& mem) {
    recorder events;
    auto log = co_await open_partition(mem, events, with_fsync(fsync_mode::interval, 30ms));
    if (!log) {
        co_return;
    }
    const std::size_t syncs_before = mem.syncs();
    const batch_ptr b = append_batch(*log);
    EXPECT_EQ(log->covered_end(), 0u);
    auto written = [&] { return !events.progress.empty(); };
    EXPECT_TRUE(co_await eventually(written));
    const recorder::progress_call first =
        events.progress.empty() ? recorder::progress_call{} : events.progress[0];
    // Covered once written to the kernel, before any sync.
    EXPECT_EQ(log->covered_end(), b->end());
    EXPECT_EQ(first.covered, b->end());
    EXPECT_EQ(first.bytes, b->bytes_size());
    EXPECT_EQ(first.durable, 0u) << "synced at once";
    EXPECT_EQ(log->disk()->end(), b->end());

    // The sync follows within the interval (not sooner).
    auto durable = [&] { return log->disk()->durable_end() == b->end(); };
    EXPECT_TRUE(co_await eventually(durable));
    EXPECT_GE(rt::reactor::local().now() - first.at, 30ms);
    EXPECT_GT(mem.syncs(), syncs_before);
    EXPECT_EQ(events.progress.size(), 1u);
    co_await log->close();
}

TEST(PartitionLog, FsyncIntervalCoversOnWriteAndSyncsWithinTheInterval) {
    rt::memory_file_system mem;
    run(fsync_interval_body(mem));
    EXPECT_EQ(detached_tasks(), 0u);
}

// Under a steady stream of appends the writer always finds more to write
// when it comes round; the interval's sync must still happen.
rt::task<void> interval_under_load_body(rt::memory_file_system& mem, offset& durable_under_load,
                                        offset& appended_under_load) {
    recorder events;
    auto log = co_await open_partition(mem, events, with_fsync(fsync_mode::interval, 5ms));
    if (!log) {
        co_return;
    }
    mem.delay(2ms); // each write takes a while: appends arrive meanwhile
    rt::reactor& r = rt::reactor::local();
    const rt::time_point until = r.now() + 150ms;
    while (r.now() < until) {
        append_batch(*log, 1);
        co_await r.sleep_for(1ms);
    }
    durable_under_load = log->disk()->durable_end();
    appended_under_load = log->end();
    co_await log->close();
    EXPECT_EQ(log->disk()->durable_end(), log->end());
}

TEST(PartitionLog, FsyncIntervalSyncsUnderSteadyLoad) {
    // Under a steady load the queue is never empty when the writer comes
    // round; the due sync must still run ("synced within N ms").
    rt::memory_file_system mem;
    offset durable = 0;
    offset appended = 0;
    run(interval_under_load_body(mem, durable, appended));
    EXPECT_GT(appended, 50u);
    EXPECT_GT(durable, 0u) << "nothing synced during 150 ms of appends with fsync = 5 ms";
}

// --- 4. fsync = never -----------------------------------------------------------

rt::task<void> fsync_never_body(rt::memory_file_system& mem, std::vector<batch_ptr>& appended) {
    recorder events;
    auto log = co_await open_partition(mem, events, with_fsync(fsync_mode::never));
    if (!log) {
        co_return;
    }
    const std::size_t syncs_before = mem.syncs();
    for (int i = 0; i < 5; ++i) {
        appended.push_back(append_batch(*log));
    }
    auto written = [&] { return log->covered_end() == log->end(); };
    EXPECT_TRUE(co_await eventually(written));
    EXPECT_EQ(log->disk()->end(), log->end());
    co_await rt::reactor::local().sleep_for(20ms);
    EXPECT_EQ(log->disk()->durable_end(), 0u);
    EXPECT_EQ(mem.syncs(), syncs_before) << "synced without a roll or close";
    co_await log->close();
    EXPECT_EQ(log->disk()->durable_end(), log->end());
    EXPECT_GT(mem.syncs(), syncs_before);
}

TEST(PartitionLog, FsyncNeverCoversOnWriteAndSyncsAtClose) {
    rt::memory_file_system mem;
    std::vector<batch_ptr> appended;
    run(fsync_never_body(mem, appended));
    EXPECT_EQ(detached_tasks(), 0u);
    mem.crash();
    auto log = open_log(mem, dir);
    ASSERT_TRUE(log);
    EXPECT_EQ(flatten(read_all(*log)), flatten(appended));
}

// --- 5. Reads behind the hot tail ---------------------------------------------------

rt::task<void> reads_behind_tail_body(rt::memory_file_system& mem) {
    recorder events;
    partition_log_options options = with_fsync(fsync_mode::interval);
    options.memory_bytes = 3 * make_batch(0, 3)->bytes_size();
    auto log = co_await open_partition(mem, events, options, small_segments());
    if (!log) {
        co_return;
    }
    const std::vector<batch_ptr> appended = co_await append_in_writes(*log, 90, 5);
    EXPECT_GT(log->disk()->segments().size(), 2u);

    // From the start: the disk (fresh copies), then the tail (shared).
    auto first = co_await log->read(0, 1);
    EXPECT_TRUE(first && first->from_disk && first->batches.size() == 1 &&
                first->batches[0]->base() == 0 && first->batches[0].get() != appended[0].get());
    auto all = co_await read_everything(*log, 0, 1); // a batch at a time
    EXPECT_EQ(flatten(all.batches), flatten(appended));
    EXPECT_TRUE(!all.from_disk.empty() && all.from_disk.front());
    EXPECT_TRUE(!all.from_disk.empty() && !all.from_disk.back());
    std::size_t tail_from = all.from_disk.size();
    while (tail_from > 0 && !all.from_disk[tail_from - 1]) {
        --tail_from;
    }
    EXPECT_GE(all.batches.size() - tail_from, 1u);
    EXPECT_LE(all.batches.size() - tail_from, 3u) << "the tail outgrew its bound";
    for (std::size_t i = tail_from; i < all.batches.size(); ++i) {
        const batch_ptr& b = all.batches[i];
        const batch_ptr& original = appended[appended.size() - (all.batches.size() - i)];
        EXPECT_EQ(b.get(), original.get()) << "a tail read returns the appended batch";
    }

    // Every offset reads back the batch that holds it, with its records.
    const auto expected = flatten(appended);
    for (offset from = 0; from < log->end(); from += 5) {
        auto got = co_await log->read(from, 1);
        EXPECT_TRUE(got && !got->batches.empty());
        if (!got || got->batches.empty()) {
            break;
        }
        const batch_ptr& b = got->batches[0];
        EXPECT_LE(b->base(), from);
        EXPECT_GT(b->end(), from);
        EXPECT_EQ(flatten({b}),
                  std::vector(expected.begin() + static_cast<std::ptrdiff_t>(b->base()),
                              expected.begin() + static_cast<std::ptrdiff_t>(b->end())));
    }
    auto inside_tail = co_await log->read(appended.back()->base(), 1);
    EXPECT_TRUE(inside_tail && !inside_tail->from_disk && inside_tail->batches.size() == 1 &&
                inside_tail->batches[0].get() == appended.back().get());
    auto past_end = co_await log->read(log->end(), 1 << 20);
    EXPECT_TRUE(past_end && past_end->batches.empty());
    co_await log->close();
}

TEST(PartitionLog, ReadsBehindTheTailComeFromDisk) {
    rt::memory_file_system mem;
    run(reads_behind_tail_body(mem));
    EXPECT_EQ(detached_tasks(), 0u);
}

// --- 6. The tail keeps what is not written ---------------------------------------------

rt::task<void> tail_keeps_unwritten_body(rt::memory_file_system& mem) {
    recorder events;
    partition_log_options options = with_fsync(fsync_mode::never);
    options.memory_bytes = 2 * make_batch(0, 3)->bytes_size();
    auto log = co_await open_partition(mem, events, options);
    if (!log) {
        co_return;
    }
    mem.delay(20ms); // a slow disk: the first write is in flight for a while
    std::vector<batch_ptr> appended;
    appended.reserve(20);
    for (int i = 0; i < 10; ++i) {
        appended.push_back(append_batch(*log));
    }
    co_await rt::reactor::local().sleep_for(5ms);
    for (int i = 0; i < 10; ++i) {
        appended.push_back(append_batch(*log));
    }
    EXPECT_EQ(log->disk()->end(), 0u);
    EXPECT_GT(log->unwritten_bytes(), 5 * options.memory_bytes);
    // Everything is still in the tail, far past its bound.
    auto held = co_await read_everything(*log, 0);
    EXPECT_EQ(flatten(held.batches), flatten(appended));
    EXPECT_EQ(std::count(held.from_disk.begin(), held.from_disk.end(), true), 0);
    EXPECT_EQ(held.batches.size(), appended.size());

    // The first write (10 batches) lands: the tail drops those, not the
    // 10 still queued behind it.
    auto first_written = [&] { return log->disk()->end() == appended[9]->end(); };
    EXPECT_TRUE(co_await eventually(first_written));
    EXPECT_EQ(log->covered_end(), appended[9]->end());
    auto queued = co_await log->read(appended[10]->base(), 1 << 20); // from memory: no wait
    EXPECT_TRUE(queued && !queued->from_disk);
    if (queued) {
        EXPECT_EQ(flatten(queued->batches),
                  flatten(std::vector(appended.begin() + 10, appended.end())));
    }
    auto early = co_await log->read(0, 1);
    EXPECT_TRUE(early && early->from_disk) << "a written batch stayed in the tail";
    // Then the rest: the tail shrinks back to its bound.
    auto all_written = [&] { return log->unwritten_bytes() == 0; };
    EXPECT_TRUE(co_await eventually(all_written));
    auto tail = co_await log->read(appended[17]->base(), 1 << 20);
    EXPECT_TRUE(tail && tail->from_disk) << "the tail did not trim once written";
    auto newest = co_await log->read(appended[19]->base(), 1 << 20);
    EXPECT_TRUE(newest && !newest->from_disk);
    mem.clear_faults();
    auto back = co_await read_everything(*log, 0);
    EXPECT_EQ(flatten(back.batches), flatten(appended));
    co_await log->close();
}

TEST(PartitionLog, TheTailNeverDropsUnwrittenBatches) {
    rt::memory_file_system mem;
    run(tail_keeps_unwritten_body(mem));
    EXPECT_EQ(detached_tasks(), 0u);
}

// --- 7. A failed write ------------------------------------------------------------------

rt::task<void> enospc_body(rt::memory_file_system& mem, std::vector<batch_ptr>& appended) {
    recorder events;
    auto log = co_await open_partition(mem, events, with_fsync(fsync_mode::always));
    if (!log) {
        co_return;
    }
    appended.push_back(append_batch(*log));
    auto first = [&] { return log->covered_end() == log->end(); };
    EXPECT_TRUE(co_await eventually(first));
    const offset good_end = log->end();

    // A torn write, then a full disk.
    mem.fail_writes_after(20, std::errc::no_space_on_device);
    appended.push_back(append_batch(*log));
    auto failed = [&] { return !events.failures.empty(); };
    EXPECT_TRUE(co_await eventually(failed));
    EXPECT_FALSE(log->accepting());
    EXPECT_EQ(log->covered_end(), good_end);
    EXPECT_EQ(log->disk()->end(), good_end);
    // The router stops appending, but what was in flight may still come.
    appended.push_back(append_batch(*log, 2));
    auto retried = [&] { return events.failures.size() >= 3; };
    EXPECT_TRUE(co_await eventually(retried));
    for (std::errc e : events.failures) {
        EXPECT_EQ(e, std::errc::no_space_on_device);
    }
    EXPECT_FALSE(log->accepting());
    EXPECT_EQ(log->covered_end(), good_end);
    EXPECT_EQ(log->unwritten_bytes(), appended[1]->bytes_size() + appended[2]->bytes_size());
    EXPECT_EQ(events.progress.size(), 1u);

    // Space comes back: the retry writes both batches, once.
    mem.clear_faults();
    auto recovered = [&] { return log->accepting() && log->covered_end() == log->end(); };
    EXPECT_TRUE(co_await eventually(recovered));
    EXPECT_EQ(log->unwritten_bytes(), 0u);
    EXPECT_EQ(log->disk()->durable_end(), log->end());
    EXPECT_EQ(events.progress.size(), 2u);
    if (events.progress.size() == 2) {
        EXPECT_EQ(events.progress[1].covered, log->end());
        EXPECT_EQ(events.progress[1].bytes, appended[1]->bytes_size() + appended[2]->bytes_size());
    }
    appended.push_back(append_batch(*log));
    co_await log->close();
}

TEST(PartitionLog, FullDiskStopsAcceptingThenRetriesWithoutGapOrDuplicate) {
    rt::memory_file_system mem;
    std::vector<batch_ptr> appended;
    run(enospc_body(mem, appended));
    EXPECT_EQ(detached_tasks(), 0u);
    ASSERT_EQ(appended.size(), 4u);
    auto log = open_log(mem, dir);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->recovered().truncated_bytes, 0u);
    EXPECT_EQ(log->end(), appended.back()->end());
    EXPECT_EQ(flatten(read_all(*log)), flatten(appended));
}

// --- 8. A failed sync --------------------------------------------------------------------

rt::task<void> failed_sync_body(rt::memory_file_system& mem) {
    recorder events;
    auto log = co_await open_partition(mem, events, with_fsync(fsync_mode::always));
    if (!log) {
        co_return;
    }
    append_batch(*log);
    auto first = [&] { return log->covered_end() == log->end(); };
    EXPECT_TRUE(co_await eventually(first));
    const offset synced = log->covered_end();
    const std::size_t progress_before = events.progress.size();

    mem.fail_syncs(std::errc::io_error);
    const batch_ptr b = append_batch(*log);
    auto failed = [&] { return !events.failures.empty(); };
    EXPECT_TRUE(co_await eventually(failed));
    EXPECT_EQ(events.failures, std::vector<std::errc>{std::errc::io_error});
    EXPECT_FALSE(log->accepting());
    EXPECT_EQ(log->disk()->end(), b->end()); // written, never synced
    EXPECT_EQ(log->covered_end(), synced);

    // The disk looks healthy again; it proves nothing: still refusing.
    mem.clear_faults();
    append_batch(*log);
    co_await rt::reactor::local().sleep_for(40ms); // four retry intervals
    EXPECT_FALSE(log->accepting());
    EXPECT_EQ(log->covered_end(), synced);
    EXPECT_EQ(log->disk()->durable_end(), synced);
    for (std::size_t i = progress_before; i < events.progress.size(); ++i) {
        EXPECT_LE(events.progress[i].covered, synced) << "progress past the last good sync";
    }
    co_await log->close(); // returns although the queue cannot be written
    EXPECT_EQ(log->covered_end(), synced);
}

TEST(PartitionLog, FailedSyncStopsAcceptingForGood) {
    rt::memory_file_system mem;
    run(failed_sync_body(mem));
    EXPECT_EQ(detached_tasks(), 0u);
    // Recovery sees what is really on disk.
    auto log = open_log(mem, dir);
    ASSERT_TRUE(log);
    EXPECT_GE(log->end(), 3u);
}

// --- 9. close() ---------------------------------------------------------------------------

rt::task<void> close_writes_queued_body(rt::memory_file_system& mem, fsync_mode mode,
                                        std::vector<batch_ptr>& appended) {
    recorder events;
    auto log = co_await open_partition(mem, events, with_fsync(mode, 20ms));
    if (!log) {
        co_return;
    }
    mem.delay(2ms);
    appended.push_back(append_batch(*log));
    co_await rt::reactor::local().sleep_for(1ms); // the first write is in flight
    for (int i = 0; i < 8; ++i) {
        appended.push_back(append_batch(*log, 2));
    }
    EXPECT_GT(log->unwritten_bytes(), 0u);
    co_await log->close();
    EXPECT_EQ(log->unwritten_bytes(), 0u);
    EXPECT_EQ(log->disk()->end(), appended.back()->end());
    EXPECT_EQ(log->disk()->durable_end(), appended.back()->end());
    mem.clear_faults();
}

rt::task<void> reopen_body(rt::memory_file_system& mem, std::vector<batch_ptr>& appended) {
    recorder events;
    auto log = co_await open_partition(mem, events, with_fsync(fsync_mode::always));
    if (!log) {
        co_return;
    }
    EXPECT_EQ(log->end(), appended.back()->end());
    auto got = co_await read_everything(*log, log->start());
    EXPECT_EQ(flatten(got.batches), flatten(appended));
    co_await log->close();
}

TEST(PartitionLog, CloseWritesAndSyncsTheQueueBeforePowerLoss) {
    for (fsync_mode mode : {fsync_mode::always, fsync_mode::interval, fsync_mode::never}) {
        SCOPED_TRACE(static_cast<int>(mode));
        rt::memory_file_system mem;
        std::vector<batch_ptr> appended;
        run(close_writes_queued_body(mem, mode, appended));
        EXPECT_EQ(detached_tasks(), 0u);
        ASSERT_EQ(appended.size(), 9u);
        mem.crash();
        run(reopen_body(mem, appended));
        EXPECT_EQ(detached_tasks(), 0u);
    }
}

// --- 10. Recovery ---------------------------------------------------------------------------

rt::task<void> recovery_body(rt::memory_file_system& mem, std::vector<batch_ptr>& old) {
    recorder events;
    auto log = co_await open_partition(mem, events, with_fsync(fsync_mode::always));
    if (!log) {
        co_return;
    }
    const offset old_end = old.back()->end();
    EXPECT_EQ(log->start(), 0u);
    EXPECT_EQ(log->end(), old_end);
    EXPECT_EQ(log->covered_end(), old_end);
    EXPECT_EQ(log->open_batch()->base(), old_end);
    EXPECT_TRUE(log->accepting());
    auto before = co_await read_everything(*log, log->start());
    EXPECT_EQ(flatten(before.batches), flatten(old));
    EXPECT_EQ(std::count(before.from_disk.begin(), before.from_disk.end(), false), 0);

    // New appends carry on from end().
    batch_ptr b = log->open_batch();
    const std::string payload = "after recovery";
    b->append("t/new", bytes_of(payload), {1, false});
    b->set_timestamp(2'000);
    log->append(b);
    EXPECT_EQ(log->end(), old_end + 1);
    auto covered = [&] { return log->covered_end() == old_end + 1; };
    EXPECT_TRUE(co_await eventually(covered));
    auto all = co_await read_everything(*log, 0);
    auto expected = old;
    expected.push_back(b);
    EXPECT_EQ(flatten(all.batches), flatten(expected));
    co_await log->close();
}

TEST(PartitionLog, OpensOnExistingDataAndCarriesOn) {
    rt::memory_file_system mem;
    std::vector<batch_ptr> old;
    {
        auto disk = open_log(mem, dir, small_segments());
        ASSERT_TRUE(disk);
        for (std::size_t i = 0; i < 40; ++i) {
            old.push_back(make_batch(disk->end(), 1 + i % 3));
            ASSERT_TRUE(append(*disk, old.back()).has_value());
        }
        ASSERT_TRUE(flush(*disk).has_value());
        close(disk);
    }
    run(recovery_body(mem, old));
    EXPECT_EQ(detached_tasks(), 0u);
    auto disk = open_log(mem, dir, small_segments());
    ASSERT_TRUE(disk);
    EXPECT_EQ(disk->end(), old.back()->end() + 1);
    EXPECT_EQ(flatten(read_all(*disk)).back().payload, "after recovery");
}

// --- 11. Retention ------------------------------------------------------------------------------

rt::task<void> retention_body(rt::memory_file_system& mem, std::vector<batch_ptr>& appended) {
    recorder events;
    disk_log_options disk = small_segments();
    disk.retention_bytes = 5000;
    partition_log_options options = with_fsync(fsync_mode::never);
    options.memory_bytes = 1024;
    auto log = co_await open_partition(mem, events, options, disk);
    if (!log) {
        co_return;
    }
    appended = co_await append_in_writes(*log, 150, 5);
    EXPECT_EQ(log->start(), 0u);
    EXPECT_GT(log->disk()->size_bytes(), 10'000u);
    const auto before = log->disk()->segments();

    log->request_retention();
    auto trimmed = [&] { return log->start() > 0; };
    EXPECT_TRUE(co_await eventually(trimmed));
    EXPECT_LE(log->disk()->size_bytes(), 5000u);
    EXPECT_LT(log->disk()->segments().size(), before.size());
    EXPECT_EQ(log->start(), log->disk()->segments().front().base);
    EXPECT_FALSE(mem.contents(segment_file(dir, 0, ".log")));
    EXPECT_EQ(log->end(), appended.back()->end());

    // A reader from 0 starts at start().
    auto got = co_await read_everything(*log, 0);
    EXPECT_TRUE(!got.batches.empty() && got.batches.front()->base() == log->start());
    const auto all = flatten(appended);
    EXPECT_EQ(flatten(got.batches),
              std::vector(all.begin() + static_cast<std::ptrdiff_t>(log->start()), all.end()));
    co_await log->close();
}

TEST(PartitionLog, RetentionDeletesOldSegmentsAndMovesStart) {
    rt::memory_file_system mem;
    std::vector<batch_ptr> appended;
    run(retention_body(mem, appended));
    EXPECT_EQ(detached_tasks(), 0u);
}

// Retention asked for while appends keep the writer busy.
rt::task<void> retention_under_load_body(rt::memory_file_system& mem, offset& start_under_load) {
    recorder events;
    disk_log_options disk = small_segments();
    disk.retention_bytes = 5000;
    auto log = co_await open_partition(mem, events, with_fsync(fsync_mode::never), disk);
    if (!log) {
        co_return;
    }
    co_await append_in_writes(*log, 150, 5);
    mem.delay(2ms);
    log->request_retention();
    rt::reactor& r = rt::reactor::local();
    const rt::time_point until = r.now() + 100ms;
    while (r.now() < until) {
        append_batch(*log, 1);
        co_await r.sleep_for(1ms);
    }
    start_under_load = log->start();
    co_await log->close();
    mem.clear_faults();
}

TEST(PartitionLog, RetentionRunsUnderSteadyLoad) {
    // Under a steady load the writer always finds batches queued; old
    // segments must still be deleted while publishers keep publishing.
    rt::memory_file_system mem;
    offset start = 0;
    run(retention_under_load_body(mem, start));
    EXPECT_EQ(detached_tasks(), 0u);
    EXPECT_GT(start, 0u) << "retention did not run in 100 ms of appends";
}

// The disk fills up; retention could free space, but is it asked in time?
rt::task<void> retention_on_full_disk_body(rt::memory_file_system& mem, offset& start_while_full,
                                           bool& accepting_while_full) {
    recorder events;
    disk_log_options disk = small_segments();
    disk.retention_bytes = 5000;
    auto log = co_await open_partition(mem, events, with_fsync(fsync_mode::never), disk);
    if (!log) {
        co_return;
    }
    co_await append_in_writes(*log, 150, 5);
    mem.fail_writes_after(0, std::errc::no_space_on_device);
    append_batch(*log);
    auto failed = [&] { return !events.failures.empty(); };
    EXPECT_TRUE(co_await eventually(failed));
    log->request_retention();
    co_await rt::reactor::local().sleep_for(50ms); // five retry intervals
    start_while_full = log->start();
    accepting_while_full = log->accepting();
    mem.clear_faults();
    co_await log->close();
}

TEST(PartitionLog, RetentionRunsWhileTheDiskIsFull) {
    // While a write keeps failing on a full disk, retention must still
    // run: it is what can free the space.
    rt::memory_file_system mem;
    offset start = 0;
    bool accepting = true;
    run(retention_on_full_disk_body(mem, start, accepting));
    EXPECT_EQ(detached_tasks(), 0u);
    EXPECT_FALSE(accepting); // the disk is still full
    EXPECT_GT(start, 0u) << "retention did not run while writes failed";
}

// close() on a disk that stays full gives up on the queue instead of
// retrying for ever.
rt::task<void> close_on_full_disk_body(rt::memory_file_system& mem, offset& durable) {
    recorder events;
    auto log = co_await open_partition(mem, events, with_fsync(fsync_mode::always));
    if (!log) {
        co_return;
    }
    append_batch(*log);
    auto first = [&] { return log->covered_end() == log->end(); };
    EXPECT_TRUE(co_await eventually(first));
    durable = log->covered_end();
    mem.fail_writes_after(0, std::errc::no_space_on_device);
    append_batch(*log);
    auto failed = [&] { return !events.failures.empty(); };
    EXPECT_TRUE(co_await eventually(failed));
    co_await log->close();
    EXPECT_EQ(log->unwritten_bytes(), 0u);
    EXPECT_EQ(log->covered_end(), durable);
    EXPECT_EQ(log->disk()->end(), durable);
    EXPECT_FALSE(log->accepting());
    mem.clear_faults();
}

TEST(PartitionLog, CloseGivesUpOnAFullDisk) {
    rt::memory_file_system mem;
    offset durable = 0;
    run(close_on_full_disk_body(mem, durable));
    EXPECT_EQ(detached_tasks(), 0u);
    auto log = open_log(mem, dir);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->end(), durable);
}

} // namespace
} // namespace zama::commitlog::test
