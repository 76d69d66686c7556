#include "broker/server.hpp"

#include "base/log.hpp"

#include <memory>

namespace zama::broker {

void server::start(rt::listener l) {
    _listener.emplace(std::move(l));
    _accepting = true; // before the loop runs: stop() must wait for it
    rt::reactor::local().spawn(accept_loop());
}

rt::task<void> server::accept_loop() {
    for (;;) {
        auto fd = co_await _listener->accept();
        if (!fd) {
            break; // closed by stop()
        }
        auto c = std::make_unique<connection>(rt::stream(*fd), _config, *this);
        _connections.push_back(*c);
        connection& running = *c;
        rt::reactor::local().spawn(running.run(std::move(c)));
    }
    _accepting = false;
    wake_if_stopped();
}

void server::wake_if_stopped() noexcept {
    if (!_accepting && _connections.empty() && _stopped) {
        rt::reactor::local().schedule(std::exchange(_stopped, {}));
    }
}

void server::forget(connection& c) noexcept {
    _connections.erase(_connections.iterator_to(c));
    wake_if_stopped();
}

rt::task<void> server::stop() {
    if (_listener) {
        _listener->close();
    }
    for (connection& c : _connections) {
        c.shutdown();
    }
    // Both the accept loop and every connection task use this server.
    struct wait_all {
        server* s;
        bool await_ready() const noexcept { return !s->_accepting && s->_connections.empty(); }
        void await_suspend(std::coroutine_handle<> h) noexcept { s->_stopped = h; }
        void await_resume() const noexcept {}
    };
    co_await wait_all{this};
}

} // namespace zama::broker
