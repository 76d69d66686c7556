#pragma once

#include <chrono>

namespace zama::rt {

/// The runtime's clock: monotonic. The reactor reads it once per loop turn
/// (reactor::now()) so that code on the hot path does not.
using clock = std::chrono::steady_clock;
using duration = clock::duration;
using time_point = clock::time_point;

} // namespace zama::rt
