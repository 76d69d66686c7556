// Fuzzes the incremental decoder with three properties beyond "no crash,
// leak or UB":
//  1. however the input is cut into fragments, the packets and the error
//     are exactly those of decoding it whole;
//  2. every decoded packet re-encodes, and the encoding decodes back to the
//     same packet;
//  3. the topic checks and matcher agree with each other on the packets'
//     strings (a valid exact filter matches exactly its own name).

#include "mqtt/decoder.hpp"
#include "mqtt/encoder.hpp"
#include "mqtt/topic.hpp"

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

namespace {

using namespace zama::mqtt;
using bytes = std::vector<std::uint8_t>;

void check(bool ok) {
    if (!ok) {
        __builtin_trap();
    }
}

struct outcome {
    std::vector<bytes> packets;
    std::optional<errc> error;
    bool operator==(const outcome&) const = default;
};

bytes reencode(const packet& p) {
    auto size = encoded_size(p);
    check(size.has_value());
    bytes out(*size);
    auto n = encode(p, out);
    check(n.has_value() && *n == out.size());
    return out;
}

void check_topics(const packet& p) {
    if (const auto* pub = std::get_if<publish>(&p)) {
        check(!validate_topic_name(pub->topic));
        check(topic_matches(pub->topic, pub->topic));
        check(topic_matches("#", pub->topic) != is_dollar_topic(pub->topic));
    }
    if (const auto* sub = std::get_if<subscribe>(&p)) {
        for (subscription s : sub->subscriptions) {
            check(!validate_topic_filter(s.filter));
            if (!has_wildcard(s.filter)) {
                check(!validate_topic_name(s.filter));
                check(topic_matches(s.filter, s.filter));
            }
        }
    }
}

// Decodes `data` in fragments of sizes drawn from `seed` (0: whole).
outcome decode(const std::uint8_t* data, std::size_t size, std::uint32_t seed, bool deep) {
    decoder d(decoder_options{.max_packet_size = 1 << 16});
    outcome out;
    std::size_t offset = 0;
    std::uint32_t state = seed;
    while (offset < size) {
        std::size_t n = size - offset;
        if (seed != 0) {
            state = state * 1664525u + 1013904223u;
            n = std::min<std::size_t>(n, 1 + (state >> 24) % 37);
        }
        // A copy per fragment, freed right after: ASan sees any view that
        // outlives its fragment.
        bytes fragment(data + offset, data + offset + n);
        d.feed(fragment);
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
            bytes wire = reencode(p);
            if (deep) {
                check_topics(p);
                decoder again;
                again.feed(wire);
                packet q;
                check(again.next(q) == decode_status::ready);
                check(reencode(q) == wire);
                check(again.next(q) == decode_status::need_more);
            }
            out.packets.push_back(std::move(wire));
        }
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const outcome whole = decode(data, size, 0, true);
    check(decode(data, size, 1, false) == whole);
    check(decode(data, size, static_cast<std::uint32_t>(size) | 2u, false) == whole);
    return 0;
}
