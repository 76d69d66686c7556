// Recovery of the partition log on disk: torn writes at every byte, bit
// rot in sealed and active segments, lost or damaged indexes, a torn or
// damaged topic dictionary.

#include "commitlog/disk_log.hpp"

#include "log_test_util.hpp"

namespace zama::commitlog::test {
namespace {

const std::string dir = "p0";

disk_log_options small_segments() {
    disk_log_options o;
    o.segment_bytes = 2000;
    o.index_interval_bytes = 200;
    o.read_chunk_bytes = 1024;
    return o;
}

std::vector<batch_ptr> concat(std::vector<batch_ptr> a, const std::vector<batch_ptr>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// A crash in the middle of writing two batches (one with a new topic): for
// every length the write reached, recovery keeps exactly the batches that
// were written whole, and the log takes appends again.
TEST(DiskLogRecovery, TornWriteAtEveryByte) {
    rt::memory_file_system fs;
    auto log = open_log(fs, dir);
    ASSERT_TRUE(log);
    const auto before = fill(*log, 6);
    ASSERT_TRUE(flush(*log).has_value());
    const std::size_t start = log->size_bytes();
    const batch_ptr first = make_batch(log->end(), 2);
    const batch_ptr second = make_batch(log->end() + 2, 3, "fresh");
    ASSERT_TRUE(append(*log, {first, second}).has_value());
    ASSERT_TRUE(flush(*log).has_value());
    const std::size_t end = log->size_bytes();
    close(log);
    const std::string log_name = segment_file(dir, 0, ".log");
    const auto whole = *fs.contents(log_name);
    const auto positions = batch_positions(whole);
    ASSERT_EQ(positions.size(), before.size() + 2);
    const std::size_t first_end = positions.back();

    for (std::size_t cut = start; cut < end; ++cut) {
        SCOPED_TRACE(cut);
        auto torn = copy_of(fs, dir);
        torn->put(log_name, {whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut)});
        auto l = open_log(*torn, dir);
        ASSERT_TRUE(l);
        const auto expected = cut >= first_end ? concat(before, {first}) : before;
        EXPECT_EQ(flatten(read_all(*l)), flatten(expected));
        EXPECT_EQ(l->end(), flatten(expected).size());
        EXPECT_EQ(l->durable_end(), l->end());
        const std::size_t kept = cut >= first_end ? first_end : start;
        EXPECT_EQ(l->recovered().truncated_bytes, cut - kept);
        EXPECT_EQ(torn->contents(log_name)->size(), kept);
        // It takes appends again, and they read back after another reopen.
        const batch_ptr again = make_batch(l->end(), 2, "again");
        ASSERT_TRUE(append(*l, again).has_value());
        ASSERT_TRUE(flush(*l).has_value());
        close(l);
        l = open_log(*torn, dir);
        ASSERT_TRUE(l);
        EXPECT_EQ(flatten(read_all(*l)), flatten(concat(expected, {again})));
        EXPECT_EQ(l->recovered().truncated_bytes, 0u);
    }
}

struct sealed_fixture {
    rt::memory_file_system fs;
    std::vector<batch_ptr> written;
    std::vector<std::uint8_t> first_segment;
    std::vector<std::size_t> positions; // of the first segment's batches

    sealed_fixture() {
        auto log = open_log(fs, dir, small_segments());
        written = fill(*log, 100);
        EXPECT_TRUE(flush(*log).has_value());
        EXPECT_GT(log->segments().size(), 3u);
        close(log);
        first_segment = *fs.contents(segment_file(dir, 0, ".log"));
        positions = batch_positions(first_segment);
    }
};

// A flipped bit anywhere in a sealed segment's batch (its version byte, its
// length, its payload) loses that batch only; the loss is counted once.
TEST(DiskLogRecovery, BitFlipInASealedSegmentLosesOneBatch) {
    sealed_fixture f;
    ASSERT_GT(f.positions.size(), 5u);
    for (std::size_t i = 0; i < f.positions.size(); ++i) {
        const std::size_t at = f.positions[i];
        const batch_ptr& damaged = f.written[i];
        const std::size_t length =
            read_header(std::span(f.first_segment).subspan(at)).value().length;
        for (std::size_t where :
             {std::size_t{0}, std::size_t{6}, std::size_t{12}, length / 2, length - 1}) {
            SCOPED_TRACE(testing::Message() << "batch " << i << " byte " << where);
            auto rotten = copy_of(f.fs, dir);
            rotten->corrupt(segment_file(dir, 0, ".log"), at + where, 0x10);
            auto log = open_log(*rotten, dir, small_segments());
            ASSERT_TRUE(log);
            std::vector<batch_ptr> expected = f.written;
            expected.erase(expected.begin() + static_cast<std::ptrdiff_t>(i));
            EXPECT_EQ(flatten(read_all(*log)), flatten(expected));
            EXPECT_EQ(log->damage().records, damaged->size());
            EXPECT_EQ(log->damage().regions, 1u);
            // Read again: the damage is known and not counted twice.
            EXPECT_EQ(flatten(read_all(*log)), flatten(expected));
            EXPECT_EQ(log->damage().records, damaged->size());
            EXPECT_EQ(log->end(), flatten(f.written).size());
        }
    }
}

// Damage in the active segment cannot be told from a torn write: the log
// is cut there (and says so).
TEST(DiskLogRecovery, BitFlipInTheActiveSegmentCutsItThere) {
    sealed_fixture f;
    rt::memory_file_system& fs = f.fs;
    auto log = open_log(fs, dir, small_segments());
    ASSERT_TRUE(log);
    const auto last = log->segments().back();
    close(log);
    const std::string name = segment_file(dir, last.base, ".log");
    const auto positions = batch_positions(*fs.contents(name));
    ASSERT_GE(positions.size(), 2u);
    fs.corrupt(name, positions[1] + 30, 0x01);
    log = open_log(fs, dir, small_segments());
    ASSERT_TRUE(log);
    EXPECT_EQ(log->recovered().truncated_bytes, last.size_bytes - positions[1]);
    const auto all = flatten(f.written);
    const auto got = flatten(read_all(*log));
    const offset kept = last.base + read_header(*fs.contents(name)).value().count;
    EXPECT_EQ(got.size(), kept);
    EXPECT_EQ(got, std::vector(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(kept)));
}

TEST(DiskLogRecovery, MissingAndShortIndexesAreRebuilt) {
    sealed_fixture f;
    auto log = open_log(f.fs, dir, small_segments());
    ASSERT_TRUE(log);
    const auto segments = log->segments();
    close(log);
    const std::string sealed = segment_file(dir, 0, ".index");
    const std::string active = segment_file(dir, segments.back().base, ".index");
    const auto sealed_index = *f.fs.contents(sealed);
    const auto active_index = *f.fs.contents(active);
    ASSERT_GE(sealed_index.size(), 1u + 3 * index_entry_size); // several entries

    {
        auto missing = copy_of(f.fs, dir);
        EXPECT_TRUE(run(missing->remove(sealed)).has_value());
        EXPECT_TRUE(run(missing->remove(active)).has_value());
        auto l = open_log(*missing, dir, small_segments());
        ASSERT_TRUE(l);
        EXPECT_EQ(l->recovered().indexes_rebuilt, 2u);
        EXPECT_EQ(missing->contents(sealed), sealed_index);
        EXPECT_EQ(missing->contents(active), active_index);
        EXPECT_EQ(flatten(read_all(*l)), flatten(f.written));
    }
    {
        auto short_index = copy_of(f.fs, dir);
        short_index->put(sealed,
                         {sealed_index.begin(), sealed_index.begin() + 1 + index_entry_size + 3});
        auto l = open_log(*short_index, dir, small_segments());
        ASSERT_TRUE(l);
        EXPECT_EQ(l->recovered().indexes_rebuilt, 1u);
        EXPECT_EQ(short_index->contents(sealed), sealed_index);
        EXPECT_EQ(flatten(read_all(*l)), flatten(f.written));
    }
    {
        // Entries but the last point into the middle of batches (still
        // increasing and in range, so they load): reads notice and still
        // return every record, none counted lost.
        auto wrong = copy_of(f.fs, dir);
        auto bad = sealed_index;
        for (std::size_t at = 1 + 4; at + 4 + index_entry_size <= bad.size();
             at += index_entry_size) {
            bad[at] = static_cast<std::uint8_t>(bad[at] ^ 0x01);
        }
        wrong->put(sealed, bad);
        auto l = open_log(*wrong, dir, small_segments());
        ASSERT_TRUE(l);
        EXPECT_EQ(l->recovered().indexes_rebuilt, 0u);
        EXPECT_EQ(flatten(read_all(*l)), flatten(f.written));
        for (offset from = 0; from < segments[0].end; ++from) {
            auto got = run(l->read(from, 1));
            ASSERT_TRUE(got.has_value());
            ASSERT_FALSE(got->empty());
            EXPECT_LE((*got)[0]->base(), from);
            EXPECT_GT((*got)[0]->end(), from);
        }
        EXPECT_EQ(l->damage().records, 0u);
    }
}

// The dictionary's last entry is torn while the segment kept the batch that
// uses it (the two files lost different amounts): that batch is cut.
TEST(DiskLogRecovery, TornDictionaryTailCutsTheBatchesUsingIt) {
    rt::memory_file_system fs;
    auto log = open_log(fs, dir);
    ASSERT_TRUE(log);
    const auto before = fill(*log, 5);
    ASSERT_TRUE(flush(*log).has_value());
    batch_ptr novel = batch_ptr::make(partition_id{0}, log->end());
    novel->append("brand/new", bytes_of(std::string("x")), {1, false});
    novel->set_timestamp(1'000);
    ASSERT_TRUE(append(*log, novel).has_value());
    ASSERT_TRUE(flush(*log).has_value());
    close(log);
    const std::string dict = dir + "/topics.dict";
    auto bytes = *fs.contents(dict);
    bytes.resize(bytes.size() - 3);
    fs.put(dict, bytes);

    log = open_log(fs, dir);
    ASSERT_TRUE(log);
    EXPECT_TRUE(log->recovered().truncated_unknown_topic);
    EXPECT_EQ(log->recovered().dictionary_truncated_bytes,
              dictionary_entry_header_size + std::string("brand/new").size() - 3);
    EXPECT_GT(log->recovered().truncated_bytes, 0u);
    EXPECT_EQ(flatten(read_all(*log)), flatten(before));
    // The freed id goes to the next new topic, which reads back as itself.
    batch_ptr other = batch_ptr::make(partition_id{0}, log->end());
    other->append("other", bytes_of(std::string("y")), {0, true});
    ASSERT_TRUE(append(*log, other).has_value());
    ASSERT_TRUE(flush(*log).has_value());
    close(log);
    log = open_log(fs, dir);
    ASSERT_TRUE(log);
    EXPECT_FALSE(log->recovered().truncated_unknown_topic);
    EXPECT_EQ(flatten(read_all(*log)), flatten(concat(before, {other})));
}

// A damaged dictionary entry in the middle: batches naming that topic are
// skipped and counted (in sealed and active segments alike), the rest read.
TEST(DiskLogRecovery, DamagedDictionaryEntrySkipsItsBatches) {
    rt::memory_file_system fs;
    auto log = open_log(fs, dir, small_segments());
    ASSERT_TRUE(log);
    const auto written = fill(*log, 60);
    ASSERT_TRUE(flush(*log).has_value());
    close(log);
    // Entries "t/0", "t/1", "t/2" in order of first use, 14 bytes each.
    fs.corrupt(dir + "/topics.dict", 14 + dictionary_entry_header_size, 0x01);
    log = open_log(fs, dir, small_segments());
    ASSERT_TRUE(log);
    EXPECT_EQ(log->recovered().dictionary_damaged_bytes, 14u);
    EXPECT_EQ(log->recovered().truncated_bytes, 0u);
    std::vector<batch_ptr> expected;
    std::uint64_t lost = 0;
    for (const auto& b : written) {
        bool uses = false;
        for (std::size_t i = 0; i < b->size(); ++i) {
            uses = uses || b->topic(b->at(i)) == "t/1";
        }
        if (uses) {
            lost += b->size();
        } else {
            expected.push_back(b);
        }
    }
    ASSERT_GT(lost, 0u);
    EXPECT_EQ(flatten(read_all(*log)), flatten(expected));
    EXPECT_EQ(log->damage().records, lost);
    EXPECT_EQ(log->end(), flatten(written).size());
}

} // namespace
} // namespace zama::commitlog::test
