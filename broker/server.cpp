#include "broker/server.hpp"

#include "base/log.hpp"
#include "broker/connection.hpp"

namespace zama::broker {

rt::task<void> server::serve(rt::listener l) {
    _listener = &l;
    for (;;) {
        auto fd = co_await l.accept();
        if (!fd) {
            break; // closed by stop()
        }
        rt::reactor::local().spawn(handle(*fd, _next_id++));
    }
    _listener = nullptr;
}

rt::task<void> server::handle(int fd, std::uint64_t id) {
    connection c(rt::stream(fd), _config, *this, id);
    _connections.emplace(id, &c);
    co_await c.run();
    forget(c);
}

void server::forget(connection& c) noexcept {
    _connections.erase(c.id());
    if (_connections.empty() && _drained) {
        rt::reactor::local().schedule(std::exchange(_drained, {}));
    }
}

rt::task<void> server::stop() {
    if (_listener != nullptr) {
        _listener->close();
    }
    for (auto& [id, c] : _connections) {
        c->shutdown();
    }
    if (!_connections.empty()) {
        struct wait_drained {
            server* s;
            bool await_ready() const noexcept { return s->_connections.empty(); }
            void await_suspend(std::coroutine_handle<> h) noexcept { s->_drained = h; }
            void await_resume() const noexcept {}
        };
        co_await wait_drained{this};
    }
}

} // namespace zama::broker
