#include "runtime/reactor.hpp"

#include "base/log.hpp"
#include "base/vassert.hpp"
#include "runtime/provided_buffers.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <optional>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

namespace zama::rt {

namespace detail {

void task_exception_escaped() noexcept {
    const char* what = "unknown exception";
    try {
        throw;
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
    }
    std::fprintf(stderr, "zama: exception escaped a task: %s\n", what);
    std::fflush(stderr);
    std::abort();
}

} // namespace detail

namespace {

thread_local reactor* t_local = nullptr;

// How long a loop turn runs ready tasks before it stops to submit and reap.
constexpr auto turn_budget = std::chrono::microseconds(500);

// Opcodes without which Zama cannot run (sockets, files, wake-ups).
struct required_op {
    int opcode;
    const char* name;
};
constexpr std::array<required_op, 13> required_ops{{
    {IORING_OP_ACCEPT, "ACCEPT"},
    {IORING_OP_RECV, "RECV"},
    {IORING_OP_SENDMSG, "SENDMSG"},
    {IORING_OP_READ, "READ"},
    {IORING_OP_WRITEV, "WRITEV"},
    {IORING_OP_FSYNC, "FSYNC"},
    {IORING_OP_OPENAT, "OPENAT"},
    {IORING_OP_CLOSE, "CLOSE"},
    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
    {IORING_OP_RENAMEAT, "RENAMEAT"},
    {IORING_OP_UNLINKAT, "UNLINKAT"},
    {IORING_OP_MKDIRAT, "MKDIRAT"},
    {IORING_OP_SHUTDOWN, "SHUTDOWN"},
}};

int read_int_file(const char* path, int fallback) {
    std::ifstream f(path);
    int v = fallback;
    if (f >> v) {
        return v;
    }
    return fallback;
}

} // namespace

setup_failure explain_setup_error(int err, int disabled) {
    switch (err) {
    case EPERM: {
        if (disabled == 2) {
            return {setup_failure::kind::disabled_by_sysctl,
                    "io_uring is disabled on this machine (sysctl kernel.io_uring_disabled = 2); "
                    "set it to 0 to run Zama"};
        }
        if (disabled == 1) {
            return {setup_failure::kind::disabled_by_sysctl,
                    "io_uring is restricted to the group in kernel.io_uring_group "
                    "(kernel.io_uring_disabled = 1) and this process is not in it"};
        }
        return {setup_failure::kind::not_permitted,
                "io_uring_setup is not permitted (EPERM): a seccomp filter or container "
                "profile blocks it; allow the io_uring_setup, io_uring_enter and "
                "io_uring_register system calls"};
    }
    case ENOSYS:
        return {setup_failure::kind::not_supported,
                "this kernel has no io_uring (ENOSYS): it is too old or built without "
                "CONFIG_IO_URING, or a seccomp filter hides it"};
    case ENOMEM:
        return {setup_failure::kind::out_of_memory,
                "io_uring_setup failed with ENOMEM: raise the locked-memory limit "
                "(ulimit -l) or lower sq_entries"};
    default:
        return {setup_failure::kind::other,
                std::string("io_uring_setup failed: ") + std::strerror(err)};
    }
}

namespace {

// Multishot recv, which idle connections rely on, came with Linux 6.0.
std::optional<setup_failure> check_kernel_version() {
    utsname u{};
    if (uname(&u) != 0) {
        return std::nullopt;
    }
    int major = 0;
    int minor = 0;
    if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) {
        return std::nullopt;
    }
    if (major < 6) {
        return setup_failure{setup_failure::kind::missing_feature,
                             std::string("Linux ") + u.release +
                                 " lacks multishot recv (Linux 6.0+ is needed)"};
    }
    return std::nullopt;
}

} // namespace

reactor::wakeup_read::wakeup_read(reactor* r) noexcept
    : completion([](completion* c, int res, std::uint32_t) noexcept {
        // The wake-up read completed: external work may be waiting, and
        // drain_external() runs on this turn. Re-arm it.
        reactor* self = static_cast<wakeup_read*>(c)->owner;
        if (res == -ECANCELED) {
            return;
        }
        if (res < 0 && res != -EINTR) {
            log::error("runtime: wake-up eventfd read failed: {}", std::strerror(-res));
        }
        self->arm_wakeup_read();
    })
    , owner(r) {
    counted = false;
}

reactor::reactor(const reactor_options&)
    : _now(clock::now())
    , _turn_start(_now)
    , _timers(_now) {}

result<std::unique_ptr<reactor>, setup_failure> reactor::create(const reactor_options& options) {
    if (auto bad = check_kernel_version()) {
        return *bad;
    }
    std::unique_ptr<reactor> r(new reactor(options));
    if (auto ok = r->init(options); !ok) {
        return ok.error();
    }
    ZAMA_ASSERT(t_local == nullptr, "one reactor per thread");
    t_local = r.get();
    return r;
}

result<void, setup_failure> reactor::init(const reactor_options& options) {
    // Best set-up first, then fall back: DEFER_TASKRUN (completions are
    // processed only when this thread enters the kernel) needs
    // SINGLE_ISSUER; both need Linux 6.1.
    constexpr std::array<unsigned, 4> flag_sets{
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int rc = -EINVAL;
    for (unsigned flags : flag_sets) {
        io_uring_params p{};
        p.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
        p.cq_entries = options.sq_entries * 4;
        rc = io_uring_queue_init_params(options.sq_entries, &_ring, &p);
        if (rc != -EINVAL) {
            break;
        }
    }
    if (rc < 0) {
        return explain_setup_error(-rc, read_int_file("/proc/sys/kernel/io_uring_disabled", 0));
    }
    _ring_ready = true;

    _probe = io_uring_get_probe_ring(&_ring);
    if (_probe == nullptr) {
        return setup_failure{setup_failure::kind::not_supported,
                             "io_uring has no opcode probe (Linux 5.6+ is needed)"};
    }
    std::string missing;
    for (const required_op& op : required_ops) {
        if (!io_uring_opcode_supported(_probe, op.opcode)) {
            missing += missing.empty() ? "" : ", ";
            missing += op.name;
        }
    }
    if (!missing.empty()) {
        return setup_failure{setup_failure::kind::missing_feature,
                             "this kernel's io_uring lacks opcodes Zama needs: " + missing};
    }

    auto buffers = provided_buffers::create(_ring, options.recv_buffer_count,
                                            options.recv_buffer_size, options.recv_ring_depth);
    if (!buffers) {
        return buffers.error();
    }
    _buffers = std::move(*buffers);

    // A sparse fixed-file table for sockets (as large as the fd limit
    // allows), and the ring fd itself registered: both save a file lookup
    // per operation. Optional: without them, plain fds are used.
    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    const auto slots = static_cast<unsigned>(std::min<rlim_t>(nofile.rlim_cur, 65536));
    if (io_uring_register_files_sparse(&_ring, slots) == 0) {
        _free_fixed.reserve(slots);
        for (unsigned i = slots; i-- > 0;) {
            _free_fixed.push_back(static_cast<int>(i));
        }
    }
    io_uring_register_ring_fd(&_ring);

    _event_fd = eventfd(0, EFD_CLOEXEC);
    if (_event_fd < 0) {
        return setup_failure{setup_failure::kind::other,
                             std::string("eventfd failed: ") + std::strerror(errno)};
    }
    arm_wakeup_read();
    return {};
}

reactor::~reactor() {
    _buffers.reset();
    if (_ring_ready) {
        io_uring_queue_exit(&_ring);
    }
    if (_probe != nullptr) {
        io_uring_free_probe(_probe);
    }
    if (_event_fd >= 0) {
        close(_event_fd);
    }
    if (t_local == this) {
        t_local = nullptr;
    }
}

reactor& reactor::local() noexcept {
    ZAMA_ASSERT(t_local != nullptr, "no reactor on this thread");
    return *t_local;
}

void reactor::spawn(task<void> t) {
    schedule(std::move(t).release_detached());
}

bool reactor::need_yield() const noexcept {
    return clock::now() - _turn_start > turn_budget;
}

io_uring_sqe* reactor::sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&_ring);
    if (s == nullptr) {
        io_uring_submit(&_ring);
        s = io_uring_get_sqe(&_ring);
        ZAMA_ASSERT(s != nullptr, "no SQE after submitting the queue");
    }
    return s;
}

void reactor::track(io_uring_sqe* s, completion* c) noexcept {
    io_uring_sqe_set_data(s, c);
    if (c->counted) {
        ++_in_flight;
    }
}

void reactor::untracked(io_uring_sqe* s) noexcept {
    io_uring_sqe_set_data64(s, 0);
    s->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

int reactor::register_fixed(int fd) noexcept {
    if (_free_fixed.empty()) {
        return -1;
    }
    const int slot = _free_fixed.back();
    if (io_uring_register_files_update(&_ring, static_cast<unsigned>(slot), &fd, 1) != 1) {
        return -1;
    }
    _free_fixed.pop_back();
    return slot;
}

void reactor::unregister_fixed(int slot) noexcept {
    int none = -1;
    io_uring_register_files_update(&_ring, static_cast<unsigned>(slot), &none, 1);
    _free_fixed.push_back(slot);
}

bool reactor::supports(int opcode) const noexcept {
    return _probe != nullptr && io_uring_opcode_supported(_probe, opcode);
}

void reactor::arm_wakeup_read() {
    io_uring_sqe* s = sqe();
    io_uring_prep_read(s, _event_fd, &_event_value, sizeof _event_value, 0);
    track(s, &_event_read);
}

void reactor::post_external(std::function<void()> fn) {
    {
        std::lock_guard lock(_external_mutex);
        _external.push_back(std::move(fn));
    }
    wake();
}

void reactor::wake() noexcept {
    // EAGAIN (counter saturated) still leaves the reader woken.
    (void)eventfd_write(_event_fd, 1);
}

void reactor::wake_from(reactor& from) noexcept {
    if (&from == this) {
        return;
    }
    if (from.supports(IORING_OP_MSG_RING)) {
        // A CQE with user_data 0 lands on this ring: reap() ignores it, but
        // it ends this reactor's wait.
        io_uring_sqe* s = from.sqe();
        io_uring_prep_msg_ring(s, _ring.ring_fd, 0, 0, 0);
        from.untracked(s);
    } else {
        wake();
    }
}

void reactor::drain_external() {
    {
        std::lock_guard lock(_external_mutex);
        if (_external.empty()) {
            return;
        }
        _external_running.swap(_external);
    }
    for (auto& fn : _external_running) {
        fn();
    }
    _external_running.clear();
}

void reactor::run_ready() {
    // Tasks scheduled while this batch runs wait for the next batch, after
    // completions have been reaped: a task that yields lets I/O through.
    while (!_ready.empty()) {
        _running.swap(_ready);
        std::size_t i = 0;
        for (; i < _running.size(); ++i) {
            _running[i].resume();
            if ((i & 63) == 63 && need_yield()) {
                ++i;
                break;
            }
        }
        if (i < _running.size()) {
            // Out of budget: keep the rest, in order, ahead of newer work.
            _ready.insert(_ready.begin(), _running.begin() + static_cast<std::ptrdiff_t>(i),
                          _running.end());
            _running.clear();
            return;
        }
        _running.clear();
        if (need_yield()) {
            return;
        }
    }
}

void reactor::run_turn_hooks() {
    while (!_turn_hooks.empty()) {
        _running_hooks.swap(_turn_hooks);
        for (turn_hook* h : _running_hooks) {
            h->queued = false;
            h->end_of_turn();
        }
        _running_hooks.clear();
    }
}

// Under valgrind (callgrind counts instructions per message), io_uring_enter
// is not treated as a blocking call: valgrind 3.19 keeps its global lock
// through it, so the other threads (the blocking pool opening the commit
// log at start-up) could never run and the broker would hang. Sleeping at
// most 1 ms lets them in. Natively RUNNING_ON_VALGRIND is a few no-op
// instructions that read 0.
constexpr duration valgrind_max_sleep = std::chrono::milliseconds(1);

void reactor::submit_and_wait(bool sleep) {
    int rc = 0;
    std::optional<time_point> due = sleep ? _timers.next_due() : std::nullopt;
    if (sleep && RUNNING_ON_VALGRIND) {
        due = std::min(due.value_or(time_point::max()), clock::now() + valgrind_max_sleep);
    }
    if (!sleep) {
        rc = io_uring_submit_and_get_events(&_ring);
    } else if (due) {
        const auto wait = std::max(*due - clock::now(), duration::zero());
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
        __kernel_timespec ts{};
        ts.tv_sec = ns / 1'000'000'000;
        ts.tv_nsec = ns % 1'000'000'000;
        io_uring_cqe* cqe = nullptr;
        rc = io_uring_submit_and_wait_timeout(&_ring, &cqe, 1, &ts, nullptr);
    } else {
        rc = io_uring_submit_and_wait(&_ring, 1);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
        log::error("runtime: io_uring_enter failed: {}", std::strerror(-rc));
    }
}

std::size_t reactor::reap() {
    struct event {
        completion* c;
        int res;
        std::uint32_t flags;
    };
    std::array<io_uring_cqe*, 256> cqes{};
    std::array<event, 256> events{};
    std::size_t total = 0;
    for (;;) {
        const unsigned n = io_uring_peek_batch_cqe(&_ring, cqes.data(), cqes.size());
        if (n == 0) {
            break;
        }
        // Copy the batch out and release the CQ slots before dispatching, so
        // that dispatched code may submit (and the kernel post) freely.
        for (unsigned i = 0; i < n; ++i) {
            events[i] = {static_cast<completion*>(io_uring_cqe_get_data(cqes[i])), cqes[i]->res,
                         cqes[i]->flags};
        }
        io_uring_cq_advance(&_ring, n);
        for (unsigned i = 0; i < n; ++i) {
            const event& e = events[i];
            if (e.c == nullptr) {
                continue; // a wake-up, or an untracked operation
            }
            if (e.c->counted && (e.flags & IORING_CQE_F_MORE) == 0) {
                --_in_flight;
            }
            e.c->fn(e.c, e.res, e.flags);
        }
        total += n;
        if (n < cqes.size()) {
            break;
        }
    }
    return total;
}

void reactor::run_once(const loop_hooks& hooks, bool may_sleep) {
    _now = clock::now();
    _turn_start = _now;
    _timers.advance(_now);
    drain_external();
    run_ready();
    if (hooks.poll && hooks.poll()) {
        run_ready();
    }
    run_turn_hooks();

    // Never sleep when the loop is about to end: nothing would wake it.
    bool sleep =
        may_sleep && _ready.empty() && _turn_hooks.empty() && !(hooks.done && hooks.done());
    if (sleep && hooks.before_sleep && !hooks.before_sleep()) {
        sleep = false;
    }
    submit_and_wait(sleep);
    if (sleep && hooks.after_sleep) {
        hooks.after_sleep();
    }
    reap();
}

void reactor::run(const loop_hooks& hooks) {
    while (!(hooks.done && hooks.done())) {
        run_once(hooks, true);
    }
}

} // namespace zama::rt
