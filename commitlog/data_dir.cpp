#include "commitlog/data_dir.hpp"

#include "base/errc.hpp"
#include "commitlog/crc32c.hpp"

#include <fmt/format.h>

#include <array>
#include <cstring>

namespace zama::commitlog {

namespace {

constexpr std::size_t meta_size = 9;

std::array<std::uint8_t, meta_size> encode_meta(std::uint32_t partitions) {
    std::array<std::uint8_t, meta_size> m{};
    m[0] = meta_format_version;
    std::memcpy(m.data() + 1, &partitions, 4);
    const std::uint32_t crc = crc32c({m.data(), 5});
    std::memcpy(m.data() + 5, &crc, 4);
    return m;
}

rt::task<result<void, metadata_error>> write_meta(rt::file_system& fs, std::string dir,
                                                  std::uint32_t partitions) {
    const std::string tmp = dir + "/meta.tmp";
    auto failed = [&dir](const char* what, std::errc e) {
        return metadata_error{fmt::format("data directory {}: cannot {} the meta file: {}", dir,
                                          what, message_of(e))};
    };
    auto f = co_await fs.open(tmp, {.write = true, .create = true, .truncate = true});
    if (!f) {
        co_return failed("create", f.error());
    }
    auto bytes = encode_meta(partitions);
    const iovec v{bytes.data(), bytes.size()};
    auto written = co_await (*f)->append({&v, 1});
    if (!written) {
        co_return failed("write", written.error());
    }
    auto synced = co_await (*f)->datasync();
    if (!synced) {
        co_return failed("sync", synced.error());
    }
    auto closed = co_await (*f)->close();
    if (!closed) {
        co_return failed("close", closed.error());
    }
    auto renamed = co_await fs.rename(tmp, dir + "/meta");
    if (!renamed) {
        co_return failed("rename", renamed.error());
    }
    auto dir_synced = co_await fs.sync_directory(dir);
    if (!dir_synced) {
        co_return failed("sync the directory of", dir_synced.error());
    }
    co_return result<void, metadata_error>{};
}

} // namespace

rt::task<result<void, metadata_error>>
check_or_create_metadata(rt::file_system& fs, std::string data_dir, std::uint32_t partitions) {
    auto made = co_await fs.make_directory(data_dir);
    if (!made && made.error() != std::errc::file_exists) {
        co_return metadata_error{
            fmt::format("cannot create data directory {}: {}", data_dir, message_of(made.error()))};
    }
    auto f = co_await fs.open(data_dir + "/meta", {});
    if (!f && f.error() == std::errc::no_such_file_or_directory) {
        co_return co_await write_meta(fs, data_dir, partitions);
    }
    if (!f) {
        co_return metadata_error{fmt::format("data directory {}: cannot open the meta file: {}",
                                             data_dir, message_of(f.error()))};
    }
    std::array<std::uint8_t, meta_size> m{};
    auto n = co_await (*f)->read(0, m);
    auto closed = co_await (*f)->close();
    (void)closed;
    if (!n) {
        co_return metadata_error{fmt::format("data directory {}: cannot read the meta file: {}",
                                             data_dir, message_of(n.error()))};
    }
    if (*n >= 1 && m[0] != meta_format_version) {
        co_return metadata_error{
            fmt::format("data directory {}: meta file version {} is not one this build reads "
                        "(version {})",
                        data_dir, m[0], meta_format_version)};
    }
    std::uint32_t crc = 0;
    std::memcpy(&crc, m.data() + 5, 4);
    if (*n != meta_size || (*f)->size() != meta_size || crc32c({m.data(), 5}) != crc) {
        co_return metadata_error{
            fmt::format("data directory {}: the meta file is damaged (expected {} bytes with a "
                        "valid checksum); restore it or start from an empty data directory",
                        data_dir, meta_size)};
    }
    std::uint32_t stored = 0;
    std::memcpy(&stored, m.data() + 1, 4);
    if (stored != partitions) {
        co_return metadata_error{fmt::format(
            "data directory {} was created with {} partitions, but the configuration asks for {}; "
            "the partition count cannot change: set partitions = {} or start from an empty data "
            "directory",
            data_dir, stored, partitions, stored)};
    }
    co_return result<void, metadata_error>{};
}

std::string partition_directory(const std::string& data_dir, partition_id p) {
    return fmt::format("{}/partition-{}", data_dir, p.value());
}

} // namespace zama::commitlog
