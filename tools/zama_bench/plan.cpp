#include "plan.hpp"

#include "mqtt/topic.hpp"

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

    // A subscriber expects the streams whose topics its filter matches
    // (pairs: its own publisher's; fan-in: all; `%i` in both the topic and
    // the filter: one stream each).
    std::vector<std::string> topics(p.streams);
    for (const publisher_spec& pub : p.publishers) {
        for (const auto& st : pub.streams) {
            topics[st.id] = st.topic;
        }
    }
    p.subscribers.resize(o.subscribers);
    for (unsigned i = 0; i < o.subscribers; ++i) {
        subscriber_spec& sub = p.subscribers[i];
        sub.index = i;
        sub.filters.push_back(expand(o.filter, i));
        for (std::uint32_t s = 0; s < p.streams; ++s) {
            if (mqtt::topic_matches(sub.filters.back(), topics[s])) {
                sub.expected.push_back(s);
            }
        }
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
