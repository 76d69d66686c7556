#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// How zama-log writes values: times, payloads, topics, byte counts, tables.

namespace zama::inspect {

/// Milliseconds since the epoch as ISO 8601 UTC: 2024-05-01T12:00:00.123Z.
std::string iso8601(std::int64_t ms);

/// A payload preview: its first 32 bytes as a quoted string if they are
/// printable ASCII, else its first 16 bytes in hex ("0x..."); "..." follows
/// when the payload is longer than what is shown.
std::string payload_preview(std::span<const std::uint8_t> payload);

/// A topic name as one word: as it is, or quoted with escapes if it holds a
/// space, a quote or a control character.
std::string topic_word(std::string_view topic);

/// "1 batch", "2 batches".
std::string count_of(std::uint64_t n, std::string_view one, std::string_view many);

/// 1536 -> "1.5 MiB".
std::string human_bytes(std::uint64_t bytes);

/// Rows of words, printed in columns (numbers right-aligned).
class table {
  public:
    explicit table(std::vector<std::string> header);
    void add(std::vector<std::string> row);
    void print(std::FILE* out) const;

  private:
    std::vector<std::vector<std::string>> _rows;
};

} // namespace zama::inspect
