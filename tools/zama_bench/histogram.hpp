#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace zama::bench {

/// A latency histogram in nanoseconds, log-linear like HdrHistogram: each
/// power of two is split into 32 buckets, so a percentile is within about
/// 3 % of the true value, in a fixed 16 KiB. Recording is a few
/// instructions; histograms of several threads merge by addition.
class histogram {
  public:
    void record(std::uint64_t ns) noexcept {
        ++_counts[bucket_of(ns)];
        ++_total;
        if (ns > _max) {
            _max = ns;
        }
    }
    void merge(const histogram& o) noexcept {
        for (std::size_t i = 0; i < _counts.size(); ++i) {
            _counts[i] += o._counts[i];
        }
        _total += o._total;
        if (o._max > _max) {
            _max = o._max;
        }
    }
    void clear() noexcept { *this = histogram{}; }

    std::uint64_t count() const noexcept { return _total; }
    std::uint64_t max() const noexcept { return _max; }
    /// The value at quantile q (0..1): the upper bound of its bucket, at most max().
    std::uint64_t quantile(double q) const noexcept {
        if (_total == 0) {
            return 0;
        }
        auto rank = static_cast<std::uint64_t>(q * static_cast<double>(_total));
        if (rank >= _total) {
            rank = _total - 1;
        }
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < _counts.size(); ++i) {
            seen += _counts[i];
            if (seen > rank) {
                const std::uint64_t upper = upper_bound_of(i);
                return upper < _max ? upper : _max;
            }
        }
        return _max;
    }

  private:
    static constexpr unsigned sub_bits = 5;
    static constexpr std::uint64_t sub_count = 1u << sub_bits;

    // Values below 32 get a bucket each; above, the top 5 bits after the
    // leading one choose the bucket within the value's power of two.
    static std::size_t bucket_of(std::uint64_t v) noexcept {
        if (v < sub_count) {
            return static_cast<std::size_t>(v);
        }
        const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));
        const unsigned shift = msb - sub_bits;
        const std::uint64_t sub = (v >> shift) & (sub_count - 1);
        return static_cast<std::size_t>((shift + 1) * sub_count + sub);
    }
    static std::uint64_t upper_bound_of(std::size_t i) noexcept {
        if (i < sub_count) {
            return i;
        }
        const std::uint64_t shift = i / sub_count - 1;
        const std::uint64_t sub = i % sub_count;
        return ((sub_count + sub + 1) << shift) - 1;
    }

    std::array<std::uint64_t, (64 - sub_bits + 1) * sub_count> _counts{};
    std::uint64_t _total = 0;
    std::uint64_t _max = 0;
};

} // namespace zama::bench
