// An echo server on the runtime, for the echo and idle-connection
// benchmarks: every shard listens on the port (SO_REUSEPORT), every
// connection sends back what it receives.
//
//   echo_server [port] [shards]     (port 0: ephemeral; shards 0: all CPUs)
//
// Prints "listening on PORT" once ready; stops on SIGINT/SIGTERM.

#include "runtime/engine.hpp"
#include "runtime/listener.hpp"
#include "runtime/stream.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <sys/resource.h>
#include <thread>

using namespace zama::rt;

namespace {

// Straight from the receive buffer, as the epoll baseline does. A plain
// function: g++ keeps every local of a coroutine in its frame, so work that
// does not suspend stays out of the connection's coroutine.
void echo_back(stream& s, recv_buffer& data) {
    const auto bytes = data.bytes();
    s.send_ref(bytes, data.release_later());
}

task<void> echo(stream s) {
    for (;;) {
        recv_buffer data = co_await s.recv();
        if (data.empty()) {
            break;
        }
        echo_back(s, data);
    }
    co_await s.close();
}

task<void> accept_loop(listener* l) {
    for (;;) {
        auto fd = co_await l->accept();
        if (!fd) {
            break;
        }
        reactor::local().spawn(echo(stream(*fd)));
    }
}

task<void> close_on_stop(listener* l) {
    co_await engine::local().stop_signal();
    l->close();
}

std::atomic<std::uint16_t> g_port{0};

task<void> serve(shard_id id, std::uint16_t wanted) {
    // Shard 0 binds first (it may pick an ephemeral port), then the others.
    while (id != 0 && g_port.load() == 0) {
        co_await reactor::local().sleep_for(std::chrono::milliseconds(1));
    }
    const std::uint16_t port = id == 0 ? wanted : g_port.load();
    auto addr = socket_address::from("127.0.0.1", port);
    auto l = listener::open(*addr);
    if (!l) {
        std::fprintf(stderr, "listen on %u: %s\n", port,
                     std::make_error_code(l.error()).message().c_str());
        std::exit(1);
    }
    if (id == 0) {
        g_port = l->local_address().port();
        std::printf("listening on %u\n", g_port.load());
        std::fflush(stdout);
    }
    reactor::local().spawn(close_on_stop(&*l));
    co_await accept_loop(&*l);
}

} // namespace

int main(int argc, char** argv) {
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
    engine_options options;
    options.shards = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 1;

    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    engine e(options);
    std::thread waiter([&] {
        int sig = 0;
        sigwait(&signals, &sig);
        e.request_stop();
    });
    waiter.detach();
    auto ok = e.run([port](shard_id id) { return serve(id, port); });
    if (!ok) {
        std::fprintf(stderr, "zama runtime: %s\n", ok.error().message.c_str());
        return 1;
    }
    return 0;
}
