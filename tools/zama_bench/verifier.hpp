#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace zama::bench {

/// What one subscriber saw of every stream (a publisher's messages on one
/// topic, numbered from 0; the stamp's "publisher" field): per stream, the next
/// sequence number it expects and the gaps it has not seen yet. A message
/// below the expected number fills a gap (it came out of order) or is a
/// duplicate. Gaps are kept as ranges, so a lossy QoS 0 run costs memory
/// per gap, not per message.
///
/// Owned by the subscriber's task; single-threaded.
class verifier {
  public:
    struct totals {
        std::uint64_t received = 0;     // every message, duplicates included
        std::uint64_t unique = 0;       // distinct (publisher, sequence) pairs
        std::uint64_t duplicated = 0;   // seen before
        std::uint64_t out_of_order = 0; // arrived after a later one of its publisher
        std::uint64_t foreign = 0;      // no stamp, or from an unknown publisher

        totals& operator+=(const totals& o) noexcept {
            received += o.received;
            unique += o.unique;
            duplicated += o.duplicated;
            out_of_order += o.out_of_order;
            foreign += o.foreign;
            return *this;
        }
    };

    explicit verifier(std::uint32_t publishers)
        : _streams(publishers) {}

    void on_message(std::uint32_t publisher, std::uint64_t sequence) noexcept;
    void on_foreign() noexcept {
        ++_totals.received;
        ++_totals.foreign;
    }

    /// Messages missing now from the streams this subscriber should get,
    /// given how many each stream's publisher sent (`sent[stream]`): gaps
    /// plus the tail never received.
    std::uint64_t missing(const std::vector<std::uint64_t>& sent,
                          std::span<const std::uint32_t> expected) const noexcept;

    const totals& counts() const noexcept { return _totals; }

  private:
    struct gap {
        std::uint64_t from; // first missing
        std::uint64_t to;   // one past the last missing
    };
    struct stream_state {
        std::uint64_t next = 0;
        std::vector<gap> gaps;
    };

    bool fill_gap(stream_state& s, std::uint64_t sequence) noexcept;

    std::vector<stream_state> _streams;
    totals _totals;
};

} // namespace zama::bench
