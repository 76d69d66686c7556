#include "runtime/engine.hpp"

#include "base/log.hpp"
#include "base/vassert.hpp"

#include <cstring>
#include <pthread.h>
#include <sched.h>
#include <thread>

namespace zama::rt {
namespace {

thread_local engine* t_engine = nullptr;
thread_local shard_id t_shard = 0;

// Messages a shard runs from one channel per poll, so one busy sender
// cannot starve the others or the shard's own I/O.
constexpr std::size_t poll_budget = 1024;

// How long a stopping shard waits for its I/O to drain before it gives up
// on it (io_uring_queue_exit then cancels what is left).
constexpr auto drain_deadline = std::chrono::seconds(5);

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; ++c) {
            if (CPU_ISSET(c, &set)) {
                cpus.push_back(c);
            }
        }
    }
    if (cpus.empty()) {
        cpus.push_back(0);
    }
    return cpus;
}

void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (const int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set); rc != 0) {
        log::warn("runtime: cannot pin shard {} to CPU {}: {}", t_shard, cpu, std::strerror(rc));
    }
}

} // namespace

// One shard's state. The thread owns everything here except `sleeping`
// (read by other shards) and `r` during start-up (published under the
// engine's start-up mutex).
struct engine::shard : turn_hook {
    shard_id id = 0;
    engine* owner = nullptr;
    std::unique_ptr<reactor> r;
    std::atomic<bool> sleeping{false};

    std::vector<std::deque<pending>> outbound; // per destination, waiting for room
    std::vector<shard_id> to_wake;             // destinations pushed to in this turn
    std::vector<bool> wake_marked;

    std::vector<std::coroutine_handle<>> stop_waiters;
    bool stop_seen = false;
    bool main_done = false;
    std::optional<time_point> drain_started;
    std::size_t awaiting_replies = 0; // submit_to() calls waiting for their answer
    timer drain_timer{[](timer&) noexcept {}};
    std::thread thread;

    void mark_wake(shard_id to) {
        if (!wake_marked[to]) {
            wake_marked[to] = true;
            to_wake.push_back(to);
            r->defer_to_end_of_turn(*this);
        }
    }

    // End of this shard's turn: wake each shard it sent to that sleeps.
    void end_of_turn() noexcept override {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        for (shard_id to : to_wake) {
            wake_marked[to] = false;
            shard& target = *owner->_shards[to];
            if (target.sleeping.load(std::memory_order_relaxed)) {
                target.r->wake_from(*r);
            }
        }
        to_wake.clear();
    }
};

engine::engine(engine_options options)
    : _options(options) {
    const std::vector<int> cpus = allowed_cpus();
    _count = _options.shards != 0 ? _options.shards : static_cast<unsigned>(cpus.size());
    _channels.reserve(std::size_t{_count} * _count);
    for (unsigned i = 0; i < _count * _count; ++i) {
        // The diagonal is never used: a shard calls itself directly.
        _channels.push_back(i / _count == i % _count
                                ? nullptr
                                : std::make_unique<channel>(_options.channel_capacity));
    }
    for (unsigned i = 0; i < _count; ++i) {
        auto s = std::make_unique<shard>();
        s->id = i;
        s->owner = this;
        s->outbound.resize(_count);
        s->wake_marked.assign(_count, false);
        _shards.push_back(std::move(s));
    }
}

engine::~engine() = default;

engine& engine::local() noexcept {
    ZAMA_ASSERT(t_engine != nullptr, "not on a shard thread");
    return *t_engine;
}

shard_id engine::this_shard() noexcept {
    return t_shard;
}

bool engine::stop_requested() const noexcept {
    return _stop.load(std::memory_order_acquire);
}

void engine::expect_reply() noexcept {
    ++_shards[t_shard]->awaiting_replies;
}

void engine::got_reply() noexcept {
    --_shards[t_shard]->awaiting_replies;
}

void engine::request_stop() noexcept {
    std::lock_guard lock(_start_mutex);
    if (_stop.exchange(true)) {
        return;
    }
    for (auto& s : _shards) {
        if (s->r) {
            shard* sp = s.get();
            s->r->post_external([sp] {
                sp->stop_seen = true;
                for (auto h : sp->stop_waiters) {
                    sp->r->schedule(h);
                }
                sp->stop_waiters.clear();
            });
        }
    }
}

void engine::stop_awaiter::await_suspend(std::coroutine_handle<> h) {
    shard& s = *e->_shards[t_shard];
    if (s.stop_seen) {
        s.r->schedule(h);
    } else {
        s.stop_waiters.push_back(h);
    }
}

// --- Sending -----------------------------------------------------------------

bool engine::send_awaiter::await_ready() noexcept {
    shard& s = *e->_shards[t_shard];
    ZAMA_ASSERT(to != s.id, "send() to the calling shard");
    if (s.outbound[to].empty() && e->chan(s.id, to).ring.try_push(msg)) {
        s.mark_wake(to);
        return true;
    }
    return false;
}

void engine::send_awaiter::await_suspend(std::coroutine_handle<> h) {
    e->enqueue(*e->_shards[t_shard], to, std::move(msg), h);
}

void engine::post(shard_id to, shard_message fn) {
    shard& s = *_shards[t_shard];
    ZAMA_ASSERT(to != s.id, "post() to the calling shard");
    if (s.outbound[to].empty() && chan(s.id, to).ring.try_push(fn)) {
        s.mark_wake(to);
        return;
    }
    enqueue(s, to, std::move(fn), {});
}

void engine::enqueue(shard& s, shard_id to, shard_message msg, std::coroutine_handle<> waiter) {
    s.outbound[to].push_back({std::move(msg), waiter});
    flush_pending(s, to);
}

// Moves queued messages into the ring while there is room. When some are
// left, raises producer_waiting so the consumer wakes this shard once it
// has popped, and tries once more in case it popped in between.
bool engine::flush_pending(shard& s, shard_id to) {
    auto& q = s.outbound[to];
    channel& c = chan(s.id, to);
    bool moved = false;
    for (int attempt = 0; attempt < 2 && !q.empty(); ++attempt) {
        while (!q.empty() && c.ring.try_push(q.front().msg)) {
            if (q.front().waiter) {
                s.r->schedule(q.front().waiter);
            }
            q.pop_front();
            moved = true;
        }
        if (q.empty()) {
            break;
        }
        c.producer_waiting.store(true, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    if (moved) {
        s.mark_wake(to);
    }
    return moved;
}

// --- The shard loop -----------------------------------------------------------

bool engine::poll(shard& s) {
    bool work = false;
    for (shard_id from = 0; from < _count; ++from) {
        if (from == s.id) {
            continue;
        }
        channel& c = chan(from, s.id);
        std::size_t n = 0;
        while (n < poll_budget) {
            shard_message* m = c.ring.front();
            if (m == nullptr) {
                break;
            }
            shard_message msg = std::move(*m);
            c.ring.pop();
            msg();
            ++n;
        }
        if (n != 0) {
            work = true;
            std::atomic_thread_fence(std::memory_order_seq_cst);
            if (c.producer_waiting.load(std::memory_order_relaxed)) {
                c.producer_waiting.store(false, std::memory_order_relaxed);
                s.mark_wake(from);
            }
        }
    }
    for (shard_id to = 0; to < _count; ++to) {
        if (!s.outbound[to].empty()) {
            work |= flush_pending(s, to);
        }
    }
    return work;
}

bool engine::inbound_empty(shard& s) {
    for (shard_id from = 0; from < _count; ++from) {
        if (from != s.id && chan(from, s.id).ring.front() != nullptr) {
            return false;
        }
    }
    return true;
}

bool engine::finished(shard& s) {
    if (!stop_requested() || !s.main_done || _mains_running.load(std::memory_order_acquire) != 0) {
        return false;
    }
    bool outbound_empty = true;
    for (const auto& q : s.outbound) {
        outbound_empty &= q.empty();
    }
    if (!outbound_empty || !inbound_empty(s) || !s.r->idle() || s.awaiting_replies != 0) {
        return false;
    }
    // Spawned tasks (a sleeping periodic task, a connection closing) and
    // I/O must end too, within the drain deadline.
    const std::size_t tasks = frame_stats::local().detached;
    if (s.r->in_flight() == 0 && tasks == 0) {
        return true;
    }
    const time_point now = clock::now();
    if (!s.drain_started) {
        s.drain_started = now;
        // Wakes the loop at the deadline if nothing else does.
        s.drain_timer.arm(s.r->timers(), now + drain_deadline);
    }
    if (now - *s.drain_started > drain_deadline) {
        log::warn("runtime: shard {} stops with {} I/O operations and {} tasks unfinished", s.id,
                  s.r->in_flight(), tasks);
        return true;
    }
    return false;
}

void engine::shard_main(shard_id id, const std::function<task<void>(shard_id)>& main) {
    t_engine = this;
    t_shard = id;
    shard& s = *_shards[id];
    auto r = reactor::create(_options.reactor);
    {
        std::unique_lock lock(_start_mutex);
        if (r) {
            s.r = std::move(*r);
        } else if (!_failure) {
            _failure = r.error();
        }
        ++_started;
        _start_cv.notify_all();
        _start_cv.wait(lock, [&] { return _started == _count; });
        if (_failure) {
            s.r.reset();
            return;
        }
        if (_stop.load()) {
            s.stop_seen = true; // asked to stop before the loop started
        }
    }

    s.r->spawn([](engine* e, shard& sh, task<void> t) -> task<void> {
        co_await std::move(t);
        sh.main_done = true;
        if (e->_mains_running.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            // The last main finished: every shard re-checks whether it is
            // done. A shard may already have seen the count reach zero and
            // be destroying its reactor: the reset holds _start_mutex too.
            std::lock_guard lock(e->_start_mutex);
            for (auto& other : e->_shards) {
                if (other->r) {
                    other->r->wake();
                }
            }
        }
    }(this, s, main(id)));

    reactor::loop_hooks hooks;
    hooks.poll = [this, &s] { return poll(s); };
    hooks.before_sleep = [this, &s] {
        s.sleeping.store(true, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (!inbound_empty(s)) {
            s.sleeping.store(false, std::memory_order_relaxed);
            return false;
        }
        return true;
    };
    hooks.after_sleep = [&s] { s.sleeping.store(false, std::memory_order_relaxed); };
    hooks.done = [this, &s] { return finished(s); };
    s.r->run(hooks);
    s.r->run_once(hooks, false); // send what the last turn queued (wake-ups)

    std::lock_guard lock(_start_mutex);
    s.drain_timer.cancel();
    s.r.reset();
}

result<void, setup_failure> engine::run(std::function<task<void>(shard_id)> main) {
    const std::vector<int> cpus = allowed_cpus();
    _mains_running.store(_count);
    _started = 0;
    _failure.reset();
    for (shard_id id = 0; id < _count; ++id) {
        const int cpu = cpus[id % cpus.size()];
        _shards[id]->thread = std::thread([this, id, cpu, &main] {
            if (_options.pin) {
                t_shard = id;
                pin_to(cpu);
            }
            shard_main(id, main);
        });
    }
    for (auto& s : _shards) {
        s->thread.join();
    }
    if (_failure) {
        return *_failure;
    }
    std::size_t dropped = 0;
    for (auto& c : _channels) {
        if (c) {
            while (c->ring.front() != nullptr) {
                c->ring.pop();
                ++dropped;
            }
        }
    }
    if (dropped != 0) {
        log::warn("runtime: {} cross-shard messages were still queued at shutdown", dropped);
    }
    return {};
}

} // namespace zama::rt
