#include "router/session.hpp"

#include "mqtt/topic.hpp"

namespace zama::router {

std::optional<mqtt::qos> session::granted(std::string_view topic) const noexcept {
    std::optional<mqtt::qos> best;
    for (const subscription& s : _state.subscriptions) {
        if (mqtt::topic_matches(s.filter, topic) && (!best || s.qos > *best)) {
            best = s.qos;
        }
    }
    return best;
}

mqtt::packet_id session::next_packet_id() noexcept {
    // Skip ids still in flight (at most max_inflight of them).
    for (;;) {
        const std::uint16_t id = _state.next_id;
        _state.next_id = id == 65535 ? 1 : static_cast<std::uint16_t>(id + 1);
        if (!_state.outbound.holds(id)) {
            return mqtt::packet_id{id};
        }
    }
}

} // namespace zama::router
