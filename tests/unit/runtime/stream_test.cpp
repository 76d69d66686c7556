// Streams within one shard: connect through the ring, how a stream ends,
// sending straight from a receive buffer, accepting a burst, and how the
// provided-buffer ring is used.

#include "runtime/listener.hpp"
#include "runtime/provided_buffers.hpp"
#include "runtime/stream.hpp"

#include <chrono>
#include <set>
#include <string>
#include <sys/socket.h>
#include <vector>

#include "runtime_test_util.hpp"

namespace zama::rt::test {
namespace {

std::span<const std::uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Reads until `n` bytes arrived or the stream ended.
task<std::string> read_n(stream* s, std::size_t n) {
    std::string got;
    while (got.size() < n) {
        recv_buffer b = co_await s->recv();
        if (b.empty()) {
            break;
        }
        got.append(reinterpret_cast<const char*>(b.bytes().data()), b.bytes().size());
    }
    co_return got;
}

task<void> echo_once(listener* l, bool zero_copy) {
    auto fd = co_await l->accept();
    EXPECT_TRUE(fd.has_value());
    stream s(*fd);
    for (;;) {
        recv_buffer b = co_await s.recv();
        if (b.empty()) {
            EXPECT_EQ(s.error(), std::errc{}); // the peer's orderly end
            break;
        }
        if (zero_copy) {
            const auto bytes = b.bytes();
            s.send_ref(bytes, b.release_later());
        } else {
            s.send_copy(b.bytes());
        }
    }
    co_await s.close();
}

task<void> connect_and_echo(bool zero_copy) {
    auto l = listener::open(*socket_address::parse("127.0.0.1:0"));
    EXPECT_TRUE(l.has_value());
    reactor::local().spawn(echo_once(&*l, zero_copy));
    auto c = co_await connect(l->local_address());
    EXPECT_TRUE(c.has_value());
    const std::string message(100'000, 'q');
    c->send_copy(bytes_of(message));
    const std::string back = co_await read_n(&*c, message.size());
    EXPECT_EQ(back, message);
    co_await c->close();
    // Let the server side see the end and close too.
    co_await reactor::local().sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(reactor::local().recv_buffers().in_use(), 0u);
}

TEST(Stream, ConnectThroughTheRingAndEcho) {
    run(connect_and_echo(false));
}

TEST(Stream, SendingFromTheReceiveBufferReturnsItAfterwards) {
    run(connect_and_echo(true));
}

task<void> refused() {
    // A port nobody listens on: bind one, close it, connect to it.
    auto l = listener::open(*socket_address::parse("127.0.0.1:0"));
    const socket_address addr = l->local_address();
    l->close();
    auto c = co_await connect(addr);
    EXPECT_FALSE(c.has_value());
    EXPECT_EQ(c.error(), std::errc::connection_refused);
}

TEST(Stream, ConnectReportsRefusal) {
    run(refused());
}

task<void> reset_by_peer() {
    auto l = listener::open(*socket_address::parse("127.0.0.1:0"));
    auto c = co_await connect(l->local_address());
    auto fd = co_await l->accept();
    stream server(*fd);
    // The client goes away with a reset.
    linger hard{1, 0};
    setsockopt(c->fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    c->abort();
    recv_buffer b = co_await server.recv();
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(server.error(), std::errc::connection_reset);
    // Sending to a dead peer is dropped, not a crash.
    server.send_copy(bytes_of("late"));
    co_await server.close();
}

TEST(Stream, ResetIsReportedAsTheReason) {
    run(reset_by_peer());
}

task<void> burst() {
    auto l = listener::open(*socket_address::parse("127.0.0.1:0"));
    std::vector<stream> clients;
    for (int i = 0; i < 300; ++i) {
        auto c = co_await connect(l->local_address());
        EXPECT_TRUE(c.has_value());
        clients.push_back(std::move(*c));
    }
    std::vector<stream> accepted;
    for (int i = 0; i < 300; ++i) {
        auto fd = co_await l->accept();
        EXPECT_TRUE(fd.has_value());
        accepted.emplace_back(*fd);
    }
    EXPECT_EQ(accepted.size(), 300u);
    l->close();
    auto after = co_await l->accept();
    EXPECT_EQ(after.error(), std::errc::operation_canceled);
}

TEST(Stream, ListenerAcceptsABurstInOrderAndStopsOnClose) {
    run(burst());
}

// The id of the provided buffer that holds `b`'s bytes.
std::uint16_t buffer_id(const recv_buffer& b) {
    const provided_buffers& pool = reactor::local().recv_buffers();
    return static_cast<std::uint16_t>((b.bytes().data() - pool.buffer(0).data()) / pool.size());
}

task<void> ping_pong(std::set<std::uint16_t>* used) {
    auto l = listener::open(*socket_address::parse("127.0.0.1:0"));
    auto c = co_await connect(l->local_address());
    auto fd = co_await l->accept();
    stream server(*fd);
    for (int i = 0; i < 300; ++i) {
        c->send_copy(bytes_of("ping"));
        recv_buffer at_server = co_await server.recv();
        EXPECT_EQ(at_server.bytes().size(), 4u);
        used->insert(buffer_id(at_server));
        server.send_copy(bytes_of("pong"));
        recv_buffer at_client = co_await c->recv();
        EXPECT_EQ(at_client.bytes().size(), 4u);
        used->insert(buffer_id(at_client));
    }
    co_await c->close();
    co_await server.close();
}

TEST(Stream, ReceivesCycleThroughTheRingsDepthNotEveryBuffer) {
    // 600 receives of 1,024 buffers: only the ring's 4 and the two held by
    // the loop are ever written to, so the other pages never become
    // resident.
    reactor_options options = small_options();
    options.recv_buffer_count = 1024;
    options.recv_ring_depth = 4;
    std::set<std::uint16_t> used;
    run(ping_pong(&used), options);
    EXPECT_LE(used.size(), 4u + 2u);
    EXPECT_GE(used.size(), 1u);
}

task<void> many_senders(unsigned* depth_after) {
    constexpr int n = 40;
    const std::string message(1000, 'm');
    auto l = listener::open(*socket_address::parse("127.0.0.1:0"));
    std::vector<stream> clients;
    std::vector<stream> servers;
    for (int i = 0; i < n; ++i) {
        auto c = co_await connect(l->local_address());
        auto fd = co_await l->accept();
        clients.push_back(std::move(*c));
        servers.emplace_back(*fd);
    }
    // Everything arrives at once: more recvs complete in one batch than the
    // ring has buffers.
    for (int round = 0; round < 5; ++round) {
        for (stream& c : clients) {
            c.send_copy(bytes_of(message));
        }
        co_await reactor::local().sleep_for(std::chrono::milliseconds(5));
        for (stream& s : servers) {
            const std::string got = co_await read_n(&s, message.size());
            EXPECT_EQ(got, message);
        }
    }
    *depth_after = reactor::local().recv_buffers().depth();
    for (stream& c : clients) {
        co_await c.close();
    }
    for (stream& s : servers) {
        co_await s.close();
    }
}

TEST(Stream, ARingThatRunsDryDeepensAndLosesNothing) {
    reactor_options options = small_options();
    options.recv_ring_depth = 2;
    unsigned depth = 0;
    run(many_senders(&depth), options);
    EXPECT_GT(depth, 2u);
    EXPECT_LE(depth, options.recv_buffer_count);
}

} // namespace
} // namespace zama::rt::test
