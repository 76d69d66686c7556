#include "plan.hpp"

namespace zama::bench {

plan make_plan(const bench_options& o) {
    plan p;
    if (o.scenario == scenario::connect_storm || o.scenario == scenario::idle ||
        o.publishers == 0) {
        return p;
    }
    // Streams: one per publisher, except wildcard, where the topics are
    // dealt out to the publishers (topic t to publisher t % P).
    const bool spread = o.scenario == scenario::wildcard;
    p.streams = spread ? o.topics : o.publishers;
    p.publishers.resize(o.publishers);
    for (unsigned i = 0; i < o.publishers; ++i) {
        p.publishers[i].index = i;
    }
    for (std::uint32_t s = 0; s < p.streams; ++s) {
        p.publishers[s % o.publishers].streams.push_back({s, expand(o.topic, s)});
    }

    std::vector<std::uint32_t> all(p.streams);
    for (std::uint32_t s = 0; s < p.streams; ++s) {
        all[s] = s;
    }
    p.subscribers.resize(o.subscribers);
    for (unsigned i = 0; i < o.subscribers; ++i) {
        subscriber_spec& sub = p.subscribers[i];
        sub.index = i;
        sub.filters.push_back(expand(o.filter, i));
        // Pairs: subscriber i reads publisher i's topic; otherwise everything.
        sub.expected = o.scenario == scenario::pairs ? std::vector<std::uint32_t>{i} : all;
    }
    return p;
}

std::uint64_t plan::expected(const std::vector<std::uint64_t>& sent) const {
    std::uint64_t n = 0;
    for (const auto& sub : subscribers) {
        for (const std::uint32_t s : sub.expected) {
            n += s < sent.size() ? sent[s] : 0;
        }
    }
    return n;
}

} // namespace zama::bench
