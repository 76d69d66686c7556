#pragma once

#include <compare>
#include <cstddef>
#include <functional>

namespace zama {

/// A strong type over an integer: a packet id, an offset or a shard number
/// cannot be mixed up with another integer by accident. Tag is any unique
/// type, usually declared in place: named_type<uint16_t, struct packet_id_tag>.
template <typename T, typename Tag>
class named_type {
  public:
    using value_type = T;

    constexpr named_type() = default;
    constexpr explicit named_type(T v) noexcept
        : _value(v) {}

    constexpr T value() const noexcept { return _value; }
    constexpr explicit operator T() const noexcept { return _value; }

    constexpr auto operator<=>(const named_type&) const = default;
    constexpr bool operator==(const named_type&) const = default;

  private:
    T _value{};
};

} // namespace zama

template <typename T, typename Tag>
struct std::hash<zama::named_type<T, Tag>> {
    std::size_t operator()(const zama::named_type<T, Tag>& v) const noexcept {
        return std::hash<T>{}(v.value());
    }
};
