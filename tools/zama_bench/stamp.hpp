#pragma once

#include <cstdint>
#include <cstring>
#include <span>

// What every benchmark payload starts with, so that subscribers can verify
// delivery and measure latency:
//
//   [publisher id: u32][sequence number: u64][send time: u64 ns, CLOCK_MONOTONIC]
//
// little-endian (publisher and subscriber run on the same machine), then
// filler up to the payload size. Sequence numbers of one publisher start
// at 0 and go up by one per message.

namespace zama::bench {

inline constexpr std::size_t stamp_size = 20;

struct stamp {
    std::uint32_t publisher = 0;
    std::uint64_t sequence = 0;
    std::uint64_t sent_ns = 0;

    void write(std::uint8_t* p) const noexcept {
        std::memcpy(p, &publisher, 4);
        std::memcpy(p + 4, &sequence, 8);
        std::memcpy(p + 12, &sent_ns, 8);
    }
    /// False if the payload is too short to carry a stamp.
    static bool read(std::span<const std::uint8_t> payload, stamp& out) noexcept {
        if (payload.size() < stamp_size) {
            return false;
        }
        std::memcpy(&out.publisher, payload.data(), 4);
        std::memcpy(&out.sequence, payload.data() + 4, 8);
        std::memcpy(&out.sent_ns, payload.data() + 12, 8);
        return true;
    }
};

} // namespace zama::bench
