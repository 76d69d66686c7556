// The partition log on real files through io_uring: a smoke test of the
// whole path (meta file, appends across segments, flush, reopen, read,
// retention) in a temporary directory.

#include "commitlog/data_dir.hpp"
#include "commitlog/disk_log.hpp"
#include "runtime/uring_file_system.hpp"

#include <cstdlib>
#include <filesystem>

#include "log_test_util.hpp"

namespace zama::commitlog::test {
namespace {

namespace stdfs = std::filesystem;

struct temp_dir {
    temp_dir() {
        std::string tmpl = (stdfs::temp_directory_path() / "zama-log-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
    }
    ~temp_dir() { stdfs::remove_all(path); }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::string path;
};

struct outcome {
    std::vector<flat_record> first_read;
    std::vector<flat_record> after_reopen;
    offset durable_end = 0;
    std::size_t segments = 0;
    std::size_t segments_after_retention = 0;
    offset start_after_retention = 0;
};

rt::task<void> exercise(std::string root, std::vector<batch_ptr> batches, outcome* out) {
    rt::uring_file_system fs;
    EXPECT_TRUE((co_await check_or_create_metadata(fs, root, 4)).has_value());
    const std::string dir = partition_directory(root, partition_id{0});
    disk_log_options options;
    options.segment_bytes = 1024;
    options.index_interval_bytes = 256;
    options.retention_bytes = 3000;
    {
        auto log = co_await disk_log::open(fs, dir, partition_id{0}, options);
        EXPECT_TRUE(log.has_value());
        if (!log) {
            co_return;
        }
        for (std::size_t i = 0; i < batches.size(); i += 10) {
            const std::span<const batch_ptr> some(batches.data() + i,
                                                  std::min<std::size_t>(10, batches.size() - i));
            EXPECT_TRUE((co_await (*log)->append(some)).has_value());
        }
        EXPECT_TRUE((co_await (*log)->flush()).has_value());
        out->durable_end = (*log)->durable_end();
        out->segments = (*log)->segments().size();
        auto got = co_await (*log)->read(0, 1 << 30);
        EXPECT_TRUE(got.has_value());
        out->first_read = flatten(*got);
        EXPECT_TRUE((co_await (*log)->close()).has_value());
    }
    auto log = co_await disk_log::open(fs, dir, partition_id{0}, options);
    EXPECT_TRUE(log.has_value());
    if (!log) {
        co_return;
    }
    auto got = co_await (*log)->read(0, 1 << 30);
    EXPECT_TRUE(got.has_value());
    out->after_reopen = flatten(*got);
    auto retention = co_await (*log)->apply_retention(0);
    EXPECT_TRUE(retention.has_value());
    out->segments_after_retention = (*log)->segments().size();
    out->start_after_retention = (*log)->start();
    EXPECT_TRUE((co_await (*log)->close()).has_value());
}

TEST(DiskLogUring, AppendsFlushesReopensAndReads) {
    temp_dir d;
    std::vector<batch_ptr> batches;
    offset next = 0;
    for (int i = 0; i < 100; ++i) {
        batches.push_back(make_batch(next, 1 + i % 5));
        next = batches.back()->end();
    }
    outcome out;
    run(exercise(d.path, batches, &out));
    const auto expected = flatten(batches);
    EXPECT_EQ(out.durable_end, expected.size());
    EXPECT_GT(out.segments, 2u);
    EXPECT_EQ(out.first_read, expected);
    EXPECT_EQ(out.after_reopen, expected);
    EXPECT_LT(out.segments_after_retention, out.segments);
    EXPECT_GT(out.start_after_retention, 0u);
    // The files are where the format says.
    const std::string dir = d.path + "/partition-0";
    EXPECT_TRUE(stdfs::exists(d.path + "/meta"));
    EXPECT_TRUE(stdfs::exists(dir + "/topics.dict"));
    EXPECT_TRUE(stdfs::exists(dir + "/" + segment::file_stem(out.start_after_retention) + ".log"));
    EXPECT_TRUE(
        stdfs::exists(dir + "/" + segment::file_stem(out.start_after_retention) + ".index"));
    EXPECT_FALSE(stdfs::exists(dir + "/" + segment::file_stem(0) + ".log"));
}

} // namespace
} // namespace zama::commitlog::test
