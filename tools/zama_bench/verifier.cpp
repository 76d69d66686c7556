#include "verifier.hpp"

#include <algorithm>

namespace zama::bench {

void verifier::on_message(std::uint32_t publisher, std::uint64_t sequence) noexcept {
    if (publisher >= _streams.size()) {
        on_foreign();
        return;
    }
    ++_totals.received;
    stream_state& s = _streams[publisher];
    if (sequence == s.next) { // the common case
        ++s.next;
        ++_totals.unique;
        return;
    }
    if (sequence > s.next) {
        s.gaps.push_back({s.next, sequence});
        s.next = sequence + 1;
        ++_totals.unique;
        return;
    }
    if (fill_gap(s, sequence)) {
        ++_totals.unique;
        ++_totals.out_of_order;
    } else {
        ++_totals.duplicated;
    }
}

bool verifier::fill_gap(stream_state& s, std::uint64_t sequence) noexcept {
    // Gaps are in ascending order; the one holding `sequence` splits in two.
    auto it = std::upper_bound(s.gaps.begin(), s.gaps.end(), sequence,
                               [](std::uint64_t v, const gap& g) { return v < g.to; });
    if (it == s.gaps.end() || sequence < it->from) {
        return false;
    }
    const gap g = *it;
    if (g.to - g.from == 1) {
        s.gaps.erase(it);
    } else if (sequence == g.from) {
        it->from = sequence + 1;
    } else if (sequence + 1 == g.to) {
        it->to = sequence;
    } else {
        it->to = sequence;
        s.gaps.insert(it + 1, gap{sequence + 1, g.to});
    }
    return true;
}

std::uint64_t verifier::missing(const std::vector<std::uint64_t>& sent,
                                std::span<const std::uint32_t> expected) const noexcept {
    std::uint64_t n = 0;
    for (const std::uint32_t p : expected) {
        if (p >= _streams.size()) {
            n += p < sent.size() ? sent[p] : 0;
            continue;
        }
        const stream_state& s = _streams[p];
        for (const gap& g : s.gaps) {
            n += g.to - g.from;
        }
        const std::uint64_t published = p < sent.size() ? sent[p] : 0;
        if (published > s.next) {
            n += published - s.next;
        }
    }
    return n;
}

} // namespace zama::bench
