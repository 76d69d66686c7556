// Real files through the shard's io_uring.

#include "runtime/uring_file_system.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime_test_util.hpp"

namespace zama::rt::test {
namespace {

namespace fs = std::filesystem;

struct temp_dir {
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "zama-uring-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
    }
    ~temp_dir() { fs::remove_all(path); }
    std::string path;
};

iovec iov(const std::string& s) {
    return {const_cast<char*>(s.data()), s.size()};
}

task<void> exercise(std::string dir) {
    uring_file_system files;
    const std::string sub = dir + "/partition-0";
    EXPECT_TRUE((co_await files.make_directory(sub)).has_value());
    EXPECT_EQ((co_await files.make_directory(sub)).error(), std::errc::file_exists);

    auto f = co_await files.open(sub + "/0.log", {.write = true, .create = true});
    EXPECT_TRUE(f.has_value());
    const std::string a(10'000, 'a');
    const std::string b = "tail";
    const iovec parts[] = {iov(a), iov(b)};
    EXPECT_TRUE((co_await (*f)->append(parts)).has_value());
    EXPECT_TRUE((co_await (*f)->append(parts)).has_value());
    EXPECT_EQ((*f)->size(), 20'008u);
    EXPECT_TRUE((co_await (*f)->datasync()).has_value());

    std::vector<std::uint8_t> into(8);
    auto n = co_await (*f)->read(10'000, into);
    EXPECT_EQ(n.value(), 8u);
    EXPECT_EQ(std::string(into.begin(), into.end()), "tailaaaa");
    auto short_read = co_await (*f)->read(20'004, into);
    EXPECT_EQ(short_read.value(), 4u);

    EXPECT_TRUE((co_await (*f)->truncate(10'004)).has_value());
    EXPECT_EQ((*f)->size(), 10'004u);
    EXPECT_TRUE((co_await (*f)->close()).has_value());

    // Reopening sees the size on disk.
    auto again = co_await files.open(sub + "/0.log", {.write = true});
    EXPECT_EQ((*again)->size(), 10'004u);
    EXPECT_TRUE((co_await (*again)->close()).has_value());

    EXPECT_TRUE((co_await files.rename(sub + "/0.log", sub + "/1.log")).has_value());
    auto other = co_await files.open(sub + "/2.index", {.write = true, .create = true});
    EXPECT_TRUE((co_await (*other)->close()).has_value());
    std::vector<std::string> expected;
    expected.emplace_back("1.log");
    expected.emplace_back("2.index");
    auto listed = co_await files.list(sub);
    EXPECT_EQ(listed.value(), expected);
    EXPECT_TRUE((co_await files.sync_directory(sub)).has_value());
    EXPECT_TRUE((co_await files.remove(sub + "/2.index")).has_value());
    EXPECT_EQ((co_await files.remove(sub + "/2.index")).error(),
              std::errc::no_such_file_or_directory);
    EXPECT_EQ((co_await files.open(sub + "/nope", {})).error(),
              std::errc::no_such_file_or_directory);
    EXPECT_EQ((co_await files.list(dir + "/nope")).error(), std::errc::no_such_file_or_directory);
}

TEST(UringFileSystem, EveryOperationThroughTheRing) {
    temp_dir d;
    run(exercise(d.path));
    std::ifstream f(d.path + "/partition-0/1.log", std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content, std::string(10'000, 'a') + "tail");
}

} // namespace
} // namespace zama::rt::test
