// The compacted key → value log (kv_log), on the fault-injecting in-memory
// file system: reopening, durable(), power loss, torn and damaged tails,
// the version byte, compaction and disk faults. Each test runs coroutines
// on a fresh reactor (run()), since the writer task lives on the reactor of
// the thread that opened the log; the coroutines check with EXPECT_* and
// co_return (no ASSERT_* in a coroutine).

#include "commitlog/crc32c.hpp"
#include "commitlog/kv_log.hpp"

#include <chrono>
#include <cstring>
#include <map>
#include <utility>

#include "log_test_util.hpp"

namespace zama::commitlog::test {
namespace {

using namespace std::chrono_literals;

const std::string kv_dir = "kv";
const std::string kv_name = "sessions.kv";
const std::string kv_path = kv_dir + "/" + kv_name;

constexpr std::uint8_t kind_put = 1;
constexpr std::uint8_t kind_erase = 2;
constexpr std::uint64_t compact_floor = 1u << 20;

using entry_map = std::map<std::string, std::string>;

entry_map entries_of(const kv_log& log) {
    entry_map out;
    for (const auto& [key, value] : log.entries()) {
        out.emplace(key, std::string(value.begin(), value.end()));
    }
    return out;
}

/// One record as the header documents the format, built here from the
/// documentation rather than by the code under test.
std::vector<std::uint8_t> kv_record(std::uint8_t kind, std::string_view key,
                                    std::string_view value = {}) {
    std::vector<std::uint8_t> out(11);
    out[4] = kind;
    const auto key_size = static_cast<std::uint16_t>(key.size());
    const auto value_size = static_cast<std::uint32_t>(value.size());
    std::memcpy(out.data() + 5, &key_size, 2);
    std::memcpy(out.data() + 7, &value_size, 4);
    out.insert(out.end(), key.begin(), key.end());
    out.insert(out.end(), value.begin(), value.end());
    const std::uint32_t crc = crc32c({out.data() + 4, out.size() - 4});
    std::memcpy(out.data(), &crc, 4);
    return out;
}

/// The encoded size of a live entry (what compaction keeps of it).
std::uint64_t live_size(std::string_view key, std::size_t value_size) {
    return 11 + key.size() + value_size;
}

std::uint64_t put(kv_log& log, std::string_view key, std::string_view value) {
    return log.put(key, {reinterpret_cast<const std::uint8_t*>(value.data()), value.size()});
}

std::unique_ptr<rt::memory_file_system> make_fs() {
    auto mem = std::make_unique<rt::memory_file_system>();
    EXPECT_TRUE(run(mem->make_directory(kv_dir)).has_value());
    return mem;
}

/// A file system holding only `bytes` as the log's file (all of it synced).
std::unique_ptr<rt::memory_file_system> fs_with(std::vector<std::uint8_t> bytes) {
    auto mem = make_fs();
    mem->put(kv_path, std::move(bytes));
    return mem;
}

std::vector<std::uint8_t> file_of(const rt::memory_file_system& mem) {
    auto c = mem.contents(kv_path);
    EXPECT_TRUE(c.has_value());
    return c ? std::move(*c) : std::vector<std::uint8_t>{};
}

std::size_t file_size(const rt::memory_file_system& mem) {
    return file_of(mem).size();
}

std::size_t detached_tasks() {
    return rt::frame_stats::local().detached;
}

rt::task<std::unique_ptr<kv_log>> open_kv(rt::file_system& fs) {
    std::string dir = kv_dir;
    std::string name = kv_name;
    auto opened = co_await kv_log::open(fs, std::move(dir), std::move(name));
    EXPECT_TRUE(opened.has_value())
        << (opened ? "" : std::make_error_code(opened.error()).message());
    if (!opened) {
        co_return nullptr;
    }
    co_return std::move(*opened);
}

/// What a reopened log holds.
struct reopened {
    bool ok = false;
    entry_map entries;
    std::size_t size = 0; // of the file once opened (after any cut)
};

rt::task<reopened> reopen_body(rt::memory_file_system& mem, const entry_map* add) {
    reopened out;
    auto log = co_await open_kv(mem);
    if (!log) {
        co_return out;
    }
    out.ok = true;
    out.entries = entries_of(*log);
    out.size = file_size(mem);
    if (add != nullptr) {
        for (const auto& [key, value] : *add) {
            put(*log, key, value);
        }
    }
    co_await log->close();
    co_return out;
}

/// Opens the log on `mem`, reads its entries and closes it; puts `add`
/// before closing, if given.
reopened reopen(rt::memory_file_system& mem, const entry_map* add = nullptr) {
    reopened out = run(reopen_body(mem, add));
    EXPECT_EQ(detached_tasks(), 0u) << "the writer outlived close()";
    return out;
}

rt::task<std::errc> open_error_body(rt::file_system& fs) {
    std::string dir = kv_dir;
    std::string name = kv_name;
    auto opened = co_await kv_log::open(fs, std::move(dir), std::move(name));
    if (opened) {
        co_await (*opened)->close();
        co_return std::errc{};
    }
    co_return opened.error();
}

/// The error open() fails with, or std::errc{} if it opens.
std::errc open_error(rt::file_system& fs) {
    return run(open_error_body(fs));
}

/// The file of a log that holds "a", "b" and, last, "c".
struct three_records {
    std::vector<std::uint8_t> bytes;
    std::size_t last_start = 0; // where the record of "c" starts
    entry_map before_last;
};

three_records make_three_records() {
    three_records t;
    t.before_last = {{"a", "first value"}, {"b", "second value"}};
    t.bytes = {kv_format_version};
    for (const auto& [key, value] : t.before_last) {
        const auto r = kv_record(kind_put, key, value);
        t.bytes.insert(t.bytes.end(), r.begin(), r.end());
    }
    t.last_start = t.bytes.size();
    const auto last = kv_record(kind_put, "c", "the last record");
    t.bytes.insert(t.bytes.end(), last.begin(), last.end());
    return t;
}

// --- 1. Put, erase, reopen ---------------------------------------------------------------

rt::task<void> put_erase_body(rt::memory_file_system& mem, entry_map& expected) {
    auto log = co_await open_kv(mem);
    if (!log) {
        co_return;
    }
    EXPECT_TRUE(log->entries().empty());
    const std::string binary("\0\x01\xff\0", 4);
    const std::string utf8_key = "capteurs/température/日本";
    std::vector<std::uint64_t> seqs;
    seqs.push_back(put(*log, "a", "1"));
    seqs.push_back(put(*log, "b", "two"));
    seqs.push_back(put(*log, "bin", binary));
    seqs.push_back(put(*log, utf8_key, "utf-8 key"));
    seqs.push_back(put(*log, "", "empty key"));
    seqs.push_back(put(*log, "empty value", ""));
    seqs.push_back(put(*log, "a", "one, again"));
    seqs.push_back(log->erase("b"));
    seqs.push_back(log->erase("never there"));
    for (std::size_t i = 1; i < seqs.size(); ++i) {
        EXPECT_EQ(seqs[i], seqs[i - 1] + 1) << "one sequence number per change";
    }
    expected = {{"a", "one, again"},
                {"bin", binary},
                {utf8_key, "utf-8 key"},
                {"", "empty key"},
                {"empty value", ""}};
    EXPECT_EQ(entries_of(*log), expected) << "changes show at once";
    const bool durable = co_await log->durable(seqs.back());
    EXPECT_TRUE(durable);
    co_await log->close();
}

TEST(KvLog, PutAndEraseSurviveReopenInTheDocumentedFormat) {
    auto mem = make_fs();
    entry_map expected;
    run(put_erase_body(*mem, expected));
    EXPECT_EQ(detached_tasks(), 0u);

    // The file is the version byte, then one record per change, in order.
    std::vector<std::uint8_t> want{kv_format_version};
    auto add = [&want](const std::vector<std::uint8_t>& r) {
        want.insert(want.end(), r.begin(), r.end());
    };
    add(kv_record(kind_put, "a", "1"));
    add(kv_record(kind_put, "b", "two"));
    add(kv_record(kind_put, "bin", std::string("\0\x01\xff\0", 4)));
    add(kv_record(kind_put, "capteurs/température/日本", "utf-8 key"));
    add(kv_record(kind_put, "", "empty key"));
    add(kv_record(kind_put, "empty value", ""));
    add(kv_record(kind_put, "a", "one, again"));
    add(kv_record(kind_erase, "b"));
    add(kv_record(kind_erase, "never there"));
    EXPECT_EQ(file_of(*mem), want);

    // Reopened: the same entries, the file untouched; changes made then
    // carry on in the same file.
    const entry_map more{{"b", "back"}, {"new", "value"}};
    const reopened first = reopen(*mem, &more);
    EXPECT_TRUE(first.ok);
    EXPECT_EQ(first.entries, expected);
    EXPECT_EQ(first.size, want.size());
    const reopened second = reopen(*mem);
    EXPECT_TRUE(second.ok);
    expected.insert(more.begin(), more.end());
    EXPECT_EQ(second.entries, expected);
}

TEST(KvLog, OpenCreatesAFileWithTheVersionByte) {
    auto mem = make_fs();
    const reopened r = reopen(*mem);
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(r.entries.empty());
    EXPECT_EQ(file_of(*mem), std::vector<std::uint8_t>{kv_format_version});
    mem->crash();
    EXPECT_EQ(file_of(*mem), std::vector<std::uint8_t>{kv_format_version}) << "synced";

    // A file left empty (a crash while creating it) counts as new.
    auto empty = fs_with({});
    EXPECT_TRUE(reopen(*empty).ok);
    EXPECT_EQ(file_of(*empty), std::vector<std::uint8_t>{kv_format_version});

    // No directory: open fails.
    rt::memory_file_system no_dir;
    EXPECT_EQ(open_error(no_dir), std::errc::no_such_file_or_directory);
}

// --- 2. durable() -------------------------------------------------------------------------

struct durable_probe {
    bool done = false;
    bool result = false;
    std::size_t syncs_at_resume = 0;
};

rt::task<void> wait_durable(kv_log& log, std::uint64_t seq, const rt::memory_file_system& mem,
                            durable_probe& probe) {
    const bool ok = co_await log.durable(seq);
    probe.result = ok;
    probe.syncs_at_resume = mem.syncs();
    probe.done = true;
}

rt::task<void> durable_after_sync_body(rt::memory_file_system& mem) {
    auto log = co_await open_kv(mem);
    if (!log) {
        co_return;
    }
    // A slow disk: the write and the sync each take 5 ms.
    mem.delay(5ms);
    const std::size_t size_before = file_size(mem);
    const std::size_t syncs_before = mem.syncs();
    const std::uint64_t seq = put(*log, "key", "value");
    durable_probe probe;
    rt::reactor::local().spawn(wait_durable(*log, seq, mem, probe));
    bool seen_written_not_durable = false;
    auto watch = [&] {
        if (file_size(mem) > size_before && !probe.done) {
            seen_written_not_durable = true;
        }
        return probe.done;
    };
    const bool resumed = co_await eventually(watch);
    EXPECT_TRUE(resumed);
    EXPECT_TRUE(seen_written_not_durable) << "durable() resumed before the write completed";
    EXPECT_TRUE(probe.result);
    EXPECT_EQ(probe.syncs_at_resume, syncs_before + 1) << "durable() resumed before the sync";

    // Already durable: at once, true.
    const bool again = co_await log->durable(seq);
    EXPECT_TRUE(again);
    const bool none = co_await log->durable(0);
    EXPECT_TRUE(none);

    // Changes queued together go in one write and one sync.
    mem.clear_faults();
    const std::size_t syncs_before_group = mem.syncs();
    put(*log, "x", "1");
    put(*log, "y", "2");
    const std::uint64_t last = log->erase("key");
    const bool group = co_await log->durable(last);
    EXPECT_TRUE(group);
    EXPECT_EQ(mem.syncs(), syncs_before_group + 1);
    co_await log->close();
}

TEST(KvLog, DurableResumesOnlyAfterTheSync) {
    auto mem = make_fs();
    run(durable_after_sync_body(*mem));
    EXPECT_EQ(detached_tasks(), 0u);
    const reopened r = reopen(*mem);
    EXPECT_EQ(r.entries, (entry_map{{"x", "1"}, {"y", "2"}}));
}

// --- 3. Power loss ------------------------------------------------------------------------

rt::task<void> crash_after_durable_body(rt::memory_file_system& mem,
                                        std::vector<std::uint8_t>& image) {
    auto log = co_await open_kv(mem);
    if (!log) {
        co_return;
    }
    put(*log, "a", "1");
    const std::uint64_t seq = put(*log, "b", "2");
    const bool durable = co_await log->durable(seq);
    EXPECT_TRUE(durable);
    mem.crash(); // the power goes the moment durable() says so
    image = file_of(mem);
    co_await log->close();
}

TEST(KvLog, PowerLossAfterDurableKeepsTheChange) {
    auto mem = make_fs();
    std::vector<std::uint8_t> image;
    run(crash_after_durable_body(*mem, image));
    auto after = fs_with(image);
    const reopened r = reopen(*after);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.entries, (entry_map{{"a", "1"}, {"b", "2"}}));
}

/// Puts "a" (durable), then "b" whose sync fails; the power goes with
/// `keep` bytes of b's record on disk.
rt::task<void> crash_before_durable_body(rt::memory_file_system& mem, std::size_t keep,
                                         std::size_t& durable_size) {
    auto log = co_await open_kv(mem);
    if (!log) {
        co_return;
    }
    const std::uint64_t a = put(*log, "a", "durable");
    const bool a_durable = co_await log->durable(a);
    EXPECT_TRUE(a_durable);
    durable_size = file_size(mem);
    mem.fail_syncs(std::errc::io_error);
    const std::uint64_t b = put(*log, "b", "not durable");
    const bool b_durable = co_await log->durable(b);
    EXPECT_FALSE(b_durable);
    mem.crash(keep);
    co_await log->close();
}

TEST(KvLog, PowerLossBeforeDurableMayDropTheChangeButNeverCorrupts) {
    const std::size_t b_size = kv_record(kind_put, "b", "not durable").size();
    for (std::size_t keep = 0; keep <= b_size; ++keep) {
        SCOPED_TRACE(keep);
        auto mem = make_fs();
        std::size_t durable_size = 0;
        run(crash_before_durable_body(*mem, keep, durable_size));
        EXPECT_EQ(detached_tasks(), 0u);
        mem->clear_faults();
        EXPECT_EQ(file_size(*mem), durable_size + keep);
        const entry_map add{{"c", "after the crash"}};
        const reopened r = reopen(*mem, &add);
        EXPECT_TRUE(r.ok);
        entry_map want{{"a", "durable"}};
        if (keep == b_size) {
            want.emplace("b", "not durable");
        }
        EXPECT_EQ(r.entries, want);
        EXPECT_EQ(r.size, keep == b_size ? durable_size + b_size : durable_size)
            << "a partial record is cut";
        want.emplace("c", "after the crash");
        EXPECT_EQ(reopen(*mem).entries, want) << "writes after the cut read back";
    }
}

// --- 4. Torn and damaged tails -----------------------------------------------------------

TEST(KvLog, TornTailAtEveryByteOfTheLastRecordIsCut) {
    const three_records t = make_three_records();
    {
        auto whole = fs_with(t.bytes);
        const reopened r = reopen(*whole);
        EXPECT_EQ(r.entries.size(), 3u);
        EXPECT_EQ(r.size, t.bytes.size());
    }
    for (std::size_t cut = t.last_start; cut < t.bytes.size(); ++cut) {
        SCOPED_TRACE(cut);
        auto mem = fs_with({t.bytes.begin(), t.bytes.begin() + static_cast<std::ptrdiff_t>(cut)});
        const entry_map add{{"d", "after the cut"}};
        const reopened r = reopen(*mem, &add);
        EXPECT_TRUE(r.ok);
        EXPECT_EQ(r.entries, t.before_last);
        EXPECT_EQ(r.size, t.last_start);
        entry_map want = t.before_last;
        want.emplace("d", "after the cut");
        EXPECT_EQ(reopen(*mem).entries, want);
    }
}

TEST(KvLog, AFlippedBitInTheLastRecordIsCut) {
    const three_records t = make_three_records();
    for (std::size_t at = t.last_start; at < t.bytes.size(); ++at) {
        for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
            SCOPED_TRACE(testing::Message() << "byte " << at << " mask " << int{mask});
            auto mem = fs_with(t.bytes);
            mem->corrupt(kv_path, at, mask);
            const reopened r = reopen(*mem);
            EXPECT_TRUE(r.ok);
            EXPECT_EQ(r.entries, t.before_last);
            EXPECT_EQ(r.size, t.last_start);
        }
    }
}

TEST(KvLog, TheFirstDamagedRecordEndsTheFile) {
    const three_records t = make_three_records();
    const std::size_t second = 1 + kv_record(kind_put, "a", "first value").size();
    auto mem = fs_with(t.bytes);
    mem->corrupt(kv_path, second + 12, 0x10); // the key of "b"
    const reopened r = reopen(*mem);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.entries, (entry_map{{"a", "first value"}}));
    EXPECT_EQ(r.size, second);
}

TEST(KvLog, AnUnknownKindEndsTheFile) {
    const three_records t = make_three_records();
    std::vector<std::uint8_t> bytes = t.bytes;
    const auto bad = kv_record(3, "z", "a kind no version has"); // a valid CRC
    bytes.insert(bytes.end(), bad.begin(), bad.end());
    auto mem = fs_with(bytes);
    const reopened r = reopen(*mem);
    EXPECT_EQ(r.entries.size(), 3u);
    EXPECT_EQ(r.size, t.bytes.size());
}

TEST(KvLog, AWrongVersionByteFailsOpen) {
    const three_records t = make_three_records();
    for (std::uint8_t version : {std::uint8_t{0}, std::uint8_t{2}, std::uint8_t{0xff}}) {
        SCOPED_TRACE(int{version});
        std::vector<std::uint8_t> bytes = t.bytes;
        bytes[0] = version;
        auto mem = fs_with(bytes);
        EXPECT_EQ(open_error(*mem), std::errc::invalid_argument);
        EXPECT_EQ(file_of(*mem), bytes) << "a file it cannot read is left alone";
    }
}

TEST(KvLog, AReadErrorFailsOpen) {
    const three_records t = make_three_records();
    auto mem = fs_with(t.bytes);
    mem->fail_reads(std::errc::io_error);
    EXPECT_EQ(open_error(*mem), std::errc::io_error);
    EXPECT_EQ(file_of(*mem), t.bytes);
}

// --- 5. Compaction ------------------------------------------------------------------------

/// A 1000-byte value that tells the i-th put of "k" from the others.
std::string value_number(std::size_t i) {
    std::string v = "value " + std::to_string(i) + " ";
    v.resize(1000, '.');
    return v;
}

struct compaction_numbers {
    std::size_t prefix = 0;    // bytes before the puts of "k"
    std::uint64_t live = 0;    // live bytes once "k" is set
    std::size_t per_put = 0;   // bytes of one put of "k"
    std::size_t most_puts = 0; // puts of "k" that leave the file at or under the threshold
};

compaction_numbers numbers() {
    compaction_numbers n;
    n.prefix = 1 + kv_record(kind_put, "keep", "kept").size() +
               kv_record(kind_put, "gone", "x").size() + kv_record(kind_erase, "gone").size();
    n.per_put = kv_record(kind_put, "k", value_number(0)).size();
    n.live = live_size("keep", 4) + live_size("k", 1000);
    n.most_puts = (2 * n.live + compact_floor - n.prefix) / n.per_put;
    return n;
}

/// Puts "keep", puts and erases "gone", then puts "k" as often as the file
/// can take without crossing the compaction threshold; returns the last
/// change, with `last` the number of the last value of "k".
std::uint64_t fill_to_threshold(kv_log& log, std::size_t& last) {
    put(log, "keep", "kept");
    put(log, "gone", "x");
    log.erase("gone");
    std::uint64_t seq = 0;
    for (last = 0; last < numbers().most_puts; ++last) {
        seq = put(log, "k", value_number(last));
    }
    return seq;
}

rt::task<void> compaction_body(rt::memory_file_system& mem, std::size_t& last) {
    // Counts appends per path opened: a compaction writes `<name>.tmp`.
    counting_file_system fs(mem);
    const std::string tmp = kv_path + ".tmp";
    auto log = co_await open_kv(fs);
    if (!log) {
        co_return;
    }
    const compaction_numbers n = numbers();
    std::uint64_t seq = fill_to_threshold(*log, last);
    bool durable = co_await log->durable(seq);
    EXPECT_TRUE(durable);
    EXPECT_EQ(file_size(mem), n.prefix + n.most_puts * n.per_put) << "compacted too soon";
    EXPECT_LE(file_size(mem), 2 * n.live + compact_floor);
    EXPECT_EQ(fs.appends[tmp], 0);

    // One more crosses the threshold: the next write compacts.
    seq = put(*log, "k", value_number(last));
    durable = co_await log->durable(seq);
    EXPECT_TRUE(durable);
    auto compacted = [&] { return file_size(mem) == 1 + n.live; };
    const bool shrank = co_await eventually(compacted);
    EXPECT_TRUE(shrank) << file_size(mem);
    std::string dir = kv_dir;
    auto names = co_await mem.list(std::move(dir));
    EXPECT_TRUE(names.has_value());
    if (names) {
        EXPECT_EQ(*names, std::vector<std::string>{kv_name}) << "a .tmp left behind";
    }
    EXPECT_EQ(entries_of(*log), (entry_map{{"keep", "kept"}, {"k", value_number(last)}}));
    EXPECT_EQ(fs.appends[tmp], 1) << "one compaction";

    // Writes go on, appended to the new file (not compacted again).
    const int old_file_appends = fs.appends[kv_path];
    seq = put(*log, "after", "compaction");
    durable = co_await log->durable(seq);
    EXPECT_TRUE(durable);
    EXPECT_EQ(file_size(mem), 1 + n.live + kv_record(kind_put, "after", "compaction").size());
    EXPECT_EQ(fs.appends[tmp], 2) << "the write after the compaction went to the new file";
    EXPECT_EQ(fs.appends[kv_path], old_file_appends);
    co_await log->close();
}

TEST(KvLog, CompactionShrinksTheFileOnTheWriteThatCrossesTheThreshold) {
    auto mem = make_fs();
    std::size_t last = 0;
    run(compaction_body(*mem, last));
    EXPECT_EQ(detached_tasks(), 0u);
    mem->crash();
    const reopened r = reopen(*mem);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.entries,
              (entry_map{{"keep", "kept"}, {"k", value_number(last)}, {"after", "compaction"}}));
    EXPECT_EQ(r.size, 1 + numbers().live + kv_record(kind_put, "after", "compaction").size());
}

TEST(KvLog, OpenCompactsAFileOverTheThreshold) {
    const compaction_numbers n = numbers();
    std::vector<std::uint8_t> bytes{kv_format_version};
    auto add = [&bytes](const std::vector<std::uint8_t>& r) {
        bytes.insert(bytes.end(), r.begin(), r.end());
    };
    add(kv_record(kind_put, "keep", "kept"));
    add(kv_record(kind_put, "gone", "x"));
    add(kv_record(kind_erase, "gone"));
    for (std::size_t i = 0; i <= n.most_puts; ++i) {
        add(kv_record(kind_put, "k", value_number(i)));
    }
    const entry_map want{{"keep", "kept"}, {"k", value_number(n.most_puts)}};
    {
        // At the threshold: left as it is.
        auto mem = fs_with({bytes.begin(), bytes.end() - static_cast<std::ptrdiff_t>(n.per_put)});
        const reopened r = reopen(*mem);
        EXPECT_EQ(r.size, bytes.size() - n.per_put);
    }
    auto mem = fs_with(bytes);
    const reopened r = reopen(*mem);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.entries, want);
    EXPECT_EQ(r.size, 1 + n.live);
    EXPECT_EQ(run(mem->list(kv_dir)).value(), std::vector<std::string>{kv_name});
    mem->crash();
    EXPECT_EQ(reopen(*mem).entries, want);
}

/// Changes made while a compaction is in progress (on a slow disk) land in
/// the new file.
rt::task<void> changes_during_compaction_body(rt::memory_file_system& mem) {
    auto log = co_await open_kv(mem);
    if (!log) {
        co_return;
    }
    const compaction_numbers n = numbers();
    std::size_t last = 0;
    fill_to_threshold(*log, last);
    const std::string tmp = kv_path + ".tmp";
    mem.delay(2ms);
    put(*log, "k", value_number(n.most_puts));
    auto compacting = [&] { return mem.contents(tmp).has_value(); };
    const bool seen = co_await eventually(compacting);
    EXPECT_TRUE(seen) << "no compaction in progress";
    put(*log, "during", "compaction");
    const std::uint64_t seq = log->erase("keep");
    const bool durable = co_await log->durable(seq);
    EXPECT_TRUE(durable);
    co_await log->close();
    EXPECT_FALSE(mem.contents(tmp).has_value());
}

TEST(KvLog, ChangesDuringCompactionAreKept) {
    auto mem = make_fs();
    run(changes_during_compaction_body(*mem));
    EXPECT_EQ(detached_tasks(), 0u);
    mem->clear_faults();
    mem->crash();
    const reopened r = reopen(*mem);
    EXPECT_EQ(r.entries,
              (entry_map{{"k", value_number(numbers().most_puts)}, {"during", "compaction"}}));
    EXPECT_LT(r.size, 4096u);
}

/// A compaction whose temporary file cannot be written keeps the old file,
/// removes the temporary one, and is retried a MiB of writes later.
rt::task<void> failed_compaction_body(rt::memory_file_system& mem, std::size_t& last) {
    counting_file_system fs(mem);
    auto log = co_await open_kv(fs);
    if (!log) {
        co_return;
    }
    const compaction_numbers n = numbers();
    const std::string tmp = kv_path + ".tmp";
    std::uint64_t seq = fill_to_threshold(*log, last);
    bool durable = co_await log->durable(seq);
    EXPECT_TRUE(durable);
    // The put that crosses the threshold is written; the compaction's
    // write of the temporary file then runs out of space.
    mem.fail_writes_after(n.per_put, std::errc::no_space_on_device);
    seq = put(*log, "k", value_number(last));
    durable = co_await log->durable(seq);
    EXPECT_TRUE(durable);
    auto given_up = [&] { return fs.appends[tmp] == 1 && !mem.contents(tmp).has_value(); };
    const bool cleaned = co_await eventually(given_up);
    EXPECT_TRUE(cleaned) << "the temporary file is left behind";
    const std::uint64_t uncompacted = n.prefix + (n.most_puts + 1) * n.per_put;
    EXPECT_EQ(file_size(mem), uncompacted);

    // The store goes on; with space again it compacts once another MiB is
    // written, not on every write.
    mem.clear_faults();
    seq = put(*log, "still", "saved");
    durable = co_await log->durable(seq);
    EXPECT_TRUE(durable) << "a failed compaction ended durability";
    EXPECT_GT(file_size(mem), uncompacted);
    EXPECT_EQ(fs.appends[tmp], 1) << "retried at once";
    while (file_size(mem) > 1 + n.live + 4096) {
        seq = put(*log, "k", value_number(++last));
        durable = co_await log->durable(seq);
        if (!durable || file_size(mem) > uncompacted + compact_floor + 2 * n.per_put) {
            ADD_FAILURE() << "no compaction a MiB after the failed one";
            break;
        }
    }
    EXPECT_EQ(fs.appends[tmp], 2);
    co_await log->close();
}

TEST(KvLog, AFailedCompactionKeepsTheFileAndIsRetried) {
    auto mem = make_fs();
    std::size_t last = 0;
    run(failed_compaction_body(*mem, last));
    EXPECT_EQ(detached_tasks(), 0u);
    mem->crash();
    const reopened r = reopen(*mem);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.entries,
              (entry_map{{"keep", "kept"}, {"k", value_number(last)}, {"still", "saved"}}));
}

// --- 6. Disk faults -----------------------------------------------------------------------

/// Puts "a" (durable), then "b" under `fault`; then, with the fault
/// cleared, "c".
rt::task<void> write_failure_body(rt::memory_file_system& mem,
                                  void (*fault)(rt::memory_file_system&),
                                  std::size_t& durable_size) {
    auto log = co_await open_kv(mem);
    if (!log) {
        co_return;
    }
    const std::uint64_t a = put(*log, "a", "durable");
    const bool a_durable = co_await log->durable(a);
    EXPECT_TRUE(a_durable);
    durable_size = file_size(mem);
    fault(mem);
    const std::uint64_t b = put(*log, "b", "refused");
    const bool b_durable = co_await log->durable(b);
    EXPECT_FALSE(b_durable);

    mem.clear_faults();
    const std::uint64_t c = put(*log, "c", "later");
    const bool c_durable = co_await log->durable(c);
    EXPECT_FALSE(c_durable) << "a later change is claimed durable";
    const bool a_still = co_await log->durable(a);
    EXPECT_TRUE(a_still);
    EXPECT_EQ(entries_of(*log), (entry_map{{"a", "durable"}, {"b", "refused"}, {"c", "later"}}));
    co_await log->close(); // and does not hang
}

TEST(KvLog, AWriteFailureEndsDurability) {
    struct fault_case {
        const char* name;
        void (*inject)(rt::memory_file_system&);
    };
    const fault_case cases[] = {
        {"full disk",
         [](rt::memory_file_system& m) { m.fail_writes_after(0, std::errc::no_space_on_device); }},
        {"torn write, EIO",
         [](rt::memory_file_system& m) { m.fail_writes_after(5, std::errc::io_error); }},
        {"failed sync", [](rt::memory_file_system& m) { m.fail_syncs(std::errc::io_error); }},
    };
    for (const fault_case& f : cases) {
        SCOPED_TRACE(f.name);
        auto mem = make_fs();
        std::size_t durable_size = 0;
        run(write_failure_body(*mem, f.inject, durable_size));
        EXPECT_EQ(detached_tasks(), 0u);
        mem->crash();
        const reopened r = reopen(*mem);
        EXPECT_TRUE(r.ok);
        EXPECT_EQ(r.entries, (entry_map{{"a", "durable"}}));
        EXPECT_EQ(r.size, durable_size);
    }
}

/// A waiter already waiting when the write fails is woken with false.
rt::task<void> waiting_when_failing_body(rt::memory_file_system& mem) {
    auto log = co_await open_kv(mem);
    if (!log) {
        co_return;
    }
    mem.delay(5ms);
    mem.fail_writes_after(3, std::errc::no_space_on_device);
    const std::uint64_t seq = put(*log, "a", "value");
    durable_probe first;
    durable_probe second;
    rt::reactor::local().spawn(wait_durable(*log, seq, mem, first));
    rt::reactor::local().spawn(wait_durable(*log, seq, mem, second));
    auto both = [&] { return first.done && second.done; };
    const bool woken = co_await eventually(both);
    EXPECT_TRUE(woken);
    EXPECT_FALSE(first.result);
    EXPECT_FALSE(second.result);
    mem.clear_faults();
    co_await log->close();
}

TEST(KvLog, WaitersAreWokenWithFalseWhenTheWriteFails) {
    auto mem = make_fs();
    run(waiting_when_failing_body(*mem));
    EXPECT_EQ(detached_tasks(), 0u);
    const reopened r = reopen(*mem);
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(r.entries.empty());
    EXPECT_EQ(r.size, 1u) << "the torn record is cut";
}

// --- 7. close() ---------------------------------------------------------------------------

rt::task<void> close_writes_queued_body(rt::memory_file_system& mem, bool slow) {
    auto log = co_await open_kv(mem);
    if (!log) {
        co_return;
    }
    if (slow) {
        mem.delay(2ms);
    }
    put(*log, "a", "1");
    put(*log, "b", "2");
    if (slow) {
        // The first write is in flight when more is queued and close() comes.
        const std::size_t size_before = file_size(mem);
        auto writing = [&] { return file_size(mem) > size_before; };
        const bool wrote = co_await eventually(writing);
        EXPECT_TRUE(wrote);
    }
    put(*log, "c", "3");
    log->erase("a");
    co_await log->close();
    mem.crash(); // nothing unsynced may be left
}

TEST(KvLog, CloseWritesAndSyncsWhatIsQueued) {
    for (bool slow : {false, true}) {
        SCOPED_TRACE(slow ? "slow disk" : "fast disk");
        auto mem = make_fs();
        run(close_writes_queued_body(*mem, slow));
        EXPECT_EQ(detached_tasks(), 0u);
        mem->clear_faults();
        const reopened r = reopen(*mem);
        EXPECT_TRUE(r.ok);
        EXPECT_EQ(r.entries, (entry_map{{"b", "2"}, {"c", "3"}}));
    }
}

} // namespace
} // namespace zama::commitlog::test
