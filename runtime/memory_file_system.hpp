#pragma once

#include "runtime/clock.hpp"
#include "runtime/file_system.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace zama::rt {

/// Files in memory, with faults on demand, for testing what sits on the
/// file_system seam (the commit log).
///
/// Durability model: each file remembers how much of it a sync covered: what
/// had been written when datasync() or sync_filesystem() was called, not
/// what was written while it ran. crash() models a power loss: every file
/// keeps its synced bytes plus, if asked, part of what was written after (a
/// torn tail).
/// Directory operations (create, rename, remove) are durable at once.
///
/// Faults:
/// - fail_writes_after(n, e): appends write n more bytes in total, then fail
///   with e (ENOSPC, EIO); an append the limit falls inside is torn.
/// - fail_reads(e), fail_syncs(e): every read, datasync or filesystem sync
///   fails with e.
/// - fail_filesystem_syncs(e): only filesystem syncs fail (an error in some
///   other file of the filesystem); datasync still works.
/// - delay(d): every operation completes d later (a slow disk); needs a
///   reactor on the calling thread.
///
/// Single-threaded: used from one shard (or a test without a reactor when
/// no delay is set).
class memory_file_system final : public file_system {
  public:
    memory_file_system();
    ~memory_file_system() override;

    task<result<std::unique_ptr<file>, std::errc>> open(std::string path,
                                                        open_options options) override;
    task<result<void, std::errc>> rename(std::string from, std::string to) override;
    task<result<void, std::errc>> remove(std::string path) override;
    task<result<void, std::errc>> make_directory(std::string path) override;
    task<result<void, std::errc>> sync_directory(std::string path) override;
    task<result<std::vector<std::string>, std::errc>> list(std::string directory) override;

    // --- Faults ------------------------------------------------------------
    void fail_writes_after(std::size_t bytes, std::errc error);
    void fail_reads(std::errc error);
    void fail_syncs(std::errc error);
    void fail_filesystem_syncs(std::errc error);
    void delay(duration d);
    void clear_faults();

    // --- Power loss and inspection -------------------------------------------
    /// Every file is cut to its synced size plus up to `keep_unsynced` bytes
    /// of what was written after the last sync. Open files stay usable.
    void crash(std::size_t keep_unsynced = 0);
    /// A file's bytes, or nothing if there is no such file.
    std::optional<std::vector<std::uint8_t>> contents(const std::string& path) const;
    /// Replaces a file's bytes (all of them count as synced).
    void put(const std::string& path, std::vector<std::uint8_t> bytes);
    /// XORs `mask` into the byte at `offset` (a bit rot).
    void corrupt(const std::string& path, std::size_t offset, std::uint8_t mask);
    std::size_t syncs() const noexcept { return _syncs; }
    std::size_t filesystem_syncs() const noexcept { return _filesystem_syncs; }

    struct node;
    struct faults {
        std::optional<std::size_t> write_budget;
        std::errc write_error{};
        std::optional<std::errc> read_error;
        std::optional<std::errc> sync_error;
        std::optional<std::errc> filesystem_sync_error;
        duration delay{};
    };

  private:
    friend class memory_file;
    task<void> pause() const;

    std::map<std::string, std::shared_ptr<node>> _files;
    std::set<std::string> _directories;
    faults _faults;
    std::size_t _syncs = 0;
    std::size_t _filesystem_syncs = 0;
};

} // namespace zama::rt
