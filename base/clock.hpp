#pragma once

#include <chrono>
#include <cstdint>

namespace zama {

/// Milliseconds since the Unix epoch: what batch timestamps, segment ages
/// and retention by age are measured in (wall time, since it must mean the
/// same after a restart; intervals use the reactor's steady clock).
inline std::int64_t wall_clock_ms() noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace zama
