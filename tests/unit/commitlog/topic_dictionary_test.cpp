// The per-partition topic dictionary: ids stable across reopening, a torn
// tail cut at every byte, damage in the middle skipped without reusing ids,
// and a failed write kept for the next one.

#include "commitlog/topic_dictionary.hpp"

#include "log_test_util.hpp"

namespace zama::commitlog::test {
namespace {

const std::string path = "topics.dict";

std::unique_ptr<topic_dictionary> open_dictionary(rt::memory_file_system& fs) {
    auto d = run(topic_dictionary::open(fs, path));
    EXPECT_TRUE(d.has_value());
    return d ? std::move(*d) : nullptr;
}

void write_and_sync(topic_dictionary& d) {
    EXPECT_TRUE(run(d.write_pending()).has_value());
    EXPECT_TRUE(run(d.sync()).has_value());
}

TEST(TopicDictionary, IdsSurviveReopening) {
    rt::memory_file_system fs;
    {
        auto d = open_dictionary(fs);
        ASSERT_TRUE(d);
        EXPECT_EQ(d->intern("a/b"), topic_id{0});
        EXPECT_EQ(d->intern("c"), topic_id{1});
        EXPECT_EQ(d->intern("a/b"), topic_id{0});
        EXPECT_TRUE(d->has_pending());
        write_and_sync(*d);
        EXPECT_FALSE(d->has_pending());
    }
    auto d = open_dictionary(fs);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->size(), 2u);
    EXPECT_EQ(d->find("a/b"), topic_id{0});
    EXPECT_EQ(d->find("c"), topic_id{1});
    EXPECT_EQ(d->names()[1], "c");
    EXPECT_EQ(d->intern("d"), topic_id{2});
    EXPECT_EQ(d->recovered().topics, 2u);
    EXPECT_EQ(d->recovered().truncated_bytes, 0u);
}

TEST(TopicDictionary, TornTailIsCutAtEveryByte) {
    rt::memory_file_system fs;
    std::size_t before = 0;
    {
        auto d = open_dictionary(fs);
        ASSERT_TRUE(d);
        d->intern("first");
        d->intern("second");
        write_and_sync(*d);
        before = d->size_bytes();
        d->intern("third/topic");
        write_and_sync(*d);
    }
    const auto whole = *fs.contents(path);
    ASSERT_GT(whole.size(), before);
    for (std::size_t cut = before; cut < whole.size(); ++cut) {
        rt::memory_file_system torn;
        torn.put(path, {whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut)});
        auto d = run(topic_dictionary::open(torn, path));
        ASSERT_TRUE(d.has_value());
        EXPECT_EQ((*d)->size(), 2u) << cut;
        EXPECT_EQ((*d)->recovered().truncated_bytes, cut - before);
        EXPECT_EQ(torn.contents(path)->size(), before);
        EXPECT_FALSE((*d)->find("third/topic"));
        // The lost id is handed out again, and sticks.
        EXPECT_EQ((*d)->intern("other"), topic_id{2});
        EXPECT_TRUE(run((*d)->write_pending()).has_value());
        d->reset();
        auto again = run(topic_dictionary::open(torn, path));
        ASSERT_TRUE(again.has_value());
        EXPECT_EQ((*again)->find("other"), topic_id{2});
        EXPECT_EQ((*again)->find("first"), topic_id{0});
    }
}

TEST(TopicDictionary, DamageInTheMiddleSkipsOneEntryAndKeepsLaterIds) {
    rt::memory_file_system fs;
    std::uint64_t second_at = 0;
    std::uint64_t third_at = 0;
    {
        auto d = open_dictionary(fs);
        ASSERT_TRUE(d);
        d->intern("one");
        write_and_sync(*d);
        second_at = d->size_bytes();
        d->intern("two");
        write_and_sync(*d);
        third_at = d->size_bytes();
        d->intern("three");
        d->intern("four");
        write_and_sync(*d);
    }
    fs.corrupt(path, second_at + dictionary_entry_header_size, 0x20); // in the name "two"
    auto d = open_dictionary(fs);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->recovered().skipped_bytes, third_at - second_at);
    EXPECT_EQ(d->recovered().truncated_bytes, 0u);
    EXPECT_EQ(d->find("one"), topic_id{0});
    EXPECT_FALSE(d->find("two"));
    EXPECT_TRUE(d->names()[1].empty());
    EXPECT_EQ(d->find("three"), topic_id{2});
    EXPECT_EQ(d->find("four"), topic_id{3});
    EXPECT_EQ(d->intern("five"), topic_id{4}); // id 1 is not handed out again
}

TEST(TopicDictionary, FailedWriteIsCutAndRetried) {
    rt::memory_file_system fs;
    auto d = open_dictionary(fs);
    ASSERT_TRUE(d);
    d->intern("kept");
    write_and_sync(*d);
    const auto good = d->size_bytes();
    d->intern("later");
    fs.fail_writes_after(5, std::errc::no_space_on_device);
    auto failed = run(d->write_pending());
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error(), std::errc::no_space_on_device);
    EXPECT_EQ(fs.contents(path)->size(), good); // the torn entry was cut
    EXPECT_TRUE(d->has_pending());
    fs.clear_faults();
    write_and_sync(*d);
    d.reset();
    auto again = open_dictionary(fs);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->find("later"), topic_id{1});
    EXPECT_EQ(again->recovered().truncated_bytes, 0u);
}

} // namespace
} // namespace zama::commitlog::test
