#pragma once

#include <spdlog/spdlog.h>

// Logging: leveled, one line per event, to stderr (spdlog's default logger;
// the broker sets its pattern and level at start-up). Keep it off per-message
// paths: log events, not traffic.
//
//   zama::log::warn("client {} from {}: {}", id, addr, describe(e));

namespace zama {
namespace log = ::spdlog;
} // namespace zama
