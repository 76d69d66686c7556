// append_bench: the commit log's raw append throughput against plain
// sequential writers of the same bytes with the same number of writes.
//
//   append_bench [--dir DIR] [--mib N] [--records-per-batch R] [--rounds K]
//                [--only zama|uring|plain|reused]
//
// zama: disk_log::append() of pre-built batches of R records (1 KiB
// payloads, one topic), one append per batch, through io_uring, fsync never.
// That is the log's whole append path: the batch encoding (format header,
// topic ids, CRC32C) and one write per batch.
// plain: write(2) of the log's bytes, encoded into memory beforehand, one
// write per batch (no encoding, no CRC while measured).
// uring: the same writes through the runtime's file (io_uring writev, as
// the log does), to tell the log's own cost from the I/O path's.
// reused: write(2) of as many bytes from one batch-sized buffer that stays
// in the cache.
//
// After one unmeasured warm-up write, each round runs the four (starting
// with another one each round), each on a fresh file in DIR (default
// /var/tmp, on disk) that is removed afterwards; the medians of payload
// MB/s and the ratios are printed. Pin it to a core with taskset.

#include "commitlog/disk_log.hpp"
#include "commitlog/record_batch.hpp"
#include "runtime/engine.hpp"
#include "runtime/uring_file_system.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

using namespace zama;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::size_t payload_size = 1024;

struct options {
    std::string dir = "/var/tmp";
    std::size_t mib = 1024;
    std::size_t records_per_batch = 64;
    int rounds = 3;
    std::string only; // "zama", "uring", "plain" or "reused": run that writer alone (to profile it)
};

struct measured {
    double seconds = 0;
    double cpu_seconds = 0;       // the process's, io_uring workers included
    std::uint64_t file_bytes = 0; // what reached the file

    double cpu_percent() const noexcept { return seconds > 0 ? 100.0 * cpu_seconds / seconds : 0; }
};

/// CPU seconds of the whole process so far, every thread counted.
double process_cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto s = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
    };
    return s(u.ru_utime) + s(u.ru_stime);
}

std::vector<commitlog::batch_ptr> make_batches(const options& o) {
    const std::size_t records = o.mib * (1u << 20) / payload_size;
    const std::vector<std::uint8_t> payload(payload_size, 'x');
    const std::string_view topic = "sensors/plant-1/line-4/temp";
    std::vector<commitlog::batch_ptr> batches;
    batches.reserve(records / o.records_per_batch + 1);
    for (std::size_t at = 0; at < records; at += o.records_per_batch) {
        auto b = commitlog::batch_ptr::make(commitlog::partition_id{0}, at);
        const std::size_t n = std::min(o.records_per_batch, records - at);
        b->reserve(n, n * (topic.size() + payload_size));
        for (std::size_t i = 0; i < n; ++i) {
            b->append(topic, payload, {1, false});
        }
        b->set_timestamp(1);
        batches.push_back(std::move(b));
    }
    return batches;
}

rt::task<measured> run_zama(const std::string& dir, const std::vector<commitlog::batch_ptr>& all) {
    rt::uring_file_system fs;
    measured m;
    // As the broker opens partitions under `fsync = never`.
    auto opened = co_await commitlog::disk_log::open(fs, dir, commitlog::partition_id{0},
                                                     {.sync_on_roll = false});
    if (!opened) {
        std::fprintf(stderr, "append_bench: cannot open the log in %s: %s\n", dir.c_str(),
                     std::make_error_code(opened.error()).message().c_str());
        std::exit(1);
    }
    commitlog::disk_log& log = **opened;
    const auto t0 = clock_type::now();
    const double c0 = process_cpu_seconds();
    for (const commitlog::batch_ptr& b : all) {
        auto appended = co_await log.append({&b, 1});
        if (!appended) {
            std::fprintf(stderr, "append_bench: append failed: %s\n",
                         std::make_error_code(appended.error()).message().c_str());
            std::exit(1);
        }
    }
    m.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    m.cpu_seconds = process_cpu_seconds() - c0;
    m.file_bytes = log.size_bytes();
    auto closed = co_await log.close();
    (void)closed;
    co_return m;
}

/// The log's bytes as plain writers get them: encoded before the clock
/// starts, in memory, written as one write per batch.
struct file_image {
    std::vector<std::uint8_t> bytes;
    std::vector<iovec> writes;     // one per batch, into `bytes`
    std::vector<iovec> one_buffer; // as many writes of as many bytes, all from the first batch's
};

file_image encode_image(const std::vector<commitlog::batch_ptr>& batches) {
    file_image image;
    std::vector<std::size_t> ends;
    std::vector<commitlog::topic_id> ids;
    for (const commitlog::batch_ptr& b : batches) {
        ids.assign(b->size(), commitlog::topic_id{0});
        commitlog::encode_batch(*b, b->timestamp(), ids, image.bytes);
        ends.push_back(image.bytes.size());
    }
    std::size_t start = 0;
    for (std::size_t end : ends) {
        image.writes.push_back({image.bytes.data() + start, end - start});
        image.one_buffer.push_back({image.bytes.data(), end - start});
        start = end;
    }
    return image;
}

rt::task<measured> run_uring(std::string path, const std::vector<iovec>& writes) {
    rt::uring_file_system fs;
    auto f = co_await fs.open(path, {.write = true, .create = true, .truncate = true});
    if (!f) {
        std::fprintf(stderr, "append_bench: cannot open %s\n", path.c_str());
        std::exit(1);
    }
    measured m;
    const auto t0 = clock_type::now();
    const double c0 = process_cpu_seconds();
    for (const iovec& v : writes) {
        auto w = co_await (*f)->append({&v, 1});
        if (!w) {
            std::fprintf(stderr, "append_bench: write failed\n");
            std::exit(1);
        }
        m.file_bytes += v.iov_len;
    }
    m.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    m.cpu_seconds = process_cpu_seconds() - c0;
    auto closed = co_await (*f)->close();
    (void)closed;
    co_return m;
}

measured run_plain(const std::string& path, const std::vector<iovec>& writes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        std::perror("append_bench: open");
        std::exit(1);
    }
    measured m;
    const auto t0 = clock_type::now();
    const double c0 = process_cpu_seconds();
    for (const iovec& v : writes) {
        if (::write(fd, v.iov_base, v.iov_len) != static_cast<ssize_t>(v.iov_len)) {
            std::perror("append_bench: write");
            std::exit(1);
        }
        m.file_bytes += v.iov_len;
    }
    m.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    m.cpu_seconds = process_cpu_seconds() - c0;
    ::close(fd);
    return m;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "append_bench: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--dir") {
            o.dir = next();
        } else if (a == "--mib") {
            o.mib = std::stoul(next());
        } else if (a == "--records-per-batch") {
            o.records_per_batch = std::max<std::size_t>(1, std::stoul(next()));
        } else if (a == "--rounds") {
            o.rounds = std::max(1, std::stoi(next()));
        } else if (a == "--only") {
            o.only = next();
        } else {
            std::fprintf(stderr,
                         "usage: append_bench [--dir DIR] [--mib N] [--records-per-batch R] "
                         "[--rounds K] [--only zama|uring|plain|reused]\n");
            return 2;
        }
    }
    static constexpr std::array<const char*, 4> writers = {"zama", "uring", "plain", "reused"};
    if (!o.only.empty() && std::find(writers.begin(), writers.end(), o.only) == writers.end()) {
        std::fprintf(stderr, "append_bench: --only takes zama, uring, plain or reused\n");
        return 2;
    }
    const std::vector<commitlog::batch_ptr> batches = make_batches(o);
    const file_image image = encode_image(batches);
    const double payload_mb = static_cast<double>(o.mib * (1u << 20)) / 1e6;
    std::printf("append_bench: %zu MiB of 1 KiB records, %zu per batch (%zu appends), fsync never, "
                "in %s (%.1f %% of the file is format)\n",
                o.mib, o.records_per_batch, batches.size(), o.dir.c_str(),
                100.0 * (1.0 - payload_mb * 1e6 / static_cast<double>(image.bytes.size())));

    const std::string base = o.dir + "/append_bench." + std::to_string(::getpid());
    auto fresh_dir = [&base] {
        std::filesystem::remove_all(base);
        std::filesystem::create_directories(base);
    };
    // One engine for the writers on io_uring, as the broker's shard runs them.
    auto on_engine = [](auto body) {
        rt::engine_options eo;
        eo.shards = 1;
        eo.pin = false; // where taskset put it
        rt::engine e(eo);
        measured m;
        auto ran = e.run([&](rt::shard_id) -> rt::task<void> {
            m = co_await body();
            rt::engine::local().request_stop();
        });
        if (!ran) {
            std::fprintf(stderr, "append_bench: %s\n", ran.error().message.c_str());
            std::exit(1);
        }
        return m;
    };
    // A first write of as much, not measured: the first use of fresh memory
    // for the page cache is slow (in a VM, the host backs it on first touch),
    // and whichever writer ran first paid for it.
    fresh_dir();
    (void)run_plain(base + "/warm-up", image.writes);
    std::array<std::vector<double>, writers.size()> rates;
    for (int round = 0; round < o.rounds; ++round) {
        std::printf("  round %d:", round + 1);
        for (std::size_t k = 0; k < writers.size(); ++k) {
            // Each round starts with another writer, so none always follows
            // the same one's writeback.
            const std::size_t w = (k + static_cast<std::size_t>(round)) % writers.size();
            const std::string_view which = writers[w];
            if (!o.only.empty() && o.only != which) {
                continue;
            }
            fresh_dir();
            measured m;
            if (which == "zama") {
                m = on_engine([&]() { return run_zama(base, batches); });
            } else if (which == "uring") {
                m = on_engine([&]() { return run_uring(base + "/uring", image.writes); });
            } else if (which == "plain") {
                m = run_plain(base + "/plain", image.writes);
            } else {
                m = run_plain(base + "/reused", image.one_buffer);
            }
            if (m.file_bytes != image.bytes.size()) {
                std::fprintf(stderr, "append_bench: %s wrote %llu bytes, not %zu\n", writers[w],
                             static_cast<unsigned long long>(m.file_bytes), image.bytes.size());
                return 1;
            }
            rates[w].push_back(payload_mb / m.seconds);
            std::printf(" %s %.0f MB/s (CPU %.0f %%)%s", writers[w], rates[w].back(),
                        m.cpu_percent(), k + 1 < writers.size() && o.only.empty() ? "," : "");
        }
        std::printf("\n");
        std::filesystem::remove_all(base);
    }
    if (!o.only.empty()) {
        return 0;
    }
    const double zama_rate = median(rates[0]);
    const double uring = median(rates[1]);
    const double plain = median(rates[2]);
    const double reused = median(rates[3]);
    std::printf("median payload MB/s: zama %.0f, uring %.0f, plain %.0f, reused %.0f: zama is %.0f "
                "%% of plain (%.0f %% of reused), %.0f %% of uring\n",
                zama_rate, uring, plain, reused, 100.0 * zama_rate / plain,
                100.0 * zama_rate / reused, 100.0 * zama_rate / uring);
    return 0;
}
