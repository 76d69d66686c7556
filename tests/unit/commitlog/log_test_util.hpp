#pragma once

// Helpers for the commit log tests: batches with recognisable records, a
// flat view of records to compare, synchronous wrappers around the
// disk_log coroutines (each runs on a fresh reactor), and a file system
// decorator that counts writes.

#include "commitlog/disk_log.hpp"
#include "runtime/memory_file_system.hpp"
#include "runtime/reactor.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "../runtime/runtime_test_util.hpp"

namespace zama::commitlog::test {

using rt::test::run;

/// Polls `done` every millisecond; false if it is still not true after `limit`.
template <typename Done>
rt::task<bool> eventually(Done done, rt::duration limit = std::chrono::seconds(2)) {
    rt::reactor& r = rt::reactor::local();
    const rt::time_point deadline = r.now() + limit;
    while (!done()) {
        if (r.now() >= deadline) {
            co_return false;
        }
        co_await r.sleep_for(std::chrono::milliseconds(1));
    }
    co_return true;
}

inline std::span<const std::uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// A batch of `n` records from `base`; record o has topic "<prefix>/<o % 3>",
/// payload "payload-<o>" and flags derived from o.
inline batch_ptr make_batch(offset base, std::size_t n, const std::string& prefix = "t",
                            std::int64_t timestamp = 1'000, partition_id p = partition_id{0}) {
    batch_ptr b = batch_ptr::make(p, base);
    for (std::size_t i = 0; i < n; ++i) {
        const offset o = base + i;
        const std::string payload = "payload-" + std::to_string(o);
        b->append(prefix + "/" + std::to_string(o % 3), bytes_of(payload),
                  {static_cast<std::uint8_t>(o % 3), o % 2 == 1});
    }
    b->set_timestamp(timestamp);
    return b;
}

struct flat_record {
    offset at = 0;
    std::string topic;
    std::string payload;
    int qos = 0;
    bool retain = false;
    bool operator==(const flat_record&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const flat_record& r) {
    return os << "{" << r.at << " " << r.topic << " " << r.payload << " q" << r.qos
              << (r.retain ? " r" : "") << "}";
}

/// The records of `batches` from offset `from` on.
inline std::vector<flat_record> flatten(const std::vector<batch_ptr>& batches, offset from = 0) {
    std::vector<flat_record> out;
    for (const batch_ptr& b : batches) {
        for (std::size_t i = 0; i < b->size(); ++i) {
            const record& r = b->at(i);
            if (r.at < from) {
                continue;
            }
            const auto p = b->payload(r);
            out.push_back({r.at, std::string(b->topic(r)), std::string(p.begin(), p.end()),
                           r.flags.qos, r.flags.retain});
        }
    }
    return out;
}

inline std::unique_ptr<disk_log> open_log(rt::file_system& fs, const std::string& dir,
                                          disk_log_options options = {}) {
    auto r = run(disk_log::open(fs, dir, partition_id{0}, options));
    EXPECT_TRUE(r.has_value()) << (r ? "" : std::make_error_code(r.error()).message());
    return r ? std::move(*r) : nullptr;
}

inline result<void, std::errc> append(disk_log& log, const std::vector<batch_ptr>& batches) {
    return run(log.append(batches));
}

inline result<void, std::errc> append(disk_log& log, const batch_ptr& batch) {
    return append(log, std::vector<batch_ptr>{batch});
}

/// Appends `batches` batches of 1..4 records (one append each), from end().
inline std::vector<batch_ptr> fill(disk_log& log, std::size_t batches,
                                   const std::string& prefix = "t",
                                   std::int64_t timestamp = 1'000) {
    std::vector<batch_ptr> written;
    for (std::size_t i = 0; i < batches; ++i) {
        batch_ptr b = make_batch(log.end(), 1 + i % 4, prefix, timestamp);
        EXPECT_TRUE(append(log, b).has_value());
        written.push_back(b);
    }
    return written;
}

inline result<void, std::errc> flush(disk_log& log) {
    return run(log.flush());
}

inline void close(std::unique_ptr<disk_log>& log) {
    if (log) {
        EXPECT_TRUE(run(log->close()).has_value());
        log.reset();
    }
}

/// Every batch from `from` to the end, in reads of `chunk` bytes.
inline std::vector<batch_ptr> read_all(disk_log& log, offset from = 0, std::size_t chunk = 4096) {
    std::vector<batch_ptr> all;
    for (;;) {
        auto got = run(log.read(from, chunk));
        EXPECT_TRUE(got.has_value());
        if (!got || got->empty()) {
            break;
        }
        for (auto& b : *got) {
            from = std::max(from, b->end());
            all.push_back(std::move(b));
        }
    }
    return all;
}

/// The name of a segment's file.
inline std::string segment_file(const std::string& dir, offset base, const char* extension) {
    return dir + "/" + segment::file_stem(base) + extension;
}

/// A file system that passes everything to another and counts appends per
/// path: the tests check that one append() writes once.
class counting_file_system final : public rt::file_system {
  public:
    explicit counting_file_system(rt::file_system& inner)
        : _inner(inner) {}

    std::map<std::string, int> appends;

    rt::task<result<std::unique_ptr<rt::file>, std::errc>> open(std::string path,
                                                                rt::open_options o) override {
        auto f = co_await _inner.open(path, o);
        if (!f) {
            co_return f.error();
        }
        co_return std::unique_ptr<rt::file>(
            std::make_unique<counting_file>(std::move(*f), appends[path]));
    }
    rt::task<result<void, std::errc>> rename(std::string from, std::string to) override {
        co_return co_await _inner.rename(std::move(from), std::move(to));
    }
    rt::task<result<void, std::errc>> remove(std::string path) override {
        co_return co_await _inner.remove(std::move(path));
    }
    rt::task<result<void, std::errc>> make_directory(std::string path) override {
        co_return co_await _inner.make_directory(std::move(path));
    }
    rt::task<result<void, std::errc>> sync_directory(std::string path) override {
        co_return co_await _inner.sync_directory(std::move(path));
    }
    rt::task<result<std::vector<std::string>, std::errc>> list(std::string dir) override {
        co_return co_await _inner.list(std::move(dir));
    }

  private:
    class counting_file final : public rt::file {
      public:
        counting_file(std::unique_ptr<rt::file> f, int& count)
            : _f(std::move(f))
            , _count(count) {}
        rt::task<result<void, std::errc>> append(std::span<const iovec> data) override {
            ++_count;
            co_return co_await _f->append(data);
        }
        rt::task<result<void, std::errc>> write_at(std::uint64_t at,
                                                   std::span<const iovec> data) override {
            ++_count;
            co_return co_await _f->write_at(at, data);
        }
        rt::task<result<std::size_t, std::errc>> read(std::uint64_t at,
                                                      std::span<std::uint8_t> into) override {
            co_return co_await _f->read(at, into);
        }
        rt::task<result<void, std::errc>> datasync() override { co_return co_await _f->datasync(); }
        rt::task<result<void, std::errc>> sync_filesystem() override {
            co_return co_await _f->sync_filesystem();
        }
        rt::task<result<void, std::errc>> truncate(std::uint64_t size) override {
            co_return co_await _f->truncate(size);
        }
        rt::task<result<void, std::errc>> close() override { co_return co_await _f->close(); }
        std::uint64_t size() const noexcept override { return _f->size(); }

      private:
        std::unique_ptr<rt::file> _f;
        int& _count;
    };

    rt::file_system& _inner;
};

} // namespace zama::commitlog::test

namespace zama::commitlog::test {

/// A copy of `dir` of `from` (everything counts as synced in the copy).
inline std::unique_ptr<rt::memory_file_system> copy_of(rt::memory_file_system& from,
                                                       const std::string& dir) {
    auto to = std::make_unique<rt::memory_file_system>();
    EXPECT_TRUE(run(to->make_directory(dir)).has_value());
    auto names = run(from.list(dir));
    EXPECT_TRUE(names.has_value());
    for (const auto& name : *names) {
        to->put(dir + "/" + name, *from.contents(dir + "/" + name));
    }
    return to;
}

/// Start positions of the batches in a segment file's bytes.
inline std::vector<std::size_t> batch_positions(const std::vector<std::uint8_t>& bytes) {
    std::vector<std::size_t> out;
    std::size_t at = 0;
    while (at < bytes.size()) {
        auto h = read_header(std::span(bytes).subspan(at));
        if (!h) {
            break;
        }
        out.push_back(at);
        at += h->length;
    }
    return out;
}

} // namespace zama::commitlog::test
