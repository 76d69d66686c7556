// zama-log on a real data directory: disk_log writes it through io_uring in
// a temporary directory, and kv_log a session store, then the built
// zama-log binary (ZAMA_LOG_BINARY) runs on it, and its output and exit
// status are checked. Then damage: a flipped byte in a sealed segment, a
// torn tail in the last one, in a session store. And a broker's lock on the
// directory, and the shard journals against the broker's own replay.

#include "commitlog/crc32c.hpp"
#include "commitlog/data_dir.hpp"
#include "commitlog/disk_log.hpp"
#include "commitlog/journal.hpp"
#include "commitlog/journal_replay.hpp"
#include "commitlog/kv_log.hpp"
#include "router/session_record.hpp"
#include "runtime/uring_file_system.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../commitlog/log_test_util.hpp"

namespace zama::commitlog::test {
namespace {

namespace stdfs = std::filesystem;

constexpr std::int64_t stamp = 1'700'000'000'123; // 2023-11-14T22:13:20.123Z
constexpr const char* stamp_text = "2023-11-14T22:13:20.123Z";

std::vector<std::uint8_t> slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string slurp_text(const std::string& path) {
    const auto bytes = slurp(path);
    return {bytes.begin(), bytes.end()};
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

std::vector<std::string> words_of(const std::string& line) {
    std::vector<std::string> out;
    std::istringstream in(line);
    for (std::string w; in >> w;) {
        out.push_back(w);
    }
    return out;
}

/// Every file under `dir` with its bytes: to check that zama-log wrote nothing.
std::map<std::string, std::vector<std::uint8_t>> snapshot(const std::string& dir) {
    std::map<std::string, std::vector<std::uint8_t>> out;
    for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
        if (e.is_regular_file()) {
            out[e.path().string()] = slurp(e.path().string());
        }
    }
    return out;
}

struct written {
    std::size_t segments = 0;
    std::uint64_t bytes = 0;
    offset end = 0;
};

rt::task<void> write_partition(rt::file_system& fs, std::string root, partition_id p,
                               std::vector<batch_ptr> batches, written* out) {
    disk_log_options options;
    options.segment_bytes = 1024;
    options.index_interval_bytes = 256;
    auto log = co_await disk_log::open(fs, partition_directory(root, p), p, options);
    EXPECT_TRUE(log.has_value());
    if (!log) {
        co_return;
    }
    for (std::size_t i = 0; i < batches.size(); i += 4) {
        const std::span<const batch_ptr> some(batches.data() + i,
                                              std::min<std::size_t>(4, batches.size() - i));
        EXPECT_TRUE((co_await (*log)->append(some)).has_value());
        EXPECT_TRUE((co_await (*log)->flush()).has_value());
    }
    out->segments = (*log)->segments().size();
    out->bytes = (*log)->size_bytes();
    out->end = (*log)->end();
    EXPECT_TRUE((co_await (*log)->close()).has_value());
}

router::session_state session_of(std::vector<router::subscription> subscriptions,
                                 std::map<std::uint32_t, offset> cursors = {},
                                 std::vector<std::uint16_t> released = {},
                                 std::vector<std::uint16_t> awaiting_pubrel = {}) {
    router::session_state st;
    st.clean = false;
    st.subscriptions = std::move(subscriptions);
    st.cursors.insert(cursors.begin(), cursors.end());
    for (std::uint16_t id : released) {
        router::inflight f;
        f.id = mqtt::packet_id{id};
        f.qos = mqtt::qos::exactly_once;
        f.released = true;
        st.outbound.push_back(std::move(f));
    }
    st.awaiting_pubrel.insert(awaiting_pubrel.begin(), awaiting_pubrel.end());
    return st;
}

std::vector<std::uint8_t> record_of(const router::session_state& st) {
    return router::encode_session(st);
}

/// Partition 2's session store, written by the broker's kv_log: a session
/// with everything, one erased, one stored twice.
rt::task<void> write_sessions(rt::file_system& fs, std::string dir) {
    // A local, moved: g++ 12 destroys a temporary made in a co_await twice.
    std::string name = "sessions.kv";
    auto kv = co_await kv_log::open(fs, std::move(dir), std::move(name));
    EXPECT_TRUE(kv.has_value());
    if (!kv) {
        co_return;
    }
    kv_log& log = **kv;
    log.put("sensor 1", record_of(session_of({{"t/+", mqtt::qos::at_least_once},
                                              {"with space", mqtt::qos::exactly_once}},
                                             {{0, 100}, {2, 1}}, {7, 9}, {5, 3})));
    log.put("gone", record_of(session_of({{"g", mqtt::qos::at_least_once}})));
    log.put("twice", record_of(session_of({{"a", mqtt::qos::at_most_once}})));
    log.erase("gone");
    const std::uint64_t last =
        log.put("twice", record_of(session_of({{"b", mqtt::qos::at_least_once}})));
    EXPECT_TRUE(co_await log.durable(last));
    co_await log.close();
}

rt::task<void> write_data_dir(std::string root, std::vector<batch_ptr> p0,
                              std::vector<batch_ptr> p2, written* w0, written* w2) {
    rt::uring_file_system fs;
    EXPECT_TRUE((co_await check_or_create_metadata(fs, root, 4)).has_value());
    co_await write_partition(fs, root, partition_id{0}, std::move(p0), w0);
    co_await write_partition(fs, root, partition_id{2}, std::move(p2), w2);
    std::string sessions_dir = partition_directory(root, partition_id{2});
    co_await write_sessions(fs, std::move(sessions_dir));
}

/// Partition 1 of a 4-partition directory at `root`: `before`, synced by
/// the log itself, then `journaled`, committed to shard 0's journal. The
/// journal is copied before the clean close (which retires its entries) and
/// put back after it: the journal a kill would have left.
rt::task<void> write_journaled(std::string root, std::vector<batch_ptr> before,
                               std::vector<batch_ptr> journaled, std::uint64_t* before_bytes) {
    rt::uring_file_system fs;
    EXPECT_TRUE((co_await check_or_create_metadata(fs, root, 4)).has_value());
    const partition_id p{1};
    std::string dir = partition_directory(root, p);
    {
        disk_log_options plain;
        auto log = co_await disk_log::open(fs, dir, p, plain);
        EXPECT_TRUE(log.has_value());
        if (!log) {
            co_return;
        }
        EXPECT_TRUE((co_await (*log)->append(before)).has_value());
        *before_bytes = (*log)->size_bytes();
        EXPECT_TRUE((co_await (*log)->close()).has_value());
    }
    std::string journals = journal_directory(root);
    EXPECT_TRUE((co_await fs.make_directory(journals)).has_value());
    std::string path = journals + "/" + journal_file_name(0);
    auto j = co_await journal::open(fs, path, std::uint64_t{1} << 20);
    EXPECT_TRUE(j.has_value());
    if (!j) {
        co_return;
    }
    disk_log_options options;
    options.shard_journal = j->get();
    auto log = co_await disk_log::open(fs, dir, p, options);
    EXPECT_TRUE(log.has_value());
    if (!log) {
        co_return;
    }
    for (const batch_ptr& b : journaled) {
        const std::vector<batch_ptr> one{b};
        EXPECT_TRUE((co_await (*log)->append(one)).has_value());
        EXPECT_TRUE((co_await (*log)->flush()).has_value());
    }
    EXPECT_EQ((*j)->writes(), journaled.size());
    stdfs::copy_file(path, root + "/kept.journal");
    EXPECT_TRUE((co_await (*log)->close()).has_value());
    EXPECT_TRUE((co_await (*j)->close()).has_value());
    stdfs::rename(root + "/kept.journal", path);
}

rt::task<void> replay_into(std::string root, replay_report* out) {
    rt::uring_file_system fs;
    auto r = co_await replay_journals(fs, std::move(root), 4, disk_log_options{}, 1);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error());
    if (r) {
        *out = *r;
    }
}

constexpr std::uint8_t kv_put = 1;
constexpr std::uint8_t kv_erase = 2;

/// One session store record as commitlog/kv_log.hpp documents it, built
/// here from the documentation rather than by kv_log.
std::vector<std::uint8_t> kv_record(std::uint8_t kind, std::string_view key,
                                    const std::vector<std::uint8_t>& value = {}) {
    std::vector<std::uint8_t> out(11 + key.size() + value.size());
    out[4] = kind;
    const auto key_size = static_cast<std::uint16_t>(key.size());
    const auto value_size = static_cast<std::uint32_t>(value.size());
    std::memcpy(out.data() + 5, &key_size, 2);
    std::memcpy(out.data() + 7, &value_size, 4);
    std::copy(key.begin(), key.end(), out.begin() + 11);
    std::copy(value.begin(), value.end(),
              out.begin() + 11 + static_cast<std::ptrdiff_t>(key.size()));
    const std::uint32_t crc = crc32c({out.data() + 4, out.size() - 4});
    std::memcpy(out.data(), &crc, 4);
    return out;
}

/// A session store file: the version byte, then `records`.
void write_kv(const std::string& path, const std::vector<std::vector<std::uint8_t>>& records) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.put(static_cast<char>(kv_format_version));
    for (const auto& r : records) {
        out.write(reinterpret_cast<const char*>(r.data()), static_cast<std::streamsize>(r.size()));
    }
}

/// One data directory, written once for all the tests; a test that damages
/// it works on a copy (`damageable()`).
class ZamaLog : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        std::string tmpl = (stdfs::temp_directory_path() / "zama-log-test-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        _pristine = tmpl + "/pristine";
        // Partition 0: 60 batches of 1 to 5 records over several segments.
        std::vector<batch_ptr> p0;
        offset next = 0;
        for (int i = 0; i < 60; ++i) {
            p0.push_back(make_batch(next, 1 + i % 5, "t", stamp));
            next = p0.back()->end();
        }
        _expected0 = flatten(p0);
        // Partition 2: a binary payload, a long text one, a topic with a space.
        batch_ptr b = batch_ptr::make(partition_id{2}, 0);
        const std::vector<std::uint8_t> binary{0x00, 0xff, 0x10, 0x7f, 1,  2,  3,  4,  5,
                                               6,    7,    8,    9,    10, 11, 12, 13, 14};
        b->append("bin/data", binary, {1, false});
        b->append("text/long", bytes_of(std::string(40, 'x')), {2, true});
        b->append("with space", bytes_of("say \"hi\""), {0, false});
        b->set_timestamp(stamp);
        rt::test::run(write_data_dir(_pristine, std::move(p0), {b}, &_w0, &_w2));
        ASSERT_GT(_w0.segments, 2u);
        // Partition 0's session store, written from the documented layout.
        write_kv(partition_directory(_pristine, partition_id{0}) + "/sessions.kv",
                 {kv_record(kv_put, "p0-client",
                            record_of(session_of({{"t/1", mqtt::qos::exactly_once}}, {{3, 7}})))});
    }
    static void TearDownTestSuite() { stdfs::remove_all(stdfs::path(_pristine).parent_path()); }

    void SetUp() override {
        _tmp = stdfs::path(_pristine).parent_path() /
               ::testing::UnitTest::GetInstance()->current_test_info()->name();
        stdfs::create_directories(_tmp);
        data = _pristine;
    }
    void TearDown() override { stdfs::remove_all(_tmp); }

    /// Points `data` at a copy of the data directory, for a test to damage.
    void damageable() {
        data = _tmp + "/data";
        stdfs::copy(_pristine, data, stdfs::copy_options::recursive);
    }

    struct ran {
        int status = -1;
        std::string out;
        std::string err;
    };

    ran zama_log(const std::string& args) const {
        const std::string out = _tmp + "/stdout";
        const std::string err = _tmp + "/stderr";
        const std::string command =
            std::string(ZAMA_LOG_BINARY) + " " + args + " >" + out + " 2>" + err;
        const int rc = std::system(command.c_str());
        ran r;
        r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
        r.out = slurp_text(out);
        r.err = slurp_text(err);
        return r;
    }

    std::string sessions_path(partition_id p) const {
        return partition_directory(data, p) + "/sessions.kv";
    }
    std::string segment_path(partition_id p, offset base) const {
        return partition_directory(data, p) + "/" + segment::file_stem(base) + ".log";
    }
    /// Base offsets of partition 0's segments, from the file names.
    std::vector<offset> bases() const {
        std::vector<offset> out;
        for (const auto& e :
             stdfs::directory_iterator(partition_directory(data, partition_id{0}))) {
            if (auto base = segment::parse_name(e.path().filename().string(), ".log")) {
                out.push_back(*base);
            }
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    static inline std::string _pristine;
    static inline std::vector<flat_record> _expected0;
    static inline written _w0;
    static inline written _w2;
    std::string _tmp;
    std::string data;
    const std::vector<flat_record>& expected0 = _expected0;
    const written& w0 = _w0;
};

TEST_F(ZamaLog, ListsPartitions) {
    const ran r = zama_log("partitions " + data);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("meta format 1, 4 partitions"), std::string::npos) << r.out;
    std::map<std::string, std::vector<std::string>> rows;
    for (const std::string& line : lines_of(r.out)) {
        auto w = words_of(line);
        if (!w.empty()) {
            rows[w[0]] = w;
        }
    }
    // partition segments start end bytes topics
    ASSERT_EQ(rows["0"].size(), 6u) << r.out;
    EXPECT_EQ(rows["0"][1], std::to_string(w0.segments));
    EXPECT_EQ(rows["0"][2], "0");
    EXPECT_EQ(rows["0"][3], std::to_string(w0.end));
    EXPECT_EQ(rows["0"][4], std::to_string(w0.bytes));
    EXPECT_EQ(rows["0"][5], "3");
    EXPECT_EQ(rows["2"][3], "3");
    EXPECT_EQ(rows["2"][5], "3");
    EXPECT_NE(r.out.find("(no directory)"), std::string::npos) << r.out; // partitions 1 and 3
}

TEST_F(ZamaLog, ListsSegments) {
    const ran r = zama_log("segments " + data + " -p 0");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), w0.segments + 1) << r.out; // and a header
    const auto segs = bases();
    for (std::size_t i = 0; i < segs.size(); ++i) {
        // partition base end records bytes first_batch last_batch index_entries
        const auto w = words_of(lines[i + 1]);
        ASSERT_EQ(w.size(), 8u) << lines[i + 1];
        EXPECT_EQ(w[0], "0");
        EXPECT_EQ(w[1], std::to_string(segs[i]));
        const offset end = i + 1 < segs.size() ? segs[i + 1] : w0.end;
        EXPECT_EQ(w[2], std::to_string(end));
        EXPECT_EQ(w[3], std::to_string(end - segs[i]));
        EXPECT_EQ(w[4], std::to_string(stdfs::file_size(segment_path(partition_id{0}, segs[i]))));
        EXPECT_EQ(w[5], stamp_text);
        EXPECT_EQ(w[6], stamp_text);
        const auto index = stdfs::file_size(partition_directory(data, partition_id{0}) + "/" +
                                            segment::file_stem(segs[i]) + ".index");
        EXPECT_EQ(w[7], std::to_string((index - 1) / index_entry_size));
    }
}

TEST_F(ZamaLog, DumpsRecordsFromAnOffset) {
    // Offset 100 is past the first segment: the index and the segment list are used.
    const ran r = zama_log("dump " + data + " -p 0 --from 100 --count 3");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 3u) << r.out;
    for (std::size_t i = 0; i < 3; ++i) {
        const flat_record& e = expected0[100 + i];
        EXPECT_EQ(lines[i],
                  fmt::format("{} {} {} qos={} retain={} size={} \"{}\"", e.at, stamp_text, e.topic,
                              e.qos, e.retain ? 1 : 0, e.payload.size(), e.payload));
    }
}

TEST_F(ZamaLog, DumpsOneTopic) {
    const ran r = zama_log("dump " + data + " -p 0 --topic t/1");
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> offsets;
    for (const std::string& line : lines_of(r.out)) {
        offsets.push_back(words_of(line).at(0));
    }
    std::vector<std::string> expected;
    for (const flat_record& e : expected0) {
        if (e.topic == "t/1") {
            expected.push_back(std::to_string(e.at));
        }
    }
    EXPECT_EQ(offsets, expected);
    EXPECT_EQ(lines_of(zama_log("dump " + data + " -p 0 --topic t/+").out).size(),
              expected0.size());
}

TEST_F(ZamaLog, PreviewsPayloads) {
    const ran r = zama_log("dump " + data + " -p 2");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 3u) << r.out;
    EXPECT_EQ(lines[0], fmt::format("0 {} bin/data qos=1 retain=0 size=18 "
                                    "0x00ff107f0102030405060708090a0b0c...",
                                    stamp_text));
    EXPECT_EQ(lines[1], fmt::format("1 {} text/long qos=2 retain=1 size=40 \"{}\"...", stamp_text,
                                    std::string(32, 'x')));
    EXPECT_EQ(lines[2], fmt::format("2 {} \"with space\" qos=0 retain=0 size=8 \"say \\\"hi\\\"\"",
                                    stamp_text));
}

TEST_F(ZamaLog, VerifiesCleanData) {
    const ran r = zama_log("verify " + data);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("partition 0: ok"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("verify: 4 partitions, 61 batches checked ("), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("0 damaged regions, 0 torn tails: clean"), std::string::npos) << r.out;
}

TEST_F(ZamaLog, FindsAFlippedByteInASealedSegment) {
    damageable();
    const std::string path = segment_path(partition_id{0}, 0);
    auto bytes = slurp(path);
    const auto starts = batch_positions(bytes);
    ASSERT_GT(starts.size(), 2u);
    const std::size_t victim = starts[starts.size() / 2];
    const std::size_t next = starts[starts.size() / 2 + 1];
    bytes[next - 1] ^= 0x40; // the last payload byte of the middle batch
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    const auto before = snapshot(data);

    const ran r = zama_log("verify " + data + " -p 0");
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    const std::string where = fmt::format("partition-0/{}.log: byte {}: {} bytes unreadable",
                                          segment::file_stem(0), victim, next - victim);
    EXPECT_NE(r.out.find(where), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("CRC mismatch"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("partition 0: DAMAGED, 1 damaged region ("), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("1 damaged region, 0 torn tails: DAMAGED"), std::string::npos) << r.out;

    // dump skips the batch, says so, and goes on.
    const ran d = zama_log("dump " + data + " -p 0");
    EXPECT_EQ(d.status, 1);
    EXPECT_NE(d.err.find("damaged"), std::string::npos) << d.err;
    EXPECT_GT(lines_of(d.out).size(), expected0.size() / 2);
    EXPECT_LT(lines_of(d.out).size(), expected0.size());
    EXPECT_EQ(snapshot(data), before) << "zama-log wrote to the data directory";
}

TEST_F(ZamaLog, ReportsATornTail) {
    damageable();
    const std::string path = segment_path(partition_id{0}, bases().back());
    const auto starts = batch_positions(slurp(path));
    ASSERT_FALSE(starts.empty());
    const auto size = stdfs::file_size(path);
    stdfs::resize_file(path, size - 5); // the last batch, torn
    const auto before = snapshot(data);

    const ran r = zama_log("verify " + data);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    const std::string torn =
        fmt::format("partition-0/{}.log: byte {}: torn tail (recovery will cut {} bytes)",
                    segment::file_stem(bases().back()), starts.back(), size - 5 - starts.back());
    EXPECT_NE(r.out.find(torn), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("0 damaged regions, 1 torn tail: clean"), std::string::npos) << r.out;

    const ran strict = zama_log("verify --strict " + data);
    EXPECT_EQ(strict.status, 1) << strict.out;
    EXPECT_NE(strict.out.find(torn), std::string::npos) << strict.out;

    const ran d = zama_log("dump " + data + " -p 0");
    EXPECT_EQ(d.status, 0) << d.err;
    EXPECT_NE(d.err.find("torn tail"), std::string::npos) << d.err;
    EXPECT_EQ(snapshot(data), before) << "zama-log wrote to the data directory";
}

TEST_F(ZamaLog, IntactBatchesAfterDamageInTheLastSegmentAreDamage) {
    damageable();
    // The first batch of the last segment, damaged: recovery cuts there and
    // loses the intact batches behind it, so this is no torn tail.
    const std::string path = segment_path(partition_id{0}, bases().back());
    auto bytes = slurp(path);
    const auto starts = batch_positions(bytes);
    ASSERT_GT(starts.size(), 1u);
    bytes[starts[1] - 1] ^= 0x01;
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));

    const ran r = zama_log("verify " + data + " -p 0");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find(fmt::format("byte 0: recovery will cut {} bytes here, losing {} intact "
                                     "batches",
                                     bytes.size(), starts.size() - 1)),
              std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find("torn tail ("), std::string::npos) << r.out;
}

TEST_F(ZamaLog, ADamagedLastDictionaryEntryNamedBySealedSegmentsIsDamage) {
    damageable();
    // The dictionary's last entry (t/2) loses its last bytes: alone it looks
    // like a torn tail, but sealed segments name its id, so it was synced.
    const std::string dict = partition_directory(data, partition_id{0}) + "/topics.dict";
    stdfs::resize_file(dict, stdfs::file_size(dict) - 2);

    const ran r = zama_log("verify " + data + " -p 0");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("partition-0/topics.dict: byte 28: the last 12 bytes do not read"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("name topic ids that partition-0/topics.dict does not hold (id 2)"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find("torn tail ("), std::string::npos) << r.out;

    // dump shows the records with a placeholder for the lost name.
    const ran d = zama_log("dump " + data + " -p 0 --count 3");
    EXPECT_EQ(d.status, 0) << d.err;
    EXPECT_NE(d.out.find("2 " + std::string(stamp_text) + " #unknown-topic-id-2 qos=2"),
              std::string::npos)
        << d.out;
}

TEST_F(ZamaLog, FailsClearlyOnWhatIsNotADataDirectory) {
    damageable();
    const ran missing = zama_log("partitions " + _tmp + "/nowhere");
    EXPECT_EQ(missing.status, 2);
    EXPECT_EQ(lines_of(missing.err).size(), 1u) << missing.err;
    EXPECT_NE(missing.err.find("no such directory"), std::string::npos) << missing.err;

    const ran not_data = zama_log("verify " + partition_directory(data, partition_id{0}));
    EXPECT_EQ(not_data.status, 2);
    EXPECT_NE(not_data.err.find("not a Zama data directory"), std::string::npos) << not_data.err;

    const ran no_partition = zama_log("dump " + data + " -p 4");
    EXPECT_EQ(no_partition.status, 2);
    EXPECT_NE(no_partition.err.find("no partition 4"), std::string::npos) << no_partition.err;

    std::ofstream(data + "/meta", std::ios::binary | std::ios::app).put('x');
    const ran bad_meta = zama_log("partitions " + data);
    EXPECT_EQ(bad_meta.status, 2);
    EXPECT_NE(bad_meta.err.find("meta is damaged"), std::string::npos) << bad_meta.err;
}

// The blocks of the stored sessions, as the tests above wrote them.
std::string p0_client_block() {
    return "client p0-client (stored in partition 0)\n"
           "  subscription t/1 qos=2\n"
           "  cursor partition=3 offset=7 start=- end=- backlog=- (the partition has no log)\n";
}

std::string partition2_blocks(offset end0) {
    return fmt::format("client \"sensor 1\" (stored in partition 2)\n"
                       "  subscription t/+ qos=1\n"
                       "  subscription \"with space\" qos=2\n"
                       "  cursor partition=0 offset=100 start=0 end={} backlog={}\n"
                       "  cursor partition=2 offset=1 start=0 end=3 backlog=2\n"
                       "  qos2 outbound: 7 9 (PUBREL sent, PUBCOMP awaited)\n"
                       "  qos2 inbound: 3 5 (PUBREC sent, PUBREL awaited)\n"
                       "client twice (stored in partition 2)\n"
                       "  subscription b qos=1\n",
                       end0, end0 - 100);
}

TEST_F(ZamaLog, ListsStoredSessions) {
    // Partition 2's store comes from kv_log, partition 0's from the
    // documented layout; partitions 1 and 3 have none.
    const auto before = snapshot(data);
    const ran r = zama_log("sessions " + data);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_EQ(r.out, p0_client_block() + partition2_blocks(w0.end));
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(snapshot(data), before) << "zama-log wrote to the data directory";
}

TEST_F(ZamaLog, FiltersSessionsByPartitionAndClient) {
    const ran p2 = zama_log("sessions " + data + " -p 2");
    EXPECT_EQ(p2.status, 0) << p2.err;
    EXPECT_EQ(p2.out, partition2_blocks(w0.end));

    const ran one = zama_log("sessions " + data + " --client 'sensor 1'");
    EXPECT_EQ(one.status, 0) << one.err;
    EXPECT_EQ(lines_of(one.out).size(), 7u) << one.out;
    EXPECT_EQ(one.out.rfind("client \"sensor 1\" (stored in partition 2)\n", 0), 0u) << one.out;

    const ran both = zama_log("sessions " + data + " -p 0 --client p0-client");
    EXPECT_EQ(both.status, 0) << both.err;
    EXPECT_EQ(both.out, p0_client_block());

    // A client stored elsewhere, an erased one: nothing, and a note.
    for (const char* args : {" -p 0 --client twice", " --client gone"}) {
        const ran none = zama_log("sessions " + data + args);
        EXPECT_EQ(none.status, 0) << none.err;
        EXPECT_EQ(none.out, "");
        EXPECT_NE(none.err.find("no session of client"), std::string::npos) << none.err;
    }

    // A partition without a directory, and so without sessions.
    const ran empty = zama_log("sessions " + data + " -p 1");
    EXPECT_EQ(empty.status, 0) << empty.err;
    EXPECT_EQ(empty.out, "");
    EXPECT_EQ(empty.err, "");

    const ran bad = zama_log("sessions " + data + " -p 4");
    EXPECT_EQ(bad.status, 2);
    EXPECT_NE(bad.err.find("no partition 4"), std::string::npos) << bad.err;
}

TEST_F(ZamaLog, ReportsATornTailInASessionStore) {
    damageable();
    const auto a = kv_record(kv_put, "a", record_of(session_of({{"x", mqtt::qos::at_most_once}})));
    const auto b = kv_record(kv_put, "b", record_of(session_of({{"y", mqtt::qos::at_most_once}})));
    const auto whole_c =
        kv_record(kv_put, "c", record_of(session_of({{"z", mqtt::qos::at_most_once}})));
    const auto erase_b = kv_record(kv_erase, "b");
    // An append that did not finish (a copy: g++ 12 at -O1 misreads an
    // in-place resize as an overflow).
    const std::vector<std::uint8_t> c(whole_c.begin(), whole_c.end() - 3);
    write_kv(sessions_path(partition_id{0}), {a, b, c});
    const auto before = snapshot(data);

    const ran r = zama_log("sessions " + data + " -p 0");
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_EQ(r.out, "client a (stored in partition 0)\n"
                     "  subscription x qos=0\n"
                     "client b (stored in partition 0)\n"
                     "  subscription y qos=0\n");
    EXPECT_NE(r.err.find(fmt::format("partition-0/sessions.kv: torn tail at byte {} (the broker "
                                     "cuts these {} bytes",
                                     1 + a.size() + b.size(), c.size())),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("truncated record"), std::string::npos) << r.err;
    EXPECT_EQ(snapshot(data), before) << "zama-log wrote to the data directory";

    // A flipped byte in b: the broker cuts there, losing b, and the erase of
    // b behind it, intact as it is.
    auto flipped = b;
    flipped.back() ^= 0x20;
    write_kv(sessions_path(partition_id{0}), {a, flipped, erase_b});
    const ran crc = zama_log("sessions " + data + " -p 0");
    EXPECT_EQ(crc.status, 1) << crc.out << crc.err;
    EXPECT_EQ(crc.out, "client a (stored in partition 0)\n  subscription x qos=0\n");
    EXPECT_NE(
        crc.err.find(fmt::format("partition-0/sessions.kv: torn tail at byte {}", 1 + a.size())),
        std::string::npos)
        << crc.err;
    EXPECT_NE(crc.err.find("CRC mismatch"), std::string::npos) << crc.err;

    // Whole, the erase is honoured.
    write_kv(sessions_path(partition_id{0}), {a, b, erase_b});
    const ran whole = zama_log("sessions " + data + " -p 0");
    EXPECT_EQ(whole.status, 0) << whole.err;
    EXPECT_EQ(whole.out, "client a (stored in partition 0)\n  subscription x qos=0\n");
}

TEST_F(ZamaLog, ReportsAnUnreadableSessionRecord) {
    damageable();
    write_kv(sessions_path(partition_id{0}),
             {kv_record(kv_put, "junk", {9, 9}),
              kv_record(kv_put, "fine", record_of(session_of({{"f", mqtt::qos::at_most_once}})))});
    const ran r = zama_log("sessions " + data + " -p 0");
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_EQ(r.out, "client fine (stored in partition 0)\n  subscription f qos=0\n");
    EXPECT_NE(r.err.find("partition-0/sessions.kv: client junk: unreadable session record "
                         "(version byte 9, 2 bytes)"),
              std::string::npos)
        << r.err;
}

TEST_F(ZamaLog, ShowsWhatRetentionDeletedUnderACursor) {
    damageable();
    // Retention deletes partition 0's first segment: its start moves up.
    const std::vector<offset> segs = bases();
    ASSERT_GT(segs.size(), 2u);
    stdfs::remove(segment_path(partition_id{0}, segs[0]));
    stdfs::remove(partition_directory(data, partition_id{0}) + "/" + segment::file_stem(segs[0]) +
                  ".index");
    write_kv(
        sessions_path(partition_id{0}),
        {kv_record(kv_put, "slow",
                   record_of(session_of({{"t/#", mqtt::qos::at_least_once}}, {{0, 5}, {2, 3}})))});
    const ran r = zama_log("sessions " + data + " -p 0");
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_EQ(r.out, fmt::format("client slow (stored in partition 0)\n"
                                 "  subscription t/# qos=1\n"
                                 "  cursor partition=0 offset=5 start={} end={} backlog={} "
                                 "gone={} (before the start: deleted by retention)\n"
                                 "  cursor partition=2 offset=3 start=0 end=3 backlog=0\n",
                                 segs[1], w0.end, w0.end - 5, segs[1] - 5));
}

TEST_F(ZamaLog, RefusesADirectoryABrokerHoldsAndHoldsItShared) {
    damageable();
    const std::string lock = data + "/lock";
    std::ofstream(lock) << "4242\n";
    // The broker's lock (commitlog/data_dir_lock.cpp): exclusive, on its
    // own open file description, so it conflicts with zama-log's.
    const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
    const std::string message = fmt::format("zama-log: a broker (pid 4242) is running on {}; stop "
                                            "it first or inspect a copy of the directory\n",
                                            data);
    for (const char* command : {"sessions ", "partitions ", "verify "}) {
        const ran r = zama_log(std::string(command) + data);
        EXPECT_EQ(r.status, 2) << command << r.out << r.err;
        EXPECT_EQ(r.out, "") << command;
        EXPECT_EQ(r.err, message) << command;
    }
    // Another reader's shared lock does not stop it.
    ASSERT_EQ(::flock(fd, LOCK_SH | LOCK_NB), 0);
    const ran shared = zama_log("sessions " + data + " -p 0");
    EXPECT_EQ(shared.status, 0) << shared.err;
    EXPECT_EQ(shared.out, p0_client_block());
    ::close(fd);
    EXPECT_EQ(slurp_text(lock), "4242\n") << "zama-log wrote to the lock file";

    // A broker that wrote no pid yet: the message goes without it.
    std::ofstream(lock, std::ios::trunc).flush();
    const int empty = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(empty, 0);
    ASSERT_EQ(::flock(empty, LOCK_EX | LOCK_NB), 0);
    const ran no_pid = zama_log("sessions " + data);
    EXPECT_EQ(no_pid.status, 2);
    EXPECT_EQ(no_pid.err, fmt::format("zama-log: a broker is running on {}; stop it first or "
                                      "inspect a copy of the directory\n",
                                      data));
    ::close(empty);
}

TEST_F(ZamaLog, SaysWhenThereAreNoJournals) {
    const ran r = zama_log("journals " + data);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, fmt::format("no shard journals in {}/journal (written with fsync = "
                                 "\"always\" and fsync_method = \"journal\")\n",
                                 data));
}

TEST_F(ZamaLog, JournalsShowWhatTheReplayRestores) {
    data = _tmp + "/journaled";
    std::vector<batch_ptr> before{make_batch(0, 4, "j", stamp, partition_id{1})};
    std::vector<batch_ptr> journaled;
    for (offset base = 4; base < 16; base += 4) {
        journaled.push_back(make_batch(base, 4, "j", stamp, partition_id{1}));
    }
    std::uint64_t before_bytes = 0;
    rt::test::run(write_journaled(data, std::move(before), std::move(journaled), &before_bytes));
    ASSERT_GT(before_bytes, 0u);
    const std::string segment =
        partition_directory(data, partition_id{1}) + "/" + segment::file_stem(0) + ".log";
    auto row = [](const std::string& out) {
        for (const std::string& line : lines_of(out)) {
            if (const auto w = words_of(line); !w.empty() && w[0] == "1") {
                return w;
            }
        }
        return std::vector<std::string>{};
    };

    // Everything acknowledged is in the log: nothing to restore.
    const ran intact = zama_log("journals " + data);
    ASSERT_EQ(intact.status, 0) << intact.err;
    const auto lines = lines_of(intact.out);
    ASSERT_EQ(lines.size(), 4u) << intact.out;
    EXPECT_TRUE(lines[0].starts_with("journal/shard-0.journal: generation ")) << lines[0];
    EXPECT_NE(lines[0].find(", 3 entries, "), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("; reading stopped at byte 16384: no entry of generation"),
              std::string::npos)
        << lines[0];
    EXPECT_EQ(words_of(lines[1]), (std::vector<std::string>{"partition", "batches", "records",
                                                            "offsets", "in_log", "to_restore"}));
    EXPECT_EQ(row(intact.out), (std::vector<std::string>{"1", "3", "12", "[4,16)", "12", "0"}));
    EXPECT_EQ(lines[3], "the next start restores 0 records to 0 partitions");

    // A power loss took the journaled bytes of the segment.
    stdfs::resize_file(segment, before_bytes);
    const ran lost = zama_log("journals " + data);
    ASSERT_EQ(lost.status, 0) << lost.err;
    EXPECT_EQ(row(lost.out), (std::vector<std::string>{"1", "3", "12", "[4,16)", "0", "12"}));
    EXPECT_NE(lost.out.find("the next start restores 12 records to 1 partition\n"),
              std::string::npos)
        << lost.out;

    // The broker's replay does what zama-log said.
    replay_report replayed;
    rt::test::run(replay_into(data, &replayed));
    EXPECT_EQ(replayed.records, 12u);
    EXPECT_EQ(replayed.partitions, 1u);
    EXPECT_EQ(row(zama_log("journals " + data).out),
              (std::vector<std::string>{"1", "3", "12", "[4,16)", "12", "0"}));

    // A log that lost synced records too: the journal cannot fill the gap.
    stdfs::resize_file(segment, 0);
    const ran gap = zama_log("journals " + data);
    EXPECT_EQ(gap.status, 1) << gap.err;
    const auto words = row(gap.out);
    ASSERT_GE(words.size(), 6u) << gap.out;
    EXPECT_EQ(std::vector<std::string>(words.begin(), words.begin() + 6),
              (std::vector<std::string>{"1", "3", "12", "[4,16)", "0", "0"}));
    EXPECT_NE(gap.out.find("(replay stops: batch [4, 8) does not follow the log's end 0; the "
                           "later records are lost)"),
              std::string::npos)
        << gap.out;
}

} // namespace
} // namespace zama::commitlog::test
