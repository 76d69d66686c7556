#pragma once

#include "base/deque.hpp"
#include "commitlog/record_batch.hpp"
#include "mqtt/packet.hpp"
#include "router/packet_id_set.hpp"

#include <cstdint>

namespace zama::router {

/// An outbound QoS 1/2 message not yet fully acknowledged.
struct inflight {
    mqtt::packet_id id;
    mqtt::qos qos = mqtt::qos::at_least_once;
    bool released = false; // QoS 2: PUBREC came, PUBREL sent, waiting for PUBCOMP
    bool retain = false;   // sent as a retained message (on subscribe)
    commitlog::batch_ptr batch;
    std::uint32_t index = 0; // the record in `batch`
};

/// A session's outbound messages in flight, in send order, and the packet
/// ids they hold.
///
/// The id set answers "is this id free?" in O(1): issuing an id with a scan
/// of the window cost O(max_inflight_messages) per message, which dominated
/// delivery with large windows. Acknowledgements usually come in send
/// order, so the entry they name is found at the front.
class inflight_window {
  public:
    using container = zama::deque<inflight>;
    using iterator = container::iterator;
    using const_iterator = container::const_iterator;

    iterator begin() noexcept { return _entries.begin(); }
    iterator end() noexcept { return _entries.end(); }
    const_iterator begin() const noexcept { return _entries.begin(); }
    const_iterator end() const noexcept { return _entries.end(); }
    std::size_t size() const noexcept { return _entries.size(); }
    bool empty() const noexcept { return _entries.empty(); }

    /// Whether a message in flight holds this packet id.
    bool holds(std::uint16_t id) const noexcept { return _ids.contains(id); }

    /// Appends `f`; its id must be free.
    void push_back(inflight f) {
        _ids.insert(f.id.value());
        _entries.push_back(std::move(f));
    }

    /// The entry holding `id`, or end().
    iterator find(mqtt::packet_id id) noexcept {
        if (!holds(id.value())) {
            return end();
        }
        for (auto it = begin(); it != end(); ++it) {
            if (it->id == id) {
                return it;
            }
        }
        return end();
    }

    void erase(iterator it) {
        _ids.erase(it->id.value());
        if (it == _entries.begin()) {
            _entries.pop_front();
        } else {
            _entries.erase(it);
        }
    }

  private:
    container _entries;
    packet_id_set _ids;
};

} // namespace zama::router
