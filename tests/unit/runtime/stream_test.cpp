// Streams within one shard: connect through the ring, how a stream ends,
// sending straight from a receive buffer, and accepting a burst.

#include "runtime/listener.hpp"
#include "runtime/provided_buffers.hpp"
#include "runtime/stream.hpp"

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

} // namespace
} // namespace zama::rt::test
