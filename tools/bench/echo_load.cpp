// Load generator for the echo benchmark, on the runtime (one shard):
// C connections, each keeping W messages of S bytes in flight; every
// message that comes back is sent again. It is cheaper per message than
// an epoll client (no syscall per send or recv), so it can drive a server
// to saturation from one core.
//
//   echo_load PORT CONNECTIONS WINDOW SIZE SECONDS [SERVER_PID [RATE]]
//
// Prints messages/s echoed (after a 1 s warm-up), and the CPU share of the
// load generator and, given its pid, of the server: a server well below
// 100 % means the load generator, not the server, was the limit.
//
// With RATE (messages/s), re-sends are paced by a token bucket so that
// every server gets the same offered load; the server's CPU share then
// gives its cost per message (server CPU microseconds per message).

#include "runtime/engine.hpp"
#include "runtime/stream.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

using namespace zama::rt;

namespace {

double cpu_seconds_of(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = s.rfind(')');
    if (close == std::string::npos) {
        return 0;
    }
    // After the command come the fields from 3 (state); utime and stime are 14 and 15.
    std::size_t pos = close + 2;
    for (int field = 3; field < 14; ++field) {
        pos = s.find(' ', pos) + 1;
    }
    const double utime = std::strtod(s.c_str() + pos, nullptr);
    pos = s.find(' ', pos) + 1;
    const double stime = std::strtod(s.c_str() + pos, nullptr);
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct load {
    std::uint16_t port;
    int connections;
    int window;
    std::size_t size;
    int seconds;
    int server_pid;
    double rate = 0; // offered messages/s; 0: as fast as possible
    std::vector<std::uint8_t> outgoing;
    std::uint64_t echoed = 0;
    bool stop = false;
    bool failed = false;

    // Token bucket for RATE: refilled about every millisecond by the time
    // elapsed; connections that find it empty wait in line.
    double tokens = 0;
    struct waiter {
        std::size_t wanted;
        std::coroutine_handle<> h;
    };
    std::vector<waiter> waiting;

    auto take(std::size_t n) {
        struct awaiter {
            load* l;
            std::size_t n;
            bool await_ready() const noexcept {
                if (l->rate == 0) {
                    return true;
                }
                if (l->waiting.empty() && l->tokens >= static_cast<double>(n)) {
                    l->tokens -= static_cast<double>(n);
                    return true;
                }
                return false;
            }
            void await_suspend(std::coroutine_handle<> h) { l->waiting.push_back({n, h}); }
            void await_resume() const noexcept {}
        };
        return awaiter{this, n};
    }

    time_point last_refill = clock::now();

    void refill() {
        const time_point now = clock::now();
        const double elapsed = std::chrono::duration<double>(now - last_refill).count();
        last_refill = now;
        tokens = std::min(tokens + rate * elapsed, rate / 100.0);
        std::size_t i = 0;
        for (; i < waiting.size() && tokens >= static_cast<double>(waiting[i].wanted); ++i) {
            tokens -= static_cast<double>(waiting[i].wanted);
            reactor::local().schedule(waiting[i].h);
        }
        waiting.erase(waiting.begin(), waiting.begin() + static_cast<std::ptrdiff_t>(i));
    }
};

task<void> pace(load* l) {
    while (!l->stop) {
        co_await reactor::local().sleep_for(std::chrono::milliseconds(1));
        l->refill();
    }
    for (auto& w : l->waiting) {
        reactor::local().schedule(w.h);
    }
    l->waiting.clear();
}

task<void> drive(load* l) {
    auto addr = socket_address::from("127.0.0.1", l->port);
    auto s = co_await connect(*addr);
    if (!s) {
        std::fprintf(stderr, "connect: %s\n", std::make_error_code(s.error()).message().c_str());
        l->failed = true;
        co_return;
    }
    const std::size_t burst = l->size * static_cast<std::size_t>(l->window);
    s->send_ref({l->outgoing.data(), burst});
    std::size_t partial = 0;
    while (!l->stop) {
        recv_buffer data = co_await s->recv();
        if (data.empty()) {
            if (!l->stop) {
                std::fprintf(stderr, "connection closed by the server\n");
                l->failed = true;
            }
            break;
        }
        partial += data.bytes().size();
        const std::size_t complete = partial / l->size;
        partial %= l->size;
        l->echoed += complete;
        if (complete > 0) {
            co_await l->take(complete);
        }
        std::size_t left = complete * l->size;
        while (left > 0) {
            const std::size_t n = std::min(left, l->outgoing.size());
            s->send_ref({l->outgoing.data(), n});
            left -= n;
        }
    }
    s->abort();
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 6) {
        std::fprintf(stderr, "usage: %s PORT CONNECTIONS WINDOW SIZE SECONDS [SERVER_PID [RATE]]\n",
                     argv[0]);
        return 2;
    }
    load l{static_cast<std::uint16_t>(std::atoi(argv[1])),
           std::atoi(argv[2]),
           std::atoi(argv[3]),
           static_cast<std::size_t>(std::atoi(argv[4])),
           std::atoi(argv[5]),
           argc > 6 ? std::atoi(argv[6]) : 0,
           argc > 7 ? std::atof(argv[7]) : 0.0,
           {}};
    l.outgoing.assign(l.size * static_cast<std::size_t>(l.window) * 4, 'm');

    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);

    engine_options options;
    options.shards = 1;
    engine e(options);
    double rate = 0;
    double own_share = 0;
    double server_share = 0;
    auto ok = e.run([&](shard_id) -> task<void> {
        reactor& r = reactor::local();
        if (l.rate > 0) {
            r.spawn(pace(&l));
        }
        for (int i = 0; i < l.connections; ++i) {
            r.spawn(drive(&l));
        }
        co_await r.sleep_for(std::chrono::seconds(1));
        const std::uint64_t from = l.echoed;
        const auto t0 = clock::now();
        rusage u0{};
        getrusage(RUSAGE_SELF, &u0);
        const double server0 = l.server_pid != 0 ? cpu_seconds_of(l.server_pid) : 0;
        co_await r.sleep_for(std::chrono::seconds(l.seconds));
        const double elapsed = std::chrono::duration<double>(clock::now() - t0).count();
        rusage u1{};
        getrusage(RUSAGE_SELF, &u1);
        auto secs = [](const rusage& u) {
            return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
                   static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
        };
        rate = static_cast<double>(l.echoed - from) / elapsed;
        own_share = (secs(u1) - secs(u0)) / elapsed * 100;
        if (l.server_pid != 0) {
            server_share = (cpu_seconds_of(l.server_pid) - server0) / elapsed * 100;
        }
        l.stop = true;
        engine::local().request_stop();
    });
    if (!ok) {
        std::fprintf(stderr, "%s\n", ok.error().message.c_str());
        return 1;
    }
    if (l.failed) {
        return 1;
    }
    std::printf("messages/s %.0f\n", rate);
    std::printf("load generator CPU %.0f %%\n", own_share);
    if (l.server_pid != 0) {
        std::printf("server CPU %.0f %%\n", server_share);
        std::printf("server CPU per message %.3f us\n", server_share / 100.0 / rate * 1e6);
    }
    return 0;
}
