#pragma once

#include "base/vassert.hpp"

#include <type_traits>
#include <utility>
#include <variant>

namespace zama {

/// A value of type T or an error of type E, in the spirit of C++23's
/// std::expected (which g++ 12 lacks). E is usually a module's error enum
/// (or std::errc for system calls); a function that can fail expectedly
/// returns result<T, module_errc>. E may be a small struct where the error
/// needs words, such as a start-up failure.
///
/// Reading the value of an error result (or the error of a value) is a bug
/// and asserts.
template <typename T, typename E>
class [[nodiscard]] result {
    static_assert(!std::is_convertible_v<T, E> && !std::is_convertible_v<E, T>,
                  "T and E must be told apart by type");

  public:
    result(T value) // NOLINT(google-explicit-constructor): returned like a plain T
        : _v(std::in_place_index<0>, std::move(value)) {}
    result(E error) // NOLINT(google-explicit-constructor): returned like a plain E
        : _v(std::in_place_index<1>, std::move(error)) {}

    bool has_value() const noexcept { return _v.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & {
        ZAMA_ASSERT(has_value(), "value() of an error result");
        return *std::get_if<0>(&_v);
    }
    const T& value() const& {
        ZAMA_ASSERT(has_value(), "value() of an error result");
        return *std::get_if<0>(&_v);
    }
    T&& value() && {
        ZAMA_ASSERT(has_value(), "value() of an error result");
        return std::move(*std::get_if<0>(&_v));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    E error() const noexcept {
        ZAMA_ASSERT(!has_value(), "error() of a value result");
        return *std::get_if<1>(&_v);
    }

  private:
    std::variant<T, E> _v;
};

/// result<void, E>: success, or an error.
template <typename E>
class [[nodiscard]] result<void, E> {
  public:
    result() = default;
    result(E error) // NOLINT(google-explicit-constructor)
        : _error(std::move(error))
        , _failed(true) {}

    bool has_value() const noexcept { return !_failed; }
    explicit operator bool() const noexcept { return has_value(); }
    const E& error() const noexcept {
        ZAMA_ASSERT(_failed, "error() of a value result");
        return _error;
    }

  private:
    E _error{};
    bool _failed = false;
};

} // namespace zama
