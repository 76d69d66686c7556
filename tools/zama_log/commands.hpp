#pragma once

#include "data_dir_view.hpp"
#include "options.hpp"

// The subcommands of zama-log. Each returns the process's exit status
// (options.hpp) and prints an error as one line on stderr.

namespace zama::inspect {

int list_partitions(const log_options& o);
int list_segments(const log_options& o);
int dump_records(const log_options& o);
int verify(const log_options& o);
int list_sessions(const log_options& o);
int list_journals(const log_options& o);

/// Prints "zama-log: <message>" on stderr; returns exit_error.
int fail(const tool_error& e);

} // namespace zama::inspect
