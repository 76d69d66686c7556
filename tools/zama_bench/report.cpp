#include "report.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

namespace zama::bench {

double process_cpu_seconds(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = s.rfind(')');
    if (close == std::string::npos) {
        return 0;
    }
    // After the command come the fields from 3 (state); utime and stime are 14 and 15.
    std::istringstream rest(s.substr(close + 2));
    std::string field;
    double utime = 0;
    double stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) {
            utime = std::strtod(field.c_str(), nullptr);
        } else if (i == 15) {
            stime = std::strtod(field.c_str(), nullptr);
        }
    }
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

namespace {

// A "Name:   N kB" line of /proc/<pid>/status, in bytes.
std::uint64_t status_bytes(int pid, std::string_view field) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.starts_with(field)) {
            return std::strtoull(line.c_str() + field.size(), nullptr, 10) * 1024;
        }
    }
    return 0;
}

} // namespace

std::uint64_t process_rss_bytes(int pid) {
    return status_bytes(pid, "VmRSS:");
}

std::uint64_t process_peak_rss_bytes(int pid) {
    return status_bytes(pid, "VmHWM:");
}

double own_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto secs = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return secs(u.ru_utime) + secs(u.ru_stime);
}

namespace {

std::string human_rate(double v) {
    char b[32];
    if (v >= 1e6) {
        std::snprintf(b, sizeof b, "%.2f M", v / 1e6);
    } else if (v >= 1e3) {
        std::snprintf(b, sizeof b, "%.1f k", v / 1e3);
    } else {
        std::snprintf(b, sizeof b, "%.0f ", v);
    }
    return b;
}

std::string human_time(std::uint64_t ns) {
    char b[32];
    if (ns >= 1000000000) {
        std::snprintf(b, sizeof b, "%.2f s", static_cast<double>(ns) / 1e9);
    } else if (ns >= 1000000) {
        std::snprintf(b, sizeof b, "%.2f ms", static_cast<double>(ns) / 1e6);
    } else {
        std::snprintf(b, sizeof b, "%.0f us", static_cast<double>(ns) / 1e3);
    }
    return b;
}

std::string json_escape(const std::string& s) {
    std::string out;
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

} // namespace

void print_progress(double at, double sent_rate, double received_rate, const histogram& latency) {
    std::fprintf(stderr, "[%5.1fs] sent %smsg/s  received %smsg/s  latency p50 %s  p99 %s\n", at,
                 human_rate(sent_rate).c_str(), human_rate(received_rate).c_str(),
                 human_time(latency.quantile(0.5)).c_str(),
                 human_time(latency.quantile(0.99)).c_str());
}

int print_summary(const bench_options& o, summary& s) {
    const bool connecting = o.scenario == scenario::connect_storm || o.scenario == scenario::idle;
    const double secs = s.seconds > 0 ? s.seconds : 1;
    const double publish_secs = s.publish_seconds > 0 ? s.publish_seconds : secs;
    const double sent_rate = static_cast<double>(s.sent) / publish_secs;
    const double received_rate = static_cast<double>(s.received) / secs;
    const double mb = received_rate * static_cast<double>(o.payload) / 1e6;
    const double connect_rate =
        s.connect_seconds > 0 ? static_cast<double>(s.connects) / s.connect_seconds : 0;

    // What the QoS promises decides failure: nothing lost at QoS 1/2, no
    // duplicate at QoS 2, per-publisher order always.
    if (o.qos >= 1 && s.lost > 0) {
        s.errors.push_back(std::to_string(s.lost) + " QoS " + std::to_string(o.qos) +
                           " messages LOST");
    }
    if (o.qos == 2 && s.seen.duplicated > 0) {
        s.errors.push_back(std::to_string(s.seen.duplicated) + " QoS 2 messages DUPLICATED");
    }
    if (s.seen.out_of_order > 0) {
        s.errors.push_back(std::to_string(s.seen.out_of_order) + " messages OUT OF ORDER");
    }
    const bool ok = s.errors.empty() && !s.failed;

    std::printf(
        "zama-bench %s, QoS %d, %zu B payloads, %u publishers, %u subscribers, %u thread(s)\n",
        std::string(to_string(o.scenario)).c_str(), o.qos, o.payload, o.publishers, o.subscribers,
        o.threads);
    if (!connecting) {
        std::printf("  window     %.1f s\n", s.seconds);
        std::printf("  sent       %smsg/s (%llu)\n", human_rate(sent_rate).c_str(),
                    static_cast<unsigned long long>(s.sent));
        std::printf("  received   %smsg/s (%llu), %.1f MB/s of payload\n",
                    human_rate(received_rate).c_str(), static_cast<unsigned long long>(s.received),
                    mb);
        std::printf("  latency    p50 %s  p99 %s  p99.9 %s  max %s\n",
                    human_time(s.latency.quantile(0.5)).c_str(),
                    human_time(s.latency.quantile(0.99)).c_str(),
                    human_time(s.latency.quantile(0.999)).c_str(),
                    human_time(s.latency.max()).c_str());
        std::printf("  verified   %llu of %llu expected deliveries: lost %llu, duplicated %llu, "
                    "out of order %llu\n",
                    static_cast<unsigned long long>(s.seen.unique),
                    static_cast<unsigned long long>(s.expected),
                    static_cast<unsigned long long>(s.lost),
                    static_cast<unsigned long long>(s.seen.duplicated),
                    static_cast<unsigned long long>(s.seen.out_of_order));
    } else {
        std::printf("  connects   %llu in %.2f s: %sconnects/s, CONNACK p50 %s p99 %s\n",
                    static_cast<unsigned long long>(s.connects), s.connect_seconds,
                    human_rate(connect_rate).c_str(),
                    human_time(s.connect_latency.quantile(0.5)).c_str(),
                    human_time(s.connect_latency.quantile(0.99)).c_str());
    }
    const double bench_share = s.bench_cpu / secs;
    const double broker_share = s.broker_cpu / secs;
    const double per_million =
        s.received > 0 ? s.broker_cpu / (static_cast<double>(s.received) / 1e6) : 0;
    std::int64_t rss_per_connection = 0;
    if (o.scenario == scenario::idle && s.connects > 0) {
        rss_per_connection =
            (static_cast<std::int64_t>(s.broker_rss) - static_cast<std::int64_t>(s.rss_before)) /
            static_cast<std::int64_t>(s.connects);
    }
    std::printf("  cpu        load generator %.0f %% of a core", bench_share * 100);
    if (o.broker_pid != 0) {
        std::printf("; broker %.0f %%, %.3f CPU s per million messages, RSS %.1f MB",
                    broker_share * 100, per_million, static_cast<double>(s.broker_rss) / 1e6);
        if (o.scenario == scenario::idle) {
            std::printf(", %lld B per connection", static_cast<long long>(rss_per_connection));
        }
        if (o.scenario == scenario::backlog) {
            std::printf(" (%.1f MB with the sessions offline)",
                        static_cast<double>(s.broker_rss_offline) / 1e6);
        }
        std::printf(", peak %.1f MB", static_cast<double>(s.broker_rss_peak) / 1e6);
    }
    std::printf("\n");
    for (const auto& e : s.errors) {
        std::printf("  ERROR      %s\n", e.c_str());
    }

    std::printf(
        "{\"scenario\":\"%s\",\"qos\":%d,\"payload\":%zu,\"publishers\":%u,\"subscribers\":%u,"
        "\"clients\":%u,\"threads\":%u,\"seconds\":%.3f,\"sent\":%llu,\"received\":%llu,"
        "\"sent_rate\":%.0f,\"received_rate\":%.0f,\"mb_per_s\":%.2f,"
        "\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},"
        "\"expected\":%llu,\"unique\":%llu,\"lost\":%llu,\"duplicated\":%llu,"
        "\"out_of_order\":%llu,\"connects\":%llu,\"connect_rate\":%.0f,"
        "\"bench_cpu_share\":%.3f,\"broker_cpu_share\":%.3f,\"broker_cpu_s_per_million\":%.4f,"
        "\"broker_rss\":%llu,\"broker_rss_offline\":%llu,\"broker_rss_peak\":%llu,"
        "\"rss_per_connection\":%lld,\"ok\":%s,\"errors\":[",
        std::string(to_string(o.scenario)).c_str(), o.qos, o.payload, o.publishers, o.subscribers,
        o.clients, o.threads, s.seconds, static_cast<unsigned long long>(s.sent),
        static_cast<unsigned long long>(s.received), sent_rate, received_rate, mb,
        static_cast<double>(s.latency.quantile(0.5)) / 1e3,
        static_cast<double>(s.latency.quantile(0.99)) / 1e3,
        static_cast<double>(s.latency.quantile(0.999)) / 1e3,
        static_cast<double>(s.latency.max()) / 1e3, static_cast<unsigned long long>(s.expected),
        static_cast<unsigned long long>(s.seen.unique), static_cast<unsigned long long>(s.lost),
        static_cast<unsigned long long>(s.seen.duplicated),
        static_cast<unsigned long long>(s.seen.out_of_order),
        static_cast<unsigned long long>(s.connects), connect_rate, bench_share, broker_share,
        per_million, static_cast<unsigned long long>(s.broker_rss),
        static_cast<unsigned long long>(s.broker_rss_offline),
        static_cast<unsigned long long>(s.broker_rss_peak),
        static_cast<long long>(rss_per_connection), ok ? "true" : "false");
    for (std::size_t i = 0; i < s.errors.size(); ++i) {
        std::printf("%s\"%s\"", i > 0 ? "," : "", json_escape(s.errors[i]).c_str());
    }
    std::printf("]}\n");
    std::fflush(stdout);
    return ok ? 0 : 1;
}

} // namespace zama::bench
