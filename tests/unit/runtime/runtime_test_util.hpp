#pragma once

#include "runtime/reactor.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>

namespace zama::rt::test {

/// Options small enough for many tests.
inline reactor_options small_options() {
    reactor_options options;
    options.sq_entries = 256;
    options.recv_buffer_count = 64;
    options.recv_buffer_size = 4096;
    return options;
}

/// A reactor on the test's thread.
inline std::unique_ptr<reactor> make_reactor(const reactor_options& options = small_options()) {
    auto r = reactor::create(options);
    if (!r) {
        ADD_FAILURE() << "no reactor: " << r.error().message;
        return nullptr;
    }
    return std::move(*r);
}

namespace detail {
template <typename T>
task<void> store(task<T> t, std::optional<T>* out) {
    out->emplace(co_await std::move(t));
}
inline task<void> store_void(task<void> t, bool* done) {
    co_await std::move(t);
    *done = true;
}
} // namespace detail

/// Runs `t` on a fresh reactor on this thread until it finishes and the
/// I/O it left behind (streams closing) has drained; returns its value.
template <typename T>
T run(task<T> t, const reactor_options& options = small_options()) {
    auto r = make_reactor(options);
    std::optional<T> out;
    r->spawn(detail::store(std::move(t), &out));
    reactor::loop_hooks hooks;
    hooks.done = [&] { return out.has_value() && r->in_flight() == 0 && r->idle(); };
    r->run(hooks);
    return std::move(*out);
}

inline void run(task<void> t, const reactor_options& options = small_options()) {
    auto r = make_reactor(options);
    bool done = false;
    r->spawn(detail::store_void(std::move(t), &done));
    reactor::loop_hooks hooks;
    hooks.done = [&] { return done && r->in_flight() == 0 && r->idle(); };
    r->run(hooks);
}

} // namespace zama::rt::test
