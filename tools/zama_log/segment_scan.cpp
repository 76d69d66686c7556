#include "segment_scan.hpp"

#include "commitlog/batch_format.hpp"
#include "commitlog/crc32c.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace zama::inspect {

namespace {

// Large reads: zama-log reads whole segments start to end.
constexpr std::size_t read_chunk = std::size_t{1} << 20;
constexpr std::size_t crc_at = 5; // the CRC covers [5, length) (batch_format.hpp)

} // namespace

std::optional<commitlog::segment_index::entry> index_scan::lookup(std::uint64_t relative,
                                                                  std::uint64_t log_size) const {
    std::optional<commitlog::segment_index::entry> last;
    for (const auto& e : entries) {
        const bool increasing =
            !last || (e.relative > last->relative && e.position > last->position);
        if (!increasing || e.position == 0 || e.position >= log_size || e.relative > relative) {
            break; // segment_index::load trusts only a consistent prefix
        }
        last = e;
    }
    return last;
}

std::optional<commitlog::segment_index::entry>
index_scan::last_usable(std::uint64_t log_size) const {
    return lookup(std::numeric_limits<std::uint64_t>::max(), log_size);
}

result<index_scan, std::errc> read_index(const segment_files& s) {
    index_scan out;
    if (!s.has_index) {
        return out;
    }
    auto bytes = read_whole_file(s.index_path);
    if (!bytes && bytes.error() == std::errc::no_such_file_or_directory) {
        return out;
    }
    if (!bytes) {
        return bytes.error();
    }
    out.present = true;
    out.file_size = bytes->size();
    if (bytes->empty()) {
        return out;
    }
    out.version = (*bytes)[0];
    if (*out.version != commitlog::index_format_version) {
        return out;
    }
    const std::size_t whole = (bytes->size() - 1) / commitlog::index_entry_size;
    out.stray_bytes = (bytes->size() - 1) % commitlog::index_entry_size;
    out.entries.reserve(whole);
    for (std::size_t i = 0; i < whole; ++i) {
        const std::uint8_t* p = bytes->data() + 1 + i * commitlog::index_entry_size;
        commitlog::segment_index::entry e;
        std::memcpy(&e.relative, p, 4);
        std::memcpy(&e.position, p + 4, 4);
        out.entries.push_back(e);
    }
    return out;
}

result<opened_segment, tool_error> open_segment(const partition_files& files, std::size_t i) {
    const segment_files& s = files.segments[i];
    auto log = read_only_file::open(s.log_path);
    if (!log) {
        return read_failure(s.log_path, log.error());
    }
    auto index = read_index(s);
    if (!index) {
        return read_failure(s.index_path, index.error());
    }
    const bool last = i + 1 == files.segments.size();
    return opened_segment{std::move(*log), std::move(*index),
                          last ? std::nullopt : std::optional<offset>(files.segments[i + 1].base)};
}

std::string diagnose_batch(read_only_file& f, std::uint64_t position) {
    const std::uint64_t left = f.size() - std::min(f.size(), position);
    std::array<std::uint8_t, commitlog::batch_header_size> header{};
    auto n = f.read_now(position, header);
    if (!n) {
        return fmt::format("unreadable: {}", describe(n.error()));
    }
    if (*n < header.size()) {
        return fmt::format("truncated batch: {} bytes left, a batch header takes {}", left,
                           header.size());
    }
    auto h = commitlog::read_header(header);
    if (!h && h.error() == commitlog::format_errc::bad_version) {
        return fmt::format("not a batch header (version byte {}, expected {})", header[0],
                           commitlog::batch_format_version);
    }
    if (!h) {
        std::uint32_t length = 0;
        std::uint32_t count = 0;
        std::memcpy(&length, header.data() + 5, 4);
        std::memcpy(&count, header.data() + 17, 4);
        return fmt::format("impossible batch header (length {}, {} records)", length, count);
    }
    if (h->length > left) {
        return fmt::format("truncated batch: {} bytes announced, {} left", h->length, left);
    }
    // The CRC, computed in pieces: a damaged length may be large.
    std::vector<std::uint8_t> buffer(std::min<std::size_t>(h->length, read_chunk));
    std::uint32_t crc = 0;
    for (std::uint64_t at = crc_at; at < h->length;) {
        const auto want =
            static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), h->length - at));
        auto got = f.read_now(position + at, std::span(buffer).first(want));
        if (!got) {
            return fmt::format("unreadable: {}", describe(got.error()));
        }
        if (*got < want) {
            return "truncated batch";
        }
        crc = at == crc_at ? commitlog::crc32c(std::span(buffer).first(want))
                           : commitlog::crc32c_extend(crc, std::span(buffer).first(want));
        at += want;
    }
    return fmt::format("CRC mismatch (batch of offsets [{}, {}), {} bytes: stored {:08x}, "
                       "computed {:08x})",
                       h->base, h->end(), h->length, h->crc, crc);
}

segment_walker::segment_walker(read_only_file& f, std::uint64_t from, offset expected,
                               std::optional<offset> max_end)
    : _file(f)
    , _reader(f, from, f.size(), read_chunk)
    , _expected(expected)
    , _max_end(max_end) {}

std::string segment_walker::diagnose(std::uint64_t position) {
    return diagnose_batch(_file, position);
}

result<walk_step, std::errc> segment_walker::next() {
    walk_step step;
    step.expected = _expected;
    auto f = run_now(_reader.next());
    if (!f) {
        return f.error();
    }
    if (*f && (*f)->header.base >= _expected) {
        step.what = walk_step::kind::batch;
        step.batch = **f;
        _expected = (*f)->header.end();
        return step;
    }
    if (!*f && _reader.stopped() == commitlog::batch_reader::stop::end) {
        step.what = walk_step::kind::end;
        return step;
    }
    step.what = walk_step::kind::damage;
    if (*f) {
        // Behind the sequence: recovery treats it as damage (segment.cpp).
        step.position = (*f)->position;
        step.why = fmt::format("batch out of sequence: offsets [{}, {}) where {} was expected",
                               (*f)->header.base, (*f)->header.end(), _expected);
        _reader.seek((*f)->position);
    } else {
        step.position = _reader.position();
        step.why = diagnose(step.position);
    }
    const offset max_end =
        _max_end ? std::max(_expected, *_max_end) : std::numeric_limits<offset>::max();
    auto found = run_now(_reader.resync(_expected, max_end));
    if (!found) {
        return found.error();
    }
    if (*found) {
        step.resume = (*found)->position;
        step.resume_base = (*found)->header.base;
        _expected = (*found)->header.base; // the records in between are reported lost
    } else {
        step.resume = _file.size();
    }
    return step;
}

result<segment_summary, tool_error> summarize_segment(const segment_files& s) {
    segment_summary out;
    out.base = s.base;
    out.end = s.base;
    auto file = read_only_file::open(s.log_path);
    if (!file) {
        return read_failure(s.log_path, file.error());
    }
    read_only_file& f = **file;
    out.bytes = f.size();
    auto index = read_index(s);
    if (!index) {
        return read_failure(s.index_path, index.error());
    }
    out.index_entries = index->entries.size();

    std::array<std::uint8_t, commitlog::batch_header_size> header{};
    auto n = f.read_now(0, header);
    if (!n) {
        return read_failure(s.log_path, n.error());
    }
    if (auto h = commitlog::read_header(std::span(header).first(*n))) {
        out.first_timestamp = h->timestamp;
    }

    std::uint64_t from = 0;
    offset expected = s.base;
    if (auto last = index->last_usable(f.size())) {
        from = last->position;
        expected = s.base + last->relative;
    }
    std::optional<segment_walker> walker;
    walker.emplace(f, from, expected, std::nullopt);
    bool first = from > 0;
    for (;;) {
        auto step = walker->next();
        if (!step) {
            return read_failure(s.log_path, step.error());
        }
        if (first &&
            (step->what != walk_step::kind::batch || step->batch.header.base != step->expected)) {
            // The index does not agree with the log: from the start.
            walker.emplace(f, 0, s.base, std::nullopt);
            first = false;
            continue;
        }
        first = false;
        if (step->what == walk_step::kind::end) {
            break;
        }
        if (step->what == walk_step::kind::damage) {
            out.met_damage = true;
            continue;
        }
        out.end = step->batch.header.end();
        out.last_timestamp = step->batch.header.timestamp;
    }
    return out;
}

result<std::optional<partition_summary>, tool_error>
summarize_partition(const partition_files& files) {
    if (files.segments.empty()) {
        return std::optional<partition_summary>{};
    }
    auto last = summarize_segment(files.segments.back());
    if (!last) {
        return last.error();
    }
    return std::optional<partition_summary>{partition_summary{
        .start = files.segments.front().base, .end = last->end, .met_damage = last->met_damage}};
}

} // namespace zama::inspect
