#pragma once

#include "runtime/task.hpp"

#include <memory>

#include "client.hpp"
#include "load.hpp"
#include "options.hpp"

// The tasks that play the clients of a run. Each owns its connection and
// reports into its shard's shard_load.

namespace zama::bench {

/// Publishes spec's streams until the shard stops publishing (or `count`
/// messages are out), keeping QoS 1/2 within the window; then waits for
/// the outstanding acks (up to the drain timeout) and disconnects.
rt::task<void> run_publisher(const bench_options& o, shard_load& load, publisher_state& state,
                             std::unique_ptr<client> c);

/// Receives, verifies and acknowledges until the connection is shut down
/// (shard_load::live holds it for that) or ends.
rt::task<void> run_subscriber(const bench_options& o, shard_load& load, subscriber_result& result,
                              std::unique_ptr<client> c);

} // namespace zama::bench
