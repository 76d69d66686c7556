#pragma once

#include "base/result.hpp"
#include "runtime/address.hpp"

#include <coroutine>
#include <system_error>

namespace zama::rt {

/// A listening TCP socket on the calling shard with one multishot accept
/// armed: each accepted connection is a CQE, no re-submission per accept.
/// With reuse_port every shard opens its own listener on the same port and
/// the kernel spreads connections across them.
///
/// Owned by one shard and used on its thread only.
class listener {
  public:
    struct options {
        int backlog = 4096;
        bool reuse_port = true;
        // The first listener of a reuse_port group: fail with EADDRINUSE if
        // any socket (another process's group included) already listens on
        // the port, which reuse_port alone would silently join.
        bool first = false;
    };

    /// Binds and listens. Fails with the errno of the first failing step
    /// (EADDRINUSE for a port in use).
    static result<listener, std::errc> open(const socket_address& address, options opts);
    static result<listener, std::errc> open(const socket_address& address) {
        return open(address, options{});
    }

    listener(listener&& other) noexcept;
    listener& operator=(listener&& other) noexcept;
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
    ~listener();

    socket_address local_address() const;

    /// co_await accept(): the fd of the next connection (TCP_NODELAY set),
    /// or std::errc::operation_canceled once close() was called.
    class accept_awaiter;
    accept_awaiter accept() noexcept;

    /// Stops accepting; a pending accept() resumes with operation_canceled.
    /// Connections accepted but not yet taken are closed.
    void close() noexcept;

  private:
    struct state;
    explicit listener(state* s) noexcept
        : _s(s) {}

    state* _s = nullptr;
};

class listener::accept_awaiter {
  public:
    explicit accept_awaiter(state* s) noexcept
        : _s(s) {}
    bool await_ready() const noexcept;
    void await_suspend(std::coroutine_handle<> h) noexcept;
    result<int, std::errc> await_resume() noexcept;

  private:
    state* _s;
};

} // namespace zama::rt
