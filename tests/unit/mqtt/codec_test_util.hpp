#pragma once

#include "mqtt/decoder.hpp"
#include "mqtt/encoder.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace zama::mqtt::test {

using bytes = std::vector<std::uint8_t>;

/// Bytes from hex text, spaces ignored: "30 05 00 01".
inline bytes hex(std::string_view text) {
    bytes out;
    int nibble = -1;
    for (char c : text) {
        int v;
        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v = c - 'A' + 10;
        } else {
            continue;
        }
        if (nibble < 0) {
            nibble = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(nibble << 4 | v));
            nibble = -1;
        }
    }
    return out;
}

inline bytes text_bytes(std::string_view s) {
    return bytes(s.begin(), s.end());
}

inline bytes_view view(const bytes& b) {
    return {b.data(), b.size()};
}

/// Encodes a packet the test expects to be encodable.
inline bytes encode_packet(const packet& p) {
    auto size = encoded_size(p);
    EXPECT_TRUE(size.has_value());
    if (!size) {
        return {};
    }
    bytes out(*size);
    auto written = encode(p, out);
    EXPECT_TRUE(written.has_value());
    EXPECT_EQ(written ? *written : 0, out.size());
    return out;
}

/// What a whole decode of a stream produced: every packet, re-encoded (the
/// decoder's views die with the next call, bytes do not), and the error
/// that ended the stream, if any.
struct decode_outcome {
    std::vector<bytes> packets;
    std::optional<errc> error;

    bool operator==(const decode_outcome&) const = default;
};

/// Feeds `stream` in fragments whose sizes `cut` chooses (given the offset
/// reached; at least 1) and collects the outcome.
inline decode_outcome decode_cut(bytes_view stream,
                                 const std::function<std::size_t(std::size_t)>& cut,
                                 decoder_options options = {}) {
    decoder d(options);
    decode_outcome out;
    std::size_t offset = 0;
    while (offset < stream.size()) {
        const std::size_t n =
            std::min(std::max<std::size_t>(cut(offset), 1), stream.size() - offset);
        // A fresh copy per fragment: views into an earlier fragment must not
        // be needed once it is consumed.
        bytes fragment(stream.begin() + static_cast<std::ptrdiff_t>(offset),
                       stream.begin() + static_cast<std::ptrdiff_t>(offset + n));
        d.feed(view(fragment));
        offset += n;
        for (;;) {
            packet p;
            const decode_status s = d.next(p);
            if (s == decode_status::need_more) {
                break;
            }
            if (s == decode_status::error) {
                out.error = d.error();
                return out;
            }
            out.packets.push_back(encode_packet(p));
        }
    }
    return out;
}

inline decode_outcome decode_whole(bytes_view stream, decoder_options options = {}) {
    return decode_cut(
        stream, [&](std::size_t) { return stream.size(); }, options);
}

/// Decodes exactly one packet from `b`, which must hold exactly one.
inline std::optional<packet> decode_one(const bytes& b, errc* error = nullptr) {
    static thread_local bytes keep; // the views of the result point here
    keep = b;
    decoder d;
    d.feed(view(keep));
    packet p;
    const decode_status s = d.next(p);
    if (s == decode_status::error) {
        if (error != nullptr) {
            *error = d.error();
        }
        return std::nullopt;
    }
    if (s != decode_status::ready) {
        ADD_FAILURE() << "incomplete packet";
        return std::nullopt;
    }
    packet after;
    EXPECT_EQ(d.next(after), decode_status::need_more) << "more than one packet";
    return p;
}

/// The error decoding `b` reports (fed whole), or nothing.
inline std::optional<errc> decode_error(const bytes& b) {
    return decode_whole(view(b)).error;
}

} // namespace zama::mqtt::test
