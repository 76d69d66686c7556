// The router's subscriptions: this shard's index of its sessions' filters,
// and the interest it declares to partition owners so they fan batches out
// here.
//
// Interest changes only when a filter's local count goes from 0 to 1 or
// back: an exact filter is declared to the owner of its topic's partition,
// a wildcard filter to every shard (each keeps all shards' wildcard filters
// to match new topics against).

#include "base/log.hpp"
#include "mqtt/topic.hpp"
#include "router/partitioner.hpp"
#include "router/router.hpp"

#include <algorithm>

namespace zama::router {

std::vector<std::uint8_t> router::subscribe(session& s, const mqtt::subscription_list& list) {
    std::vector<std::uint8_t> codes;
    codes.reserve(list.size());
    for (const mqtt::subscription sub : list) {
        auto& subs = s.state().subscriptions;
        auto it = std::find_if(subs.begin(), subs.end(),
                               [&](const subscription& e) { return e.filter == sub.filter; });
        if (it != subs.end()) {
            // Re-subscribing replaces the QoS (MQTT-3.8.4-3).
            it->qos = sub.max_qos;
            remove_local(s, it->filter);
            add_local(s, it->filter, sub.max_qos);
        } else if (subs.size() >= _config.max_subscriptions_per_client) {
            // Refused with the failure return code 0x80 (section 3.9.3): a session's filters
            // are bounded like everything else a client can grow.
            zama::log::info("client {}: subscription to {} refused, the session already "
                            "holds max_subscriptions_per_client = {} filters",
                            s.client_id(), sub.filter, _config.max_subscriptions_per_client);
            codes.push_back(mqtt::suback_failure);
            continue;
        } else {
            subs.push_back({std::string(sub.filter), sub.max_qos});
            add_local(s, subs.back().filter, sub.max_qos);
            ++_stats.subscriptions;
        }
        codes.push_back(static_cast<std::uint8_t>(sub.max_qos));
        fetch_retained(s, std::string(sub.filter), sub.max_qos);
    }
    return codes;
}

void router::unsubscribe(session& s, const mqtt::filter_list& list) {
    auto& subs = s.state().subscriptions;
    for (const std::string_view filter : list) {
        auto it = std::find_if(subs.begin(), subs.end(),
                               [&](const subscription& e) { return e.filter == filter; });
        if (it != subs.end()) {
            remove_local(s, it->filter);
            subs.erase(it);
            --_stats.subscriptions;
        }
    }
    changed(s);
}

void router::add_local(session& s, const std::string& filter, mqtt::qos qos) {
    const bool wildcard = mqtt::has_wildcard(filter);
    std::vector<local_sub>& subs = wildcard ? _local_wildcards.at(filter) : _exact[filter];
    subs.push_back({&s, qos});
    ++_local_epoch;
    if (subs.size() == 1) {
        // New here: declare it, and stop trusting this shard's earlier
        // batches for it (batches without records for it were not sent here).
        reset_tails(filter);
        declare(filter, true);
    }
}

void router::remove_local(session& s, const std::string& filter) {
    const bool wildcard = mqtt::has_wildcard(filter);
    std::vector<local_sub>* subs = wildcard ? _local_wildcards.find(filter) : nullptr;
    if (!wildcard) {
        auto it = _exact.find(filter);
        subs = it == _exact.end() ? nullptr : &it->second;
    }
    if (subs == nullptr) {
        return;
    }
    std::erase_if(*subs, [&](const local_sub& ls) { return ls.s == &s; });
    ++_local_epoch;
    if (!subs->empty()) {
        return;
    }
    if (wildcard) {
        _local_wildcards.erase(filter);
    } else {
        _exact.erase(filter);
    }
    declare(filter, false);
}

// Tells the shards that need to know that this shard now has (or no longer
// has) subscribers for `filter`: every shard for a wildcard filter, the
// owner of the topic's partition for an exact one.
void router::declare(const std::string& filter, bool add) {
    rt::engine& e = rt::engine::local();
    if (mqtt::has_wildcard(filter)) {
        for (rt::shard_id shard = 0; shard < _shards; ++shard) {
            if (shard == _self) {
                wildcard_interest(filter, _self, add);
            } else {
                e.post(shard, [filter, from = _self, add] {
                    router::local().wildcard_interest(filter, from, add);
                });
            }
        }
        return;
    }
    const rt::shard_id owner = owner_of(partition_of(filter, _config.partitions), _shards);
    if (owner == _self) {
        interest(filter, _self, add);
    } else {
        e.post(owner, [filter, from = _self, add] { router::local().interest(filter, from, add); });
    }
}

void router::reset_tails(std::string_view filter) {
    auto reset = [this](shard_tail& t) {
        _tail_bytes -= t.bytes;
        t.batches.clear();
        t.arrivals.clear();
        t.bytes = 0;
        t.complete_from = ~commitlog::offset{0};
    };
    if (mqtt::has_wildcard(filter)) {
        for (shard_tail& t : _tails) {
            reset(t);
        }
    } else {
        reset(_tails[partition_of(filter, _config.partitions).value()]);
    }
}

void router::interest(std::string topic, rt::shard_id shard, bool add) {
    owned_partition& op = owned(partition_of(topic, _config.partitions));
    topic_entry& e = this->topic(op, topic);
    const std::uint64_t bit = std::uint64_t{1} << shard;
    e.exact = add ? (e.exact | bit) : (e.exact & ~bit);
}

void router::wildcard_interest(std::string filter, rt::shard_id shard, bool add) {
    const std::uint64_t bit = std::uint64_t{1} << shard;
    if (add) {
        _wildcards.at(filter) |= bit;
    } else if (std::uint64_t* m = _wildcards.find(filter)) {
        *m &= ~bit;
        if (*m == 0) {
            _wildcards.erase(filter);
        }
    }
    ++_wildcard_epoch; // cached topic matches are stale
}

std::vector<pending_retained> router::retained_matching(std::string filter, bool exact) {
    std::vector<pending_retained> out;
    auto scan = [&](owned_partition& op) {
        if (exact) {
            if (auto it = op.topics.find(filter); it != op.topics.end() && it->second.retained) {
                out.push_back(
                    {it->second.retained, it->second.retained_index, mqtt::qos::at_most_once});
            }
            return;
        }
        for (const auto& [name, e] : op.topics) {
            if (e.retained && mqtt::topic_matches(filter, name)) {
                out.push_back({e.retained, e.retained_index, mqtt::qos::at_most_once});
            }
        }
    };
    if (exact) {
        scan(owned(partition_of(filter, _config.partitions)));
    } else {
        for (auto& op : _owned) {
            if (op) {
                scan(*op);
            }
        }
    }
    return out;
}

// Retained messages matching a new subscription, from the shards that own
// them, are queued on the session and sent with RETAIN set (MQTT-3.3.1-6).
void router::fetch_retained(session& s, std::string filter, mqtt::qos granted) {
    rt::reactor::local().spawn([](router* self, std::string id, std::uint64_t expected,
                                  std::string f, mqtt::qos g) -> rt::task<void> {
        const bool exact = !mqtt::has_wildcard(f);
        std::vector<pending_retained> found;
        for (rt::shard_id shard = 0; shard < self->_shards; ++shard) {
            if (exact &&
                shard != owner_of(partition_of(f, self->_config.partitions), self->_shards)) {
                continue;
            }
            auto ask = [f, exact] { return router::local().retained_matching(f, exact); };
            std::vector<pending_retained> part =
                co_await rt::engine::local().submit_to(shard, std::move(ask));
            std::move(part.begin(), part.end(), std::back_inserter(found));
        }
        auto it = self->_sessions.find(id);
        if (found.empty() || it == self->_sessions.end() || (*it)->generation() != expected) {
            co_return;
        }
        session& sess = **it;
        for (pending_retained& r : found) {
            r.qos = std::min(static_cast<mqtt::qos>(r.batch->at(r.index).flags.qos), g);
            sess.retained_queue().push_back(std::move(r));
        }
        self->catch_up(sess);
    }(this, s.client_id(), s.generation(), std::move(filter), granted));
}

} // namespace zama::router
