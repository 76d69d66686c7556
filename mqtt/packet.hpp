#pragma once

#include "base/named_type.hpp"

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

// The fourteen MQTT 3.1.1 control packets as plain structs.
//
// Strings and binary fields are views: a decoded packet points into the bytes
// it was decoded from (see decoder.hpp for how long they stay valid), and a
// packet to encode points at the caller's data. Nothing here allocates.

namespace zama::mqtt {

using bytes_view = std::span<const std::uint8_t>;
using packet_id = named_type<std::uint16_t, struct packet_id_tag>;

enum class packet_type : std::uint8_t {
    connect = 1,
    connack = 2,
    publish = 3,
    puback = 4,
    pubrec = 5,
    pubrel = 6,
    pubcomp = 7,
    subscribe = 8,
    suback = 9,
    unsubscribe = 10,
    unsuback = 11,
    pingreq = 12,
    pingresp = 13,
    disconnect = 14,
};

std::string_view to_string(packet_type t) noexcept;

enum class qos : std::uint8_t {
    at_most_once = 0,
    at_least_once = 1,
    exactly_once = 2,
};

/// The protocol level of MQTT 3.1.1, the only one Zama speaks.
inline constexpr std::uint8_t protocol_level_v311 = 4;

struct will_message {
    std::string_view topic;
    bytes_view payload;
    mqtt::qos qos = qos::at_most_once;
    bool retain = false;

    friend bool operator==(const will_message&, const will_message&) noexcept;
};

struct connect {
    std::string_view client_id;
    std::uint16_t keep_alive = 0; // seconds; 0 disables the keepalive
    bool clean_session = true;
    std::optional<will_message> will;
    std::optional<std::string_view> username;
    std::optional<bytes_view> password;

    friend bool operator==(const connect&, const connect&) noexcept;
};

enum class connack_code : std::uint8_t {
    accepted = 0,
    unacceptable_protocol_version = 1,
    identifier_rejected = 2,
    server_unavailable = 3,
    bad_username_or_password = 4,
    not_authorized = 5,
};

struct connack {
    bool session_present = false;
    connack_code code = connack_code::accepted;

    friend bool operator==(const connack&, const connack&) noexcept = default;
};

struct publish {
    std::string_view topic;
    bytes_view payload;
    packet_id id{0}; // present on the wire only for QoS 1 and 2
    mqtt::qos qos = qos::at_most_once;
    bool dup = false;
    bool retain = false;

    friend bool operator==(const publish&, const publish&) noexcept;
};

struct puback {
    packet_id id;
    friend bool operator==(const puback&, const puback&) noexcept = default;
};
struct pubrec {
    packet_id id;
    friend bool operator==(const pubrec&, const pubrec&) noexcept = default;
};
struct pubrel {
    packet_id id;
    friend bool operator==(const pubrel&, const pubrel&) noexcept = default;
};
struct pubcomp {
    packet_id id;
    friend bool operator==(const pubcomp&, const pubcomp&) noexcept = default;
};

/// One topic filter of a SUBSCRIBE with its requested QoS.
struct subscription {
    std::string_view filter;
    mqtt::qos max_qos = qos::at_most_once;

    friend bool operator==(const subscription&, const subscription&) noexcept = default;
};

/// The entries of a SUBSCRIBE (Entry = subscription) or UNSUBSCRIBE
/// (Entry = std::string_view) payload. It is either a span of the caller's
/// entries, to encode, or the validated payload bytes of a decoded packet,
/// read lazily so that decoding allocates nothing.
template <typename Entry>
class entry_list {
  public:
    class iterator {
      public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = Entry;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = Entry;

        iterator() = default;
        Entry operator*() const;
        iterator& operator++();
        iterator operator++(int) {
            auto old = *this;
            ++*this;
            return old;
        }
        bool operator==(const iterator& o) const noexcept { return _index == o._index; }

      private:
        friend class entry_list;
        iterator(const entry_list* list, std::size_t index, std::size_t wire_pos)
            : _list(list)
            , _index(index)
            , _wire_pos(wire_pos) {}

        const entry_list* _list = nullptr;
        std::size_t _index = 0;
        std::size_t _wire_pos = 0;
    };

    entry_list() = default;
    entry_list(std::span<const Entry> entries) noexcept // NOLINT(google-explicit-constructor)
        : _entries(entries)
        , _count(entries.size()) {}

    /// A list over a payload the decoder has already validated: `count`
    /// well-formed entries back to back.
    static entry_list from_wire(bytes_view payload, std::size_t count) noexcept {
        entry_list l;
        l._wire = payload;
        l._count = count;
        return l;
    }

    std::size_t size() const noexcept { return _count; }
    bool empty() const noexcept { return _count == 0; }
    iterator begin() const noexcept { return iterator(this, 0, 0); }
    iterator end() const noexcept { return iterator(this, _count, 0); }

    friend bool operator==(const entry_list& a, const entry_list& b) noexcept {
        if (a.size() != b.size()) {
            return false;
        }
        auto j = b.begin();
        for (auto i = a.begin(); i != a.end(); ++i, ++j) {
            if (!(*i == *j)) {
                return false;
            }
        }
        return true;
    }

  private:
    std::span<const Entry> _entries;
    bytes_view _wire;
    std::size_t _count = 0;
};

using subscription_list = entry_list<subscription>;
using filter_list = entry_list<std::string_view>;

struct subscribe {
    packet_id id;
    subscription_list subscriptions;
    friend bool operator==(const subscribe&, const subscribe&) noexcept = default;
};

/// SUBACK return codes: the granted QoS (0, 1, 2) or failure.
inline constexpr std::uint8_t suback_failure = 0x80;

struct suback {
    packet_id id;
    bytes_view return_codes; // one per filter of the SUBSCRIBE, in order

    friend bool operator==(const suback&, const suback&) noexcept;
};

struct unsubscribe {
    packet_id id;
    filter_list filters;
    friend bool operator==(const unsubscribe&, const unsubscribe&) noexcept = default;
};

struct unsuback {
    packet_id id;
    friend bool operator==(const unsuback&, const unsuback&) noexcept = default;
};

struct pingreq {
    friend bool operator==(const pingreq&, const pingreq&) noexcept = default;
};
struct pingresp {
    friend bool operator==(const pingresp&, const pingresp&) noexcept = default;
};
struct disconnect {
    friend bool operator==(const disconnect&, const disconnect&) noexcept = default;
};

/// Any control packet. The alternative's index is its packet_type minus one.
using packet = std::variant<connect, connack, publish, puback, pubrec, pubrel, pubcomp, subscribe,
                            suback, unsubscribe, unsuback, pingreq, pingresp, disconnect>;

inline packet_type type_of(const packet& p) noexcept {
    return static_cast<packet_type>(p.index() + 1);
}

// entry_list<Entry>::iterator reads wire entries with these (packet.cpp).
namespace detail {
subscription read_subscription(bytes_view wire, std::size_t& pos) noexcept;
std::string_view read_filter(bytes_view wire, std::size_t& pos) noexcept;
} // namespace detail

template <typename Entry>
Entry entry_list<Entry>::iterator::operator*() const {
    if (_list->_wire.empty()) {
        return _list->_entries[_index];
    }
    std::size_t pos = _wire_pos;
    if constexpr (std::is_same_v<Entry, subscription>) {
        return detail::read_subscription(_list->_wire, pos);
    } else {
        return detail::read_filter(_list->_wire, pos);
    }
}

template <typename Entry>
typename entry_list<Entry>::iterator& entry_list<Entry>::iterator::operator++() {
    if (!_list->_wire.empty()) {
        if constexpr (std::is_same_v<Entry, subscription>) {
            detail::read_subscription(_list->_wire, _wire_pos);
        } else {
            detail::read_filter(_list->_wire, _wire_pos);
        }
    }
    ++_index;
    return *this;
}

} // namespace zama::mqtt
