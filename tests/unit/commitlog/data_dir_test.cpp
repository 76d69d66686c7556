// The data directory's meta file: created once, checked on every start; a
// different partition count is refused with both numbers in the message.

#include "commitlog/data_dir.hpp"

#include "log_test_util.hpp"

namespace zama::commitlog::test {
namespace {

result<void, metadata_error> check(rt::memory_file_system& fs, std::uint32_t partitions) {
    return run(check_or_create_metadata(fs, "data", partitions));
}

TEST(DataDir, MetaFileIsCreatedThenChecked) {
    rt::memory_file_system fs;
    ASSERT_TRUE(check(fs, 64).has_value());
    const auto meta = fs.contents("data/meta");
    ASSERT_TRUE(meta);
    ASSERT_EQ(meta->size(), 9u);
    EXPECT_EQ((*meta)[0], meta_format_version);
    EXPECT_EQ((*meta)[1], 64);
    EXPECT_FALSE(fs.contents("data/meta.tmp"));
    EXPECT_TRUE(check(fs, 64).has_value());
}

TEST(DataDir, ADifferentPartitionCountIsAClearError) {
    rt::memory_file_system fs;
    ASSERT_TRUE(check(fs, 64).has_value());
    auto r = check(fs, 32);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("64"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("32"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("data"), std::string::npos) << r.error().message;
}

TEST(DataDir, DamagedOrUnknownMetaIsRefused) {
    rt::memory_file_system fs;
    ASSERT_TRUE(check(fs, 8).has_value());
    const auto good = *fs.contents("data/meta");
    fs.corrupt("data/meta", 2, 0x01);
    auto damaged = check(fs, 8);
    ASSERT_FALSE(damaged.has_value());
    EXPECT_NE(damaged.error().message.find("damaged"), std::string::npos);

    auto newer = good;
    newer[0] = 9;
    fs.put("data/meta", newer);
    auto unknown = check(fs, 8);
    ASSERT_FALSE(unknown.has_value());
    EXPECT_NE(unknown.error().message.find("version 9"), std::string::npos)
        << unknown.error().message;

    fs.put("data/meta", {good.begin(), good.begin() + 4});
    EXPECT_FALSE(check(fs, 8).has_value());
}

TEST(DataDir, PartitionDirectories) {
    EXPECT_EQ(partition_directory("/var/lib/zama", partition_id{7}), "/var/lib/zama/partition-7");
}

} // namespace
} // namespace zama::commitlog::test
