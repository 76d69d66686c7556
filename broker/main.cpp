// zama: the MQTT broker program.

#include "base/log.hpp"
#include "broker/config.hpp"
#include "broker/server.hpp"
#include "broker/sys_topics.hpp"
#include "commitlog/data_dir.hpp"
#include "commitlog/data_dir_lock.hpp"
#include "commitlog/journal_replay.hpp"
#include "router/router.hpp"
#include "runtime/engine.hpp"
#include "runtime/uring_file_system.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <memory>
#include <sys/resource.h>
#include <thread>
#include <vector>

using namespace zama;

namespace {

// Start-up state the shards share. Shard 0 checks the data directory's
// metadata; then every shard opens (recovers) its partitions; once all are
// open, shard 0 binds first (the port may be 0) and publishes the port. A
// failure anywhere stops every shard.
struct startup {
    std::atomic<bool> checked{false};  // the metadata is checked (or failed)
    std::atomic<unsigned> opened{0};   // shards whose partition logs are open (or failed)
    std::atomic<unsigned> restored{0}; // shards whose stored sessions are installed
    std::atomic<int> port{-1};         // -1 unknown, 0 failed, else the bound port
    std::atomic<bool> failed{false};
    std::atomic<unsigned> stored{0}; // shutdown: shards whose sessions are stored
};

// `ready` is a lambda with reference captures only (g++ 12 destroys
// non-trivial temporaries of a co_await expression twice).
template <typename Ready>
rt::task<void> wait_until(Ready ready) {
    while (!ready()) {
        co_await rt::reactor::local().sleep_for(std::chrono::milliseconds(1));
    }
}

void set_up_logging(const broker::config& c) {
    auto logger =
        std::make_shared<spdlog::logger>("zama", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
    logger->set_level(spdlog::level::from_str(c.log_level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

router::router_config router_settings(const broker::config& c) {
    router::router_config r;
    r.partitions = c.partitions;
    r.data_dir = c.data_dir;
    r.fsync = c.fsync;
    r.group_sync = c.fsync_method == "syncfs";
    r.journal = c.fsync_method == "journal";
    r.disk.segment_bytes = c.segment_bytes;
    r.disk.segment_ms = std::chrono::milliseconds(c.segment_age).count();
    if (c.retention_bytes > 0) {
        r.disk.retention_bytes = c.retention_bytes;
    }
    if (c.retention_age.count() > 0) {
        r.disk.retention_ms = std::chrono::milliseconds(c.retention_age).count();
    }
    r.partition_log_bytes = c.partition_log_bytes;
    r.max_inflight_messages = c.max_inflight_messages;
    r.max_queued_bytes = c.max_queued_bytes;
    r.queue_qos0_messages = c.queue_qos0_messages;
    r.max_subscriptions_per_client = c.max_subscriptions_per_client;
    r.catchup_read_bytes = c.catchup_read_bytes;
    return r;
}

rt::task<void> shard_main(rt::shard_id id, const broker::config& c, startup& up,
                          std::vector<std::unique_ptr<router::router>>& routers) {
    rt::engine& e = rt::engine::local();
    routers[id] = std::make_unique<router::router>(router_settings(c), id, e.size());
    router::router::set_local(routers[id].get());
    broker::server srv(c, *routers[id]);
    rt::uring_file_system fs;

    if (id == 0) {
        auto checked = co_await commitlog::check_or_create_metadata(fs, c.data_dir, c.partitions);
        if (!checked) {
            log::error("cannot start: {}", checked.error().message);
            up.failed = true;
        } else {
            // Before any shard opens a partition or its journal. Without
            // journals now, the replayed ones are removed: replaying them
            // again at each start would only find their batches present.
            const router::router_config settings = router_settings(c);
            commitlog::disk_log_options disk = settings.disk;
            std::string data_dir = c.data_dir;
            const unsigned journaling = settings.uses_journal() ? e.size() : 0;
            auto replayed = co_await commitlog::replay_journals(fs, std::move(data_dir),
                                                                c.partitions, disk, journaling);
            if (!replayed) {
                log::error("cannot start: replaying the journals: {}", replayed.error());
                up.failed = true;
            }
        }
        up.checked = true;
    }
    co_await wait_until([&up] { return up.checked.load(); });
    if (!up.failed.load()) {
        auto opened = co_await routers[id]->open_logs(fs);
        if (!opened) {
            log::error("cannot open the commit log: {}", opened.error());
            up.failed = true;
        }
    }
    ++up.opened;
    co_await wait_until([&up, &e] { return up.opened.load() == e.size(); });
    if (!up.failed.load()) {
        routers[id]->restore(); // every shard's logs are open: interest can be declared
    }
    ++up.restored; // no shard publishes (its $SYS topics) before every shard restored
    co_await wait_until([&up, &e] { return up.restored.load() == e.size(); });
    if (id != 0) {
        co_await wait_until([&up] { return up.port.load() >= 0; });
    }
    const int wanted = id == 0 ? c.port : up.port.load();
    std::optional<rt::listener> listening;
    if (!up.failed.load()) {
        auto addr = rt::socket_address::from(c.bind_address, static_cast<std::uint16_t>(wanted));
        if (!addr) {
            log::error("cannot listen: bind_address '{}' is not an IP address", c.bind_address);
            up.failed = true;
        } else if (auto l = rt::listener::open(*addr, {.first = id == 0}); !l) {
            log::error("cannot listen on {}: {}", addr->to_string(),
                       std::make_error_code(l.error()).message());
            up.failed = true;
        } else {
            listening.emplace(std::move(*l));
        }
    }
    if (id == 0) {
        up.port = up.failed ? 0 : listening->local_address().port();
        if (!up.failed) {
            log::info("zama {} listening on {} ({} shards, {} partitions)", ZAMA_VERSION,
                      listening->local_address().to_string(), e.size(), c.partitions);
        }
    }
    if (up.failed) {
        e.request_stop();
        co_await routers[id]->close_logs();
        co_return;
    }
    srv.start(std::move(*listening));
    if (id == 0 && c.sys_interval.count() > 0) {
        rt::reactor::local().spawn(broker::publish_sys_topics(c));
    }
    co_await e.stop_signal();
    co_await srv.stop();
    // Sessions go to their registry shards' stores before any store closes.
    co_await routers[id]->store_sessions();
    ++up.stored;
    co_await wait_until([&up, &e] { return up.stored.load() == e.size(); });
    co_await routers[id]->close_logs();
}

} // namespace

int main(int argc, char** argv) {
    auto cli = broker::parse_command_line(argc, argv);
    if (!cli) {
        std::fprintf(stderr, "zama: %s\n", cli.error().c_str());
        return 2;
    }
    if (cli->exit_now) {
        return cli->exit_code;
    }
    const broker::config& c = cli->settings;
    set_up_logging(c);

    // Held until the process exits: one broker per data directory.
    auto locked = commitlog::data_dir_lock::acquire(c.data_dir);
    if (!locked) {
        log::error("cannot start: {}", locked.error().message);
        return 1;
    }

    // Signals: handled by one thread (sigwait), never by a shard. SIGUSR1
    // only wakes that thread when the broker stops on its own.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);

    rt::engine_options options;
    options.shards = c.shards;
    rt::engine e(options);
    std::vector<std::unique_ptr<router::router>> routers(e.size());
    startup up;
    std::thread stopper([&] {
        int sig = 0;
        sigwait(&signals, &sig);
        if (sig == SIGINT || sig == SIGTERM) {
            log::info("{}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        }
        e.request_stop();
    });
    auto ran = e.run([&](rt::shard_id id) { return shard_main(id, c, up, routers); });
    // Wake the signal thread if the stop came from elsewhere.
    pthread_kill(stopper.native_handle(), SIGUSR1);
    stopper.join();
    if (!ran) {
        log::error("cannot start: {}", ran.error().message);
        return 1;
    }
    routers.clear();
    if (up.failed) {
        return 1;
    }
    log::info("stopped");
    return 0;
}
