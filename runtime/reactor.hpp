#pragma once

#include "base/result.hpp"
#include "runtime/clock.hpp"
#include "runtime/task.hpp"
#include "runtime/timer_wheel.hpp"

#include <liburing.h>

#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace zama::rt {

class provided_buffers;

/// Why a ring could not be set up, with the detail a person needs to fix it.
struct setup_failure {
    enum class kind : std::uint8_t {
        disabled_by_sysctl, // kernel.io_uring_disabled
        not_permitted,      // EPERM: seccomp, a container profile, or a missing capability
        not_supported,      // ENOSYS/EINVAL: a kernel without io_uring or too old
        missing_feature,    // an opcode or feature Zama needs is absent
        out_of_memory,      // ENOMEM: locked-memory limit
        other,
    };
    kind what = kind::other;
    std::string message;
};

/// The failure for an io_uring_setup errno, given the value of the sysctl
/// kernel.io_uring_disabled (0 if absent). Pure; reactor::create uses it.
setup_failure explain_setup_error(int err, int io_uring_disabled);

struct reactor_options {
    unsigned sq_entries = 4096;
    unsigned recv_buffer_count = 1024; // provided buffers for multishot recv (a power of two)
    unsigned recv_buffer_size = 16 * 1024;
    unsigned recv_ring_depth = 64; // buffers in the ring to start with; it deepens when it runs dry
};

/// Something the reactor calls for each CQE of an operation it submitted.
/// user_data of the SQE points to it; it must stay alive until its last CQE
/// (the one without IORING_CQE_F_MORE).
struct completion {
    using fn_type = void (*)(completion* self, int res, std::uint32_t flags) noexcept;
    explicit completion(fn_type f) noexcept
        : fn(f) {}
    fn_type fn;
    bool counted = true; // counts in reactor::in_flight() (the wake-up read does not)
};

/// Work to do once at the end of a loop turn, after every task that ran in
/// the turn: a connection's send queue registers itself here when it gets
/// data, so everything queued in a turn goes out in one submission.
struct turn_hook {
    virtual ~turn_hook() = default;
    virtual void end_of_turn() noexcept = 0;
    bool queued = false;
};

/// One shard's event loop: an io_uring, a run queue of coroutines, a timer
/// wheel, and the provided buffers for receiving.
///
/// Owned by its shard's thread, which alone may call it, except for
/// post_external() and wake(), which any thread may call.
///
/// A loop turn: advance timers → run ready coroutines (until the queue is
/// empty or the turn's budget is spent) → poll the engine's channels →
/// end-of-turn hooks (send queues flush) → one io_uring_enter that submits
/// everything and either reaps what is ready or sleeps until a completion,
/// a timer or a wake-up → dispatch the completions.
class reactor {
  public:
    static result<std::unique_ptr<reactor>, setup_failure> create(const reactor_options& options);
    reactor(const reactor&) = delete;
    reactor& operator=(const reactor&) = delete;
    ~reactor();

    /// The reactor of the calling thread; asserts there is one.
    static reactor& local() noexcept;

    // --- Tasks -------------------------------------------------------------

    /// Runs `t` detached on this reactor, starting on the next loop turn.
    void spawn(task<void> t);
    void schedule(std::coroutine_handle<> h) { _ready.push_back(h); }

    /// True once the current turn has run for its budget: a long loop
    /// (fanout, log scan) should `co_await yield()` so pings and acks of
    /// other connections are not starved.
    bool need_yield() const noexcept;
    /// Re-queues the caller behind the work and completions already pending.
    auto yield() noexcept {
        struct awaiter {
            reactor* r;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<> h) const { r->schedule(h); }
            void await_resume() const noexcept {}
        };
        return awaiter{this};
    }

    // --- Time --------------------------------------------------------------

    /// The time at the start of the current loop turn.
    time_point now() const noexcept { return _now; }
    timer_wheel& timers() noexcept { return _timers; }

    /// co_await sleep_until(t): resumes on the first turn at or after t.
    class sleep_awaiter;
    sleep_awaiter sleep_until(time_point when) noexcept;
    sleep_awaiter sleep_for(duration d) noexcept;

    // --- io_uring, for the runtime's I/O classes ----------------------------

    /// A free SQE; submits what is queued first if the ring is full.
    io_uring_sqe* sqe();
    /// Sets the SQE's user_data to `c` and counts the operation in flight
    /// until its last CQE.
    void track(io_uring_sqe* sqe, completion* c) noexcept;
    /// An SQE whose completion nobody waits for (IOSQE_CQE_SKIP_SUCCESS).
    void untracked(io_uring_sqe* sqe) noexcept;
    bool supports(int opcode) const noexcept;

    /// Registers a socket in the ring's fixed-file table so operations on
    /// it skip the per-operation file lookup; returns its slot, or -1 (no
    /// table, or full: use the fd as is). Unregister before closing.
    int register_fixed(int fd) noexcept;
    void unregister_fixed(int slot) noexcept;
    int ring_fd() const noexcept { return _ring.ring_fd; }
    provided_buffers& recv_buffers() noexcept { return *_buffers; }
    std::size_t in_flight() const noexcept { return _in_flight; }
    /// No ready task and no end-of-turn work.
    bool idle() const noexcept { return _ready.empty() && _turn_hooks.empty(); }

    /// co_await op(prep): submits one operation prepared by `prep(sqe)` and
    /// resumes with its result (a byte count, an fd, or -errno).
    template <typename Prep>
    auto op(Prep prep) noexcept;

    void defer_to_end_of_turn(turn_hook& h) {
        if (!h.queued) {
            h.queued = true;
            _turn_hooks.push_back(&h);
        }
    }

    // --- Loop ----------------------------------------------------------------

    /// What the loop asks its owner (the engine) each turn.
    struct loop_hooks {
        /// Polls cross-shard channels; returns true if it found work.
        std::function<bool()> poll;
        /// Called just before sleeping; returns false to not sleep (work
        /// arrived meanwhile). The engine publishes "sleeping" here.
        std::function<bool()> before_sleep;
        std::function<void()> after_sleep;
        /// True when the loop should return.
        std::function<bool()> done;
    };

    /// Runs loop turns until hooks.done() says so.
    void run(const loop_hooks& hooks);

    /// Runs one loop turn; `may_sleep` lets it wait for completions.
    void run_once(const loop_hooks& hooks, bool may_sleep);

    /// From any thread: runs `fn` on this reactor's thread soon, waking it.
    void post_external(std::function<void()> fn);

    /// Wakes this reactor from another shard: queues an IORING_OP_MSG_RING
    /// from `from` (the caller's reactor) when the kernel has it, else writes
    /// the eventfd.
    void wake_from(reactor& from) noexcept;
    /// Wakes this reactor from any thread (eventfd).
    void wake() noexcept;

  private:
    explicit reactor(const reactor_options& options);
    result<void, setup_failure> init(const reactor_options& options);
    void arm_wakeup_read();
    void run_ready();
    void run_turn_hooks();
    void drain_external();
    std::size_t reap();
    void submit_and_wait(bool sleep);

    io_uring _ring{};
    bool _ring_ready = false;
    std::vector<int> _free_fixed; // free slots of the fixed-file table
    io_uring_probe* _probe = nullptr;
    std::unique_ptr<provided_buffers> _buffers;

    time_point _now;
    time_point _turn_start;
    timer_wheel _timers;
    std::vector<std::coroutine_handle<>> _ready;
    std::vector<std::coroutine_handle<>> _running;
    std::vector<turn_hook*> _turn_hooks;
    std::vector<turn_hook*> _running_hooks;
    std::size_t _in_flight = 0;

    // Wake-ups from other threads: an eventfd with a read always armed.
    struct wakeup_read : completion {
        explicit wakeup_read(reactor* r) noexcept;
        reactor* owner;
    };
    int _event_fd = -1;
    std::uint64_t _event_value = 0;
    wakeup_read _event_read{this};
    std::mutex _external_mutex;
    std::vector<std::function<void()>> _external;
    std::vector<std::function<void()>> _external_running;
};

// --- sleep ----------------------------------------------------------------

class reactor::sleep_awaiter : private timer {
  public:
    sleep_awaiter(reactor* r, time_point when) noexcept
        : timer(&fire)
        , _r(r)
        , _when(when) {}

    bool await_ready() const noexcept { return _when <= _r->now(); }
    void await_suspend(std::coroutine_handle<> h) noexcept {
        _h = h;
        arm(_r->timers(), _when);
    }
    void await_resume() const noexcept {}

  private:
    static void fire(timer& t) noexcept {
        auto& self = static_cast<sleep_awaiter&>(t);
        self._r->schedule(self._h);
    }

    reactor* _r;
    time_point _when;
    std::coroutine_handle<> _h;
};

inline reactor::sleep_awaiter reactor::sleep_until(time_point when) noexcept {
    return sleep_awaiter(this, when);
}

inline reactor::sleep_awaiter reactor::sleep_for(duration d) noexcept {
    return sleep_awaiter(this, _now + d);
}

// --- op() ----------------------------------------------------------------

namespace detail {

template <typename Prep>
struct op_awaiter : completion {
    reactor* r;
    Prep prep;
    std::coroutine_handle<> h;
    int res = 0;

    op_awaiter(reactor* owner, Prep p) noexcept
        : completion(&on_complete)
        , r(owner)
        , prep(std::move(p)) {}

    static void on_complete(completion* c, int result_code, std::uint32_t) noexcept {
        auto* self = static_cast<op_awaiter*>(c);
        self->res = result_code;
        self->h.resume();
    }
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> handle) {
        h = handle;
        io_uring_sqe* s = r->sqe();
        prep(s);
        r->track(s, this);
    }
    int await_resume() const noexcept { return res; }
};

} // namespace detail

template <typename Prep>
auto reactor::op(Prep prep) noexcept {
    return detail::op_awaiter<Prep>(this, std::move(prep));
}

} // namespace zama::rt
