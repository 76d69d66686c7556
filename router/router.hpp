#pragma once

#include "base/deque.hpp"
#include "base/string_map.hpp"
#include "commitlog/kv_log.hpp"
#include "commitlog/partition_log.hpp"
#include "mqtt/packet.hpp"
#include "router/filter_trie.hpp"
#include "router/session.hpp"
#include "runtime/engine.hpp"
#include "runtime/reactor.hpp"

#include <absl/container/flat_hash_map.h>
#include <absl/container/node_hash_map.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace zama::router {

struct router_config {
    std::uint32_t partitions = 64;
    std::string data_dir;          // empty: partition logs in memory only
    commitlog::fsync_policy fsync; // with a data_dir
    bool group_sync = true; // fsync always: one syncfs per shard round, not fdatasync per file
    bool journal = false;   // fsync always: one journal write per shard round (before group_sync)
    commitlog::disk_log_options disk;           // with a data_dir
    std::size_t partition_log_bytes = 1u << 20; // in-memory tail of each partition
    std::size_t shard_tail_bytes = 64u << 20;   // batches a subscriber shard keeps, all partitions
    std::size_t max_inflight_messages = 20;     // outbound QoS 1/2 per client
    std::size_t max_queued_bytes = 1u << 20;    // per client send backlog
    bool queue_qos0_messages = false;           // QoS 0 to offline persistent sessions
    std::size_t max_subscriptions_per_client = 10'000; // at most 65535 (the session record's u16)
    std::size_t max_pending_append_bytes = 8u << 20;   // per owner shard, before publishers wait
    std::size_t topic_cache_entries = 1u << 16; // per shard, topics without interest or retain
    std::size_t catchup_read_bytes = 32u << 20; // per shard: read from logs, not yet delivered

    /// Whether each shard writes a journal (journal.hpp).
    bool uses_journal() const noexcept {
        return journal && fsync.mode == commitlog::fsync_mode::always;
    }
};

struct router_stats {
    std::uint64_t messages_received = 0; // PUBLISH accepted from clients (and wills)
    std::uint64_t messages_sent = 0;     // PUBLISH written to clients
    std::uint64_t bytes_received = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t dropped = 0;  // QoS 0 dropped at a client's queue bound
    std::uint64_t refused = 0;  // messages refused by a partition that cannot write
    std::uint64_t lost = 0;     // messages gone from a log before delivery
    std::uint64_t retained = 0; // retained messages held by this shard's partitions
    std::uint64_t clients_connected = 0;
    std::uint64_t sessions = 0; // sessions homed here, online or not
    std::uint64_t subscriptions = 0;
};

/// What attach() found for a CONNECT.
struct attach_result {
    session* s = nullptr;
    bool session_present = false;
};

/// The router of one shard: MQTT routing semantics, no sockets.
///
/// - As the owner of partitions p with p % shards == this shard, it appends
///   accepted PUBLISHes to their logs (one batch per partition per loop
///   turn), keeps their retained messages and their topics' interest (which
///   shards subscribe), and fans each sealed batch out to the interested
///   shards as a shared pointer.
/// - As a subscriber shard, it holds the sessions homed here, their
///   subscriptions, and the recent batches of each partition it received;
///   sessions are cursors into them.
/// - As the registry shard for client ids hashing here, it knows where each
///   client's session lives and serialises takeovers.
///
/// One per shard, created and used on that shard's thread (local()); other
/// shards reach it only through engine messages.
class router final : public rt::turn_hook {
  public:
    router(router_config config, rt::shard_id self, unsigned shards);
    router(const router&) = delete;
    router& operator=(const router&) = delete;
    ~router() override;

    /// Opens this shard's partition logs in config.data_dir (recovering
    /// them); with no data_dir they are in memory and this does nothing.
    /// Every shard's logs must be open before any publish. The error names
    /// the partition and the reason.
    rt::task<result<void, std::string>> open_logs(rt::file_system& fs);
    /// After every shard's open_logs(): installs the persistent sessions
    /// (offline) and the retained messages stored in this shard's partitions.
    void restore();
    /// Shutdown, after the last connection, on every shard before any
    /// close_logs(): stores every changed persistent session of this shard
    /// with its registry shard, and returns once they have taken them.
    rt::task<void> store_sessions();
    /// Syncs and closes the partition logs and stores (after store_sessions()
    /// on every shard).
    rt::task<void> close_logs();

    /// The router of the calling shard.
    static router& local() noexcept;
    static void set_local(router* r) noexcept;

    rt::shard_id self() const noexcept { return _self; }
    unsigned shards() const noexcept { return _shards; }

    // --- Connections (publisher and subscriber side) ---------------------------

    /// CONNECT: claims the client id (taking over any other connection with
    /// it, on any shard) and returns the session, resumed or new.
    rt::task<attach_result> attach(std::string client_id, bool clean, client_link* link);
    /// The connection is gone. A clean session ends; a persistent one stays
    /// here offline, keeping its subscriptions and cursors.
    void detach(session& s) noexcept;

    /// A client's PUBLISH (or a will). For QoS 1/2 the link's
    /// publish_stored(ticket) is called once the message is stored.
    void publish(const mqtt::publish& p, client_link* link, std::uint64_t ticket);
    /// True while this shard has too much sent to one partition owner that
    /// is not yet appended: publishers should stop reading until room().
    bool publish_blocked() const noexcept;
    /// co_await room(): resumes once publish_blocked() is false.
    auto room() noexcept;

    /// SUBSCRIBE: returns the SUBACK codes; retained messages follow.
    std::vector<std::uint8_t> subscribe(session& s, const mqtt::subscription_list& list);
    /// After subscribe() of a persistent session, before its SUBACK: gives
    /// it a cursor at the current end of each partition its filters can
    /// match where it has none (so what is published from now on waits for
    /// it even across a restart) and stores the session durably.
    rt::task<void> anchor(session& s);
    /// Stores a persistent session durably now (at once true for a clean
    /// one, or without a data_dir); false if its store cannot write.
    /// Reads `s` only before it suspends.
    rt::task<bool> store_now(session& s);
    /// The session's durable state changed (acks, QoS 2 ids): it is stored
    /// again within a second (persistent sessions only).
    void changed(session& s);
    void unsubscribe(session& s, const mqtt::filter_list& list);

    // Acknowledgements of outbound messages from the client.
    void puback(session& s, mqtt::packet_id id);
    /// PUBREC: returns true if the id was in flight (send PUBREL then).
    bool pubrec(session& s, mqtt::packet_id id);
    void pubcomp(session& s, mqtt::packet_id id);
    /// The link's queue drained: deliver what waits.
    void writable(session& s);

    router_stats stats() const;
    router_stats& counters() noexcept { return _stats; }

    // --- Cross-shard entry points (run on this shard by engine messages) -------

    void apply_appends(rt::shard_id from, std::vector<std::uint8_t> requests);
    void appends_done(rt::shard_id owner, std::size_t bytes);
    /// The owner stored (or, with `stored` false, refused) these publishes.
    void apply_acks(std::vector<std::pair<std::uint64_t, std::uint64_t>> acks, bool stored);
    void on_batch(commitlog::batch_ptr batch);
    void interest(std::string topic, rt::shard_id shard, bool add);
    void wildcard_interest(std::string filter, rt::shard_id shard, bool add);
    std::vector<pending_retained> retained_matching(std::string filter, bool exact);
    struct log_read {
        commitlog::offset start = 0; // the log's first offset
        commitlog::offset end = 0;   // one past its last
        std::vector<commitlog::batch_ptr> batches;
        bool failed = false; // the disk read failed (logged): try again later
    };
    rt::task<log_read> read_log(std::uint32_t partition, commitlog::offset from);
    rt::task<std::optional<session_state>> claim(std::string client_id, rt::shard_id to,
                                                 bool clean);
    // Registry side of the session store.
    void store_session(const std::string& client_id, std::vector<std::uint8_t> bytes);
    rt::task<bool> store_session_durably(std::string client_id, std::vector<std::uint8_t> bytes);
    std::vector<commitlog::offset> log_ends(const std::vector<std::uint32_t>& partitions);
    void claim_done(const std::string& client_id);
    void forget(const std::string& client_id, rt::shard_id from);
    std::optional<session_state> release_session(const std::string& client_id, bool keep);
    /// After CONNACK: resend what was in flight (DUP), then the backlog.
    void resume(session& s);

    void end_of_turn() noexcept override;

  private:
    // A lagging session's fetch from a partition's owner reads this much at
    // a time (at least one batch).
    static constexpr std::size_t fetch_bytes = 256u << 10;

    // Owner side: one partition.
    struct topic_entry {
        std::uint64_t exact = 0;    // shards with an exact subscription to the topic
        std::uint64_t wildcard = 0; // shards with a matching wildcard filter (cached)
        std::uint64_t wildcard_epoch = 0;
        commitlog::batch_ptr retained; // with retained_index: the retained message
        std::uint32_t retained_index = 0;
    };
    using ack_list = std::vector<std::pair<std::uint64_t, std::uint64_t>>; // (link key, ticket)
    struct owned_partition {
        explicit owned_partition(commitlog::partition_id p)
            : id(p) {}
        commitlog::partition_id id;
        std::unique_ptr<commitlog::partition_log> log;
        std::unique_ptr<commitlog::kv_log> retained; // topic -> qos, payload (on disk only)
        std::unique_ptr<commitlog::kv_log> sessions; // client id -> session_record (on disk only)
        commitlog::batch_ptr open;                   // this turn's batch
        string_map<topic_entry> topics;
        std::vector<ack_list> acks; // this turn's, per origin shard
        // Acks of sealed batches, waiting for the log's covered_end() to
        // pass `end` (the fsync policy).
        struct waiting_acks {
            commitlog::offset end;
            std::vector<ack_list> per_origin;
        };
        std::deque<waiting_acks> waiting;
    };
    // Subscriber side: the batches of one partition this shard received.
    struct shard_tail {
        std::deque<commitlog::batch_ptr> batches;
        std::deque<std::uint64_t> arrivals; // each batch's arrival number
        std::size_t bytes = 0;
        // Every batch relevant to this shard from here on is in `batches`.
        commitlog::offset complete_from = ~commitlog::offset{0};
        commitlog::offset dropped_end = 0; // one past the newest batch dropped
    };
    struct local_sub {
        session* s;
        mqtt::qos qos;
    };
    // Subscriber side: the sessions of this shard a topic goes to, exact
    // and wildcard filters merged (one entry per session, at its highest
    // granted QoS). Matched once per topic and rebuilt when this shard's
    // subscriptions change (epoch), so a record costs one lookup.
    struct local_topic {
        std::vector<local_sub> subs;
        std::uint64_t epoch = 0;
    };
    static constexpr rt::shard_id no_shard = ~rt::shard_id{0};
    struct registry_entry {
        rt::shard_id shard = no_shard;
        bool busy = false;
        zama::deque<std::coroutine_handle<>> waiting; // allocates only when used
    };

    // Publishing (router.cpp).
    void append_local(commitlog::partition_id p, std::string_view topic,
                      std::span<const std::uint8_t> payload, commitlog::record_flags flags,
                      rt::shard_id origin, std::uint64_t link_key, std::uint64_t ticket);
    void seal(owned_partition& op);
    commitlog::partition_log_events log_events(owned_partition& op);
    void logged(owned_partition& op, commitlog::offset covered, std::size_t written);
    void log_failed(owned_partition& op);
    void send_acks(std::vector<ack_list>& per_origin, bool stored);
    bool disk_behind() const noexcept;
    std::uint64_t interested_shards(owned_partition& op, std::string_view topic);
    topic_entry& topic(owned_partition& op, std::string_view name);
    void trim_topics(owned_partition& op);
    owned_partition& owned(commitlog::partition_id p);

    // Delivery (delivery.cpp).
    const std::vector<local_sub>& local_subscribers(std::string_view topic);
    void offer(session& s, const commitlog::batch_ptr& b,
               const std::vector<std::pair<std::uint32_t, mqtt::qos>>& records);
    bool deliver(session& s, const commitlog::batch_ptr& b, std::uint32_t index, mqtt::qos qos,
                 bool retain);
    void catch_up(session& s);
    bool catch_up_partition(session& s, catch_up_state& c, std::uint32_t p);
    template <typename Batches> // a vector or deque of batch_ptr, in offset order
    bool deliver_from(session& s, std::uint32_t p, const Batches& batches);
    void fetch(session& s, catch_up_state& c, std::uint32_t p, commitlog::offset from);
    void resend_inflight(session& s);
    void drain_retained(session& s);

    // Subscriptions (subscriptions.cpp).
    void add_local(session& s, const std::string& filter, mqtt::qos qos);
    void remove_local(session& s, const std::string& filter);
    void declare(const std::string& filter, bool add);
    void reset_tails(std::string_view filter);
    void fetch_retained(session& s, std::string filter, mqtt::qos granted);

    // Durable sessions and retained messages (durable.cpp).
    void persist(session& s);
    void commit_dirty();
    rt::task<void> commit_loop();
    commitlog::kv_log* session_store(std::string_view client_id);
    void store_retained(owned_partition& op, std::string_view topic,
                        std::span<const std::uint8_t> payload, std::uint8_t qos);
    session* find_session(const std::string& client_id, std::uint64_t generation);

    // Sessions (sessions.cpp).
    session* install(session_state st, client_link* link);
    void drop_session(session& s) noexcept;
    void unindex(session& s) noexcept;
    rt::shard_id registry_shard(std::string_view client_id) const noexcept;

    std::uint64_t link_key(client_link* link);

    router_config _config;
    read_budget _reads; // catch-up reads of this shard's sessions (outlives _sessions)
    rt::shard_id _self;
    unsigned _shards;

    // Owner side.
    std::vector<std::unique_ptr<owned_partition>> _owned; // by partition id (others null)
    std::vector<owned_partition*> _open;                  // partitions with a batch this turn
    filter_trie<std::uint64_t> _wildcards;                // every shard's wildcard filters
    std::uint64_t _wildcard_epoch = 1;

    // Publisher side: appends for other owners, sent at the end of the turn.
    std::vector<std::vector<std::uint8_t>> _outgoing; // per owner shard
    std::vector<std::size_t> _pending_bytes;          // per owner: sent, not yet appended
    std::vector<std::coroutine_handle<>> _room_waiters;
    // Owner side: bytes sealed and not yet written to disk, all partitions;
    // over max_pending_append_bytes, appends_done() replies wait (publishers
    // then stop reading) until the disk catches up.
    bool _persistent = false; // a data_dir: sessions and retained messages are stored
    std::unique_ptr<commitlog::sync_group> _sync_group; // with group_sync
    std::unique_ptr<commitlog::journal> _journal;       // with journal
    std::vector<std::string> _dirty; // persistent sessions changed since their last store
    bool _closing_logs = false;
    bool _commit_loop_running = false;
    std::coroutine_handle<> _commit_loop_done;
    std::size_t _disk_backlog = 0;
    std::vector<std::pair<rt::shard_id, std::size_t>> _deferred_done;
    rt::time_point _next_retention{};
    absl::flat_hash_map<std::uint64_t, client_link*> _links;
    absl::flat_hash_map<client_link*, std::uint64_t> _link_keys;
    std::uint64_t _next_link_key = 1;

    // Subscriber side. Sessions are found by client id, and keyed by their
    // own copy of it: a map keyed by the id would hold a second copy (a heap
    // allocation for ids over 15 bytes) and a 40-byte slot per client.
    struct session_by_id {
        using is_transparent = void;
        static std::string_view id(std::string_view v) noexcept { return v; }
        static std::string_view id(const std::unique_ptr<session>& s) noexcept {
            return s->client_id();
        }
        template <typename K>
        std::size_t operator()(const K& k) const noexcept {
            return string_hash{}(id(k));
        }
        template <typename A, typename B>
        bool operator()(const A& a, const B& b) const noexcept {
            return id(a) == id(b);
        }
    };
    absl::flat_hash_set<std::unique_ptr<session>, session_by_id, session_by_id> _sessions;
    string_map<std::vector<local_sub>> _exact;
    filter_trie<std::vector<local_sub>> _local_wildcards;
    string_node_map<local_topic> _local_topics; // a cache, bounded by topic_cache_entries
    std::uint64_t _local_epoch = 1;             // bumped by every local subscription change
    // on_batch's scratch: the sessions a batch touches, and their records
    // (a pool of lists, by session::batch_slot, that keeps its capacity).
    std::vector<session*> _touched;
    std::vector<std::vector<std::pair<std::uint32_t, mqtt::qos>>> _batch_records;
    std::vector<shard_tail> _tails; // by partition
    std::size_t _tail_bytes = 0;    // all tails together
    std::uint64_t _arrivals = 0;    // numbers batches in arrival order

    // Registry side (node map: entries stay put while a claim awaits).
    string_node_map<registry_entry> _registry;
    std::uint64_t _next_generation = 1;

    router_stats _stats;
    bool _hooked = false;
};

inline auto router::room() noexcept {
    struct awaiter {
        router* r;
        bool await_ready() const noexcept { return !r->publish_blocked(); }
        void await_suspend(std::coroutine_handle<> h) { r->_room_waiters.push_back(h); }
        void await_resume() const noexcept {}
    };
    return awaiter{this};
}

} // namespace zama::router
