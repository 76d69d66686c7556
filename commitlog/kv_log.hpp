#pragma once

#include "base/result.hpp"
#include "base/string_map.hpp"
#include "runtime/file_system.hpp"

#include <coroutine>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

// A compacted key → value log: the latest value of each key, in memory and
// on disk as a sequence of change records. Retained messages (key: topic)
// and persistent sessions (key: client id) are kept in these, one file of
// each per partition.
//
// File format, version 1, little-endian:
//
//   byte 0: format version (1)
//   then records, each:
//     offset size  field
//          0    4  CRC32C of bytes [4, 11 + key size + value size)
//          4    1  kind: 1 put, 2 erase
//          5    2  key size (u16)
//          7    4  value size (u32; 0 for erase)
//         11    k  key
//       11+k    v  value
//
// Opening reads every record: a put sets the key, an erase removes it. The
// first record that is short or fails its CRC ends the file (a torn tail
// from a crash): it is cut, and said so in the log. When the file holds
// more than twice the bytes of the live entries (and over 1 MiB), it is
// rewritten with the live entries only (to `<name>.tmp`, synced, renamed
// over, directory synced), so it never grows without bound. A compaction
// that fails before its rename keeps the old file and is retried one MiB
// later.
//
// Changes are written by one writer task, everything queued in one write
// followed by one fdatasync; durable(seq) waits for a change to be on disk.

namespace zama::commitlog {

inline constexpr std::uint8_t kv_format_version = 1;

class kv_log {
  public:
    using map = string_map<std::vector<std::uint8_t>>;

    /// Opens (creating if missing) `<dir>/<name>`, reading its entries.
    static rt::task<result<std::unique_ptr<kv_log>, std::errc>>
    open(rt::file_system& fs, std::string dir, std::string name);

    kv_log(const kv_log&) = delete;
    kv_log& operator=(const kv_log&) = delete;
    ~kv_log();

    /// The live entries.
    const map& entries() const noexcept { return _entries; }

    /// Sets or removes a key; returns the change's sequence number (for
    /// durable()). Written soon, by the writer.
    std::uint64_t put(std::string_view key, std::span<const std::uint8_t> value);
    std::uint64_t erase(std::string_view key);

    /// co_await durable(seq): resumes once change `seq` is synced to disk
    /// (true), or at once with false if the file cannot be written.
    rt::task<bool> durable(std::uint64_t seq);

    /// Writes what is queued, syncs and closes the file.
    rt::task<void> close();

  private:
    kv_log(rt::file_system& fs, std::string dir, std::string name) noexcept;
    rt::task<result<void, std::errc>> load();
    rt::task<void> write_loop();
    rt::task<bool> write_queued();
    rt::task<result<void, std::errc>> compact();
    rt::task<result<void, std::errc>> write_compacted(std::string tmp,
                                                      std::unique_ptr<rt::file>& fresh);
    bool due_for_compaction() const noexcept;
    std::uint64_t queue(std::uint8_t kind, std::string_view key,
                        std::span<const std::uint8_t> value);
    void wake_durable_waiters() noexcept;
    std::string path() const { return _dir + "/" + _name; }

    struct work_awaiter {
        kv_log* log;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) noexcept { log->_writer_waiting = h; }
        void await_resume() const noexcept {}
    };

    rt::file_system& _fs;
    std::string _dir;
    std::string _name;
    std::unique_ptr<rt::file> _file;
    map _entries;
    std::uint64_t _live_bytes = 0;         // encoded size of the live entries
    std::uint64_t _compact_retry_size = 0; // after a failed compaction: the size to retry at

    std::vector<std::uint8_t> _queued; // encoded records, not yet written
    std::uint64_t _queued_seq = 0;     // the last change queued
    std::uint64_t _durable_seq = 0;    // the last change synced
    bool _broken = false;              // a write or sync failed: nothing more is durable
    bool _closing = false;
    bool _writer_running = false;
    std::coroutine_handle<> _writer_waiting;
    std::vector<std::coroutine_handle<>> _durable_waiting;
    std::coroutine_handle<> _close_waiting;
};

} // namespace zama::commitlog
