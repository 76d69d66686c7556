// The router's sessions and the client-id registry.
//
// A client id's registry entry lives on the shard owning partition_of(client
// id) and says which shard holds its session. CONNECT claims the id there; claims
// of one id are served one at a time: the previous session's shard closes
// its connection (a takeover) and hands the session over (or drops it, for
// clean session), then the new shard installs it and confirms. Until the
// confirmation, later claims of the id wait, so a session never exists on
// two shards.

#include "base/log.hpp"
#include "router/partitioner.hpp"
#include "router/router.hpp"

namespace zama::router {

// The owner of the client id's partition: it also keeps the stored session.
rt::shard_id router::registry_shard(std::string_view client_id) const noexcept {
    return owner_of(partition_of(client_id, _config.partitions), _shards);
}

rt::task<attach_result> router::attach(std::string client_id, bool clean, client_link* link) {
    const rt::shard_id registry = registry_shard(client_id);
    auto claim_it = [id = client_id, to = _self, clean] {
        return router::local().claim(id, to, clean);
    };
    std::optional<session_state> previous =
        co_await rt::engine::local().submit_to(registry, std::move(claim_it));
    attach_result result;
    result.session_present = previous.has_value() && !clean;
    session_state st;
    if (previous && !clean) {
        st = std::move(*previous);
    } else {
        st.client_id = client_id;
    }
    st.clean = clean;
    result.s = install(std::move(st), link);
    if (registry == _self) {
        claim_done(client_id);
    } else {
        rt::engine::local().post(registry,
                                 [id = std::move(client_id)] { router::local().claim_done(id); });
    }
    co_return result;
}

rt::task<std::optional<session_state>> router::claim(std::string client_id, rt::shard_id to,
                                                     bool clean) {
    registry_entry& entry = _registry[client_id];
    if (entry.busy) {
        struct wait_turn {
            registry_entry* e;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<> h) { e->waiting.push_back(h); }
            void await_resume() const noexcept {}
        };
        co_await wait_turn{&entry};
    }
    entry.busy = true;
    const bool known = entry.shard != no_shard;
    const rt::shard_id previous = entry.shard;
    entry.shard = to;
    std::optional<session_state> st;
    if (known) {
        auto release = [id = client_id, keep = !clean] {
            return router::local().release_session(id, keep);
        };
        st = co_await rt::engine::local().submit_to(previous, std::move(release));
    }
    if (clean) {
        // A clean session discards the stored one (MQTT-3.1.2-6).
        if (commitlog::kv_log* store = session_store(client_id);
            store != nullptr && store->entries().contains(client_id)) {
            store->erase(client_id);
        }
    }
    co_return st;
}

void router::claim_done(const std::string& client_id) {
    auto it = _registry.find(client_id);
    if (it == _registry.end()) {
        return;
    }
    registry_entry& entry = it->second;
    if (!entry.waiting.empty()) {
        // The next claim of this id goes ahead; the entry stays busy for it.
        const std::coroutine_handle<> next = entry.waiting.front();
        entry.waiting.pop_front();
        entry.busy = false;
        rt::reactor::local().schedule(next);
        return;
    }
    entry.busy = false;
}

void router::forget(const std::string& client_id, rt::shard_id from) {
    auto it = _registry.find(client_id);
    if (it != _registry.end() && it->second.shard == from && !it->second.busy) {
        _registry.erase(it);
    }
}

std::optional<session_state> router::release_session(const std::string& client_id, bool keep) {
    auto it = _sessions.find(client_id);
    if (it == _sessions.end()) {
        return std::nullopt;
    }
    session& s = **it;
    if (client_link* link = s.link()) {
        // The old connection is closed; it publishes its will (as mosquitto does).
        zama::log::info("client {} connected again elsewhere: closing its old connection",
                        client_id);
        link->taken_over();
    }
    // Out of the index first (it needs the subscriptions), then the state
    // moves, then the session goes.
    unindex(s);
    std::optional<session_state> out;
    if (keep) {
        out = std::move(s.state());
    }
    _sessions.erase(it);
    return out;
}

session* router::install(session_state st, client_link* link) {
    if (auto old = _sessions.find(st.client_id); old != _sessions.end()) {
        drop_session(**old); // the registry handed it over already
    }
    auto owned = std::make_unique<session>(std::move(st), _next_generation++);
    session* s = owned.get();
    for (const subscription& sub : s->state().subscriptions) {
        add_local(*s, sub.filter, sub.qos);
        ++_stats.subscriptions;
    }
    // A resumed session catches up on every partition it has a cursor for.
    for (const auto& [p, offset] : s->state().cursors) {
        s->lag(p);
    }
    s->set_replaying_offline(!s->state().cursors.empty() || !s->state().outbound.empty());
    _sessions.insert(std::move(owned));
    if (link != nullptr) {
        s->attach(link);
        ++_stats.clients_connected;
    }
    return s;
}

void router::resume(session& s) {
    if (!s.online()) {
        return;
    }
    resend_inflight(s);
    catch_up(s);
}

void router::detach(session& s) noexcept {
    if (client_link* link = s.link()) {
        if (auto it = _link_keys.find(link); it != _link_keys.end()) {
            _links.erase(it->second);
            _link_keys.erase(it);
        }
        s.detach();
        --_stats.clients_connected;
    }
    s.stop_catching_up();
    if (!s.clean()) {
        persist(s);
        return; // persistent: stays here, offline
    }
    const std::string id = s.client_id();
    drop_session(s);
    const rt::shard_id registry = registry_shard(id);
    if (registry == _self) {
        forget(id, _self);
    } else {
        rt::engine::local().post(registry,
                                 [id, from = _self] { router::local().forget(id, from); });
    }
}

// Takes a session out of this shard's indexes: its link and its filters.
void router::unindex(session& s) noexcept {
    if (s.link() != nullptr) {
        if (auto it = _link_keys.find(s.link()); it != _link_keys.end()) {
            _links.erase(it->second);
            _link_keys.erase(it);
        }
        s.detach();
        --_stats.clients_connected;
    }
    for (const subscription& sub : s.state().subscriptions) {
        remove_local(s, sub.filter);
        --_stats.subscriptions;
    }
}

void router::drop_session(session& s) noexcept {
    unindex(s);
    _sessions.erase(s.client_id());
}

} // namespace zama::router
