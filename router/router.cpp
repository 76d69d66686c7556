// The router's publishing side: appends travel to the partition's owner in
// one message per owner per loop turn; the owner seals one batch per
// partition per turn, fans it out and acknowledges.

#include "router/router.hpp"

#include "base/clock.hpp"
#include "base/log.hpp"
#include "base/vassert.hpp"
#include "commitlog/data_dir.hpp"
#include "commitlog/journal_replay.hpp"
#include "mqtt/frame.hpp"
#include "router/partitioner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace zama::router {
namespace {

thread_local router* t_router = nullptr;

// An append request in a publisher shard's per-owner buffer:
//   u32 partition | u8 flags (qos | retain << 2) | u64 link key | u64 ticket
//   | u16 topic length | topic | u32 payload length | payload
// (host byte order: it never leaves the process).
constexpr std::size_t request_header = 4 + 1 + 8 + 8 + 2;

template <typename T>
void put(std::vector<std::uint8_t>& out, T v) {
    const std::size_t at = out.size();
    out.resize(at + sizeof v);
    std::memcpy(out.data() + at, &v, sizeof v);
}

template <typename T>
T take(const std::uint8_t*& p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
}

// Retention runs at most this often per shard, when something is appended.
constexpr std::chrono::seconds retention_check{60};

// Every record gets the fixed header of a live QoS 0 delivery (no DUP, no
// RETAIN, MQTT-3.3.1-9): its packet is then shared as it is.
void set_delivery_headers(commitlog::record_batch& b) {
    for (std::size_t i = 0; i < b.size(); ++i) {
        const commitlog::record& r = b.at(i);
        const std::size_t remaining =
            mqtt::publish_remaining_length(r.topic_size, r.payload_size, mqtt::qos::at_most_once);
        std::uint8_t header[5];
        const std::size_t n = mqtt::write_fixed_header(
            mqtt::publish_first_byte(mqtt::qos::at_most_once, false, false),
            static_cast<std::uint32_t>(remaining), header);
        b.set_header(i, {header, n});
    }
}

} // namespace

router::router(router_config config, rt::shard_id self, unsigned shards)
    : _config(config)
    , _reads(config.catchup_read_bytes)
    , _self(self)
    , _shards(shards) {
    ZAMA_ASSERT(shards >= 1 && shards <= 64, "1 to 64 shards");
    _owned.resize(_config.partitions);
    for (std::uint32_t p = 0; p < _config.partitions; ++p) {
        if (owner_of(commitlog::partition_id{p}, shards) == self) {
            auto& op = _owned[p];
            op = std::make_unique<owned_partition>(commitlog::partition_id{p});
            op->acks.resize(shards);
            if (_config.data_dir.empty()) {
                op->log = std::make_unique<commitlog::partition_log>(
                    op->id,
                    commitlog::partition_log_options{.memory_bytes = _config.partition_log_bytes},
                    log_events(*op));
            }
        }
    }
    _tails.resize(_config.partitions);
    _outgoing.resize(shards);
    _pending_bytes.assign(shards, 0);
}

router::~router() {
    _reads.drop_waiters(); // their coroutines went with the reactor
}

rt::task<result<void, std::string>> router::open_logs(rt::file_system& fs) {
    if (_config.data_dir.empty()) {
        co_return result<void, std::string>{};
    }
    const commitlog::partition_log_options options{.memory_bytes = _config.partition_log_bytes,
                                                   .fsync = _config.fsync};
    commitlog::disk_log_options disk_options = _config.disk;
    disk_options.sync_on_roll = _config.fsync.mode != commitlog::fsync_mode::never;
    if (_config.uses_journal()) {
        // Opened before any partition writes (it anchors the checkpoints'
        // syncfs). start-up replayed it already (journal_replay.hpp).
        std::string dir = commitlog::journal_directory(_config.data_dir);
        auto made = co_await fs.make_directory(dir);
        if (!made && made.error() != std::errc::file_exists) {
            co_return fmt::format("{}: {}", dir, std::make_error_code(made.error()).message());
        }
        std::string path = dir + "/" + commitlog::journal_file_name(_self);
        std::string open_path = path;
        auto j = co_await commitlog::journal::open(fs, std::move(open_path));
        if (!j) {
            co_return fmt::format("{}: {}", path, std::make_error_code(j.error()).message());
        }
        _journal = std::move(*j);
        disk_options.shard_journal = _journal.get();
    } else if (_config.group_sync && _config.fsync.mode == commitlog::fsync_mode::always) {
        // Only where acknowledgements wait for syncs: with an interval, a
        // partition whose sync waited for a round covering every other
        // partition's data would hold its writes (and acks) back that long.
        // The group's anchors: two opens of `meta` (two rounds at once),
        // before any write the group covers. (A named path: g++ 12 destroys
        // a non-trivial temporary made inside a co_await expression twice.)
        std::string meta = _config.data_dir + "/meta";
        std::vector<std::unique_ptr<rt::file>> anchors;
        for (int i = 0; i < 2; ++i) {
            auto anchor = co_await fs.open(meta, rt::open_options{});
            if (!anchor) {
                co_return fmt::format("{}: {}", meta,
                                      std::make_error_code(anchor.error()).message());
            }
            anchors.push_back(std::move(*anchor));
        }
        _sync_group = std::make_unique<commitlog::sync_group>(std::move(anchors));
        disk_options.group = _sync_group.get();
    }
    const auto began = std::chrono::steady_clock::now();
    std::size_t partitions = 0;
    std::uint64_t messages = 0;
    std::uint64_t bytes = 0;
    for (auto& op : _owned) {
        if (!op) {
            continue;
        }
        auto opened = co_await commitlog::partition_log::open(
            fs, commitlog::partition_directory(_config.data_dir, op->id), op->id, disk_options,
            options, log_events(*op));
        if (!opened) {
            co_return fmt::format("partition {} in {}: {}", op->id.value(), _config.data_dir,
                                  std::make_error_code(opened.error()).message());
        }
        op->log = std::move(*opened);
        const std::string dir = commitlog::partition_directory(_config.data_dir, op->id);
        // Arguments are moved from locals: g++ 12 destroys a non-trivial
        // temporary made inside a co_await expression twice.
        std::string retained_dir = dir;
        std::string retained_name = "retained.kv";
        auto retained =
            co_await commitlog::kv_log::open(fs, std::move(retained_dir), std::move(retained_name));
        std::string sessions_dir = dir;
        std::string sessions_name = "sessions.kv";
        auto sessions =
            co_await commitlog::kv_log::open(fs, std::move(sessions_dir), std::move(sessions_name));
        if (!retained || !sessions) {
            co_return fmt::format(
                "partition {} in {}: its {} store: {}", op->id.value(), _config.data_dir,
                !retained ? "retained" : "session",
                std::make_error_code(!retained ? retained.error() : sessions.error()).message());
        }
        op->retained = std::move(*retained);
        op->sessions = std::move(*sessions);
        const commitlog::disk_log& disk = *op->log->disk();
        ++partitions;
        messages += disk.end() - disk.start();
        bytes += disk.size_bytes();
    }
    zama::log::info("shard {}: opened {} partitions in {}: {} messages, {} bytes, in {} ms", _self,
                    partitions, _config.data_dir, messages, bytes,
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - began)
                        .count());
    _persistent = true;
    _commit_loop_running = true;
    rt::reactor::local().spawn(commit_loop());
    co_return result<void, std::string>{};
}

rt::task<void> router::close_logs() {
    _closing_logs = true;
    struct wait_commit_loop {
        router* r;
        bool await_ready() const noexcept { return !r->_commit_loop_running; }
        void await_suspend(std::coroutine_handle<> h) noexcept { r->_commit_loop_done = h; }
        void await_resume() const noexcept {}
    };
    co_await wait_commit_loop{this};
    for (auto& op : _owned) {
        if (!op) {
            continue;
        }
        // On a failed open, the stores of the failing partition may be missing.
        if (op->log) {
            co_await op->log->close();
        }
        if (op->retained) {
            co_await op->retained->close();
        }
        if (op->sessions) {
            co_await op->sessions->close();
        }
    }
    if (_sync_group) {
        co_await _sync_group->close();
    }
    if (_journal) {
        auto closed = co_await _journal->close();
        if (!closed) {
            zama::log::error("shard {}: closing the journal: {}", _self,
                             std::make_error_code(closed.error()).message());
        }
    }
}

commitlog::partition_log_events router::log_events(owned_partition& op) {
    owned_partition* p = &op;
    return {
        .progress = [this, p](commitlog::offset covered,
                              std::size_t written) { logged(*p, covered, written); },
        .failed = [this, p](std::errc) { log_failed(*p); },
    };
}

router& router::local() noexcept {
    ZAMA_ASSERT(t_router != nullptr, "no router on this thread");
    return *t_router;
}

void router::set_local(router* r) noexcept {
    t_router = r;
}

router::owned_partition& router::owned(commitlog::partition_id p) {
    ZAMA_ASSERT(_owned[p.value()] != nullptr, "partition not owned by this shard");
    return *_owned[p.value()];
}

// A link gets its key with its first QoS 1 or 2 PUBLISH: idle clients and
// QoS 0 publishers hold no entry in either table.
std::uint64_t router::link_key(client_link* link) {
    auto [it, inserted] = _link_keys.try_emplace(link, _next_link_key);
    if (inserted) {
        _links.emplace(_next_link_key++, link);
    }
    return it->second;
}

void router::publish(const mqtt::publish& p, client_link* link, std::uint64_t ticket) {
    ++_stats.messages_received;
    _stats.bytes_received += p.payload.size();
    const commitlog::partition_id partition = partition_of(p.topic, _config.partitions);
    const rt::shard_id owner = owner_of(partition, _shards);
    const commitlog::record_flags flags{static_cast<std::uint8_t>(p.qos), p.retain};
    const std::uint64_t key =
        p.qos != mqtt::qos::at_most_once && link != nullptr ? link_key(link) : 0;
    if (owner == _self) {
        append_local(partition, p.topic, p.payload, flags, _self, key, ticket);
        return;
    }
    std::vector<std::uint8_t>& out = _outgoing[owner];
    out.reserve(out.size() + request_header + p.topic.size() + 4 + p.payload.size());
    put<std::uint32_t>(out, partition.value());
    put<std::uint8_t>(out, static_cast<std::uint8_t>(flags.qos | (flags.retain ? 4 : 0)));
    put<std::uint64_t>(out, key);
    put<std::uint64_t>(out, ticket);
    put<std::uint16_t>(out, static_cast<std::uint16_t>(p.topic.size()));
    out.insert(out.end(), p.topic.begin(), p.topic.end());
    put<std::uint32_t>(out, static_cast<std::uint32_t>(p.payload.size()));
    out.insert(out.end(), p.payload.begin(), p.payload.end());
    if (!_hooked) {
        _hooked = true;
        rt::reactor::local().defer_to_end_of_turn(*this);
    }
}

bool router::disk_behind() const noexcept {
    return _disk_backlog > _config.max_pending_append_bytes;
}

bool router::publish_blocked() const noexcept {
    if (disk_behind()) {
        return true;
    }
    for (rt::shard_id o = 0; o < _shards; ++o) {
        if (_pending_bytes[o] + _outgoing[o].size() > _config.max_pending_append_bytes) {
            return true;
        }
    }
    return false;
}

void router::apply_appends(rt::shard_id from, std::vector<std::uint8_t> requests) {
    const std::uint8_t* p = requests.data();
    const std::uint8_t* end = p + requests.size();
    while (p < end) {
        const auto partition = take<std::uint32_t>(p);
        const auto bits = take<std::uint8_t>(p);
        const auto key = take<std::uint64_t>(p);
        const auto ticket = take<std::uint64_t>(p);
        const auto topic_size = take<std::uint16_t>(p);
        const std::string_view topic(reinterpret_cast<const char*>(p), topic_size);
        p += topic_size;
        const auto payload_size = take<std::uint32_t>(p);
        const std::span<const std::uint8_t> payload(p, payload_size);
        p += payload_size;
        append_local(commitlog::partition_id{partition}, topic, payload,
                     {static_cast<std::uint8_t>(bits & 3), (bits & 4) != 0}, from, key, ticket);
    }
    const std::size_t bytes = requests.size();
    if (disk_behind()) {
        _deferred_done.emplace_back(from, bytes); // the publishers wait for the disk
        return;
    }
    rt::engine::local().post(
        from, [owner = _self, bytes] { router::local().appends_done(owner, bytes); });
}

void router::appends_done(rt::shard_id owner, std::size_t bytes) {
    _pending_bytes[owner] -= bytes;
    if (!publish_blocked()) {
        for (auto h : _room_waiters) {
            rt::reactor::local().schedule(h);
        }
        _room_waiters.clear();
    }
}

void router::append_local(commitlog::partition_id p, std::string_view topic,
                          std::span<const std::uint8_t> payload, commitlog::record_flags flags,
                          rt::shard_id origin, std::uint64_t key, std::uint64_t ticket) {
    owned_partition& op = owned(p);
    if (!op.log->accepting()) {
        // The partition's disk refuses writes: nothing is stored or acked.
        ++_stats.refused;
        if (key != 0) {
            std::vector<ack_list> refused(_shards);
            refused[origin].emplace_back(key, ticket);
            send_acks(refused, false);
        }
        return;
    }
    if (!op.open) {
        op.open = op.log->open_batch();
        _open.push_back(&op);
        if (!_hooked) {
            _hooked = true;
            rt::reactor::local().defer_to_end_of_turn(*this);
        }
    }
    const commitlog::offset at = op.open->append(topic, payload, flags);
    if (flags.retain) {
        // A retained message replaces the topic's; an empty one deletes it
        // (MQTT-3.3.1-10, -11) but is still delivered as usual.
        topic_entry& e = this->topic(op, topic);
        if (e.retained) {
            --_stats.retained;
        }
        store_retained(op, topic, payload, flags.qos);
        if (payload.empty()) {
            e.retained = {};
        } else {
            e.retained = op.open;
            e.retained_index = static_cast<std::uint32_t>(at - op.open->base());
            ++_stats.retained;
        }
    }
    if (key != 0) {
        op.acks[origin].emplace_back(key, ticket);
    }
}

void router::end_of_turn() noexcept {
    _hooked = false;
    for (rt::shard_id owner = 0; owner < _shards; ++owner) {
        if (_outgoing[owner].empty()) {
            continue;
        }
        _pending_bytes[owner] += _outgoing[owner].size();
        rt::engine::local().post(owner,
                                 [from = _self, requests = std::move(_outgoing[owner])]() mutable {
                                     router::local().apply_appends(from, std::move(requests));
                                 });
        _outgoing[owner] = {};
    }
    // Appends that arrived from other shards in this turn were made after
    // the loop polled its channels, so sealing here covers them too.
    std::vector<owned_partition*> open;
    open.swap(_open);
    for (owned_partition* op : open) {
        seal(*op);
    }
}

void router::seal(owned_partition& op) {
    commitlog::batch_ptr b = std::move(op.open);
    op.open = {};
    b->set_timestamp(wall_clock_ms());
    set_delivery_headers(*b);
    std::uint64_t shards = 0;
    for (std::size_t i = 0; i < b->size(); ++i) {
        shards |= interested_shards(op, b->topic(b->at(i)));
    }
    op.log->append(b);
    if (op.log->disk() != nullptr) {
        _disk_backlog += b->bytes_size();
        const rt::time_point now = rt::reactor::local().now();
        if (now >= _next_retention) {
            _next_retention = now + retention_check;
            for (auto& other : _owned) {
                if (other) {
                    other->log->request_retention();
                }
            }
        }
    }
    for (rt::shard_id s = 0; s < _shards; ++s) {
        if ((shards & (std::uint64_t{1} << s)) == 0) {
            continue;
        }
        if (s == _self) {
            on_batch(b);
        } else {
            rt::engine::local().post(s, [b] { router::local().on_batch(b); });
        }
    }
    // Acks go once the log covers the batch (at once in memory; after the
    // write or the sync on disk, per the fsync policy).
    const bool any_ack =
        std::any_of(op.acks.begin(), op.acks.end(), [](const ack_list& l) { return !l.empty(); });
    if (!any_ack) {
        return;
    }
    if (op.waiting.empty() && op.log->covered_end() >= b->end()) {
        send_acks(op.acks, true);
        return;
    }
    op.waiting.push_back({b->end(), std::move(op.acks)});
    op.acks.assign(_shards, {});
}

void router::logged(owned_partition& op, commitlog::offset covered, std::size_t written) {
    while (!op.waiting.empty() && op.waiting.front().end <= covered) {
        send_acks(op.waiting.front().per_origin, true);
        op.waiting.pop_front();
    }
    _disk_backlog -= written;
    if (disk_behind()) {
        return;
    }
    for (const auto& [from, bytes] : _deferred_done) {
        if (from == _self) {
            appends_done(from, bytes);
        } else {
            rt::engine::local().post(
                from, [owner = _self, n = bytes] { router::local().appends_done(owner, n); });
        }
    }
    _deferred_done.clear();
    if (!publish_blocked()) {
        for (auto h : _room_waiters) {
            rt::reactor::local().schedule(h);
        }
        _room_waiters.clear();
    }
}

// The partition's disk refused a write or a sync: publishers waiting for
// acks of its unwritten messages are told (and disconnected); it refuses
// new messages until it can write again.
void router::log_failed(owned_partition& op) {
    for (auto& w : op.waiting) {
        send_acks(w.per_origin, false);
    }
    op.waiting.clear();
}

void router::send_acks(std::vector<ack_list>& per_origin, bool stored) {
    for (rt::shard_id origin = 0; origin < _shards; ++origin) {
        ack_list& acks = per_origin[origin];
        if (acks.empty()) {
            continue;
        }
        if (origin == _self) {
            apply_acks(std::move(acks), stored);
        } else {
            rt::engine::local().post(origin, [list = std::move(acks), stored]() mutable {
                router::local().apply_acks(std::move(list), stored);
            });
        }
        acks = {};
    }
}

void router::apply_acks(std::vector<std::pair<std::uint64_t, std::uint64_t>> acks, bool stored) {
    for (const auto& [key, ticket] : acks) {
        if (auto it = _links.find(key); it != _links.end()) {
            if (stored) {
                it->second->publish_stored(ticket);
            } else {
                it->second->publish_refused(ticket);
            }
        }
    }
}

router::topic_entry& router::topic(owned_partition& op, std::string_view name) {
    if (auto it = op.topics.find(name); it != op.topics.end()) {
        return it->second;
    }
    if (op.topics.size() >= _config.topic_cache_entries) {
        trim_topics(op);
    }
    return op.topics[std::string(name)];
}

// Topics held only as a cache of wildcard matching are dropped when the
// table is full; those with subscribers or a retained message stay.
void router::trim_topics(owned_partition& op) {
    absl::erase_if(op.topics,
                   [](const auto& kv) { return kv.second.exact == 0 && !kv.second.retained; });
}

std::uint64_t router::interested_shards(owned_partition& op, std::string_view name) {
    topic_entry& e = topic(op, name);
    if (e.wildcard_epoch != _wildcard_epoch) {
        std::uint64_t mask = 0;
        _wildcards.match(name, [&mask](std::uint64_t& shards) { mask |= shards; });
        e.wildcard = mask;
        e.wildcard_epoch = _wildcard_epoch;
    }
    return e.exact | e.wildcard;
}

rt::task<router::log_read> router::read_log(std::uint32_t partition, commitlog::offset from) {
    owned_partition& op = owned(commitlog::partition_id{partition});
    auto got = co_await op.log->read(from, fetch_bytes);
    log_read out{op.log->start(), op.log->end(), {}, false};
    if (!got) {
        zama::log::error("partition {}: reading from offset {} failed: {}", partition, from,
                         std::make_error_code(got.error()).message());
        out.failed = true;
        co_return out;
    }
    if (got->from_disk) {
        for (const commitlog::batch_ptr& b : got->batches) {
            set_delivery_headers(*b);
        }
    }
    out.batches = std::move(got->batches);
    co_return out;
}

router_stats router::stats() const {
    router_stats s = _stats;
    s.sessions = _sessions.size();
    return s;
}

} // namespace zama::router
