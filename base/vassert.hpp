#pragma once

#include <cstdio>
#include <cstdlib>

// ZAMA_ASSERT checks an invariant whose failure is a bug in Zama, never bad
// input: it logs the condition and the place, then aborts. It stays on in
// release builds; keep it off per-byte loops.

namespace zama::detail {

[[noreturn]] [[gnu::cold]] inline void assert_failed(const char* cond, const char* why,
                                                     const char* file, int line) noexcept {
    std::fprintf(stderr, "zama: assertion '%s' failed at %s:%d: %s\n", cond, file, line, why);
    std::fflush(stderr);
    std::abort();
}

} // namespace zama::detail

#define ZAMA_ASSERT(cond, why)                                                                     \
    do {                                                                                           \
        if (!(cond)) [[unlikely]] {                                                                \
            ::zama::detail::assert_failed(#cond, why, __FILE__, __LINE__);                         \
        }                                                                                          \
    } while (0)
