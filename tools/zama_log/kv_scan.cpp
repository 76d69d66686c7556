#include "kv_scan.hpp"

#include "commitlog/crc32c.hpp"
#include "commitlog/kv_log.hpp"
#include "commitlog/little_endian.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <span>

#include "offline_io.hpp"

namespace zama::inspect {

namespace {

using commitlog::load_le;

// The record layout of commitlog/kv_log.hpp.
constexpr std::size_t record_header = 11;
constexpr std::size_t crc_at = 4; // the CRC covers the record from here
constexpr std::uint8_t kind_put = 1;
constexpr std::uint8_t kind_erase = 2;

constexpr std::size_t read_chunk = std::size_t{1} << 20;

/// Why the record at the start of `rest` does not read; nullopt if it does.
std::optional<std::string> check_record(std::span<const std::uint8_t> rest) {
    if (rest.size() < record_header) {
        return fmt::format("short record: {} bytes left, a record header takes {}", rest.size(),
                           record_header);
    }
    const auto key_size = load_le<std::uint16_t>(rest.data() + 5);
    const auto value_size = load_le<std::uint32_t>(rest.data() + 7);
    const std::uint64_t total = record_header + std::uint64_t{key_size} + value_size;
    if (total > rest.size()) {
        return fmt::format("truncated record: {} bytes announced (key {}, value {}), {} left",
                           total, key_size, value_size, rest.size());
    }
    const std::uint32_t stored = load_le<std::uint32_t>(rest.data());
    const std::uint32_t computed =
        commitlog::crc32c(rest.subspan(crc_at, static_cast<std::size_t>(total) - crc_at));
    if (stored != computed) {
        return fmt::format("CRC mismatch (record of {} bytes: stored {:08x}, computed {:08x})",
                           total, stored, computed);
    }
    if (rest[4] != kind_put && rest[4] != kind_erase) {
        return fmt::format("unknown record kind {} (1: put, 2: erase)", rest[4]);
    }
    return std::nullopt;
}

/// The records after the version byte, as kv_log's open reads them.
void read_records(std::span<const std::uint8_t> bytes, kv_scan& out) {
    std::size_t at = 1;
    while (at < bytes.size()) {
        const auto rest = bytes.subspan(at);
        if (auto why = check_record(rest)) {
            out.cut = kv_cut{.position = at, .bytes = rest.size(), .why = std::move(*why)};
            return;
        }
        const auto key_size = load_le<std::uint16_t>(rest.data() + 5);
        const auto value_size = load_le<std::uint32_t>(rest.data() + 7);
        std::string key(reinterpret_cast<const char*>(rest.data() + record_header), key_size);
        if (rest[4] == kind_put) {
            const auto value = rest.subspan(record_header + key_size, value_size);
            out.entries.insert_or_assign(std::move(key),
                                         std::vector<std::uint8_t>(value.begin(), value.end()));
        } else {
            out.entries.erase(key);
        }
        ++out.records;
        at += record_header + key_size + value_size;
    }
}

} // namespace

result<kv_scan, tool_error> scan_kv(const std::string& path, const std::string& name, progress& bar,
                                    std::string label) {
    auto failed = [&path](std::errc e) { return read_failure(path, e); };
    auto file = read_only_file::open(path);
    if (!file) {
        return failed(file.error());
    }
    read_only_file& f = **file;
    bar.start(std::move(label), f.size());
    std::vector<std::uint8_t> bytes(f.size());
    for (std::size_t at = 0; at < bytes.size();) {
        const std::size_t want = std::min(read_chunk, bytes.size() - at);
        auto got = f.read_now(at, std::span(bytes).subspan(at, want));
        if (!got) {
            return failed(got.error());
        }
        if (*got < want) {
            bytes.resize(at + *got); // shorter than at open
            break;
        }
        at += want;
        bar.update(at);
    }
    kv_scan out;
    out.size_bytes = bytes.size();
    if (bytes.empty()) {
        return out; // created, not yet written: the broker writes the version byte on open
    }
    if (bytes[0] != commitlog::kv_format_version) {
        return tool_error{fmt::format("{}: format version {} is not one this zama-log reads "
                                      "(version {})",
                                      name, bytes[0], commitlog::kv_format_version)};
    }
    read_records(bytes, out);
    return out;
}

} // namespace zama::inspect
