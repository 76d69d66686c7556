#pragma once

#include "broker/config.hpp"
#include "broker/connection.hpp"
#include "router/router.hpp"
#include "runtime/listener.hpp"

#include <boost/intrusive/list.hpp>

#include <optional>

namespace zama::broker {

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

    /// Starts accepting connections on `l` (until stop()).
    void start(rt::listener l);
    /// Stops accepting and ends every connection; returns once the accept
    /// loop and every connection task are gone.
    rt::task<void> stop();

    /// A connection's task calls this as it ends.
    void forget(connection& c) noexcept;

  private:
    rt::task<void> accept_loop();
    void wake_if_stopped() noexcept;

    const config& _config;
    router::router& _router;
    std::optional<rt::listener> _listener;
    bool _accepting = false; // the accept loop has not ended (set before it starts)
    // Every connection whose task has not ended; linked through the
    // connection itself.
    boost::intrusive::list<
        connection,
        boost::intrusive::member_hook<connection, connection::list_hook, &connection::server_hook>,
        boost::intrusive::constant_time_size<false>>
        _connections;
    std::coroutine_handle<> _stopped; // stop(), waiting for the rest to end
};

} // namespace zama::broker
