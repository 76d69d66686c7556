#pragma once

#include <vector>

#include "load.hpp"
#include "options.hpp"

namespace zama::bench {

/// Who publishes what and who subscribes to what, for a scenario.
struct plan {
    std::uint32_t streams = 0; // stream ids are 0..streams-1
    std::vector<publisher_spec> publishers;
    std::vector<subscriber_spec> subscribers;

    /// Deliveries expected when stream s has sent sent[s] messages.
    std::uint64_t expected(const std::vector<std::uint64_t>& sent) const;
};

plan make_plan(const bench_options& o);

} // namespace zama::bench
