// The router's durable state beyond messages: persistent sessions and
// retained messages, each kept in a kv_log per partition.
//
// - Retained messages: partition p's owner keeps `retained.kv` in p's
//   directory (key: topic; value: QoS byte, then payload), changed as
//   retained publishes are appended.
// - Persistent sessions: a client id's registry shard is the owner of
//   partition_of(client id), and keeps the session in that partition's
//   `sessions.kv` (key: client id; value: session_record.hpp). The session's
//   home shard sends its state there when it subscribes (durably, before
//   the SUBACK), when it goes offline, and once a second while acks move
//   its cursors. A clean-session CONNECT erases it.
// - At start-up each shard installs the stored sessions of its partitions
//   (offline, at home here) and their retained messages.

#include "base/log.hpp"
#include "mqtt/topic.hpp"
#include "router/partitioner.hpp"
#include "router/router.hpp"
#include "router/session_record.hpp"

#include <chrono>

namespace zama::router {
namespace {

constexpr std::chrono::seconds commit_interval{1};
// The commit loop wakes this often, so shutdown does not wait for a full interval.
constexpr std::chrono::milliseconds commit_tick{100};

} // namespace

commitlog::kv_log* router::session_store(std::string_view client_id) {
    const commitlog::partition_id p = partition_of(client_id, _config.partitions);
    return owned(p).sessions.get();
}

session* router::find_session(const std::string& client_id, std::uint64_t generation) {
    auto it = _sessions.find(client_id);
    return it == _sessions.end() || (*it)->generation() != generation ? nullptr : it->get();
}

void router::restore() {
    std::size_t sessions = 0;
    std::size_t retained = 0;
    for (auto& op : _owned) {
        if (!op || !op->sessions) {
            continue;
        }
        for (const auto& [client_id, bytes] : op->sessions->entries()) {
            auto st = decode_session(client_id, bytes);
            if (!st) {
                zama::log::warn("partition {}: the stored session of client {} is unreadable "
                                "(record version {}): it is dropped",
                                op->id.value(), client_id, bytes.empty() ? 0 : bytes[0]);
                continue;
            }
            install(std::move(*st), nullptr);
            _registry[client_id].shard = _self;
            ++sessions;
        }
        if (op->retained->entries().empty()) {
            continue;
        }
        // One shared batch holds the partition's retained messages.
        commitlog::batch_ptr b = commitlog::batch_ptr::make(op->id, 0);
        for (const auto& [name, value] : op->retained->entries()) {
            if (value.empty()) {
                continue;
            }
            const commitlog::offset at =
                b->append(name, {value.data() + 1, value.size() - 1},
                          {static_cast<std::uint8_t>(std::min<std::uint8_t>(value[0], 2)), true});
            topic_entry& e = topic(*op, name);
            e.retained = b;
            e.retained_index = static_cast<std::uint32_t>(at);
            ++_stats.retained;
            ++retained;
        }
    }
    if (_persistent) {
        zama::log::info("shard {}: restored {} persistent sessions and {} retained messages", _self,
                        sessions, retained);
    }
}

void router::store_retained(owned_partition& op, std::string_view topic,
                            std::span<const std::uint8_t> payload, std::uint8_t qos) {
    if (!op.retained) {
        return;
    }
    if (payload.empty()) {
        op.retained->erase(topic);
        return;
    }
    std::vector<std::uint8_t> value;
    value.reserve(1 + payload.size());
    value.push_back(qos);
    value.insert(value.end(), payload.begin(), payload.end());
    op.retained->put(topic, value);
}

void router::changed(session& s) {
    if (!_persistent || s.clean() || s.dirty) {
        return;
    }
    s.dirty = true;
    _dirty.push_back(s.client_id());
}

void router::persist(session& s) {
    if (!_persistent || s.clean()) {
        return;
    }
    s.dirty = false;
    std::vector<std::uint8_t> bytes = encode_session(s.state());
    const rt::shard_id registry = registry_shard(s.client_id());
    if (registry == _self) {
        store_session(s.client_id(), std::move(bytes));
    } else {
        rt::engine::local().post(registry, [id = s.client_id(), b = std::move(bytes)]() mutable {
            router::local().store_session(id, std::move(b));
        });
    }
}

void router::store_session(const std::string& client_id, std::vector<std::uint8_t> bytes) {
    if (commitlog::kv_log* store = session_store(client_id)) {
        store->put(client_id, bytes);
    }
}

rt::task<bool> router::store_session_durably(std::string client_id,
                                             std::vector<std::uint8_t> bytes) {
    commitlog::kv_log* store = session_store(client_id);
    if (store == nullptr) {
        co_return false;
    }
    const std::uint64_t seq = store->put(client_id, bytes);
    co_return co_await store->durable(seq);
}

std::vector<commitlog::offset> router::log_ends(const std::vector<std::uint32_t>& partitions) {
    std::vector<commitlog::offset> ends;
    ends.reserve(partitions.size());
    for (std::uint32_t p : partitions) {
        ends.push_back(owned(commitlog::partition_id{p}).log->end());
    }
    return ends;
}

rt::task<void> router::anchor(session& s) {
    if (!_persistent || s.clean()) {
        co_return;
    }
    const std::string id = s.client_id();
    const std::uint64_t generation = s.generation();
    // The partitions its filters can match that it has no cursor in, by owner.
    std::vector<std::vector<std::uint32_t>> wanted(_shards);
    auto want = [&](std::uint32_t p) {
        if (!s.state().cursors.contains(p)) {
            wanted[owner_of(commitlog::partition_id{p}, _shards)].push_back(p);
        }
    };
    bool every_partition = false;
    for (const subscription& sub : s.state().subscriptions) {
        every_partition = every_partition || mqtt::has_wildcard(sub.filter);
    }
    if (every_partition) {
        for (std::uint32_t p = 0; p < _config.partitions; ++p) {
            want(p);
        }
    } else {
        for (const subscription& sub : s.state().subscriptions) {
            want(partition_of(sub.filter, _config.partitions).value());
        }
    }
    for (rt::shard_id owner = 0; owner < _shards; ++owner) {
        std::vector<std::uint32_t> parts = std::move(wanted[owner]);
        if (parts.empty()) {
            continue;
        }
        std::sort(parts.begin(), parts.end());
        parts.erase(std::unique(parts.begin(), parts.end()), parts.end());
        // The interest was declared before this request, on the same
        // channel: batches past these ends reach this shard.
        auto ask = [parts] { return router::local().log_ends(parts); };
        const std::vector<commitlog::offset> ends =
            co_await rt::engine::local().submit_to(owner, std::move(ask));
        session* now = find_session(id, generation);
        if (now == nullptr) {
            co_return; // taken over meanwhile: the new home anchors it
        }
        for (std::size_t i = 0; i < parts.size(); ++i) {
            now->state().cursors.try_emplace(parts[i], ends[i]);
        }
    }
    if (session* now = find_session(id, generation)) {
        co_await store_now(*now);
    }
}

rt::task<bool> router::store_now(session& s) {
    if (!_persistent || s.clean()) {
        co_return true;
    }
    std::string id = s.client_id();
    s.dirty = false;
    auto store = [id, bytes = encode_session(s.state())] {
        return router::local().store_session_durably(id, bytes);
    };
    const bool stored =
        co_await rt::engine::local().submit_to(registry_shard(id), std::move(store));
    if (!stored) {
        zama::log::error("client {}: its session could not be stored (see the errors above)", id);
    }
    co_return stored;
}

void router::commit_dirty() {
    std::vector<std::string> dirty;
    dirty.swap(_dirty);
    for (const std::string& id : dirty) {
        auto it = _sessions.find(id);
        if (it != _sessions.end() && (*it)->dirty) {
            persist(**it);
        }
    }
}

rt::task<void> router::commit_loop() {
    rt::reactor& r = rt::reactor::local();
    rt::time_point next = r.now() + commit_interval;
    while (!_closing_logs) {
        co_await r.sleep_for(commit_tick);
        if (r.now() >= next) {
            commit_dirty();
            next = r.now() + commit_interval;
        }
    }
    _commit_loop_running = false;
    if (_commit_loop_done) {
        r.schedule(std::exchange(_commit_loop_done, {}));
    }
}

rt::task<void> router::store_sessions() {
    if (!_persistent) {
        co_return;
    }
    commit_dirty();
    // A round trip to every other shard: the stores posted above are ahead
    // of it on the same channels, so they have been applied when it returns.
    for (rt::shard_id shard = 0; shard < _shards; ++shard) {
        if (shard != _self) {
            co_await rt::engine::local().submit_to(shard, [] { return true; });
        }
    }
}

} // namespace zama::router
