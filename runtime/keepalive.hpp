#pragma once

#include <utility>

namespace zama::rt {

/// Keeps the memory behind queued send bytes alive until they are written:
/// a move-only handle that calls `release(obj)` when dropped. The owner of
/// the bytes decides what that means (a shard-local refcount, a batch
/// shared across shards, ...).
class keepalive {
  public:
    using release_fn = void (*)(void*) noexcept;

    keepalive() noexcept = default;
    keepalive(void* obj, release_fn release) noexcept
        : _obj(obj)
        , _release(release) {}
    keepalive(keepalive&& o) noexcept
        : _obj(std::exchange(o._obj, nullptr))
        , _release(std::exchange(o._release, nullptr)) {}
    keepalive& operator=(keepalive&& o) noexcept {
        if (this != &o) {
            reset();
            _obj = std::exchange(o._obj, nullptr);
            _release = std::exchange(o._release, nullptr);
        }
        return *this;
    }
    keepalive(const keepalive&) = delete;
    keepalive& operator=(const keepalive&) = delete;
    ~keepalive() { reset(); }

    explicit operator bool() const noexcept { return _release != nullptr; }

    void reset() noexcept {
        if (_release != nullptr) {
            std::exchange(_release, nullptr)(_obj);
        }
    }

  private:
    void* _obj = nullptr;
    release_fn _release = nullptr;
};

} // namespace zama::rt
