// An echo server on the runtime (two shards sharing a port) against
// hundreds of concurrent loopback clients: every byte comes back.

#include "runtime/engine.hpp"
#include "runtime/listener.hpp"
#include "runtime/provided_buffers.hpp"
#include "runtime/stream.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <atomic>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <random>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace zama::rt {
namespace {

struct server_stats {
    std::atomic<int> connections{0};
    std::atomic<int> active{0};
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<unsigned> buffers_in_use_at_end{0};
};

task<void> echo(stream s, server_stats* stats) {
    ++stats->connections;
    ++stats->active;
    for (;;) {
        recv_buffer data = co_await s.recv();
        if (data.empty()) {
            break;
        }
        stats->bytes += data.bytes().size();
        s.send_copy(data.bytes());
    }
    co_await s.close();
    --stats->active;
}

task<void> accept_loop(listener* l, server_stats* stats) {
    for (;;) {
        auto fd = co_await l->accept();
        if (!fd) {
            break;
        }
        reactor::local().spawn(echo(stream(*fd), stats));
    }
}

task<void> close_on_stop(listener* l) {
    co_await engine::local().stop_signal();
    l->close();
}

// Runs the echo server until stopped; `port` is published once listening.
task<void> serve(shard_id id, std::atomic<std::uint16_t>* port, server_stats* stats) {
    engine& eng = engine::local();
    std::uint16_t p = 0;
    if (id == 0) {
        auto addr = socket_address::parse("127.0.0.1:0");
        auto l = listener::open(*addr);
        EXPECT_TRUE(l.has_value());
        p = l->local_address().port();
        reactor::local().spawn(close_on_stop(&*l));
        // Shard 1 listens on the same port (SO_REUSEPORT) before clients start.
        co_await eng.submit_to(1, [p, stats]() -> task<void> {
            auto addr1 = socket_address::from("127.0.0.1", p);
            auto l1 = listener::open(*addr1);
            EXPECT_TRUE(l1.has_value());
            auto* heap = new listener(std::move(*l1));
            reactor::local().spawn(close_on_stop(heap));
            reactor::local().spawn([](listener* h, server_stats* s) -> task<void> {
                co_await accept_loop(h, s);
                delete h;
            }(heap, stats));
            co_return;
        });
        port->store(p);
        co_await accept_loop(&*l, stats);
    }
    co_await eng.stop_signal();
    // Wait for the connections of this process to finish.
    while (stats->active.load() != 0) {
        co_await reactor::local().sleep_for(std::chrono::milliseconds(1));
    }
    stats->buffers_in_use_at_end += reactor::local().recv_buffers().in_use();
}

int connect_to(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ADD_FAILURE() << "connect: " << std::strerror(errno);
    }
    return fd;
}

bool write_all(int fd, const std::uint8_t* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

bool read_all(int fd, std::uint8_t* p, std::size_t n) {
    while (n > 0) {
        const ssize_t r = ::read(fd, p, n);
        if (r <= 0) {
            return false;
        }
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

struct echo_fixture : ::testing::Test {
    engine_options options() {
        engine_options o;
        o.shards = 2;
        o.reactor.sq_entries = 1024;
        o.reactor.recv_buffer_count = 256;
        o.reactor.recv_buffer_size = 16 * 1024;
        return o;
    }

    // Runs `clients(port)` against a fresh echo server, then stops it.
    template <typename Clients>
    void with_server(Clients clients) {
        engine e(options());
        std::atomic<std::uint16_t> port{0};
        std::thread client_thread([&] {
            while (port.load() == 0) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            clients(port.load());
            e.request_stop();
        });
        auto ok = e.run([&](shard_id id) { return serve(id, &port, &stats); });
        client_thread.join();
        ASSERT_TRUE(ok.has_value()) << ok.error().message;
        EXPECT_EQ(stats.active.load(), 0);
        EXPECT_EQ(stats.buffers_in_use_at_end.load(), 0u) << "receive buffers leaked";
    }

    server_stats stats;
};

TEST_F(echo_fixture, HundredsOfConcurrentClientsGetEveryByteBack) {
    constexpr int threads = 4;
    constexpr int per_thread = 60;
    constexpr int rounds = 20;
    std::atomic<std::uint64_t> verified{0};
    std::atomic<int> failures{0};
    with_server([&](std::uint16_t port) {
        std::vector<std::thread> workers;
        workers.reserve(threads);
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&, t] {
                std::mt19937 rng(1000 + t);
                std::uniform_int_distribution<int> small(1, 2000);
                std::uniform_int_distribution<int> large(1, 64 * 1024);
                std::vector<int> fds;
                fds.reserve(per_thread);
                for (int c = 0; c < per_thread; ++c) {
                    fds.push_back(connect_to(port));
                }
                for (int round = 0; round < rounds; ++round) {
                    // Every connection has a message in flight at once.
                    std::vector<std::vector<std::uint8_t>> sent(fds.size());
                    for (std::size_t c = 0; c < fds.size(); ++c) {
                        const int n = (rng() % 8 == 0) ? large(rng) : small(rng);
                        sent[c].resize(static_cast<std::size_t>(n));
                        for (auto& b : sent[c]) {
                            b = static_cast<std::uint8_t>(rng());
                        }
                        if (!write_all(fds[c], sent[c].data(), sent[c].size())) {
                            ++failures;
                        }
                    }
                    for (std::size_t c = 0; c < fds.size(); ++c) {
                        std::vector<std::uint8_t> back(sent[c].size());
                        if (!read_all(fds[c], back.data(), back.size()) || back != sent[c]) {
                            ++failures;
                        } else {
                            verified += back.size();
                        }
                    }
                }
                for (int fd : fds) {
                    ::close(fd);
                }
            });
        }
        for (auto& w : workers) {
            w.join();
        }
    });
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(stats.connections.load(), threads * per_thread);
    EXPECT_EQ(stats.bytes.load(), verified.load());
    EXPECT_GT(verified.load(), 0u);
}

// One connection streaming 16 MiB while reading back concurrently: the
// server's recv pauses and resumes, its sends are partial and coalesced.
TEST_F(echo_fixture, LargeStreamComesBackIntact) {
    constexpr std::size_t total = 16u << 20;
    bool intact = false;
    with_server([&](std::uint16_t port) {
        const int fd = connect_to(port);
        std::vector<std::uint8_t> data(total);
        std::mt19937 rng(5);
        for (auto& b : data) {
            b = static_cast<std::uint8_t>(rng());
        }
        std::vector<std::uint8_t> back(total);
        std::thread reader([&] { intact = read_all(fd, back.data(), back.size()); });
        std::size_t at = 0;
        while (at < total) {
            const std::size_t n = std::min<std::size_t>(total - at, 1 + rng() % 100'000);
            ASSERT_TRUE(write_all(fd, data.data() + at, n));
            at += n;
        }
        reader.join();
        intact = intact && back == data;
        ::close(fd);
    });
    EXPECT_TRUE(intact);
    EXPECT_EQ(stats.bytes.load(), total);
}

// A client that vanishes mid-stream (RST) does not disturb the server.
TEST_F(echo_fixture, ResetConnectionsAreCleanedUp) {
    with_server([&](std::uint16_t port) {
        for (int i = 0; i < 50; ++i) {
            const int fd = connect_to(port);
            std::vector<std::uint8_t> junk(100'000, 0x55);
            write_all(fd, junk.data(), junk.size());
            linger l{1, 0}; // close with RST
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            ::close(fd);
        }
        // The server still serves.
        const int fd = connect_to(port);
        std::uint8_t ping[4] = {1, 2, 3, 4};
        std::uint8_t pong[4] = {};
        EXPECT_TRUE(write_all(fd, ping, 4));
        EXPECT_TRUE(read_all(fd, pong, 4));
        EXPECT_EQ(std::memcmp(ping, pong, 4), 0);
        ::close(fd);
    });
    EXPECT_EQ(stats.connections.load(), 51);
}

} // namespace
} // namespace zama::rt
