#pragma once

#include "mqtt/packet.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

// Primitive reads and writes of the MQTT wire types (section 1.5): 8- and
// 16-bit big-endian integers, and strings and binary data with a 16-bit
// length prefix. Private to mqtt/.

namespace zama::mqtt::wire {

/// Bounds-checked reads from a packet body. A read that would run past the
/// end returns false and leaves the reader where it was.
class reader {
  public:
    explicit reader(bytes_view bytes) noexcept
        : _bytes(bytes) {}

    std::size_t remaining() const noexcept { return _bytes.size() - _pos; }
    bool at_end() const noexcept { return _pos == _bytes.size(); }
    std::size_t position() const noexcept { return _pos; }
    bytes_view rest() const noexcept { return _bytes.subspan(_pos); }

    bool u8(std::uint8_t& out) noexcept {
        if (remaining() < 1) {
            return false;
        }
        out = _bytes[_pos++];
        return true;
    }

    bool u16(std::uint16_t& out) noexcept {
        if (remaining() < 2) {
            return false;
        }
        out = static_cast<std::uint16_t>((_bytes[_pos] << 8) | _bytes[_pos + 1]);
        _pos += 2;
        return true;
    }

    /// A length-prefixed field as bytes.
    bool binary(bytes_view& out) noexcept {
        if (remaining() < 2) {
            return false;
        }
        const std::size_t n = (std::size_t{_bytes[_pos]} << 8) | _bytes[_pos + 1];
        if (remaining() - 2 < n) {
            return false;
        }
        out = _bytes.subspan(_pos + 2, n);
        _pos += 2 + n;
        return true;
    }

    /// A length-prefixed field as characters (not yet validated as UTF-8).
    bool string(std::string_view& out) noexcept {
        bytes_view b;
        if (!binary(b)) {
            return false;
        }
        out = as_chars(b);
        return true;
    }

    static std::string_view as_chars(bytes_view b) noexcept {
        return {reinterpret_cast<const char*>(b.data()), b.size()};
    }

  private:
    bytes_view _bytes;
    std::size_t _pos = 0;
};

/// Unchecked writes: the encoder sizes the packet first and checks the
/// output buffer once.
class writer {
  public:
    explicit writer(std::uint8_t* out) noexcept
        : _out(out) {}

    std::size_t written(const std::uint8_t* start) const noexcept {
        return static_cast<std::size_t>(_out - start);
    }
    std::uint8_t* cursor() noexcept { return _out; }
    void advance(std::size_t n) noexcept { _out += n; }

    void u8(std::uint8_t v) noexcept { *_out++ = v; }
    void u16(std::uint16_t v) noexcept {
        _out[0] = static_cast<std::uint8_t>(v >> 8);
        _out[1] = static_cast<std::uint8_t>(v);
        _out += 2;
    }
    void bytes(const void* data, std::size_t n) noexcept {
        if (n != 0) {
            std::memcpy(_out, data, n);
        }
        _out += n;
    }
    void binary(bytes_view b) noexcept {
        u16(static_cast<std::uint16_t>(b.size()));
        bytes(b.data(), b.size());
    }
    void string(std::string_view s) noexcept {
        u16(static_cast<std::uint16_t>(s.size()));
        bytes(s.data(), s.size());
    }

  private:
    std::uint8_t* _out;
};

} // namespace zama::mqtt::wire
