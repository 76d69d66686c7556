#include "runtime/listener.hpp"

#include "base/log.hpp"
#include "runtime/reactor.hpp"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>
#include <vector>

namespace zama::rt {

// The listener's state lives on the heap: the multishot accept points to it
// until its last CQE, which may come after the listener handle is gone.
struct listener::state : completion {
    int fd = -1;
    reactor* r = nullptr;
    bool armed = false;
    bool closed = false;
    bool released = false;  // the listener handle is gone
    std::vector<int> ready; // accepted, not yet taken: ready[taken..]
    std::size_t taken = 0;
    std::coroutine_handle<> waiter;

    state()
        : completion(&on_accept) {}

    void arm() noexcept {
        if (closed || armed) {
            return;
        }
        io_uring_sqe* s = r->sqe();
        io_uring_prep_multishot_accept(s, fd, nullptr, nullptr, SOCK_CLOEXEC);
        r->track(s, this);
        armed = true;
    }

    member_timer<state, &state::arm> retry{this}; // after an accept error

    void wake() {
        if (waiter) {
            r->schedule(std::exchange(waiter, {}));
        }
    }

    void maybe_free() {
        if (released && !armed) {
            delete this;
        }
    }

    static void on_accept(completion* c, int res, std::uint32_t flags) noexcept {
        auto* s = static_cast<state*>(c);
        if ((flags & IORING_CQE_F_MORE) == 0) {
            s->armed = false;
        }
        if (res >= 0) {
            const int one = 1;
            setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (s->closed) {
                ::close(res);
            } else {
                s->ready.push_back(res);
                s->wake();
            }
        } else if (res != -ECANCELED && !s->closed) {
            // Out of descriptors or memory: the backlog keeps the peers
            // waiting; try again shortly rather than spin.
            log::warn("runtime: accept on fd {} failed: {}", s->fd, std::strerror(-res));
        }
        if (!s->armed) {
            if (s->closed) {
                if (s->fd >= 0) {
                    ::close(s->fd);
                    s->fd = -1;
                }
                s->maybe_free();
                return;
            }
            if (res < 0 && res != -ECANCELED) {
                s->retry.arm(s->r->timers(), s->r->now() + std::chrono::milliseconds(10));
            } else {
                s->arm();
            }
        }
    }
};

namespace {

// Binds a throwaway socket without SO_REUSEPORT: the kernel refuses it if
// anything listens on the port, including a reuse_port group.
std::errc probe_port(const socket_address& address) {
    const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return static_cast<std::errc>(errno);
    }
    const int one = 1;
    std::errc e{};
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::bind(fd, address.get(), address.size()) != 0) {
        e = static_cast<std::errc>(errno);
    }
    ::close(fd);
    return e;
}

} // namespace

result<listener, std::errc> listener::open(const socket_address& address, options opts) {
    if (opts.reuse_port && opts.first && address.port() != 0) {
        if (const std::errc e = probe_port(address); e != std::errc{}) {
            return e;
        }
    }
    const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return static_cast<std::errc>(errno);
    }
    const int one = 1;
    auto fail = [fd] {
        const int e = errno;
        ::close(fd);
        return static_cast<std::errc>(e);
    };
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
        return fail();
    }
    if (opts.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        return fail();
    }
    if (::bind(fd, address.get(), address.size()) != 0) {
        return fail();
    }
    if (::listen(fd, opts.backlog) != 0) {
        return fail();
    }
    auto* s = new state();
    s->fd = fd;
    s->r = &reactor::local();
    s->arm();
    return listener(s);
}

listener::listener(listener&& other) noexcept
    : _s(std::exchange(other._s, nullptr)) {}

listener& listener::operator=(listener&& other) noexcept {
    if (this != &other) {
        close();
        if (_s != nullptr) {
            _s->released = true;
            _s->maybe_free();
        }
        _s = std::exchange(other._s, nullptr);
    }
    return *this;
}

listener::~listener() {
    if (_s != nullptr) {
        close();
        _s->released = true;
        _s->maybe_free();
    }
}

socket_address listener::local_address() const {
    return socket_address::local_of(_s->fd);
}

void listener::close() noexcept {
    if (_s == nullptr || _s->closed) {
        return;
    }
    _s->closed = true;
    _s->retry.cancel();
    // Stop accepting now: a shut-down listening socket refuses new peers at
    // once, while the fd itself is closed when the accept has ended.
    if (_s->fd >= 0) {
        ::shutdown(_s->fd, SHUT_RDWR);
    }
    for (std::size_t i = _s->taken; i < _s->ready.size(); ++i) {
        ::close(_s->ready[i]);
    }
    _s->ready = {};
    _s->taken = 0;
    _s->wake();
    if (_s->armed) {
        io_uring_sqe* sqe = _s->r->sqe();
        io_uring_prep_cancel(sqe, static_cast<completion*>(_s), 0);
        _s->r->untracked(sqe);
    } else if (_s->fd >= 0) {
        ::close(_s->fd);
        _s->fd = -1;
    }
}

listener::accept_awaiter listener::accept() noexcept {
    return accept_awaiter(_s);
}

bool listener::accept_awaiter::await_ready() const noexcept {
    return _s->closed || _s->taken < _s->ready.size();
}

void listener::accept_awaiter::await_suspend(std::coroutine_handle<> h) noexcept {
    _s->waiter = h;
}

result<int, std::errc> listener::accept_awaiter::await_resume() noexcept {
    if (_s->closed) {
        return std::errc::operation_canceled;
    }
    const int fd = _s->ready[_s->taken++];
    if (_s->taken == _s->ready.size()) {
        // Drained: start over, and give back what a burst made it grow to.
        _s->taken = 0;
        if (_s->ready.capacity() > 64) {
            _s->ready = std::vector<int>();
        } else {
            _s->ready.clear();
        }
    }
    return fd;
}

} // namespace zama::rt
