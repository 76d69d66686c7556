#pragma once

#include "mqtt/error.hpp"
#include "mqtt/frame.hpp"
#include "mqtt/packet.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace zama::mqtt {

struct decoder_options {
    /// Largest accepted packet, fixed header included; larger ones are an
    /// error before any of their body is buffered.
    std::size_t max_packet_size = max_packet_size_limit;
};

enum class decode_status : std::uint8_t {
    ready,     // the packet passed to next() holds the next packet
    need_more, // every byte fed so far is consumed; feed more
    error,     // the stream broke a rule, see error(); it stays broken
};

/// Turns a byte stream, fed in fragments of any size, into packets.
///
/// Usage: feed() a fragment, then call next() until it says need_more (or
/// error). Packets come out exactly as if the whole stream had been fed at
/// once, however it was cut.
///
/// Zero copy where possible: a packet that lies whole inside the fragment
/// being decoded is returned as views into that fragment. Only a packet
/// that spans fragments is copied, into a reassembly buffer that grows to
/// that packet's size (bounded by max_packet_size) and is freed once the
/// packet is consumed, so an idle decoder owns no heap memory.
///
/// Lifetimes: the fragment passed to feed() must stay alive until next()
/// returns need_more. The views in a packet next() filled stay valid until
/// the next call to next() or feed(). The decoder keeps no packet itself, so
/// an idle connection's decoder is 64 bytes.
///
/// Owned by one connection; not thread-safe.
class decoder {
  public:
    explicit decoder(decoder_options options = {}) noexcept
        : _max_packet_size(options.max_packet_size) {}

    /// Sets the next fragment. The previous one must be consumed (next()
    /// returned need_more).
    void feed(bytes_view fragment) noexcept;

    /// Decodes the next packet into `out` when it returns ready.
    decode_status next(packet& out) noexcept;

    /// The rule broken, once next() has returned decode_status::error.
    errc error() const noexcept { return _error; }

    /// Bytes held in the reassembly buffer (a packet spanning fragments).
    std::size_t buffered() const noexcept { return _partial.size(); }

    /// Heap memory the decoder holds: zero between packets.
    std::size_t heap_bytes() const noexcept { return _partial.capacity(); }

  private:
    decode_status from_fragment(packet& out);
    decode_status from_partial(packet& out);
    decode_status parse(const frame_header& header, bytes_view body, packet& out);
    decode_status fail(errc e) noexcept;
    void stash_rest(const frame_result& f);

    bytes_view _fragment;
    std::size_t _pos = 0;
    std::vector<std::uint8_t> _partial;
    bool _partial_consumed = false;
    bool _failed = false;
    errc _error{};
    std::size_t _max_packet_size;
};

} // namespace zama::mqtt
