#pragma once

#include "base/result.hpp"

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace zama::rt {

struct setup_failure;

/// A reactor's provided-buffer ring (io_uring buffer group 0): `count`
/// buffers of `size` bytes from which the kernel picks one for each
/// multishot recv completion. A connection holds a buffer only between a
/// completion and the moment it gives the buffer back, so an idle
/// connection holds none. Buffer memory is one anonymous mapping: pages
/// never used are never resident.
///
/// The kernel takes buffers in ring order, so a ring holding all `count`
/// buffers would cycle through every one of them and make all of them
/// resident, however few are in use at a time. The ring therefore holds
/// only `depth` buffers; the others wait in a stack, and the most recently
/// returned one goes into the ring first. The depth starts small and grows
/// by one (up to `count`) for each recv that finds the ring empty, so it
/// settles at what the largest batch of completions has needed.
///
/// Owned by one reactor; single-threaded.
class provided_buffers {
  public:
    static constexpr std::uint16_t group = 0;

    static result<std::unique_ptr<provided_buffers>, setup_failure>
    create(io_uring& ring, unsigned count, unsigned size, unsigned initial_depth);
    provided_buffers(const provided_buffers&) = delete;
    provided_buffers& operator=(const provided_buffers&) = delete;
    ~provided_buffers();

    std::span<std::uint8_t> buffer(std::uint16_t id) const noexcept {
        return {_memory + std::size_t{id} * _size, _size};
    }
    /// Returns a buffer once its last byte has been used.
    void give_back(std::uint16_t id) noexcept;
    /// The same, by the buffer's start address.
    void give_back_address(const std::uint8_t* data) noexcept {
        give_back(static_cast<std::uint16_t>(static_cast<std::size_t>(data - _memory) / _size));
    }

    unsigned count() const noexcept { return _count; }
    unsigned size() const noexcept { return _size; }
    /// Buffers currently handed out to connections.
    unsigned in_use() const noexcept { return _in_use; }
    /// How many buffers the ring is kept filled with.
    unsigned depth() const noexcept { return _depth; }
    /// A completion took a buffer from the ring.
    void taken() noexcept;
    /// A recv found the ring empty (-ENOBUFS): deepen the ring by one.
    void ran_dry() noexcept;

  private:
    provided_buffers(io_uring& ring, unsigned count, unsigned size, unsigned depth)
        : _ring(ring)
        , _count(count)
        , _size(size)
        , _depth(depth) {}

    void put_in_ring(std::uint16_t id) noexcept;
    void fill_ring() noexcept;

    io_uring& _ring;
    unsigned _count;
    unsigned _size;
    unsigned _depth;
    unsigned _in_use = 0;
    unsigned _in_ring = 0;
    std::vector<std::uint16_t> _spare; // neither in the ring nor in use; the back is the hottest
    io_uring_buf_ring* _buf_ring = nullptr;
    std::size_t _ring_bytes = 0;
    std::uint8_t* _memory = nullptr;
    bool _registered = false;
};

} // namespace zama::rt
