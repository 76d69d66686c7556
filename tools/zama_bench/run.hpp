#pragma once

#include "options.hpp"

namespace zama::bench {

/// Runs the scenario against the broker and prints its report; returns
/// the process's exit status.
int run(const bench_options& o);

} // namespace zama::bench
