#include "router/session_record.hpp"

#include "base/vassert.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace zama::router {
namespace {

static_assert(std::endian::native == std::endian::little, "the format is little-endian");

template <typename T>
void put(std::vector<std::uint8_t>& out, T v) {
    const std::size_t at = out.size();
    out.resize(at + sizeof v);
    std::memcpy(out.data() + at, &v, sizeof v);
}

// Reads fields in order; any read past the end makes the whole record bad.
class reader {
  public:
    explicit reader(std::span<const std::uint8_t> b) noexcept
        : _b(b) {}
    template <typename T>
    T take() noexcept {
        T v{};
        if (_b.size() - _at < sizeof v || _bad) {
            _bad = true;
            return v;
        }
        std::memcpy(&v, _b.data() + _at, sizeof v);
        _at += sizeof v;
        return v;
    }
    std::string take_string(std::size_t n) {
        if (_b.size() - _at < n || _bad) {
            _bad = true;
            return {};
        }
        std::string s(reinterpret_cast<const char*>(_b.data() + _at), n);
        _at += n;
        return s;
    }
    bool bad() const noexcept { return _bad; }
    bool ok() const noexcept { return !_bad && _at == _b.size(); }

  private:
    std::span<const std::uint8_t> _b;
    std::size_t _at = 0;
    bool _bad = false;
};

} // namespace

std::vector<std::uint8_t> encode_session(const session_state& st) {
    // The committed cursor of a partition: its first message in flight, if
    // any, else the delivery cursor.
    absl::flat_hash_map<std::uint32_t, commitlog::offset> committed(st.cursors.begin(),
                                                                    st.cursors.end());
    std::vector<std::uint16_t> released;
    for (const inflight& f : st.outbound) {
        if (f.released) {
            released.push_back(f.id.value());
        } else if (f.batch && !f.retain) {
            const std::uint32_t p = f.batch->partition().value();
            const commitlog::offset at = f.batch->base() + f.index;
            auto [it, inserted] = committed.try_emplace(p, at);
            it->second = std::min(it->second, at);
        }
    }
    // router_config::max_subscriptions_per_client keeps it within the u16.
    ZAMA_ASSERT(st.subscriptions.size() <= 65535,
                "a session holds more filters than its record can");
    std::vector<std::uint8_t> out;
    out.reserve(16 + st.subscriptions.size() * 32 + committed.size() * 12);
    out.push_back(session_record_version);
    put<std::uint16_t>(out, st.next_id);
    put<std::uint16_t>(out, static_cast<std::uint16_t>(st.subscriptions.size()));
    for (const subscription& s : st.subscriptions) {
        put<std::uint16_t>(out, static_cast<std::uint16_t>(s.filter.size()));
        out.insert(out.end(), s.filter.begin(), s.filter.end());
        out.push_back(static_cast<std::uint8_t>(s.qos));
    }
    put<std::uint32_t>(out, static_cast<std::uint32_t>(committed.size()));
    for (const auto& [p, offset] : committed) {
        put<std::uint32_t>(out, p);
        put<std::uint64_t>(out, offset);
    }
    put<std::uint16_t>(out, static_cast<std::uint16_t>(released.size()));
    for (std::uint16_t id : released) {
        put<std::uint16_t>(out, id);
    }
    put<std::uint16_t>(out, static_cast<std::uint16_t>(st.awaiting_pubrel.size()));
    for (std::uint16_t id : st.awaiting_pubrel) {
        put<std::uint16_t>(out, id);
    }
    return out;
}

std::optional<session_state> decode_session(std::string client_id,
                                            std::span<const std::uint8_t> bytes) {
    reader r(bytes);
    if (r.take<std::uint8_t>() != session_record_version) {
        return std::nullopt;
    }
    session_state st;
    st.client_id = std::move(client_id);
    st.clean = false;
    st.next_id = r.take<std::uint16_t>();
    const auto subscriptions = r.take<std::uint16_t>();
    for (std::uint16_t i = 0; i < subscriptions && !r.bad(); ++i) {
        const auto size = r.take<std::uint16_t>();
        std::string filter = r.take_string(size);
        const auto qos = r.take<std::uint8_t>();
        st.subscriptions.push_back(
            {std::move(filter), static_cast<mqtt::qos>(std::min<std::uint8_t>(qos, 2))});
    }
    const auto cursors = r.take<std::uint32_t>();
    for (std::uint32_t i = 0; i < cursors && !r.bad(); ++i) {
        const auto p = r.take<std::uint32_t>();
        st.cursors[p] = r.take<std::uint64_t>();
    }
    const auto released = r.take<std::uint16_t>();
    for (std::uint16_t i = 0; i < released && !r.bad(); ++i) {
        inflight f;
        f.id = mqtt::packet_id{r.take<std::uint16_t>()};
        f.qos = mqtt::qos::exactly_once;
        f.released = true;
        st.outbound.push_back(std::move(f));
    }
    const auto awaiting = r.take<std::uint16_t>();
    for (std::uint16_t i = 0; i < awaiting && !r.bad(); ++i) {
        st.awaiting_pubrel.insert(r.take<std::uint16_t>());
    }
    if (!r.ok()) {
        return std::nullopt;
    }
    if (st.next_id == 0) {
        st.next_id = 1;
    }
    return st;
}

} // namespace zama::router
