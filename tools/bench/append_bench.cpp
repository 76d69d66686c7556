// append_bench: the commit log's raw append throughput against a plain
// sequential writer of the same bytes with the same number of writes.
//
//   append_bench [--dir DIR] [--mib N] [--records-per-batch R] [--rounds K]
//
// Zama: disk_log::append() of pre-built batches of R records (1 KiB
// payloads, one topic), one append per batch, through io_uring, fsync never.
// That is the log's whole append path: the batch encoding (format header,
// topic ids, CRC32C) and one write per batch.
// Plain: write(2) of the same number of bytes in the same number of calls
// to one file, from a buffer prepared beforehand (no encoding, no CRC).
// Uring: the same writes through the runtime's file (io_uring writev, as
// the log does), to tell the log's own cost from the I/O path's.
//
// Each round runs the three, each on a fresh file in DIR (default
// /var/tmp, on disk) that is removed afterwards; the medians of payload
// MB/s and the ratios are printed. Pin it to a core with taskset.

#include "commitlog/disk_log.hpp"
#include "commitlog/record_batch.hpp"
#include "runtime/engine.hpp"
#include "runtime/uring_file_system.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <string>
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
};

struct measured {
    double seconds = 0;
    std::uint64_t file_bytes = 0; // what reached the file
};

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
    auto opened = co_await commitlog::disk_log::open(fs, dir, commitlog::partition_id{0}, {});
    if (!opened) {
        std::fprintf(stderr, "append_bench: cannot open the log in %s: %s\n", dir.c_str(),
                     std::make_error_code(opened.error()).message().c_str());
        std::exit(1);
    }
    commitlog::disk_log& log = **opened;
    const auto t0 = clock_type::now();
    for (const commitlog::batch_ptr& b : all) {
        auto appended = co_await log.append({&b, 1});
        if (!appended) {
            std::fprintf(stderr, "append_bench: append failed: %s\n",
                         std::make_error_code(appended.error()).message().c_str());
            std::exit(1);
        }
    }
    m.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    m.file_bytes = log.size_bytes();
    auto closed = co_await log.close();
    (void)closed;
    co_return m;
}

rt::task<measured> run_uring(std::string path, std::uint64_t bytes, std::size_t writes) {
    const std::size_t each = (bytes + writes - 1) / writes;
    std::vector<std::uint8_t> buf(each, 'x');
    rt::uring_file_system fs;
    auto f = co_await fs.open(path, {.write = true, .create = true, .truncate = true});
    if (!f) {
        std::fprintf(stderr, "append_bench: cannot open %s\n", path.c_str());
        std::exit(1);
    }
    measured m;
    const auto t0 = clock_type::now();
    std::uint64_t left = bytes;
    while (left > 0) {
        const iovec v{buf.data(), std::min<std::uint64_t>(each, left)};
        auto w = co_await (*f)->append({&v, 1});
        if (!w) {
            std::fprintf(stderr, "append_bench: write failed\n");
            std::exit(1);
        }
        left -= v.iov_len;
    }
    m.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    m.file_bytes = bytes;
    auto closed = co_await (*f)->close();
    (void)closed;
    co_return m;
}

measured run_plain(const std::string& path, std::uint64_t bytes, std::size_t writes) {
    const std::size_t each = (bytes + writes - 1) / writes;
    const std::vector<std::uint8_t> buf(each, 'x');
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        std::perror("append_bench: open");
        std::exit(1);
    }
    measured m;
    const auto t0 = clock_type::now();
    std::uint64_t left = bytes;
    while (left > 0) {
        const std::size_t n = std::min<std::uint64_t>(each, left);
        if (::write(fd, buf.data(), n) != static_cast<ssize_t>(n)) {
            std::perror("append_bench: write");
            std::exit(1);
        }
        left -= n;
    }
    m.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    m.file_bytes = bytes;
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
        } else {
            std::fprintf(stderr,
                         "usage: append_bench [--dir DIR] [--mib N] [--records-per-batch R] "
                         "[--rounds K]\n");
            return 2;
        }
    }
    const std::vector<commitlog::batch_ptr> batches = make_batches(o);
    const double payload_mb = static_cast<double>(o.mib * (1u << 20)) / 1e6;
    std::printf("append_bench: %zu MiB of 1 KiB records, %zu per batch (%zu appends), fsync never, "
                "in %s\n",
                o.mib, o.records_per_batch, batches.size(), o.dir.c_str());

    std::vector<double> plain_rates;
    std::vector<double> uring_rates;
    std::vector<double> zama_rates;
    const std::string base = o.dir + "/append_bench." + std::to_string(::getpid());
    for (int round = 0; round < o.rounds; ++round) {
        measured z;
        measured u;
        std::filesystem::remove_all(base);
        std::filesystem::create_directories(base);
        rt::engine_options eo;
        eo.shards = 1;
        eo.pin = false; // where taskset put it
        rt::engine e(eo);
        auto ran = e.run([&](rt::shard_id) -> rt::task<void> {
            z = co_await run_zama(base, batches);
            std::filesystem::remove_all(base);
            std::filesystem::create_directories(base);
            u = co_await run_uring(base + "/uring", z.file_bytes, batches.size());
            rt::engine::local().request_stop();
        });
        if (!ran) {
            std::fprintf(stderr, "append_bench: %s\n", ran.error().message.c_str());
            return 1;
        }
        std::filesystem::remove_all(base);
        std::filesystem::create_directories(base);
        const measured p = run_plain(base + "/plain", z.file_bytes, batches.size());
        std::filesystem::remove_all(base);
        plain_rates.push_back(payload_mb / p.seconds);
        uring_rates.push_back(payload_mb / u.seconds);
        zama_rates.push_back(payload_mb / z.seconds);
        std::printf("  round %d: plain %.0f MB/s, uring %.0f MB/s, zama %.0f MB/s (%.1f %% of the "
                    "file is format)\n",
                    round + 1, plain_rates.back(), uring_rates.back(), zama_rates.back(),
                    100.0 * (1.0 - payload_mb * 1e6 / static_cast<double>(z.file_bytes)));
    }
    const double plain = median(plain_rates);
    const double uring = median(uring_rates);
    const double zama_rate = median(zama_rates);
    std::printf("median payload MB/s: plain %.0f, uring %.0f, zama %.0f: zama is %.0f %% of plain, "
                "%.0f %% of uring\n",
                plain, uring, zama_rate, 100.0 * zama_rate / plain, 100.0 * zama_rate / uring);
    return 0;
}
