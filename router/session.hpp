#pragma once

#include "base/deque.hpp"
#include "commitlog/record_batch.hpp"
#include "mqtt/packet.hpp"
#include "router/inflight_window.hpp"
#include "router/packet_id_set.hpp"
#include "router/read_budget.hpp"
#include "runtime/keepalive.hpp"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace zama::router {

/// What a session needs from the connection it is attached to: a way to
/// send bytes, and to be told about its client's publishes and takeover.
/// Implemented by the broker's connection; the router knows no sockets.
class client_link {
  public:
    virtual ~client_link() = default;

    /// Bytes queued for the client and not yet written.
    virtual std::size_t queued_bytes() const noexcept = 0;
    virtual void write_copy(std::span<const std::uint8_t> bytes) = 0;
    virtual void write_ref(std::span<const std::uint8_t> bytes, rt::keepalive keep) = 0;

    /// The client's QoS 1/2 PUBLISH with this ticket is stored: its PUBACK
    /// or PUBREC may go (the link keeps them in receive order).
    virtual void publish_stored(std::uint64_t ticket) = 0;
    /// The client's QoS 1/2 PUBLISH with this ticket cannot be stored (the
    /// partition's disk refuses writes): close without acknowledging it, so
    /// the client sends it again elsewhere or later.
    virtual void publish_refused(std::uint64_t ticket) = 0;
    /// Another connection took this client id: close (an abnormal close,
    /// so the will is published).
    virtual void taken_over() = 0;
};

struct subscription {
    std::string filter;
    mqtt::qos qos = mqtt::qos::at_most_once;
};

/// A retained message found on subscribe, waiting for room in the window.
struct pending_retained {
    commitlog::batch_ptr batch;
    std::uint32_t index = 0;
    mqtt::qos qos = mqtt::qos::at_most_once; // min(published, granted)
};

/// Batches read from a partition's owner for catching up, and the share of
/// the shard's read budget they hold until delivered or dropped.
struct fetched_read {
    std::vector<commitlog::batch_ptr> batches;
    read_budget::grant grant;
};

/// Per-partition bookkeeping of a session delivering from its cursors
/// rather than live: made the first time the session lags, so that the
/// many sessions that never do (idle clients) hold none of it.
struct catch_up_state {
    /// Partitions where delivery stopped at the window or queue bound and
    /// must continue from the cursor.
    absl::flat_hash_set<std::uint32_t> lagging;
    /// Batches fetched from a partition's owner for catching up.
    absl::flat_hash_map<std::uint32_t, fetched_read> fetched;
    absl::flat_hash_set<std::uint32_t> fetching;
    /// Per partition: the owner's log end when the session last read up to
    /// it. From there on, this shard's batches have every relevant record.
    absl::flat_hash_map<std::uint32_t, commitlog::offset> synced;
};

/// A session's state without its attachments: what moves between shards
/// when a client reconnects elsewhere, and what the commit log persists.
/// Batches are shared by reference, never copied.
struct session_state {
    std::string client_id;
    std::vector<subscription> subscriptions;
    /// Per partition: the next offset to deliver. A session holds cursors,
    /// not messages: what it has not received is still in the log.
    absl::flat_hash_map<std::uint32_t, commitlog::offset> cursors;
    inflight_window outbound;      // in send order
    packet_id_set awaiting_pubrel; // inbound QoS 2 ids stored, PUBREL pending
    std::uint16_t next_id = 1;
    bool clean = true;
};

/// A session on its home shard: its state, the connection it is attached
/// to (if any), and delivery bookkeeping.
///
/// Owned by the router of the shard where its client last connected;
/// single-threaded.
class session {
  public:
    session(session_state s, std::uint64_t generation) noexcept
        : _state(std::move(s))
        , _generation(generation) {}

    /// Unique per router: tells a session from a later one of the same
    /// client (replies to async requests check it).
    std::uint64_t generation() const noexcept { return _generation; }

    const std::string& client_id() const noexcept { return _state.client_id; }
    bool clean() const noexcept { return _state.clean; }
    session_state& state() noexcept { return _state; }

    client_link* link() const noexcept { return _link; }
    bool online() const noexcept { return _link != nullptr; }
    void attach(client_link* l) noexcept { _link = l; }
    void detach() noexcept { _link = nullptr; }

    /// The highest QoS among this session's filters matching `topic`, if any.
    std::optional<mqtt::qos> granted(std::string_view topic) const noexcept;

    /// A free outbound packet id.
    mqtt::packet_id next_packet_id() noexcept;

    /// The catch-up bookkeeping, or null if the session never lagged.
    catch_up_state* catching_up() noexcept { return _catch_up.get(); }
    /// The catch-up bookkeeping, made if need be.
    catch_up_state& catch_up_bookkeeping() {
        if (!_catch_up) {
            _catch_up = std::make_unique<catch_up_state>();
        }
        return *_catch_up;
    }
    bool lagging(std::uint32_t partition) const noexcept {
        return _catch_up && _catch_up->lagging.contains(partition);
    }
    void lag(std::uint32_t partition) { catch_up_bookkeeping().lagging.insert(partition); }
    /// Detached: nothing is being caught up any more (reads in flight are
    /// dropped when they come back). What was synced with owners stays.
    void stop_catching_up() noexcept {
        if (_catch_up) {
            _catch_up->lagging.clear();
            _catch_up->fetched.clear();
            _catch_up->fetching.clear();
            if (_catch_up->synced.empty()) {
                _catch_up.reset();
            }
        }
        _retained.clear();
    }

    zama::deque<pending_retained>& retained_queue() noexcept { return _retained; }

    /// Set while the client reconnects and its offline backlog is replayed.
    bool replaying_offline() const noexcept { return _offline_replay; }
    void set_replaying_offline(bool v) noexcept { _offline_replay = v; }

    // Members are ordered so a session fits the 256-byte allocation class:
    // every idle client has one.
    std::uint64_t dropped = 0; // QoS 0 messages dropped at the queue bound
    std::uint64_t lost = 0;    // messages gone from the log before delivery
    /// The router's on_batch scratch: which of its per-session record lists
    /// is this session's while a batch is fanned out.
    static constexpr std::uint32_t no_batch_slot = ~std::uint32_t{0};
    std::uint32_t batch_slot = no_batch_slot;
    bool dirty = false; // changed since last stored (persistent sessions)

  private:
    bool _offline_replay = false;
    session_state _state;
    std::uint64_t _generation;
    client_link* _link = nullptr;
    std::unique_ptr<catch_up_state> _catch_up;
    zama::deque<pending_retained> _retained;
};

} // namespace zama::router
