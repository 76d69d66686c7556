#include "progress.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <unistd.h>

#include "text.hpp"

namespace zama::inspect {

bool stderr_is_terminal() noexcept {
    return ::isatty(STDERR_FILENO) == 1;
}

bool stdout_is_terminal() noexcept {
    return ::isatty(STDOUT_FILENO) == 1;
}

void progress::start(std::string label, std::uint64_t total, bool bytes) {
    _label = std::move(label);
    _total = total;
    _bytes = bytes;
    _next_draw = clock::now() + interval;
}

void progress::update(std::uint64_t done) {
    if (!_enabled) {
        return;
    }
    const auto now = clock::now();
    if (now < _next_draw) {
        return;
    }
    _next_draw = now + interval;
    const unsigned percent =
        _total == 0 ? 100
                    : static_cast<unsigned>(std::min<std::uint64_t>(done, _total) * 100 / _total);
    std::fflush(stdout); // what was printed before goes first
    if (_bytes) {
        fmt::print(stderr, "\r\033[K{}: {} / {} ({}%)", _label, human_bytes(done),
                   human_bytes(_total), percent);
    } else {
        fmt::print(stderr, "\r\033[K{}: {} / {} ({}%)", _label, done, _total, percent);
    }
    std::fflush(stderr);
    _shown = true;
}

void progress::clear() {
    if (!_shown) {
        return;
    }
    fmt::print(stderr, "\r\033[K");
    std::fflush(stderr);
    _shown = false;
}

} // namespace zama::inspect
