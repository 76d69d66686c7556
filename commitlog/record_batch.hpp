#pragma once

#include "base/named_type.hpp"
#include "base/vassert.hpp"

#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

// Records and batches as they sit in memory.
//
// A batch is the records one partition accepted in one loop turn. Once
// sealed it never changes, and it is shared, by reference count, by every
// shard that delivers from it: fanout sends a pointer, not a copy.
//
// Bytes of one record, laid out so that delivery writes them as they are:
//
//   [header room: 5 bytes][topic length: u16 BE][topic][payload]
//                       ^ header_at: the delivery layer writes a fixed
//                         header ending at the topic length (up to 5 bytes)
//
// so that header + topic + payload is one contiguous packet.

namespace zama::commitlog {

using partition_id = named_type<std::uint32_t, struct partition_id_tag>;
using offset = std::uint64_t;

inline constexpr std::size_t header_room = 5;

struct record_flags {
    std::uint8_t qos = 0; // 0, 1, 2
    bool retain = false;
};

struct record {
    offset at = 0;
    std::uint32_t start = 0; // the record's header room in the batch's bytes
    std::uint16_t topic_size = 0;
    std::uint32_t payload_size = 0;
    record_flags flags;
    std::uint8_t header_size = 0; // bytes of header written before the topic length
};

/// A sealed, immutable batch of records of one partition. Thread-safe
/// reference count: any shard may hold and drop references; the bytes are
/// read-only once sealed.
class record_batch {
  public:
    record_batch(partition_id p, offset base) noexcept
        : _partition(p)
        , _base(base) {}
    record_batch(const record_batch&) = delete;
    record_batch& operator=(const record_batch&) = delete;

    partition_id partition() const noexcept { return _partition; }
    offset base() const noexcept { return _base; }
    offset end() const noexcept { return _base + _records.size(); } // one past the last
    std::size_t size() const noexcept { return _records.size(); }
    bool empty() const noexcept { return _records.empty(); }
    std::size_t bytes_size() const noexcept { return _bytes.size(); }
    /// Room for `records` records of `topic_and_payload_bytes` in all, so
    /// appending them allocates once (a batch read from disk knows both).
    void reserve(std::size_t records, std::size_t topic_and_payload_bytes) {
        _records.reserve(records);
        _bytes.reserve(records * (header_room + 2) + topic_and_payload_bytes);
    }
    /// Milliseconds since the epoch when the batch was sealed; 0 if unset.
    /// Segment rolling and retention by age go by it.
    std::int64_t timestamp() const noexcept { return _timestamp; }

    const record& at(std::size_t i) const noexcept { return _records[i]; }
    /// The record with this offset; it must be in the batch.
    const record& by_offset(offset o) const noexcept {
        ZAMA_ASSERT(o >= _base && o < end(), "offset outside the batch");
        return _records[o - _base];
    }

    std::string_view topic(const record& r) const noexcept {
        return {reinterpret_cast<const char*>(_bytes.data()) + r.start + header_room + 2,
                r.topic_size};
    }
    std::span<const std::uint8_t> payload(const record& r) const noexcept {
        return {_bytes.data() + r.start + header_room + 2 + r.topic_size, r.payload_size};
    }
    /// Topic length and topic, as a PUBLISH carries them.
    std::span<const std::uint8_t> topic_field(const record& r) const noexcept {
        return {_bytes.data() + r.start + header_room, 2u + r.topic_size};
    }
    /// The header written by set_header() and everything after it.
    std::span<const std::uint8_t> packet(const record& r) const noexcept {
        return {_bytes.data() + r.start + header_room - r.header_size,
                r.header_size + 2u + r.topic_size + r.payload_size};
    }

    // --- Building (one shard, before the batch is shared) ----------------------

    /// Appends a record; returns its offset.
    offset append(std::string_view topic, std::span<const std::uint8_t> payload,
                  record_flags flags);
    /// Writes up to 5 header bytes before record i's topic length.
    void set_header(std::size_t i, std::span<const std::uint8_t> header) noexcept;
    void set_timestamp(std::int64_t ms) noexcept { _timestamp = ms; }

    // --- Sharing -----------------------------------------------------------------

    void acquire() const noexcept { _refs.fetch_add(1, std::memory_order_relaxed); }
    void release() const noexcept {
        if (_refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            delete this;
        }
    }

  private:
    ~record_batch() = default;

    partition_id _partition;
    offset _base;
    std::int64_t _timestamp = 0;
    std::vector<record> _records;
    std::vector<std::uint8_t> _bytes;
    mutable std::atomic<std::uint32_t> _refs{0};
};

/// A counted reference to a batch.
class batch_ptr {
  public:
    batch_ptr() noexcept = default;
    explicit batch_ptr(record_batch* b) noexcept
        : _b(b) {
        if (_b != nullptr) {
            _b->acquire();
        }
    }
    batch_ptr(const batch_ptr& o) noexcept
        : batch_ptr(o._b) {}
    batch_ptr(batch_ptr&& o) noexcept
        : _b(std::exchange(o._b, nullptr)) {}
    batch_ptr& operator=(batch_ptr o) noexcept {
        std::swap(_b, o._b);
        return *this;
    }
    ~batch_ptr() {
        if (_b != nullptr) {
            // The analyzer cannot follow the reference count across copies.
            _b->release(); // NOLINT(clang-analyzer-cplusplus.NewDelete)
        }
    }

    static batch_ptr make(partition_id p, offset base) {
        return batch_ptr(new record_batch(p, base));
    }

    record_batch* get() const noexcept { return _b; }
    record_batch* operator->() const noexcept { return _b; }
    record_batch& operator*() const noexcept { return *_b; }
    explicit operator bool() const noexcept { return _b != nullptr; }

    /// Hands one reference over (for a keepalive); adopt() takes it back.
    record_batch* leak() noexcept { return std::exchange(_b, nullptr); }
    static batch_ptr adopt(record_batch* b) noexcept {
        batch_ptr p;
        p._b = b;
        return p;
    }

  private:
    record_batch* _b = nullptr;
};

} // namespace zama::commitlog
