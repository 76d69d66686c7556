#pragma once

#include "base/named_type.hpp"
#include "base/result.hpp"
#include "commitlog/record_batch.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

// A record batch as it is stored in a segment file. Little-endian integers,
// no padding. Version 1:
//
//   offset size  field
//        0    1  version (1)
//        1    4  crc: CRC32C of bytes [5, length): everything after it, the
//                length included, so a flipped length cannot pass
//        5    4  length: bytes of the whole batch, this header included
//        9    8  base offset (of the first record)
//       17    4  record count (>= 1)
//       21    8  timestamp: milliseconds since the epoch (signed)
//       29       records, `count` of them, back to back:
//
//                  0  4  topic id (u32): index into the partition's topic
//                        dictionary (topic_dictionary.hpp)
//                  4  1  flags: bits 0-1 QoS (0..2), bit 2 retain; the
//                        other bits are 0
//                  5  4  payload length
//                  9     payload
//
// The records of a batch have consecutive offsets from the base offset.
// Topic names are not repeated per record: a partition holds few distinct
// topics per batch compared with records, and ids keep records small.
//
// COMPATIBILITY: a reader refuses a batch whose version it does not know
// (format_errc::bad_version); a new version keeps the version byte first and
// the reader keeps decoding version 1.
//
// Framing (read_header: is there a plausible header, how long is the batch)
// is separate from checking (check_crc) and from decoding (decode_batch), so
// that a scanner can frame and verify without building records.

namespace zama::commitlog {

/// A topic's id within one partition: stable for the partition's lifetime.
using topic_id = named_type<std::uint32_t, struct topic_id_tag>;

inline constexpr std::uint8_t batch_format_version = 1;
inline constexpr std::size_t batch_header_size = 29;
inline constexpr std::size_t record_header_size = 9;

enum class format_errc {
    need_more = 1, // fewer bytes than the header or the length announces
    bad_version,
    bad_length,
    bad_crc,
    malformed, // the CRC checks but the contents do not parse
    unknown_topic,
};

const char* describe(format_errc e) noexcept;

struct batch_header {
    std::uint8_t version = 0;
    std::uint32_t crc = 0;
    std::uint32_t length = 0;
    offset base = 0;
    std::uint32_t count = 0;
    std::int64_t timestamp = 0;

    offset end() const noexcept { return base + count; }
};

/// Frames a batch from its first bytes: need_more if fewer than
/// batch_header_size; bad_version; bad_length if the length cannot hold the
/// header and `count` records. Does not look at the CRC.
result<batch_header, format_errc> read_header(std::span<const std::uint8_t> bytes) noexcept;

/// Whether `batch` (exactly header.length bytes) matches its CRC.
bool check_crc(const batch_header& header, std::span<const std::uint8_t> batch) noexcept;

/// Appends the encoding of `batch` to `out`, with `ids[i]` the topic id of
/// record i. Records are copied once, into `out` (which callers reuse).
void encode_batch(const record_batch& batch, std::int64_t timestamp, std::span<const topic_id> ids,
                  std::vector<std::uint8_t>& out);

/// Walks the records of one encoded batch (framed and CRC-checked by the
/// caller) without building them: malformed if they do not parse. Returns
/// the largest topic id used, for recovery to compare with the dictionary.
result<topic_id, format_errc> check_records(std::span<const std::uint8_t> batch);

/// Builds a batch of partition `p` from exactly one encoded batch (framed
/// and CRC-checked by the caller). `names[id]` is the name of topic id; an
/// empty name is an unknown id. Every length is checked against the bytes
/// at hand: bad input yields an error, never a read out of bounds.
result<batch_ptr, format_errc> decode_batch(std::span<const std::uint8_t> batch, partition_id p,
                                            std::span<const std::string> names);

} // namespace zama::commitlog
