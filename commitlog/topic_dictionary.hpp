#pragma once

#include "base/string_map.hpp"
#include "commitlog/batch_format.hpp"
#include "runtime/file_system.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// The topic dictionary of one partition: topic name <-> topic id, so that
// records on disk carry a 4-byte id instead of the name, and ids mean the
// same thing after a restart. It is itself an append-only log, one entry per
// topic, in the file `topics.dict` of the partition's directory. Version 1
// entry, little-endian:
//
//   offset size  field
//        0    1  version (1)
//        1    4  crc: CRC32C of bytes [5, 11 + name length)
//        5    4  topic id (u32): ids are handed out 0, 1, 2, ...
//        9    2  name length (u16, >= 1)
//       11       name
//
// Recovery reads every entry. An entry that does not check out is either a
// torn tail (nothing valid follows: it is cut off) or damage in the middle
// (a valid entry follows: the bad bytes are skipped and their ids stay
// unknown; later ids keep their meaning because every entry names its id).
//
// Ordering, which makes a crash safe: the entries of new names are written
// before the batches that use them (disk_log::append), and flush() syncs the
// dictionary before the segment. So a batch that was synced only names ids
// that were synced. After a crash, a batch whose topic id is unknown can
// only be one written after the last flush, i.e. in the unacknowledged tail
// of the last segment: recovery cuts it there. In a sealed segment (synced
// in full before the next one was started) an unknown id can only come from
// a damaged dictionary: that batch is skipped and reported, the rest reads.
// Known gap: a damaged *last* entry looks like a torn tail, so its id may be
// handed out again to another name.
//
// Owned by the partition's disk_log (one shard); single-threaded, one write
// at a time.

namespace zama::commitlog {

inline constexpr std::uint8_t dictionary_format_version = 1;
inline constexpr std::size_t dictionary_entry_header_size = 11;

class topic_dictionary {
  public:
    struct recovery {
        std::size_t topics = 0;
        std::uint64_t truncated_bytes = 0; // torn tail cut off
        std::uint64_t skipped_bytes = 0;   // damaged entries in the middle
    };

    /// Opens the dictionary file at `path`, creating it if missing, and
    /// recovers its entries.
    static rt::task<result<std::unique_ptr<topic_dictionary>, std::errc>> open(rt::file_system& fs,
                                                                               std::string path);

    topic_dictionary(const topic_dictionary&) = delete;
    topic_dictionary& operator=(const topic_dictionary&) = delete;
    ~topic_dictionary();

    std::optional<topic_id> find(std::string_view name) const;
    /// The id of `name`, giving it a new one if it has none; a new entry is
    /// staged for write_pending(). `name` is 1 to 65535 bytes.
    topic_id intern(std::string_view name);
    /// Names by id; an empty string is an id without a name.
    std::span<const std::string> names() const noexcept { return _names; }
    std::size_t size() const noexcept { return _ids.size(); }

    bool has_pending() const noexcept { return !_pending.empty(); }
    /// Writes the staged entries in one append. On error the torn part is
    /// cut off and the entries stay staged, to be written by the next call.
    rt::task<result<void, std::errc>> write_pending();
    /// Makes what was written durable.
    rt::task<result<void, std::errc>> sync();
    /// What was written is durable: a filesystem sync covered it.
    void synced_elsewhere() noexcept { _synced_size = _good_size; }
    rt::task<result<void, std::errc>> close();

    const recovery& recovered() const noexcept { return _recovered; }
    /// Bytes of valid entries in the file.
    std::uint64_t size_bytes() const noexcept { return _good_size; }

  private:
    explicit topic_dictionary(std::unique_ptr<rt::file> f) noexcept;
    rt::task<result<void, std::errc>> recover();
    void add(topic_id id, std::string_view name);
    rt::task<result<void, std::errc>> cut_torn_tail();

    std::unique_ptr<rt::file> _file;
    string_map<topic_id> _ids;
    std::vector<std::string> _names;
    std::vector<std::uint8_t> _pending; // encoded entries not written yet
    std::uint64_t _good_size = 0;       // end of the last entry written whole
    std::uint64_t _synced_size = 0;
    recovery _recovered;
};

} // namespace zama::commitlog
