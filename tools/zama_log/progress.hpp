#pragma once

#include <chrono>
#include <cstdint>
#include <string>

// The progress line of long scans, on stderr: "partition 3 (4/64): 12.0 MiB
// / 1.2 GiB (1%)", redrawn in place at most 4 times a second, and only when
// stderr is a terminal (nothing at all otherwise). Whoever prints a line
// while a scan runs calls clear() first.

namespace zama::inspect {

class progress {
  public:
    /// `enabled`: usually stderr_is_terminal().
    explicit progress(bool enabled) noexcept
        : _enabled(enabled) {}
    progress(const progress&) = delete;
    progress& operator=(const progress&) = delete;
    ~progress() { clear(); }

    /// A new scan of `total` bytes (or items, if not `bytes`); the first
    /// line appears after a quarter of a second, so short scans print none.
    void start(std::string label, std::uint64_t total, bool bytes = true);
    /// `done` of the current scan's total is behind us.
    void update(std::uint64_t done);
    /// Erases the line, if one is shown.
    void clear();

  private:
    using clock = std::chrono::steady_clock;
    static constexpr auto interval = std::chrono::milliseconds(250);

    bool _enabled;
    bool _shown = false;
    std::string _label;
    std::uint64_t _total = 0;
    bool _bytes = true;
    clock::time_point _next_draw{};
};

bool stderr_is_terminal() noexcept;
bool stdout_is_terminal() noexcept;

} // namespace zama::inspect
