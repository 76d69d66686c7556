#pragma once

#include <absl/container/flat_hash_set.h>

#include <cstdint>
#include <initializer_list>
#include <memory>

namespace zama::router {

/// A set of MQTT packet ids that is one pointer, with no heap memory, until
/// its first id. Every session has two (outbound ids in flight, inbound
/// QoS 2 ids awaiting PUBREL) and an idle client uses neither; an empty
/// absl set would be 40 bytes of each session. Once made, the table stays
/// until the set is destroyed, so a client that keeps one message in flight
/// does not allocate per message.
///
/// Single-threaded, like the session that holds it.
class packet_id_set {
    using table = absl::flat_hash_set<std::uint16_t>;

  public:
    using const_iterator = table::const_iterator;

    packet_id_set() noexcept = default;
    packet_id_set(std::initializer_list<std::uint16_t> ids) { insert(ids.begin(), ids.end()); }
    packet_id_set(const packet_id_set& o)
        : _ids(o._ids ? std::make_unique<table>(*o._ids) : nullptr) {}
    packet_id_set& operator=(const packet_id_set& o) {
        if (this != &o) {
            _ids = o._ids ? std::make_unique<table>(*o._ids) : nullptr;
        }
        return *this;
    }
    packet_id_set(packet_id_set&&) noexcept = default;
    packet_id_set& operator=(packet_id_set&&) noexcept = default;
    ~packet_id_set() = default;

    bool contains(std::uint16_t id) const noexcept { return _ids && _ids->contains(id); }
    std::size_t size() const noexcept { return _ids ? _ids->size() : 0; }
    bool empty() const noexcept { return size() == 0; }

    void insert(std::uint16_t id) {
        if (!_ids) {
            _ids = std::make_unique<table>();
        }
        _ids->insert(id);
    }
    template <typename It>
    void insert(It first, It last) {
        for (; first != last; ++first) {
            insert(static_cast<std::uint16_t>(*first));
        }
    }
    void erase(std::uint16_t id) noexcept {
        if (_ids) {
            _ids->erase(id);
        }
    }

    // In no particular order.
    const_iterator begin() const noexcept { return _ids ? _ids->cbegin() : none().cbegin(); }
    const_iterator end() const noexcept { return _ids ? _ids->cend() : none().cend(); }

  private:
    static const table& none() noexcept {
        static const table empty;
        return empty;
    }

    std::unique_ptr<table> _ids;
};

} // namespace zama::router
