#include "data_dir_view.hpp"

#include "commitlog/crc32c.hpp"
#include "commitlog/data_dir.hpp"
#include "commitlog/segment.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>

#include "offline_io.hpp"

namespace zama::inspect {

namespace stdfs = std::filesystem;

namespace {

// The meta file's layout (commitlog/data_dir.hpp): version, partitions, CRC32C.
constexpr std::size_t meta_size = 9;
constexpr std::string_view dictionary_file = "topics.dict";
constexpr std::string_view sessions_file = "sessions.kv"; // router/durable.cpp
constexpr std::string_view partition_prefix = "partition-";

std::optional<std::uint32_t> partition_number(std::string_view name) {
    if (!name.starts_with(partition_prefix)) {
        return std::nullopt;
    }
    name.remove_prefix(partition_prefix.size());
    std::uint32_t n = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
    if (ec != std::errc{} || end != name.data() + name.size() || name.empty() ||
        (name.size() > 1 && name.front() == '0')) {
        return std::nullopt;
    }
    return n;
}

} // namespace

tool_error read_failure(const std::string& path, std::errc e) {
    return tool_error{fmt::format("cannot read {}: {}", path, describe(e))};
}

result<data_dir_view, tool_error> open_data_dir(const std::string& path) {
    std::error_code ec;
    const auto status = stdfs::status(path, ec);
    if (ec || !stdfs::exists(status)) {
        return tool_error{fmt::format("{}: no such directory", path)};
    }
    if (!stdfs::is_directory(status)) {
        return tool_error{fmt::format("{}: not a directory", path)};
    }
    const std::string meta = path + "/meta";
    auto bytes = read_whole_file(meta);
    if (!bytes && bytes.error() == std::errc::no_such_file_or_directory) {
        return tool_error{
            fmt::format("{} is not a Zama data directory (it has no meta file)", path)};
    }
    if (!bytes) {
        return read_failure(meta, bytes.error());
    }
    const std::vector<std::uint8_t>& m = *bytes;
    if (!m.empty() && m[0] != commitlog::meta_format_version) {
        return tool_error{
            fmt::format("{}: meta format version {} is not one this zama-log reads (version {})",
                        meta, m[0], commitlog::meta_format_version)};
    }
    std::uint32_t crc = 0;
    std::uint32_t partitions = 0;
    if (m.size() == meta_size) {
        std::memcpy(&partitions, m.data() + 1, 4);
        std::memcpy(&crc, m.data() + 5, 4);
    }
    if (m.size() != meta_size || commitlog::crc32c({m.data(), 5}) != crc) {
        return tool_error{fmt::format(
            "{} is damaged (expected {} bytes with a valid checksum, found {} bytes{})", meta,
            meta_size, m.size(), m.size() == meta_size ? " with a bad checksum" : "")};
    }
    if (partitions == 0) {
        return tool_error{fmt::format("{} is damaged: it says 0 partitions", meta)};
    }
    data_dir_view d;
    d.path = path;
    d.meta_version = m[0];
    d.partitions = partitions;
    for (stdfs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (auto n = partition_number(name); n && *n >= partitions) {
            d.stray_partitions.push_back(name);
        }
    }
    if (ec) {
        return tool_error{fmt::format("cannot list {}: {}", path, ec.message())};
    }
    std::sort(d.stray_partitions.begin(), d.stray_partitions.end());
    return d;
}

result<selection, tool_error> open_selection(const std::string& path,
                                             std::optional<std::uint32_t> only) {
    auto d = open_data_dir(path);
    if (!d) {
        return d.error();
    }
    selection s{std::move(*d), {}};
    const std::uint32_t count = s.dir.partitions;
    if (only) {
        if (*only >= count) {
            return tool_error{fmt::format("{} has no partition {} (it has {}: 0 to {})", s.dir.path,
                                          *only, count, count - 1)};
        }
        s.partitions.emplace_back(*only);
        return s;
    }
    s.partitions.reserve(count);
    for (std::uint32_t p = 0; p < count; ++p) {
        s.partitions.emplace_back(p);
    }
    return s;
}

result<partition_files, tool_error> list_partition(const data_dir_view& d, partition_id p) {
    partition_files out;
    out.id = p;
    out.path = commitlog::partition_directory(d.path, p);
    out.name = fmt::format("{}{}", partition_prefix, p.value());
    out.dictionary_path = out.path + "/" + std::string(dictionary_file);
    out.dictionary_name = out.name + "/" + std::string(dictionary_file);
    out.sessions_path = out.path + "/" + std::string(sessions_file);
    out.sessions_name = out.name + "/" + std::string(sessions_file);
    std::error_code ec;
    const auto status = stdfs::status(out.path, ec);
    if (ec || !stdfs::exists(status)) {
        return out;
    }
    if (!stdfs::is_directory(status)) {
        return tool_error{fmt::format("{}: not a directory", out.path)};
    }
    out.exists = true;
    std::map<offset, std::uint64_t> logs; // base -> size
    std::vector<offset> indexes;
    for (stdfs::directory_iterator it(out.path, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (auto base = commitlog::segment::parse_name(name, ".log")) {
            std::error_code size_ec;
            const auto size = stdfs::file_size(it->path(), size_ec);
            if (size_ec) {
                return tool_error{fmt::format("cannot read the size of {}: {}", it->path().string(),
                                              size_ec.message())};
            }
            logs.emplace(*base, size);
        } else if (auto indexed = commitlog::segment::parse_name(name, ".index")) {
            indexes.push_back(*indexed);
        } else if (name == dictionary_file) {
            out.has_dictionary = true;
        } else if (name == sessions_file) {
            out.has_sessions = true;
        }
    }
    if (ec) {
        return tool_error{fmt::format("cannot list {}: {}", out.path, ec.message())};
    }
    std::sort(indexes.begin(), indexes.end());
    for (const auto& [base, size] : logs) {
        segment_files s;
        s.base = base;
        const std::string stem = commitlog::segment::file_stem(base);
        s.log_path = out.path + "/" + stem + ".log";
        s.index_path = out.path + "/" + stem + ".index";
        s.log_name = out.name + "/" + stem + ".log";
        s.index_name = out.name + "/" + stem + ".index";
        s.log_size = size;
        s.has_index = std::binary_search(indexes.begin(), indexes.end(), base);
        out.log_bytes += size;
        out.segments.push_back(std::move(s));
    }
    for (offset base : indexes) {
        if (!logs.contains(base)) {
            out.stray_indexes.push_back(out.name + "/" + commitlog::segment::file_stem(base) +
                                        ".index");
        }
    }
    return out;
}

} // namespace zama::inspect
