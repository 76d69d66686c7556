#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "options.hpp"
#include "verifier.hpp"

namespace zama::bench {

/// CPU seconds (user + system) a process has used, from /proc; 0 if it is gone.
double process_cpu_seconds(int pid);
/// Resident memory of a process in bytes, from /proc; 0 if it is gone.
std::uint64_t process_rss_bytes(int pid);
/// The most resident memory a process has had (VmHWM), in bytes.
std::uint64_t process_peak_rss_bytes(int pid);
/// CPU seconds this process has used.
double own_cpu_seconds();

/// The figures of one run.
struct summary {
    double seconds = 0;         // the measured window (backlog: the drain)
    double publish_seconds = 0; // backlog: the publishing phase (else the window)
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t acked = 0;
    histogram latency;
    verifier::totals seen;
    std::uint64_t lost = 0;
    std::uint64_t expected = 0; // deliveries expected in the whole run
    std::uint64_t connects = 0;
    double connect_seconds = 0;
    histogram connect_latency;
    double bench_cpu = 0;  // CPU seconds of the load generator in the window
    double broker_cpu = 0; // CPU seconds of --broker-pid in the window
    std::uint64_t broker_rss = 0;
    std::uint64_t broker_rss_offline = 0; // backlog: once published, sessions offline
    std::uint64_t broker_rss_peak = 0;    // VmHWM at the end of the run
    std::uint64_t rss_before = 0;         // idle: before connecting
    std::vector<std::string> errors;
    bool failed = false;
};

/// One line a second while the run measures.
void print_progress(double at, double sent_rate, double received_rate, const histogram& latency);

/// The human summary, then one JSON line; decides the exit status (0, or
/// 1 when the run failed or lost what its QoS promises).
int print_summary(const bench_options& o, summary& s);

} // namespace zama::bench
