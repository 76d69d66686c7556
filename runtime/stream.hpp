#pragma once

#include "base/result.hpp"
#include "runtime/address.hpp"
#include "runtime/clock.hpp"
#include "runtime/keepalive.hpp"
#include "runtime/task.hpp"

#include <coroutine>
#include <cstdint>
#include <span>
#include <system_error>

namespace zama::rt {

class provided_buffers;

/// Bytes received into one of the shard's provided buffers. The buffer goes
/// back to the kernel when this is dropped, so keep it only while decoding.
class recv_buffer {
  public:
    recv_buffer() noexcept = default;
    recv_buffer(const std::uint8_t* data, std::uint32_t size, std::uint16_t id) noexcept;
    recv_buffer(recv_buffer&& o) noexcept;
    recv_buffer& operator=(recv_buffer&& o) noexcept;
    recv_buffer(const recv_buffer&) = delete;
    recv_buffer& operator=(const recv_buffer&) = delete;
    ~recv_buffer() { release(); }

    std::span<const std::uint8_t> bytes() const noexcept { return {_data, _size}; }
    bool empty() const noexcept { return _size == 0; }
    void release() noexcept;
    /// Hands the buffer over to a keepalive, to send its bytes without a
    /// copy (send_ref(bytes(), release_later())): it goes back to the
    /// shard's pool once they are written. The pool is finite, so only for
    /// bytes that are written promptly.
    keepalive release_later() noexcept;

  private:
    // The buffer belongs to the pool of the shard that received it; it must
    // be released on that shard.
    const std::uint8_t* _data = nullptr;
    std::uint32_t _size = 0;
    std::uint16_t _id = 0;
};

/// A connected TCP socket on the calling shard.
///
/// Receiving: one multishot recv, armed at the first recv() and kept armed,
/// takes buffers from the shard's provided-buffer ring as data arrives; an
/// idle connection holds no buffer. If the reader falls behind (4 buffers
/// waiting) the recv is paused until it catches up, so one connection
/// cannot take the shard's buffers.
///
/// Sending: send_copy()/send_ref() queue bytes; at the end of the loop turn
/// everything queued is written with one sendmsg of an iovec chain, in
/// order. Short writes continue where they stopped; one sendmsg is in
/// flight at a time. EPIPE/ECONNRESET mark the stream broken: queued bytes
/// are dropped and later sends are ignored.
///
/// Owned by one connection task on one shard. The state behind the handle
/// outlives it until the kernel is done with every operation.
class stream {
  public:
    /// Takes ownership of a connected socket (accepted, or connected by the
    /// caller). Must be called on the shard that will use it.
    explicit stream(int fd);
    stream(stream&& o) noexcept;
    stream& operator=(stream&& o) noexcept;
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;
    ~stream();

    int fd() const noexcept;
    socket_address peer() const;

    /// co_await recv(): the next bytes received, or an empty buffer once the
    /// stream has ended; error() then says why.
    class recv_awaiter;
    recv_awaiter recv() noexcept;
    /// Why recv() ended: {} for the peer's end of stream, an error such as
    /// connection_reset, or operation_canceled after abort() or close().
    std::errc error() const noexcept;

    /// Queues a copy of `bytes`.
    void send_copy(std::span<const std::uint8_t> bytes);
    /// Queues `bytes` without copying; `keep` keeps them alive until written.
    void send_ref(std::span<const std::uint8_t> bytes, keepalive keep = {});
    /// Bytes queued or being written.
    std::size_t send_queued() const noexcept;
    /// The connection failed or was closed: sends are dropped.
    bool broken() const noexcept;

    /// co_await drained(): resumes once nothing is queued or being written
    /// (or the stream broke).
    class drain_awaiter;
    drain_awaiter drained() noexcept;

    /// Writes what is queued (waiting at most `linger` for a slow peer),
    /// then closes the socket.
    task<void> close(duration linger = std::chrono::seconds(1));
    /// Drops what is queued and closes the socket now. The destructor does
    /// this if close() was not awaited.
    void abort() noexcept;
    /// Like abort(), but the handle stays usable: a pending recv() ends
    /// (operation_canceled), sends are dropped, close() completes the close.
    /// For ending a connection from outside its task.
    void shutdown() noexcept;

  private:
    struct state;
    state* _s = nullptr;
};

/// Connects a TCP socket to `address` through the ring (IORING_OP_CONNECT),
/// with TCP_NODELAY set, on the calling shard.
task<result<stream, std::errc>> connect(socket_address address);

class stream::recv_awaiter {
  public:
    explicit recv_awaiter(state* s) noexcept
        : _s(s) {}
    bool await_ready() const noexcept;
    void await_suspend(std::coroutine_handle<> h) noexcept;
    recv_buffer await_resume() noexcept;

  private:
    state* _s;
};

class stream::drain_awaiter {
  public:
    explicit drain_awaiter(state* s) noexcept
        : _s(s) {}
    bool await_ready() const noexcept;
    void await_suspend(std::coroutine_handle<> h) noexcept;
    void await_resume() const noexcept {}

  private:
    state* _s;
};

} // namespace zama::rt
