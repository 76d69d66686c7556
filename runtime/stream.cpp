#include "runtime/stream.hpp"

#include "base/log.hpp"
#include "base/vassert.hpp"
#include "runtime/provided_buffers.hpp"
#include "runtime/reactor.hpp"

#include <climits>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>

namespace zama::rt {

// --- recv_buffer ---------------------------------------------------------------

recv_buffer::recv_buffer(const std::uint8_t* data, std::uint32_t size, std::uint16_t id) noexcept
    : _data(data)
    , _size(size)
    , _id(id) {}

recv_buffer::recv_buffer(recv_buffer&& o) noexcept
    : _data(std::exchange(o._data, nullptr))
    , _size(std::exchange(o._size, 0))
    , _id(o._id) {}

recv_buffer& recv_buffer::operator=(recv_buffer&& o) noexcept {
    if (this != &o) {
        release();
        _data = std::exchange(o._data, nullptr);
        _size = std::exchange(o._size, 0);
        _id = o._id;
    }
    return *this;
}

keepalive recv_buffer::release_later() noexcept {
    if (_data == nullptr) {
        return {};
    }
    // The buffer's address identifies it; it goes back to this shard's pool.
    auto* data = const_cast<std::uint8_t*>(std::exchange(_data, nullptr));
    _size = 0;
    return keepalive(data, [](void* p) noexcept {
        reactor::local().recv_buffers().give_back_address(static_cast<std::uint8_t*>(p));
    });
}

void recv_buffer::release() noexcept {
    if (_data != nullptr) {
        reactor::local().recv_buffers().give_back(_id);
        _data = nullptr;
        _size = 0;
    }
}

// --- state ---------------------------------------------------------------------

namespace {

// Received buffers waiting for the reader before the recv pauses.
constexpr std::size_t recv_queue_limit = 4;
// Copied bytes go into blocks of at least this size; a block is freed once
// the batch that wrote it completes.
constexpr std::size_t copy_block_size = 4096;

// A received buffer waiting for the reader (buffers are at most 64 KiB).
struct chunk {
    std::uint16_t id;
    std::uint16_t size;
};

struct segment {
    const std::uint8_t* data;
    std::size_t size;
};

// A busy connection takes a copy block each batch and gives it back when the
// batch is written; each shard thread keeps a few spare blocks so that this
// costs no malloc. Bounded: an idle shard holds at most this many.
constexpr std::size_t spare_limit = 64;

struct spare_blocks {
    std::vector<std::uint8_t*> blocks;
    ~spare_blocks() {
        for (std::uint8_t* b : blocks) {
            delete[] b;
        }
    }
};
thread_local spare_blocks t_spare_blocks;

std::uint8_t* take_block(std::size_t size) {
    if (size == copy_block_size && !t_spare_blocks.blocks.empty()) {
        std::uint8_t* b = t_spare_blocks.blocks.back();
        t_spare_blocks.blocks.pop_back();
        return b;
    }
    return new std::uint8_t[size];
}

// The keepalive of a full-size block recycles it; larger ones are freed.
void recycle_block(void* p) noexcept {
    auto* b = static_cast<std::uint8_t*>(p);
    if (t_spare_blocks.blocks.size() < spare_limit) {
        t_spare_blocks.blocks.push_back(b);
    } else {
        delete[] b;
    }
}

void free_block(void* p) noexcept {
    delete[] static_cast<std::uint8_t*>(p);
}

} // namespace

// The completion of the stream's multishot recv and, once that has ended,
// of its close: a base of `state`, so a CQE finds the state without a
// back-pointer.
struct recv_completion : completion {
    using completion::completion;
};

// Everything about a connection that the kernel may still point to. Freed
// once the handle is gone (`released`) and no operation is in flight. Kept
// small: an idle connection is this object and its task's frame.
struct stream::state : turn_hook, recv_completion {
    // Send-side state, allocated while there is something to send and freed
    // when the connection goes quiet, so an idle connection does not carry it.
    struct sender : completion {
        explicit sender(state* owner) noexcept
            : completion(&on_sent)
            , s(owner) {}

        state* s;
        // Queued this turn, not yet submitted.
        std::vector<segment> pending;
        std::vector<std::pair<std::size_t, keepalive>> pending_keep; // (segments before, keep)
        std::uint8_t* block = nullptr;                               // copies go here
        std::size_t block_used = 0;
        std::size_t block_size = 0;
        // Being written.
        std::vector<iovec> iov;
        std::size_t iov_first = 0;
        std::vector<keepalive> inflight_keep;
        msghdr msg{};
        bool in_flight = false;
        std::size_t queued_bytes = 0; // pending + in flight, not yet written

        ~sender() { drop_block(); }

        void drop_block() noexcept {
            if (block != nullptr) {
                (block_size == copy_block_size ? recycle_block : free_block)(block);
                block = nullptr;
                block_used = block_size = 0;
            }
        }

        void close_block() {
            if (block != nullptr) {
                pending_keep.emplace_back(
                    pending.size(),
                    keepalive(block, block_size == copy_block_size ? &recycle_block : &free_block));
                block = nullptr;
                block_used = block_size = 0;
            }
        }

        // Back to the state of a new sender, keeping the vectors' capacity.
        void reset_for(state* owner) noexcept {
            s = owner;
            pending.clear();
            pending_keep.clear();
            drop_block();
            iov.clear();
            iov_first = 0;
            inflight_keep.clear();
            in_flight = false;
            queued_bytes = 0;
        }
    };

    // Senders are recycled per shard thread too: a busy connection goes
    // quiet and busy again every round trip.
    struct sender_recycler {
        void operator()(sender* q) const noexcept {
            auto& spares = spare_senders();
            if (spares.size() < spare_limit) {
                q->reset_for(nullptr);
                spares.emplace_back(q);
            } else {
                delete q;
            }
        }
    };
    static std::vector<std::unique_ptr<sender>>& spare_senders() noexcept {
        thread_local std::vector<std::unique_ptr<sender>> spares;
        return spares;
    }

    explicit state(int socket) noexcept
        : recv_completion(&on_received)
        , fd(socket) {
        fixed = reactor::local().register_fixed(fd);
    }

    // Points an SQE at the socket: its fixed-file slot when it has one.
    void target(io_uring_sqe* sqe) const noexcept {
        if (fixed >= 0) {
            sqe->fd = fixed;
            sqe->flags |= IOSQE_FIXED_FILE;
        }
    }

    completion* recv_c() noexcept { return static_cast<recv_completion*>(this); }

    int fd;
    int fixed = -1;        // slot in the ring's fixed-file table, or -1
    std::uint16_t ops = 0; // operations in flight
    bool recv_armed = false;
    bool recv_cancelling = false;
    bool recv_rearm = false; // re-arm at the end of the turn (after -ENOBUFS)
    bool eof = false;
    bool broken = false;
    bool closing = false;
    bool fd_closed = false;
    bool released = false;
    std::uint8_t chunk_head = 0;
    std::uint8_t chunk_count = 0;
    std::errc recv_error{};

    // Receiving.
    std::array<chunk, recv_queue_limit> chunks{};
    std::unique_ptr<std::vector<chunk>> chunk_overflow; // CQEs that came while pausing
    std::coroutine_handle<> recv_waiter;

    // Sending.
    std::unique_ptr<sender, sender_recycler> out;

    // The task in drained() or close(), one at a time.
    std::coroutine_handle<> waiter;

    // --- receiving ---

    bool has_chunk() const noexcept { return chunk_count != 0; }

    std::size_t queued_chunks() const noexcept {
        return chunk_count + (chunk_overflow ? chunk_overflow->size() : 0);
    }

    void push_chunk(chunk c) {
        if (chunk_count < chunks.size() && !chunk_overflow) {
            chunks[(chunk_head + chunk_count) % chunks.size()] = c;
            ++chunk_count;
        } else {
            if (!chunk_overflow) {
                chunk_overflow = std::make_unique<std::vector<chunk>>();
            }
            chunk_overflow->push_back(c);
        }
    }

    chunk pop_chunk() {
        const chunk c = chunks[chunk_head];
        chunk_head = static_cast<std::uint8_t>((chunk_head + 1) % chunks.size());
        --chunk_count;
        if (chunk_overflow) {
            chunks[(chunk_head + chunk_count) % chunks.size()] = chunk_overflow->front();
            ++chunk_count;
            chunk_overflow->erase(chunk_overflow->begin());
            if (chunk_overflow->empty()) {
                chunk_overflow.reset();
            }
        }
        return c;
    }

    void arm_recv() noexcept {
        if (recv_armed || closing || eof || recv_error != std::errc{}) {
            return;
        }
        io_uring_sqe* sqe = reactor::local().sqe();
        io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
        target(sqe);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = provided_buffers::group;
        reactor::local().track(sqe, recv_c());
        recv_armed = true;
        recv_cancelling = false;
        ++ops;
    }

    void cancel(completion* c) {
        io_uring_sqe* sqe = reactor::local().sqe();
        io_uring_prep_cancel(sqe, c, 0);
        reactor::local().untracked(sqe);
    }

    // Something for the reader: data, the end, an error, or closing.
    bool readable() const noexcept {
        return has_chunk() || eof || recv_error != std::errc{} || closing;
    }

    // Resumes the reader only when recv() has something to return: the
    // last CQE of a paused recv (-ECANCELED) carries nothing.
    void wake_recv() {
        if (recv_waiter && readable()) {
            reactor::local().schedule(std::exchange(recv_waiter, {}));
        }
    }

    static void on_received(completion* c, int res, std::uint32_t flags) noexcept {
        state* s = static_cast<state*>(static_cast<recv_completion*>(c));
        const bool more = (flags & IORING_CQE_F_MORE) != 0;
        if (res > 0) {
            provided_buffers& pool = reactor::local().recv_buffers();
            pool.taken();
            const auto id = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
            if (s->closing) {
                pool.give_back(id);
            } else {
                s->push_chunk({id, static_cast<std::uint16_t>(res)});
                if (more && s->queued_chunks() >= recv_queue_limit && !s->recv_cancelling) {
                    // The reader is behind: stop taking buffers until it
                    // catches up (recv() re-arms).
                    s->recv_cancelling = true;
                    s->cancel(s->recv_c());
                }
            }
        } else if (res == 0) {
            s->eof = true;
        } else if (res == -ENOBUFS) {
            // The ring ran out of receive buffers: it gets one more, and
            // others come back as connections finish decoding. The data
            // waits in the socket; try again at the end of the turn.
            reactor::local().recv_buffers().ran_dry();
            if (!more) {
                s->recv_armed = false;
                --s->ops;
                s->recv_rearm = true;
                reactor::local().defer_to_end_of_turn(*s);
                return;
            }
        } else if (res != -ECANCELED) {
            s->recv_error = static_cast<std::errc>(-res);
        }
        if (!more) {
            s->recv_armed = false;
            --s->ops;
            if (s->closing) {
                s->wake_recv();
                s->progress_close();
                return;
            }
            // Paused, or the kernel ended the multishot: re-arm unless the
            // reader is behind (recv() re-arms when it catches up).
            if (!s->has_chunk()) {
                s->arm_recv();
            }
        }
        s->wake_recv();
    }

    // --- sending ---

    sender& outq() {
        if (!out) {
            auto& spares = spare_senders();
            if (spares.empty()) {
                out.reset(new sender(this));
            } else {
                out.reset(spares.back().release());
                spares.pop_back();
                out->reset_for(this);
            }
        }
        return *out;
    }

    void queue(const std::uint8_t* data, std::size_t size) {
        sender& q = outq();
        if (!q.pending.empty() && q.pending.back().data + q.pending.back().size == data) {
            q.pending.back().size += size; // contiguous with the last segment
        } else {
            q.pending.push_back({data, size});
        }
        q.queued_bytes += size;
        reactor::local().defer_to_end_of_turn(*this);
    }

    void send_copy(std::span<const std::uint8_t> bytes) {
        if (broken || bytes.empty()) {
            return;
        }
        sender& q = outq();
        if (q.block_size - q.block_used < bytes.size()) {
            q.close_block();
            q.block_size = std::max(copy_block_size, bytes.size());
            q.block = take_block(q.block_size);
        }
        std::uint8_t* at = q.block + q.block_used;
        std::memcpy(at, bytes.data(), bytes.size());
        q.block_used += bytes.size();
        queue(at, bytes.size());
    }

    void send_ref(std::span<const std::uint8_t> bytes, keepalive keep) {
        if (broken || bytes.empty()) {
            return;
        }
        queue(bytes.data(), bytes.size());
        if (keep) {
            out->pending_keep.emplace_back(out->pending.size(), std::move(keep));
        }
    }

    // End of the loop turn: write what this turn queued.
    void end_of_turn() noexcept override {
        if (recv_rearm) {
            recv_rearm = false;
            arm_recv();
        }
        if (out && !out->in_flight && !out->pending.empty() && !broken) {
            start_batch();
        }
        maybe_free();
    }

    void start_batch() noexcept {
        sender& q = *out;
        q.close_block();
        const std::size_t n = std::min<std::size_t>(q.pending.size(), IOV_MAX);
        q.iov.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            q.iov[i] = {const_cast<std::uint8_t*>(q.pending[i].data), q.pending[i].size};
        }
        q.iov_first = 0;
        q.pending.erase(q.pending.begin(), q.pending.begin() + static_cast<std::ptrdiff_t>(n));
        // Keepalives of written segments move to the batch; the rest shift.
        std::size_t k = 0;
        while (k < q.pending_keep.size() && q.pending_keep[k].first <= n) {
            q.inflight_keep.push_back(std::move(q.pending_keep[k].second));
            ++k;
        }
        q.pending_keep.erase(q.pending_keep.begin(),
                             q.pending_keep.begin() + static_cast<std::ptrdiff_t>(k));
        for (auto& pk : q.pending_keep) {
            pk.first -= n;
        }
        submit_send();
    }

    void submit_send() noexcept {
        sender& q = *out;
        io_uring_sqe* sqe = reactor::local().sqe();
        const std::size_t segments = q.iov.size() - q.iov_first;
        if (segments == 1) {
            // One segment: a plain send, without the msghdr and iovec import.
            const iovec& v = q.iov[q.iov_first];
            io_uring_prep_send(sqe, fd, v.iov_base, v.iov_len, MSG_NOSIGNAL);
        } else {
            q.msg = {};
            q.msg.msg_iov = q.iov.data() + q.iov_first;
            q.msg.msg_iovlen = segments;
            io_uring_prep_sendmsg(sqe, fd, &q.msg, MSG_NOSIGNAL);
        }
        target(sqe);
        reactor::local().track(sqe, &q);
        q.in_flight = true;
        ++ops;
    }

    static void on_sent(completion* c, int res, std::uint32_t) noexcept {
        sender& q = *static_cast<sender*>(c);
        state* s = q.s;
        q.in_flight = false;
        --s->ops;
        if (res < 0) {
            if (res != -ECANCELED && res != -EPIPE && res != -ECONNRESET) {
                log::debug("runtime: send on fd {} failed: {}", s->fd, std::strerror(-res));
            }
            s->break_stream();
            return;
        }
        q.queued_bytes -= static_cast<std::size_t>(res);
        auto left = static_cast<std::size_t>(res);
        while (left > 0 && q.iov_first < q.iov.size()) {
            iovec& v = q.iov[q.iov_first];
            if (left >= v.iov_len) {
                left -= v.iov_len;
                ++q.iov_first;
            } else {
                v.iov_base = static_cast<std::uint8_t*>(v.iov_base) + left;
                v.iov_len -= left;
                left = 0;
            }
        }
        if (s->closing) {
            s->out.reset(); // `q` is gone from here on
            s->progress_close();
            s->maybe_free();
            return;
        }
        if (q.iov_first < q.iov.size()) {
            s->submit_send(); // a short write: the rest first
            return;
        }
        q.inflight_keep.clear();
        q.iov.clear();
        if (!q.pending.empty()) {
            s->start_batch();
            return;
        }
        // Quiet: give back the send-side memory.
        s->out.reset();
        s->wake_waiter();
        s->maybe_free();
    }

    void wake_waiter() {
        if (waiter) {
            reactor::local().schedule(std::exchange(waiter, {}));
        }
    }

    bool drained() const noexcept { return broken || !out || out->queued_bytes == 0; }

    void break_stream() noexcept {
        broken = true;
        if (out && !out->in_flight) {
            out.reset();
        } else if (out) {
            out->pending.clear();
            out->pending_keep.clear();
        }
        wake_waiter();
        progress_close();
        maybe_free();
    }

    // --- closing ---

    // Starts closing: no more sending or receiving; operations in flight are
    // cancelled, then the socket is closed.
    void start_close() noexcept {
        if (closing) {
            return;
        }
        closing = true;
        broken = true;
        recv_rearm = false;
        if (recv_armed && !recv_cancelling) {
            recv_cancelling = true;
            cancel(recv_c());
        }
        if (out && out->in_flight) {
            cancel(out.get());
            out->pending.clear();
            out->pending_keep.clear();
        } else {
            out.reset();
        }
        while (has_chunk()) {
            reactor::local().recv_buffers().give_back(pop_chunk().id);
        }
        wake_recv();
        wake_waiter();
        progress_close();
    }

    // Once nothing else is in flight, closes the fd through the ring.
    void progress_close() noexcept {
        if (!closing || fd_closed || ops != 0) {
            return;
        }
        reactor& rx = reactor::local();
        if (fixed >= 0) {
            rx.unregister_fixed(std::exchange(fixed, -1));
        }
        // The recv is over: its completion carries the close.
        recv_completion::fn = &on_closed;
        io_uring_sqe* sqe = rx.sqe();
        io_uring_prep_close(sqe, fd);
        rx.track(sqe, recv_c());
        ++ops;
    }

    static void on_closed(completion* c, int res, std::uint32_t) noexcept {
        state* s = static_cast<state*>(static_cast<recv_completion*>(c));
        --s->ops;
        s->fd_closed = true;
        if (res < 0) {
            log::debug("runtime: close of fd {} failed: {}", s->fd, std::strerror(-res));
        }
        s->wake_waiter();
        s->maybe_free();
    }

    void maybe_free() noexcept {
        if (released && ops == 0 && !queued && (fd_closed || fd < 0)) {
            delete this;
        }
    }
};

// --- stream ----------------------------------------------------------------------

stream::stream(int fd)
    : _s(new state(fd)) {}

stream::stream(stream&& o) noexcept
    : _s(std::exchange(o._s, nullptr)) {}

stream& stream::operator=(stream&& o) noexcept {
    if (this != &o) {
        abort();
        _s = std::exchange(o._s, nullptr);
    }
    return *this;
}

stream::~stream() {
    abort();
}

void stream::abort() noexcept {
    if (_s == nullptr) {
        return;
    }
    state* s = std::exchange(_s, nullptr);
    s->released = true;
    s->start_close();
    s->maybe_free();
}

void stream::shutdown() noexcept {
    if (_s != nullptr) {
        _s->start_close();
    }
}

int stream::fd() const noexcept {
    return _s->fd;
}

socket_address stream::peer() const {
    return socket_address::peer_of(_s->fd);
}

stream::recv_awaiter stream::recv() noexcept {
    return recv_awaiter(_s);
}

void stream::send_copy(std::span<const std::uint8_t> bytes) {
    _s->send_copy(bytes);
}

void stream::send_ref(std::span<const std::uint8_t> bytes, keepalive keep) {
    _s->send_ref(bytes, std::move(keep));
}

std::size_t stream::send_queued() const noexcept {
    return _s->out ? _s->out->queued_bytes : 0;
}

bool stream::broken() const noexcept {
    return _s->broken;
}

stream::drain_awaiter stream::drained() noexcept {
    return drain_awaiter(_s);
}

task<void> stream::close(duration linger) {
    if (_s == nullptr) {
        co_return;
    }
    state* s = _s;
    if (!s->drained()) {
        // Wait for the queue to drain, or for `linger` if the peer is slow.
        struct deadline : timer {
            state* s;
            explicit deadline(state* st) noexcept
                : timer([](timer& t) noexcept { static_cast<deadline&>(t).s->wake_waiter(); })
                , s(st) {}
        } limit(s);
        limit.arm(reactor::local().timers(), reactor::local().now() + linger);
        co_await drained();
    }
    if (!s->fd_closed) {
        s->start_close();
        struct wait_closed {
            state* s;
            bool await_ready() const noexcept { return s->fd_closed; }
            void await_suspend(std::coroutine_handle<> h) noexcept {
                ZAMA_ASSERT(!s->waiter, "two tasks wait on one stream");
                s->waiter = h;
            }
            void await_resume() const noexcept {}
        };
        co_await wait_closed{s};
    }
    _s = nullptr;
    s->released = true;
    s->maybe_free();
}

task<result<stream, std::errc>> connect(socket_address address) {
    const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        co_return static_cast<std::errc>(errno);
    }
    const int res = co_await reactor::local().op(
        [&](io_uring_sqe* sqe) { io_uring_prep_connect(sqe, fd, address.get(), address.size()); });
    if (res < 0) {
        ::close(fd);
        co_return static_cast<std::errc>(-res);
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    co_return stream(fd);
}

bool stream::recv_awaiter::await_ready() const noexcept {
    return _s->readable();
}

void stream::recv_awaiter::await_suspend(std::coroutine_handle<> h) noexcept {
    ZAMA_ASSERT(!_s->recv_waiter, "two readers on one stream");
    _s->recv_waiter = h;
    _s->arm_recv();
}

recv_buffer stream::recv_awaiter::await_resume() noexcept {
    if (_s->has_chunk()) {
        const chunk c = _s->pop_chunk();
        return recv_buffer(reactor::local().recv_buffers().buffer(c.id).data(), c.size, c.id);
    }
    return {};
}

std::errc stream::error() const noexcept {
    if (_s->recv_error != std::errc{}) {
        return _s->recv_error;
    }
    return _s->closing ? std::errc::operation_canceled : std::errc{};
}

bool stream::drain_awaiter::await_ready() const noexcept {
    return _s->drained();
}

void stream::drain_awaiter::await_suspend(std::coroutine_handle<> h) noexcept {
    ZAMA_ASSERT(!_s->waiter, "two tasks wait on one stream");
    _s->waiter = h;
}

} // namespace zama::rt
