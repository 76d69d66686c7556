// The fault-injecting in-memory file system that the commit log is tested on.

#include "runtime/memory_file_system.hpp"

#include <string>

#include "runtime_test_util.hpp"

namespace zama::rt::test {
namespace {

using bytes = std::vector<std::uint8_t>;

iovec iov(const std::string& s) {
    return {const_cast<char*>(s.data()), s.size()};
}

bytes text(const std::string& s) {
    return bytes(s.begin(), s.end());
}

task<void> write_and_read_back(memory_file_system* fs) {
    EXPECT_TRUE((co_await fs->make_directory("log")).has_value());
    auto f = co_await fs->open("log/0.log", {.write = true, .create = true});
    EXPECT_TRUE(f.has_value());
    const std::string a = "hello ";
    const std::string b = "world";
    const iovec parts[] = {iov(a), iov(b)};
    EXPECT_TRUE((co_await (*f)->append(parts)).has_value());
    EXPECT_EQ((*f)->size(), 11u);
    bytes into(5);
    auto n = co_await (*f)->read(6, into);
    EXPECT_EQ(n.value(), 5u);
    EXPECT_EQ(into, text("world"));
    auto past = co_await (*f)->read(20, into);
    EXPECT_EQ(past.value(), 0u);
    EXPECT_TRUE((co_await (*f)->close()).has_value());
}

TEST(MemoryFileSystem, WritesAndReadsBack) {
    memory_file_system fs;
    run(write_and_read_back(&fs));
    EXPECT_EQ(fs.contents("log/0.log"), text("hello world"));
}

task<void> torn_append(memory_file_system* fs, std::errc* error, std::uint64_t* size) {
    auto f = co_await fs->open("seg", {.write = true, .create = true});
    const std::string batch(100, 'x');
    const iovec one[] = {iov(batch)};
    EXPECT_TRUE((co_await (*f)->append(one)).has_value());
    fs->fail_writes_after(37, std::errc::no_space_on_device);
    auto r = co_await (*f)->append(one);
    *error = r ? std::errc{} : r.error();
    *size = (*f)->size();
}

// A full disk in the middle of an append: the error comes back and size()
// says exactly where the torn tail ends.
TEST(MemoryFileSystem, EnospcMidAppendLeavesATornTailItReports) {
    memory_file_system fs;
    std::errc error{};
    std::uint64_t size = 0;
    run(torn_append(&fs, &error, &size));
    EXPECT_EQ(error, std::errc::no_space_on_device);
    EXPECT_EQ(size, 137u);
    EXPECT_EQ(fs.contents("seg")->size(), 137u);
}

task<void> failing_io(memory_file_system* fs, bool* read_failed, bool* sync_failed) {
    auto f = co_await fs->open("x", {.write = true, .create = true});
    fs->fail_reads(std::errc::io_error);
    fs->fail_syncs(std::errc::io_error);
    bytes into(4);
    auto r = co_await (*f)->read(0, into);
    *read_failed = !r && r.error() == std::errc::io_error;
    auto s = co_await (*f)->datasync();
    *sync_failed = !s && s.error() == std::errc::io_error;
}

TEST(MemoryFileSystem, InjectsReadAndSyncErrors) {
    memory_file_system fs;
    bool read_failed = false;
    bool sync_failed = false;
    run(failing_io(&fs, &read_failed, &sync_failed));
    EXPECT_TRUE(read_failed);
    EXPECT_TRUE(sync_failed);
}

task<void> write_sync_write(memory_file_system* fs) {
    auto f = co_await fs->open("wal", {.write = true, .create = true});
    const std::string first = "durable|";
    const std::string second = "volatile";
    const iovec a[] = {iov(first)};
    const iovec b[] = {iov(second)};
    (void)co_await (*f)->append(a);
    (void)co_await (*f)->datasync();
    (void)co_await (*f)->append(b);
}

// Power loss keeps what was synced; what came after is lost, or torn.
TEST(MemoryFileSystem, CrashKeepsSyncedBytesAndOptionallyATornTail) {
    memory_file_system fs;
    run(write_sync_write(&fs));
    EXPECT_EQ(fs.syncs(), 1u);
    memory_file_system torn;
    run(write_sync_write(&torn));
    fs.crash();
    EXPECT_EQ(fs.contents("wal"), text("durable|"));
    torn.crash(3);
    EXPECT_EQ(torn.contents("wal"), text("durable|vol"));
}

// A sync covers what had been written when it was called: an append that
// lands while it runs (every operation takes the delay) is not synced.
task<void> append_during_sync(memory_file_system* fs, bool whole_filesystem) {
    reactor& r = reactor::local();
    auto f = co_await fs->open("wal", {.write = true, .create = true});
    auto other = co_await fs->open("other", {.write = true, .create = true});
    const std::string a = "synced|";
    const std::string b = "late";
    const iovec va = iov(a);
    (void)co_await (*f)->append({&va, 1});
    (void)co_await (*other)->append({&va, 1});
    bool landed = false;
    auto late = [&]() -> task<void> {
        const iovec vb = iov(b);
        (void)co_await (*f)->append({&vb, 1});
        landed = true;
    };
    r.spawn(late());
    co_await r.yield(); // the first append is in flight...
    co_await r.sleep_for(std::chrono::milliseconds(1));
    EXPECT_FALSE(landed); // ...and lands while the sync below runs
    auto synced =
        whole_filesystem ? co_await (*other)->sync_filesystem() : co_await (*f)->datasync();
    EXPECT_TRUE(synced.has_value());
    EXPECT_TRUE(landed);
    while (!landed) { // (if the check failed: the task refers to this frame)
        co_await r.sleep_for(std::chrono::milliseconds(1));
    }
}

TEST(MemoryFileSystem, ASyncCoversOnlyWhatWasWrittenBeforeIt) {
    for (bool whole_filesystem : {false, true}) {
        SCOPED_TRACE(whole_filesystem);
        memory_file_system fs;
        fs.delay(std::chrono::milliseconds(3));
        run(append_during_sync(&fs, whole_filesystem));
        EXPECT_EQ(fs.contents("wal"), text("synced|late"));
        fs.crash();
        EXPECT_EQ(fs.contents("wal"), text("synced|"));
        EXPECT_EQ(fs.contents("other"), text(whole_filesystem ? "synced|" : ""));
    }
}

task<void> slow_open(memory_file_system* fs, duration* took) {
    const time_point start = clock::now();
    auto f = co_await fs->open("slow", {.write = true, .create = true});
    EXPECT_TRUE(f.has_value());
    *took = clock::now() - start;
}

TEST(MemoryFileSystem, DelaysCompletions) {
    memory_file_system fs;
    fs.delay(std::chrono::milliseconds(30));
    duration took{};
    run(slow_open(&fs, &took));
    EXPECT_GE(took, std::chrono::milliseconds(30));
}

task<void> namespace_ops(memory_file_system* fs) {
    EXPECT_TRUE((co_await fs->make_directory("d")).has_value());
    EXPECT_EQ((co_await fs->make_directory("d")).error(), std::errc::file_exists);
    EXPECT_EQ((co_await fs->open("missing/x", {.write = true, .create = true})).error(),
              std::errc::no_such_file_or_directory);
    (void)co_await fs->open("d/b", {.write = true, .create = true});
    (void)co_await fs->open("d/a", {.write = true, .create = true});
    EXPECT_EQ(
        (co_await fs->open("d/a", {.write = true, .create = true, .exclusive = true})).error(),
        std::errc::file_exists);
    EXPECT_TRUE((co_await fs->rename("d/b", "d/c")).has_value());
    // (Expected lists built outside co_await expressions: g++ 12 rejects
    // braced lists of string literals there.)
    std::vector<std::string> a_and_c;
    a_and_c.emplace_back("a");
    a_and_c.emplace_back("c");
    auto listed = co_await fs->list("d");
    EXPECT_EQ(listed.value(), a_and_c);
    EXPECT_TRUE((co_await fs->remove("d/a")).has_value());
    EXPECT_EQ((co_await fs->remove("d/a")).error(), std::errc::no_such_file_or_directory);
    auto listed_again = co_await fs->list("d");
    EXPECT_EQ(listed_again.value(), std::vector<std::string>(1, "c"));
    EXPECT_TRUE((co_await fs->sync_directory("d")).has_value());
}

TEST(MemoryFileSystem, NamespaceOperations) {
    memory_file_system fs;
    run(namespace_ops(&fs));
}

TEST(MemoryFileSystem, CorruptFlipsBits) {
    memory_file_system fs;
    fs.put("f", text("abc"));
    fs.corrupt("f", 1, 0x01);
    EXPECT_EQ(fs.contents("f"), text("acc"));
}

} // namespace
} // namespace zama::rt::test
