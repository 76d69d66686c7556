#include "run.hpp"

#include "runtime/engine.hpp"

#include <algorithm>
#include <cstdio>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "plan.hpp"
#include "report.hpp"
#include "roles.hpp"

// The phases of a run, driven from shard 0. Every other shard only hosts
// clients: shard 0 reaches into them with submit_to(), so each shard's
// state stays its own.

namespace zama::bench {
namespace {

using std::chrono::milliseconds;

struct run_state {
    const bench_options& o;
    rt::socket_address broker;
    plan p;
    std::vector<std::unique_ptr<shard_load>> loads;
    summary s;

    shard_load& local() { return *loads[rt::engine::this_shard()]; }
    bool mine(unsigned index) const { return index % o.threads == rt::engine::this_shard(); }
    std::string client_id(const char* role, unsigned index) const {
        return o.client_prefix + "-" + role + "-" + std::to_string(index) + "-" +
               std::to_string(getpid());
    }
};

double seconds_since(std::uint64_t t0) {
    return static_cast<double>(now_ns() - t0) / 1e9;
}

rt::task<void> pause(milliseconds d) {
    co_await rt::reactor::local().sleep_for(d);
}

/// Runs fn() on every shard in turn (a task<void> or a plain callable),
/// waiting for each.
template <typename F>
rt::task<void> on_each_shard(run_state& r, F fn) {
    rt::engine& e = rt::engine::local();
    for (rt::shard_id s = 0; s < r.o.threads; ++s) {
        co_await e.submit_to(s, fn);
    }
}

/// Sums f(shard_load) over the shards.
template <typename T, typename F>
rt::task<T> sum_over_shards(run_state& r, F f) {
    T total{};
    rt::engine& e = rt::engine::local();
    for (rt::shard_id s = 0; s < r.o.threads; ++s) {
        auto one = [&r, &f] { return f(r.local()); };
        total += co_await e.submit_to(s, one);
    }
    co_return total;
}

// --- Connecting ---------------------------------------------------------------

struct countdown {
    unsigned pending = 0;
    wakeup zero;
    void done() {
        if (--pending == 0) {
            zero.notify();
        }
    }
    rt::task<void> wait() {
        while (pending > 0) {
            co_await zero.wait();
        }
    }
};

rt::task<void> start_subscriber(run_state& r, const subscriber_spec& spec, bool clean,
                                bool subscribe, countdown& c) {
    shard_load& l = r.local();
    session_request req;
    req.client_id = r.client_id("sub", spec.index);
    req.clean_session = clean;
    req.qos = r.o.qos;
    if (subscribe) {
        req.filters = spec.filters;
    }
    auto session = co_await open_session(r.broker, std::move(req));
    if (!session) {
        l.errors.push_back("subscriber " + std::to_string(spec.index) + ": " + session.error());
    } else if (!clean && !subscribe && !session->session_present) {
        l.errors.push_back("subscriber " + std::to_string(spec.index) +
                           ": the broker did not keep its session");
        co_await session->connection->disconnect();
    } else {
        auto& result =
            *l.subscribers.emplace_back(std::make_unique<subscriber_result>(spec, r.p.streams));
        rt::reactor::local().spawn(run_subscriber(r.o, l, result, std::move(session->connection)));
    }
    c.done();
}

/// Connects this shard's subscribers and starts them receiving.
rt::task<void> start_subscribers(run_state& r, bool clean, bool subscribe) {
    countdown c;
    for (const auto& spec : r.p.subscribers) {
        if (r.mine(spec.index)) {
            ++c.pending;
            rt::reactor::local().spawn(start_subscriber(r, spec, clean, subscribe, c));
        }
    }
    co_await c.wait();
}

rt::task<void> touch_session(run_state& r, const subscriber_spec& spec, bool clean, countdown& c) {
    session_request req;
    req.client_id = r.client_id("sub", spec.index);
    req.clean_session = clean;
    req.qos = r.o.qos;
    if (!clean) {
        req.filters = spec.filters;
    }
    auto session = co_await open_session(r.broker, std::move(req));
    if (!session) {
        r.local().errors.push_back("subscriber " + std::to_string(spec.index) + ": " +
                                   session.error());
    } else {
        co_await session->connection->disconnect();
    }
    c.done();
}

/// Backlog: gives this shard's subscribers a fresh persistent session
/// (clean = 1, then clean = 0 with the subscription) and leaves them
/// offline; or, with clean, discards their sessions.
rt::task<void> prepare_sessions(run_state& r, bool clean) {
    countdown c;
    for (const auto& spec : r.p.subscribers) {
        if (r.mine(spec.index)) {
            ++c.pending;
            rt::reactor::local().spawn(touch_session(r, spec, true, c));
        }
    }
    co_await c.wait();
    if (clean) {
        co_return;
    }
    for (const auto& spec : r.p.subscribers) {
        if (r.mine(spec.index)) {
            ++c.pending;
            rt::reactor::local().spawn(touch_session(r, spec, false, c));
        }
    }
    co_await c.wait();
}

rt::task<void> connect_publisher(run_state& r, publisher_state& st, countdown& c) {
    session_request req;
    req.client_id = r.client_id("pub", st.spec.index);
    auto session = co_await open_session(r.broker, std::move(req));
    if (!session) {
        r.local().errors.push_back("publisher " + std::to_string(st.spec.index) + ": " +
                                   session.error());
        st.failed = true;
        st.done = true;
    } else {
        st.connection = std::move(session->connection);
    }
    c.done();
}

rt::task<void> connect_publishers(run_state& r) {
    shard_load& l = r.local();
    countdown c;
    for (const auto& spec : r.p.publishers) {
        if (r.mine(spec.index)) {
            auto& st = *l.publishers.emplace_back(std::make_unique<publisher_state>());
            st.spec = spec;
            ++c.pending;
            rt::reactor::local().spawn(connect_publisher(r, st, c));
        }
    }
    co_await c.wait();
}

void start_publishers(run_state& r) {
    shard_load& l = r.local();
    l.publishing = true;
    for (auto& st : l.publishers) {
        if (st->connection) {
            rt::reactor::local().spawn(run_publisher(r.o, l, *st, std::move(st->connection)));
        }
    }
}

// --- Measuring ---------------------------------------------------------------

std::uint64_t total_sent(run_state& r) {
    std::uint64_t n = 0;
    for (auto& l : r.loads) {
        n += l->sent.load(std::memory_order_relaxed);
    }
    return n;
}

std::uint64_t total_received(run_state& r) {
    std::uint64_t n = 0;
    for (auto& l : r.loads) {
        n += l->received.load(std::memory_order_relaxed);
    }
    return n;
}

rt::task<histogram> merged(run_state& r, bool interval, bool clear) {
    histogram h;
    rt::engine& e = rt::engine::local();
    for (rt::shard_id s = 0; s < r.o.threads; ++s) {
        auto take = [&r, interval, clear] {
            histogram& mine = interval ? r.local().interval : r.local().latency;
            histogram copy = mine;
            if (clear) {
                mine.clear();
            }
            return copy;
        };
        h.merge(co_await e.submit_to(s, take));
    }
    co_return h;
}

struct mark {
    std::uint64_t at = 0;
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    double bench_cpu = 0;
    double broker_cpu = 0;
};

mark take_mark(run_state& r) {
    return {now_ns(), total_sent(r), total_received(r), own_cpu_seconds(),
            r.o.broker_pid != 0 ? process_cpu_seconds(r.o.broker_pid) : 0};
}

void close_window(run_state& r, const mark& a, const mark& b) {
    r.s.seconds = static_cast<double>(b.at - a.at) / 1e9;
    r.s.sent = b.sent - a.sent;
    r.s.received = b.received - a.received;
    r.s.bench_cpu = b.bench_cpu - a.bench_cpu;
    r.s.broker_cpu = b.broker_cpu - a.broker_cpu;
}

rt::task<bool> publishers_done(run_state& r) {
    const unsigned n = co_await sum_over_shards<unsigned>(r, [](shard_load& l) {
        return static_cast<unsigned>(std::count_if(l.publishers.begin(), l.publishers.end(),
                                                   [](const auto& p) { return p->done; }));
    });
    co_return n == r.p.publishers.size();
}

rt::task<std::vector<std::uint64_t>> sent_per_stream(run_state& r) {
    std::vector<std::uint64_t> sent(r.p.streams, 0);
    rt::engine& e = rt::engine::local();
    for (rt::shard_id s = 0; s < r.o.threads; ++s) {
        auto collect = [&r, &sent] {
            for (const auto& p : r.local().publishers) {
                for (std::size_t i = 0; i < p->spec.streams.size() && i < p->sent.size(); ++i) {
                    sent[p->spec.streams[i].id] = p->sent[i];
                }
            }
        };
        co_await e.submit_to(s, collect);
    }
    co_return sent;
}

std::uint64_t unique_received(shard_load& l) {
    std::uint64_t n = 0;
    for (const auto& sub : l.subscribers) {
        n += sub->seen.counts().unique;
    }
    return n;
}

/// Waits until subscribers have everything published, or nothing more has
/// arrived for the drain timeout.
rt::task<void> drain(run_state& r, std::uint64_t expected) {
    std::uint64_t last = 0;
    const std::uint64_t began = now_ns();
    std::uint64_t progress_at = began;
    for (;;) {
        const std::uint64_t got = co_await sum_over_shards<std::uint64_t>(r, unique_received);
        if (got >= expected) {
            co_return;
        }
        if (r.o.qos == 0 && seconds_since(began) > r.o.drain_timeout) {
            // QoS 0 may be lost: a broker that queued without bound and is
            // still delivering is not waited for (what comes late is late).
            co_return;
        }
        if (got != last) {
            last = got;
            progress_at = now_ns();
        } else if (seconds_since(progress_at) > r.o.drain_timeout) {
            co_return;
        }
        co_await pause(milliseconds(10));
    }
}

/// Verifies what every subscriber received, then disconnects them.
rt::task<void> finish_subscribers(run_state& r, const std::vector<std::uint64_t>& sent) {
    rt::engine& e = rt::engine::local();
    for (rt::shard_id s = 0; s < r.o.threads; ++s) {
        auto check = [&r, &sent] {
            shard_load& l = r.local();
            for (const auto& sub : l.subscribers) {
                r.s.seen += sub->seen.counts();
                r.s.lost += sub->seen.missing(sent, sub->spec.expected);
                r.s.failed = r.s.failed || sub->failed;
            }
            l.closing = true;
            for (client* c : l.live) {
                c->stream().shutdown();
            }
        };
        co_await e.submit_to(s, check);
    }
    const auto total = static_cast<unsigned>(r.p.subscribers.size());
    for (int i = 0; i < 500; ++i) {
        const unsigned done =
            co_await sum_over_shards<unsigned>(r, [](shard_load& l) { return l.subscribers_done; });
        if (done >= total) {
            break;
        }
        co_await pause(milliseconds(10));
    }
}

rt::task<void> measure_window(run_state& r) {
    co_await pause(milliseconds(static_cast<long>(r.o.warmup * 1000)));
    co_await merged(r, false, true); // forget the warm-up's latencies
    co_await merged(r, true, true);
    const mark start = take_mark(r);
    mark last = start;
    const auto end = start.at + static_cast<std::uint64_t>(r.o.duration * 1e9);
    while (now_ns() < end) {
        const std::uint64_t left = end - now_ns();
        co_await pause(milliseconds(std::min<std::uint64_t>(1000, left / 1000000 + 1)));
        const mark m = take_mark(r);
        const double dt = static_cast<double>(m.at - last.at) / 1e9;
        const histogram h = co_await merged(r, true, true);
        print_progress(static_cast<double>(m.at - start.at) / 1e9,
                       static_cast<double>(m.sent - last.sent) / dt,
                       static_cast<double>(m.received - last.received) / dt, h);
        last = m;
        if (r.o.count > 0 && co_await publishers_done(r)) {
            break;
        }
    }
    close_window(r, start, last);
    r.s.latency = co_await merged(r, false, false);
}

// --- Scenarios ---------------------------------------------------------------

rt::task<void> stop_publishing(run_state& r) {
    co_await on_each_shard(r, [&r] { r.local().stop_publishing(); });
    const std::uint64_t began = now_ns();
    bool abandoned = false;
    while (!co_await publishers_done(r)) {
        if (!abandoned && seconds_since(began) > r.o.drain_timeout) {
            // A broker that stopped reading a publisher (it queued more than
            // it can deliver) would hold its last send forever: close it.
            // What that send held was not published.
            const unsigned n = co_await sum_over_shards<unsigned>(
                r, [](shard_load& l) { return l.abandon_publishers(); });
            std::fprintf(stderr, "%u publisher(s) still blocked in a send after %.0f s: closed\n",
                         n, r.o.drain_timeout);
            abandoned = true;
        }
        co_await pause(milliseconds(10));
    }
}

/// fan-in, fan-out, pairs, wildcard: subscribe, publish for the window,
/// stop, drain, verify.
rt::task<void> flow(run_state& r) {
    co_await on_each_shard(r, [&r] { return start_subscribers(r, true, true); });
    co_await on_each_shard(r, [&r] { return connect_publishers(r); });
    co_await on_each_shard(r, [&r] { start_publishers(r); });
    co_await measure_window(r);
    co_await stop_publishing(r);
    const std::vector<std::uint64_t> sent = co_await sent_per_stream(r);
    r.s.expected = r.p.expected(sent);
    co_await drain(r, r.s.expected);
    co_await finish_subscribers(r, sent);
}

/// backlog: subscribers leave persistent sessions, publishers send
/// `count` messages each, subscribers come back and drain.
rt::task<void> backlog(run_state& r) {
    co_await on_each_shard(r, [&r] { return prepare_sessions(r, false); });
    co_await on_each_shard(r, [&r] { return connect_publishers(r); });
    const mark p0 = take_mark(r);
    co_await on_each_shard(r, [&r] { start_publishers(r); });
    while (!co_await publishers_done(r)) {
        co_await pause(milliseconds(10));
    }
    const mark p1 = take_mark(r);
    r.s.publish_seconds = static_cast<double>(p1.at - p0.at) / 1e9;
    const std::vector<std::uint64_t> sent = co_await sent_per_stream(r);
    r.s.expected = r.p.expected(sent);
    std::fprintf(stderr, "published %llu messages in %.2f s; subscribers reconnect\n",
                 static_cast<unsigned long long>(p1.sent - p0.sent), r.s.publish_seconds);
    if (r.o.broker_pid != 0) {
        r.s.broker_rss_offline = process_rss_bytes(r.o.broker_pid);
    }

    const mark d0 = take_mark(r);
    co_await on_each_shard(r, [&r] { return start_subscribers(r, false, false); });
    co_await drain(r, r.s.expected);
    const mark d1 = take_mark(r);
    close_window(r, d0, d1);
    r.s.sent = p1.sent - p0.sent;
    r.s.latency = co_await merged(r, false, false);
    co_await finish_subscribers(r, sent);
    co_await on_each_shard(r, [&r] { return prepare_sessions(r, true); });
}

rt::task<void> connect_worker(run_state& r, unsigned first, unsigned count, unsigned* next,
                              countdown& c) {
    shard_load& l = r.local();
    while (*next < count) {
        const unsigned i = first + (*next)++;
        session_request req;
        req.client_id = r.client_id("conn", i);
        req.keep_alive = 300;
        const std::uint64_t t0 = now_ns();
        auto session = co_await open_session(r.broker, std::move(req));
        if (!session) {
            if (l.errors.size() < 10) {
                l.errors.push_back("connection " + std::to_string(i) + ": " + session.error());
            }
            ++l.connect_failures;
        } else {
            l.connect_latency.record(now_ns() - t0);
            l.held.push_back(std::move(session->connection));
            l.connects.fetch_add(1, std::memory_order_relaxed);
        }
    }
    c.done();
}

/// This shard's share of the connections, `concurrency` at a time.
rt::task<void> open_connections(run_state& r) {
    const unsigned shards = r.o.threads;
    const unsigned me = rt::engine::this_shard();
    const unsigned count = r.o.clients / shards + (me < r.o.clients % shards ? 1 : 0);
    const unsigned first = me * (r.o.clients / shards) + std::min(me, r.o.clients % shards);
    unsigned next = 0;
    countdown c;
    for (unsigned w = 0; w < std::min(r.o.concurrency, count); ++w) {
        ++c.pending;
        rt::reactor::local().spawn(connect_worker(r, first, count, &next, c));
    }
    co_await c.wait();
}

/// connect-storm and idle: open the connections as fast as possible;
/// idle then holds them and reports the broker's memory per connection.
rt::task<void> connections(run_state& r) {
    if (r.o.broker_pid != 0) {
        r.s.rss_before = process_rss_bytes(r.o.broker_pid);
    }
    const mark a = take_mark(r);
    co_await on_each_shard(r, [&r] { return open_connections(r); });
    const mark b = take_mark(r);
    close_window(r, a, b);
    r.s.connect_seconds = r.s.seconds;
    r.s.connects = co_await sum_over_shards<std::uint64_t>(
        r, [](shard_load& l) { return l.connects.load(std::memory_order_relaxed); });
    rt::engine& e = rt::engine::local();
    for (rt::shard_id s = 0; s < r.o.threads; ++s) {
        auto take = [&r] { return r.local().connect_latency; };
        r.s.connect_latency.merge(co_await e.submit_to(s, take));
    }
    if (r.o.scenario == scenario::idle) {
        const auto end = now_ns() + static_cast<std::uint64_t>(r.o.duration * 1e9);
        while (now_ns() < end) {
            co_await pause(milliseconds(1000));
            if (r.o.broker_pid != 0) {
                r.s.broker_rss = process_rss_bytes(r.o.broker_pid);
                std::fprintf(stderr, "holding %llu connections: broker RSS %.1f MB\n",
                             static_cast<unsigned long long>(r.s.connects),
                             static_cast<double>(r.s.broker_rss) / 1e6);
            }
        }
    }
    // Reset rather than close: a FIN from this side would leave each port in
    // TIME_WAIT for a minute, and the next run's connect() would then search
    // a nearly full ephemeral port range (20,000 left behind cost a third of
    // the connect rate).
    co_await on_each_shard(r, [&r] {
        for (auto& c : r.local().held) {
            const ::linger reset{.l_onoff = 1, .l_linger = 0};
            ::setsockopt(c->stream().fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
            c->stream().abort();
        }
        r.local().held.clear();
    });
}

rt::task<void> controller(run_state& r) {
    switch (r.o.scenario) {
    case scenario::fan_in:
    case scenario::fan_out:
    case scenario::pairs:
    case scenario::wildcard:
        co_await flow(r);
        break;
    case scenario::backlog:
        co_await backlog(r);
        break;
    case scenario::connect_storm:
    case scenario::idle:
        co_await connections(r);
        break;
    }
    if (r.o.broker_pid != 0) {
        r.s.broker_rss_peak = process_peak_rss_bytes(r.o.broker_pid);
    }
    if (r.o.broker_pid != 0 && r.s.broker_rss == 0) {
        r.s.broker_rss = process_rss_bytes(r.o.broker_pid);
    }
    for (auto& l : r.loads) { // every task has ended: no shard touches these now
        for (auto& e : l->errors) {
            if (r.s.errors.size() < 20) {
                r.s.errors.push_back(std::move(e));
            }
            r.s.failed = true;
        }
    }
    rt::engine::local().request_stop();
}

} // namespace

int run(const bench_options& o) {
    auto address = rt::socket_address::from(o.host, o.port);
    if (!address) {
        std::fprintf(stderr, "zama-bench: bad broker address %s:%u\n", o.host.c_str(), o.port);
        return 2;
    }
    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);

    run_state r{o, *address, make_plan(o), {}, {}};
    for (unsigned i = 0; i < o.threads; ++i) {
        r.loads.push_back(std::make_unique<shard_load>());
    }
    rt::engine_options options;
    options.shards = o.threads;
    options.reactor.recv_buffer_count = 1024;
    options.reactor.recv_buffer_size = 32 * 1024;
    rt::engine e(options);
    auto ran = e.run([&r](rt::shard_id shard) -> rt::task<void> {
        if (shard == 0) {
            co_await controller(r);
        } else {
            co_await rt::engine::local().stop_signal();
        }
    });
    if (!ran) {
        std::fprintf(stderr, "zama-bench: %s\n", ran.error().message.c_str());
        return 2;
    }
    return print_summary(o, r.s);
}

} // namespace zama::bench
