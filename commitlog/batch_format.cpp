#include "commitlog/batch_format.hpp"

#include "commitlog/crc32c.hpp"
#include "commitlog/little_endian.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <optional>

namespace zama::commitlog {

static_assert(std::endian::native == std::endian::little,
              "the on-disk formats are little-endian and copied as they are");

namespace {

constexpr std::size_t at_crc = 1;
constexpr std::size_t at_length = 5;
constexpr std::size_t at_base = 9;
constexpr std::size_t at_count = 17;
constexpr std::size_t at_timestamp = 21;

constexpr std::uint8_t qos_mask = 0x03;
constexpr std::uint8_t retain_bit = 0x04;

} // namespace

const char* describe(format_errc e) noexcept {
    switch (e) {
    case format_errc::need_more:
        return "truncated";
    case format_errc::bad_version:
        return "unknown format version";
    case format_errc::bad_length:
        return "impossible length";
    case format_errc::bad_crc:
        return "CRC mismatch";
    case format_errc::malformed:
        return "malformed records";
    case format_errc::unknown_topic:
        return "unknown topic id";
    }
    return "unknown error";
}

result<batch_header, format_errc> read_header(std::span<const std::uint8_t> bytes) noexcept {
    if (bytes.size() < batch_header_size) {
        return format_errc::need_more;
    }
    const std::uint8_t* p = bytes.data();
    batch_header h;
    h.version = p[0];
    if (h.version != batch_format_version) {
        return format_errc::bad_version;
    }
    h.crc = load_le<std::uint32_t>(p + at_crc);
    h.length = load_le<std::uint32_t>(p + at_length);
    h.base = load_le<std::uint64_t>(p + at_base);
    h.count = load_le<std::uint32_t>(p + at_count);
    h.timestamp = load_le<std::int64_t>(p + at_timestamp);
    const std::uint64_t room = h.length >= batch_header_size ? h.length - batch_header_size : 0;
    if (h.length < batch_header_size || h.count == 0 ||
        std::uint64_t{h.count} * record_header_size > room || h.base + h.count < h.base) {
        return format_errc::bad_length;
    }
    return h;
}

bool check_crc(const batch_header& header, std::span<const std::uint8_t> batch) noexcept {
    if (batch.size() != header.length || batch.size() < batch_header_size) {
        return false;
    }
    return crc32c(batch.subspan(at_length)) == header.crc;
}

void encode_batch(const record_batch& batch, std::int64_t timestamp, std::span<const topic_id> ids,
                  std::vector<std::uint8_t>& out) {
    ZAMA_ASSERT(ids.size() == batch.size(), "one topic id per record");
    ZAMA_ASSERT(!batch.empty(), "empty batches are not stored");
    std::size_t length = batch_header_size;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        length += record_header_size + batch.at(i).payload_size;
    }
    ZAMA_ASSERT(length <= 0xFFFF'FFFFu, "batch larger than 4 GiB");
    const std::size_t start = out.size();
    // Appended piece by piece rather than resized and filled: resize()
    // zero-fills every byte first, which cost as much as the payload copy.
    // Capacity grows geometrically (reserve() alone would grow it exactly,
    // once per batch of a multi-batch append).
    if (out.capacity() < start + length) {
        out.reserve(std::max(start + length, 2 * out.capacity()));
    }
    std::array<std::uint8_t, batch_header_size> header{};
    header[0] = batch_format_version;
    store_le(header.data() + at_length, static_cast<std::uint32_t>(length));
    store_le(header.data() + at_base, batch.base());
    store_le(header.data() + at_count, static_cast<std::uint32_t>(batch.size()));
    store_le(header.data() + at_timestamp, timestamp);
    out.insert(out.end(), header.begin(), header.end());
    // The CRC follows the copy every 16 KiB, over bytes still in the L1
    // cache, rather than over the whole batch afterwards (a second pass,
    // from memory once the batch outgrows the caches).
    constexpr std::size_t crc_step = std::size_t{16} * 1024;
    std::uint32_t crc = 0;
    std::size_t crc_done = start + at_length; // bytes of `out` the CRC covers so far
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const record& r = batch.at(i);
        std::array<std::uint8_t, record_header_size> rh{};
        store_le(rh.data(), ids[i].value());
        rh[4] =
            static_cast<std::uint8_t>((r.flags.qos & qos_mask) | (r.flags.retain ? retain_bit : 0));
        store_le(rh.data() + 5, r.payload_size);
        out.insert(out.end(), rh.begin(), rh.end());
        const auto payload = batch.payload(r);
        out.insert(out.end(), payload.begin(), payload.end());
        if (out.size() - crc_done >= crc_step) {
            crc = crc32c_extend(crc, {out.data() + crc_done, out.size() - crc_done});
            crc_done = out.size();
        }
    }
    ZAMA_ASSERT(out.size() == start + length, "batch length miscounted");
    crc = crc32c_extend(crc, {out.data() + crc_done, out.size() - crc_done});
    store_le(out.data() + start + at_crc, crc);
}

namespace {

struct raw_record {
    std::uint32_t id = 0;
    record_flags flags;
    std::span<const std::uint8_t> payload;
};

/// Calls on_record(raw_record) for each record of a whole batch; stops with
/// the error on_record returns (a format_errc, or nothing to go on).
template <typename OnRecord>
result<batch_header, format_errc> walk_records(std::span<const std::uint8_t> batch,
                                               OnRecord&& on_record) {
    auto h = read_header(batch);
    if (!h) {
        return h.error();
    }
    if (batch.size() < h->length) {
        return format_errc::need_more;
    }
    if (batch.size() > h->length) {
        return format_errc::bad_length;
    }
    std::size_t at = batch_header_size;
    for (std::uint32_t i = 0; i < h->count; ++i) {
        if (batch.size() - at < record_header_size) {
            return format_errc::malformed;
        }
        const std::uint8_t* r = batch.data() + at;
        const std::uint8_t flags = r[4];
        const auto payload_size = load_le<std::uint32_t>(r + 5);
        at += record_header_size;
        if ((flags & ~(qos_mask | retain_bit)) != 0 || (flags & qos_mask) > 2 ||
            payload_size > batch.size() - at) {
            return format_errc::malformed;
        }
        const raw_record rec{
            load_le<std::uint32_t>(r),
            {static_cast<std::uint8_t>(flags & qos_mask), (flags & retain_bit) != 0},
            batch.subspan(at, payload_size)};
        if (auto e = on_record(rec)) {
            return *e;
        }
        at += payload_size;
    }
    if (at != batch.size()) {
        return format_errc::malformed;
    }
    return h;
}

} // namespace

result<topic_id, format_errc> check_records(std::span<const std::uint8_t> batch) {
    std::uint32_t max_id = 0;
    auto walked = walk_records(batch, [&max_id](const raw_record& r) {
        max_id = std::max(max_id, r.id);
        return std::optional<format_errc>{};
    });
    if (!walked) {
        return walked.error();
    }
    return topic_id{max_id};
}

result<batch_ptr, format_errc> decode_batch(std::span<const std::uint8_t> batch, partition_id p,
                                            std::span<const std::string> names) {
    auto h = read_header(batch);
    if (!h) {
        return h.error();
    }
    batch_ptr out = batch_ptr::make(p, h->base);
    out->set_timestamp(h->timestamp);
    // Sized first: growing by doubling would leave up to half of every
    // batch read from disk unused, and catch-up reads hold many.
    std::size_t bytes = 0;
    auto sized = walk_records(batch, [&](const raw_record& r) -> std::optional<format_errc> {
        bytes += r.payload.size() + (r.id < names.size() ? names[r.id].size() : 0);
        return std::nullopt;
    });
    if (!sized) {
        return sized.error();
    }
    out->reserve(h->count, bytes);
    auto walked = walk_records(batch, [&](const raw_record& r) -> std::optional<format_errc> {
        if (r.id >= names.size() || names[r.id].empty()) {
            return format_errc::unknown_topic;
        }
        if (names[r.id].size() > 0xFFFF) {
            return format_errc::malformed; // not a name the dictionary can hold
        }
        out->append(names[r.id], r.payload, r.flags);
        return std::nullopt;
    });
    if (!walked) {
        return walked.error();
    }
    return out;
}

} // namespace zama::commitlog
