#pragma once

#include "broker/config.hpp"
#include "router/router.hpp"
#include "runtime/listener.hpp"

#include <absl/container/flat_hash_map.h>

#include <cstdint>

namespace zama::broker {

class connection;

/// One shard's broker: its listener (every shard listens on the port,
/// SO_REUSEPORT), its connections and its router.
///
/// Created and used on its shard's thread.
class server {
  public:
    server(const config& settings, router::router& r) noexcept
        : _config(settings)
        , _router(r) {}
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    router::router& router() noexcept { return _router; }
    const config& settings() const noexcept { return _config; }

    /// Accepts connections until stop().
    rt::task<void> serve(rt::listener l);
    /// Stops accepting and ends every connection; returns once all are gone.
    rt::task<void> stop();

    void forget(connection& c) noexcept;

  private:
    rt::task<void> handle(int fd, std::uint64_t id);

    const config& _config;
    router::router& _router;
    rt::listener* _listener = nullptr;
    absl::flat_hash_map<std::uint64_t, connection*> _connections;
    std::uint64_t _next_id = 1;
    std::coroutine_handle<> _drained;
};

} // namespace zama::broker
