#pragma once

#include "base/result.hpp"
#include "commitlog/batch_format.hpp"
#include "runtime/file_system.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

namespace zama::commitlog {

/// Walks the batches of one segment file in large reads (64 KiB and up):
/// frames each batch and checks its CRC, stops at the end or at the first
/// batch that does not check out, and can scan forward past damage to the
/// next batch that does. Decoding records is the caller's business.
///
/// A short-lived cursor on the stack of one task; the file must outlive it.
/// Nothing past `limit` is read (the caller's idea of the file's size, so
/// bytes of an append in progress are never looked at).
class batch_reader {
  public:
    struct framed {
        std::uint64_t position = 0;
        batch_header header;
        std::span<const std::uint8_t> bytes; // valid until the next call
    };
    enum class stop {
        none,
        end,     // at `limit`
        invalid, // the batch at position() is torn or damaged
    };

    batch_reader(rt::file& f, std::uint64_t position, std::uint64_t limit,
                 std::size_t chunk) noexcept;

    /// The next batch that frames and checks out; nothing if the reader
    /// stopped (stopped() says why; position() is where).
    rt::task<result<std::optional<framed>, std::errc>> next();
    stop stopped() const noexcept { return _stopped; }
    std::uint64_t position() const noexcept { return _position; }
    void seek(std::uint64_t position) noexcept;

    /// From position() + 1 on, the first batch that checks out and whose
    /// offsets lie within [min_base, max_end); the reader is then positioned
    /// on it. Nothing if there is none before the limit.
    rt::task<result<std::optional<framed>, std::errc>> resync(offset min_base, offset max_end);

  private:
    bool buffered(std::uint64_t at, std::size_t n) const noexcept {
        return at >= _buffer_at && at + n <= _buffer_at + _buffer_size;
    }
    std::span<const std::uint8_t> view(std::uint64_t at, std::size_t n) const noexcept {
        return {_buffer.data() + (at - _buffer_at), n};
    }
    /// Makes [at, at + n) buffered, reading at least a chunk; false if the
    /// range goes past the limit or the file.
    rt::task<result<bool, std::errc>> fill(std::uint64_t at, std::size_t n);

    rt::file& _file;
    std::uint64_t _position;
    std::uint64_t _limit;
    std::size_t _chunk;
    stop _stopped = stop::none;
    std::vector<std::uint8_t> _buffer;
    std::uint64_t _buffer_at = 0;
    std::size_t _buffer_size = 0;
};

} // namespace zama::commitlog
