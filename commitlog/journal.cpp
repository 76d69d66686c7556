#include "commitlog/journal.hpp"

#include "base/errc.hpp"
#include "base/log.hpp"
#include "base/vassert.hpp"
#include "commitlog/crc32c.hpp"
#include "commitlog/little_endian.hpp"
#include "runtime/reactor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

namespace zama::commitlog {
namespace {

// Header fields.
constexpr std::size_t at_crc = 1;
constexpr std::size_t at_generation = 5;
constexpr std::size_t header_size = 13;
// Entry fields.
constexpr std::size_t at_length = 5;
constexpr std::size_t at_entry_generation = 9;
constexpr std::size_t at_sections = 17;
constexpr std::size_t section_header_size = 8;

constexpr std::size_t zero_fill_chunk = std::size_t{1} << 20;

std::size_t round_up(std::size_t n) noexcept {
    return (n + journal_block - 1) / journal_block * journal_block;
}

/// The header's generation; nothing if the header does not check.
rt::task<result<std::optional<std::uint64_t>, std::errc>> read_generation(rt::file& f) {
    std::array<std::uint8_t, header_size> h{};
    auto got = co_await f.read(0, h);
    if (!got) {
        co_return got.error();
    }
    if (*got < header_size || h[0] != journal_format_version ||
        load_le<std::uint32_t>(h.data() + at_crc) !=
            crc32c({h.data() + at_generation, header_size - at_generation})) {
        co_return std::optional<std::uint64_t>{};
    }
    co_return std::optional<std::uint64_t>{load_le<std::uint64_t>(h.data() + at_generation)};
}

} // namespace

std::string journal_file_name(unsigned shard) {
    return fmt::format("shard-{}.journal", shard);
}

void journal::aligned_free::operator()(std::uint8_t* p) const noexcept {
    std::free(p); // NOLINT(cppcoreguidelines-no-malloc): from std::aligned_alloc
}

struct journal::wait_for_write {
    journal* j;
    waiter* w;

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        w->handle = h;
        j->_next.push_back(w);
        if (!j->_running) {
            j->_running = true;
            rt::reactor::local().spawn(j->run());
        }
    }
    void await_resume() const noexcept {}
};

struct journal::wait_for_sync {
    journal* j;

    bool await_ready() const noexcept { return !j->_syncing; }
    void await_suspend(std::coroutine_handle<> h) noexcept { j->_sync_waiter = h; }
    void await_resume() const noexcept {}
};

journal::journal(std::unique_ptr<rt::file> f, std::uint64_t capacity, std::uint64_t round_limit,
                 std::uint64_t generation) noexcept
    : _file(std::move(f))
    , _capacity(capacity)
    , _round_limit(round_limit)
    , _generation(generation)
    , _next_sync_at(journal_block + sync_step(capacity)) {}

journal::~journal() {
    ZAMA_ASSERT(_next.empty() && !_running && !_syncing, "journal destroyed with work in flight");
}

void journal::reserve(std::size_t bytes) {
    if (bytes <= _buffer_size) {
        return;
    }
    const std::size_t size = round_up(std::max(bytes, 2 * _buffer_size));
    // NOLINTNEXTLINE(cppcoreguidelines-no-malloc): O_DIRECT needs aligned memory
    auto* p = static_cast<std::uint8_t*>(std::aligned_alloc(journal_block, size));
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    _buffer.reset(p);
    _buffer_size = size;
}

rt::task<result<std::unique_ptr<journal>, std::errc>> journal::open(rt::file_system& fs,
                                                                    std::string path,
                                                                    std::uint64_t capacity,
                                                                    std::uint64_t round_limit) {
    ZAMA_ASSERT(capacity >= 4 * journal_block && capacity % journal_block == 0,
                "journal capacity: a multiple of 4096, at least 4 blocks");
    // The generation of what is there: the new one is above it. A file of
    // another size, or whose header does not check, is made again: stale
    // entries must never match a generation reused from a lost header.
    std::uint64_t generation = 0;
    bool fresh = true;
    {
        auto existing = co_await fs.open(path, rt::open_options{});
        if (existing) {
            auto header = co_await read_generation(**existing);
            if (header && *header) {
                generation = **header;
                fresh = (*existing)->size() != capacity;
            }
            auto closed = co_await (*existing)->close();
            (void)closed; // read-only
        }
    }
    if (fresh) {
        // Zero-filled and synced: later writes overwrite blocks that exist.
        auto created = co_await fs.open(path, {.write = true, .create = true, .truncate = true});
        if (!created) {
            co_return created.error();
        }
        std::unique_ptr<rt::file> f = std::move(*created);
        std::vector<std::uint8_t> zeros(zero_fill_chunk, 0);
        for (std::uint64_t at = 0; at < capacity; at += zero_fill_chunk) {
            const iovec v{zeros.data(), static_cast<std::size_t>(std::min<std::uint64_t>(
                                            zero_fill_chunk, capacity - at))};
            auto wrote = co_await f->append({&v, 1});
            if (!wrote) {
                co_return wrote.error();
            }
        }
        auto synced = co_await f->datasync();
        auto closed = co_await f->close();
        if (!synced || !closed) {
            co_return !synced ? synced.error() : closed.error();
        }
        const std::string parent = path.substr(0, path.rfind('/'));
        auto dir = co_await fs.sync_directory(parent);
        if (!dir) {
            co_return dir.error();
        }
    }
    auto opened = co_await fs.open(path, {.write = true, .direct = true, .dsync = true});
    if (!opened && opened.error() == std::errc::invalid_argument) {
        // No O_DIRECT on this filesystem (tmpfs before 6.6): O_DSYNC alone
        // is as durable, through the page cache.
        log::info("journal {}: no direct I/O here; writing through the page cache", path);
        opened = co_await fs.open(path, {.write = true, .dsync = true});
    }
    if (!opened) {
        co_return opened.error();
    }
    std::unique_ptr<journal> j(
        new journal(std::move(*opened), capacity, round_limit, generation + 1));
    j->reserve(journal_block);
    auto header = co_await j->write_header();
    if (!header) {
        co_return header.error();
    }
    co_return j;
}

rt::task<result<void, std::errc>> journal::write_header() {
    std::uint8_t* b = _buffer.get();
    std::memset(b, 0, journal_block);
    b[0] = journal_format_version;
    store_le(b + at_generation, _generation);
    store_le(b + at_crc, crc32c({b + at_generation, header_size - at_generation}));
    const iovec v{b, journal_block};
    co_return co_await _file->write_at(0, {&v, 1});
}

rt::task<result<void, std::errc>> journal::commit(partition_id p,
                                                  std::span<const std::uint8_t> batches) {
    if (_broken) {
        co_return std::errc::io_error;
    }
    if (batches.empty()) {
        co_return result<void, std::errc>{};
    }
    waiter w{p, batches, {}, {}};
    co_await wait_for_write{this, &w};
    co_return w.outcome;
}

std::size_t journal::entry_length(std::span<waiter* const> round) noexcept {
    std::size_t length = journal_entry_header_size;
    for (const waiter* w : round) {
        length += section_header_size + w->bytes.size();
    }
    return length;
}

std::size_t journal::encode(std::span<waiter* const> round) {
    const std::size_t length = entry_length(round);
    ZAMA_ASSERT(length <= 0xFFFF'FFFFu, "journal entry larger than 4 GiB");
    const std::size_t padded = round_up(length);
    reserve(padded);
    std::uint8_t* b = _buffer.get();
    b[0] = journal_format_version;
    store_le(b + at_length, static_cast<std::uint32_t>(length));
    store_le(b + at_entry_generation, _generation);
    store_le(b + at_sections, static_cast<std::uint32_t>(round.size()));
    std::size_t at = journal_entry_header_size;
    for (const waiter* w : round) {
        store_le(b + at, w->partition.value());
        store_le(b + at + 4, static_cast<std::uint32_t>(w->bytes.size()));
        at += section_header_size;
        std::memcpy(b + at, w->bytes.data(), w->bytes.size());
        at += w->bytes.size();
    }
    std::memset(b + length, 0, padded - length);
    store_le(b + at_crc, crc32c({b + at_length, length - at_length}));
    return padded;
}

rt::task<result<void, std::errc>> journal::checkpoint() {
    // One syncfs at a time: they share the file's error cursor, so a
    // background one running now could take the error this one must see.
    co_await wait_for_sync{this};
    if (_broken) {
        co_return std::errc::io_error;
    }
    auto synced = co_await _file->sync_filesystem();
    if (!synced) {
        co_return synced.error();
    }
    ++_generation;
    auto header = co_await write_header();
    if (!header) {
        co_return header.error();
    }
    _position = journal_block;
    _next_sync_at = journal_block + sync_step(_capacity);
    ++_checkpoints;
    co_return result<void, std::errc>{};
}

rt::task<void> journal::sync_in_background() {
    auto synced = co_await _file->sync_filesystem();
    if (!synced && !_broken) {
        // The error is reported once: a later checkpoint's syncfs on this
        // file would not see it, so nothing may count as synced from now.
        log::error("journal: background sync (syncfs) failed: {}; partitions sync their own "
                   "files from now on",
                   message_of(synced.error()));
        _broken = true;
    }
    ++_background_syncs;
    _syncing = false;
    if (_sync_waiter) {
        rt::reactor::local().schedule(std::exchange(_sync_waiter, {}));
    }
}

rt::task<void> journal::run() {
    while (!_next.empty()) {
        // Everyone waiting now wrote their segment before this write starts.
        std::vector<waiter*> round;
        round.swap(_next);
        result<void, std::errc> outcome{};
        if (_broken) {
            outcome = std::errc::io_error;
        } else {
            const std::size_t bytes = round_up(entry_length(round));
            if (_position + bytes > _capacity || bytes > _round_limit) {
                // Full, or a round that costs more to write twice than to
                // sync once: a checkpoint makes every segment durable, this
                // round's included, so the round is not written.
                outcome = co_await checkpoint();
                if (!outcome) {
                    log::error("journal: checkpoint (syncfs) failed: {}; partitions sync their "
                               "own files from now on",
                               message_of(outcome.error()));
                    _broken = true;
                }
            } else {
                const std::size_t padded = encode(round);
                const iovec v{_buffer.get(), padded};
                outcome = co_await _file->write_at(_position, {&v, 1});
                if (outcome) {
                    _position += padded;
                    ++_writes;
                    if (_position >= _next_sync_at && !_syncing) {
                        _syncing = true;
                        _next_sync_at = _position + sync_step(_capacity);
                        rt::reactor::local().spawn(sync_in_background());
                    }
                } else {
                    log::error("journal: write of {} bytes at {} failed: {}; partitions sync "
                               "their own files from now on",
                               padded, _position, message_of(outcome.error()));
                    _broken = true;
                }
            }
        }
        for (waiter* w : round) {
            w->outcome = outcome;
            rt::reactor::local().schedule(w->handle);
        }
    }
    _running = false;
}

rt::task<result<void, std::errc>> journal::close() {
    ZAMA_ASSERT(_next.empty() && !_running, "journal closed with commits waiting");
    co_await wait_for_sync{this};
    result<void, std::errc> outcome{};
    if (!_broken && _position > journal_block) {
        outcome = co_await checkpoint();
    }
    auto closed = co_await _file->close();
    co_return !outcome ? outcome : closed;
}

rt::task<result<journal_contents, std::errc>> read_journal(rt::file_system& fs, std::string path) {
    auto opened = co_await fs.open(path, rt::open_options{});
    if (!opened) {
        co_return opened.error();
    }
    std::unique_ptr<rt::file> f = std::move(*opened);
    auto out = co_await read_journal(*f);
    auto closed = co_await f->close();
    (void)closed; // read-only
    co_return out;
}

rt::task<result<journal_contents, std::errc>> read_journal(rt::file& f) {
    journal_contents out;
    const std::uint64_t size = f.size();
    auto header = co_await read_generation(f);
    if (!header) {
        co_return header.error();
    }
    if (!*header) {
        // Written only after everything before it was synced (a checkpoint
        // or an open after replay): a torn header hides nothing acked.
        out.header_ok = false;
        out.stopped = "no valid header";
        co_return out;
    }
    out.generation = **header;
    std::vector<std::uint8_t> block(journal_block);
    std::uint64_t position = journal_block;
    std::vector<std::uint8_t> entry;
    while (position + journal_entry_header_size <= size) {
        auto first = co_await f.read(position, block);
        if (!first) {
            co_return first.error();
        }
        const std::uint8_t* e = block.data();
        const auto length = load_le<std::uint32_t>(e + at_length);
        if (*first < journal_entry_header_size || e[0] != journal_format_version ||
            load_le<std::uint64_t>(e + at_entry_generation) != out.generation ||
            length < journal_entry_header_size || length > size - position) {
            out.stopped =
                fmt::format("at byte {}: no entry of generation {}", position, out.generation);
            break;
        }
        entry.resize(length);
        auto all = co_await f.read(position, entry);
        if (!all) {
            co_return all.error();
        }
        if (*all != length || load_le<std::uint32_t>(entry.data() + at_crc) !=
                                  crc32c({entry.data() + at_length, length - at_length})) {
            out.stopped =
                fmt::format("at byte {}: an entry of {} bytes fails its CRC", position, length);
            break;
        }
        // The CRC checks: a section that does not fit is a writer's bug,
        // still not a reason to read past the entry.
        const auto sections = load_le<std::uint32_t>(entry.data() + at_sections);
        std::size_t at = journal_entry_header_size;
        bool fits = true;
        for (std::uint32_t i = 0; i < sections && fits; ++i) {
            if (length - at < section_header_size) {
                fits = false;
                break;
            }
            const auto p = load_le<std::uint32_t>(entry.data() + at);
            const auto n = load_le<std::uint32_t>(entry.data() + at + 4);
            at += section_header_size;
            if (n > length - at) {
                fits = false;
                break;
            }
            out.sections.push_back({partition_id{p},
                                    {entry.begin() + static_cast<std::ptrdiff_t>(at),
                                     entry.begin() + static_cast<std::ptrdiff_t>(at + n)}});
            at += n;
        }
        if (!fits || at != length) {
            out.stopped = fmt::format("at byte {}: an entry's sections do not parse", position);
            break;
        }
        ++out.entries;
        position += round_up(length);
    }
    co_return out;
}

} // namespace zama::commitlog
