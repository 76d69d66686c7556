#include "dictionary_scan.hpp"

#include "base/string_map.hpp"
#include "commitlog/crc32c.hpp"
#include "commitlog/topic_dictionary.hpp"

#include <fmt/format.h>

#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "offline_io.hpp"

namespace zama::inspect {

namespace {

// Field positions of an entry (commitlog/topic_dictionary.hpp).
constexpr std::size_t at_crc = 1;
constexpr std::size_t at_id = 5;
constexpr std::size_t at_name_size = 9;

struct entry {
    std::uint32_t id = 0;
    std::string_view name;
    std::size_t size = 0;
};

struct parsed {
    std::optional<entry> e;
    std::string why; // when there is no entry
};

/// The entry at the start of `bytes` if it is whole and its CRC checks;
/// else why not.
parsed parse_entry(std::span<const std::uint8_t> bytes) {
    const std::size_t header = commitlog::dictionary_entry_header_size;
    if (bytes.size() < header) {
        return {std::nullopt, fmt::format("truncated entry: {} bytes left, a header takes {}",
                                          bytes.size(), header)};
    }
    if (bytes[0] != commitlog::dictionary_format_version) {
        return {std::nullopt, fmt::format("unknown entry version {}", bytes[0])};
    }
    std::uint32_t crc = 0;
    std::uint32_t id = 0;
    std::uint16_t name_size = 0;
    std::memcpy(&crc, bytes.data() + at_crc, 4);
    std::memcpy(&id, bytes.data() + at_id, 4);
    std::memcpy(&name_size, bytes.data() + at_name_size, 2);
    const std::size_t size = header + name_size;
    if (name_size == 0) {
        return {std::nullopt, "entry with an empty name"};
    }
    if (bytes.size() < size) {
        return {std::nullopt,
                fmt::format("truncated entry: {} bytes announced, {} left", size, bytes.size())};
    }
    const std::uint32_t actual = commitlog::crc32c(bytes.subspan(at_id, size - at_id));
    if (actual != crc) {
        return {std::nullopt,
                fmt::format("CRC mismatch (stored {:08x}, computed {:08x})", crc, actual)};
    }
    return {entry{id, {reinterpret_cast<const char*>(bytes.data()) + header, name_size}, size}, {}};
}

} // namespace

result<dictionary_scan, std::errc> scan_dictionary(const std::string& path) {
    dictionary_scan out;
    auto read = read_whole_file(path);
    if (!read && read.error() == std::errc::no_such_file_or_directory) {
        return out;
    }
    if (!read) {
        return read.error();
    }
    const std::span<const std::uint8_t> all(*read);
    out.size_bytes = all.size();
    string_map<std::uint32_t> ids;
    // The rules of topic_dictionary::recover: ids are dense, so none can
    // exceed the entries the file could hold; a name or id seen before makes
    // an entry unusable.
    const std::size_t max_id = all.size() / (commitlog::dictionary_entry_header_size + 1);
    auto usable = [&](const parsed& p, std::string* why) {
        if (!p.e) {
            if (why != nullptr) {
                *why = p.why;
            }
            return false;
        }
        const entry& e = *p.e;
        std::string problem;
        if (e.id > max_id) {
            problem =
                fmt::format("topic id {} is impossible in a file of {} bytes", e.id, all.size());
        } else if (auto it = ids.find(e.name); it != ids.end()) {
            problem = fmt::format("name \"{}\" already has id {}", e.name, it->second);
        } else if (e.id < out.names.size() && !out.names[e.id].empty()) {
            problem = fmt::format("id {} already names \"{}\"", e.id, out.names[e.id]);
        }
        if (why != nullptr) {
            *why = problem;
        }
        return problem.empty();
    };
    std::size_t at = 0;
    while (at < all.size()) {
        std::string why;
        const parsed p = parse_entry(all.subspan(at));
        if (usable(p, &why)) {
            const entry& e = *p.e;
            if (e.id >= out.names.size()) {
                out.names.resize(std::size_t{e.id} + 1);
            }
            out.names[e.id] = std::string(e.name);
            ids.emplace(e.name, e.id);
            ++out.entries_checked;
            at += e.size;
            continue;
        }
        std::size_t next = at + 1;
        while (next < all.size() && !usable(parse_entry(all.subspan(next)), nullptr)) {
            ++next;
        }
        out.problems.push_back({at, next - at, next >= all.size(), std::move(why)});
        at = next;
    }
    out.topics = ids.size();
    return out;
}

} // namespace zama::inspect
