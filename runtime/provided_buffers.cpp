#include "runtime/provided_buffers.hpp"

#include "base/vassert.hpp"
#include "runtime/reactor.hpp"

#include <algorithm>
#include <cstring>
#include <sys/mman.h>

namespace zama::rt {

result<std::unique_ptr<provided_buffers>, setup_failure>
provided_buffers::create(io_uring& ring, unsigned count, unsigned size, unsigned initial_depth) {
    ZAMA_ASSERT(count > 0 && count <= 32768 && (count & (count - 1)) == 0,
                "recv_buffer_count must be a power of two up to 32768");
    ZAMA_ASSERT(size > 0 && size <= 65535, "recv_buffer_size must be below 64 KiB");
    ZAMA_ASSERT(initial_depth > 0, "the receive ring needs at least one buffer");
    std::unique_ptr<provided_buffers> b(
        new provided_buffers(ring, count, size, std::min(initial_depth, count)));

    b->_ring_bytes = count * sizeof(io_uring_buf);
    void* ring_mem =
        mmap(nullptr, b->_ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    void* memory = mmap(nullptr, std::size_t{count} * size, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
    if (ring_mem == MAP_FAILED || memory == MAP_FAILED) {
        if (ring_mem != MAP_FAILED) {
            munmap(ring_mem, b->_ring_bytes);
        }
        if (memory != MAP_FAILED) {
            munmap(memory, std::size_t{count} * size);
        }
        return setup_failure{setup_failure::kind::out_of_memory,
                             "cannot map memory for the receive buffers"};
    }
    b->_buf_ring = static_cast<io_uring_buf_ring*>(ring_mem);
    b->_memory = static_cast<std::uint8_t*>(memory);
    io_uring_buf_ring_init(b->_buf_ring);

    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(b->_buf_ring);
    reg.ring_entries = count;
    reg.bgid = group;
    if (const int rc = io_uring_register_buf_ring(&ring, &reg, 0); rc < 0) {
        return setup_failure{
            setup_failure::kind::missing_feature,
            std::string("this kernel has no provided-buffer rings (IORING_REGISTER_PBUF_RING, "
                        "Linux 5.19+): ") +
                std::strerror(-rc)};
    }
    b->_registered = true;
    // Lowest ids on top, so the pages used are the first of the mapping.
    b->_spare.reserve(count);
    for (unsigned i = count; i-- > 0;) {
        b->_spare.push_back(static_cast<std::uint16_t>(i));
    }
    b->fill_ring();
    return b;
}

provided_buffers::~provided_buffers() {
    if (_registered) {
        io_uring_unregister_buf_ring(&_ring, group);
    }
    if (_buf_ring != nullptr) {
        munmap(_buf_ring, _ring_bytes);
    }
    if (_memory != nullptr) {
        munmap(_memory, std::size_t{_count} * _size);
    }
}

void provided_buffers::put_in_ring(std::uint16_t id) noexcept {
    io_uring_buf_ring_add(_buf_ring, _memory + std::size_t{id} * _size, _size, id,
                          io_uring_buf_ring_mask(_count), 0);
    io_uring_buf_ring_advance(_buf_ring, 1);
    ++_in_ring;
}

void provided_buffers::fill_ring() noexcept {
    while (_in_ring < _depth && !_spare.empty()) {
        put_in_ring(_spare.back());
        _spare.pop_back();
    }
}

void provided_buffers::taken() noexcept {
    ++_in_use;
    --_in_ring;
    fill_ring();
}

void provided_buffers::give_back(std::uint16_t id) noexcept {
    --_in_use;
    if (_in_ring < _depth) {
        put_in_ring(id);
    } else {
        _spare.push_back(id); // capacity reserved at creation: no allocation
    }
}

void provided_buffers::ran_dry() noexcept {
    // One more buffer for each recv that found none: after a burst the ring
    // holds what that burst needed. (Refills during the batch make the ring
    // look full again by the time these completions are seen.)
    if (_depth < _count) {
        ++_depth;
        fill_ring();
    }
}

} // namespace zama::rt
