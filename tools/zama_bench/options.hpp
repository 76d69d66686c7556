#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zama::bench {

enum class scenario : std::uint8_t {
    fan_in,        // P publishers -> 1 subscriber
    fan_out,       // 1 publisher -> S subscribers
    pairs,         // N publisher/subscriber pairs, a topic each
    wildcard,      // P publishers over T topics -> S subscribers on a '+' filter
    connect_storm, // C connections as fast as possible
    idle,          // hold C connections (memory per connection)
    backlog,       // persistent subscribers go offline, come back and drain
};

std::string_view to_string(scenario s) noexcept;

struct bench_options {
    bench::scenario scenario = scenario::fan_in;
    std::string host = "127.0.0.1";
    std::uint16_t port = 1883;
    int qos = 0;
    std::size_t payload = 64; // bytes, at least the stamp
    double rate = 0;          // total messages/s offered by all publishers; 0: as fast as possible
    double duration = 10;     // seconds measured (idle: seconds held)
    double warmup = 1;        // seconds before measuring
    std::uint64_t count =
        0; // messages per publisher (0: until the duration ends); backlog: per publisher
    unsigned window = 64;      // QoS 1/2 messages in flight per publisher
    unsigned publishers = 0;   // 0: the scenario's default
    unsigned subscribers = 0;  // 0: the scenario's default
    unsigned clients = 0;      // pairs, connect-storm, idle: how many (0: default)
    unsigned topics = 0;       // wildcard: topics (0: default)
    unsigned concurrency = 0;  // connect-storm: CONNECTs in flight per thread (0: default)
    unsigned threads = 1;      // load generator threads (pinned)
    std::string topic;         // publishers' topic, %i = publisher (or pair) index
    std::string filter;        // subscribers' filter, %i = subscriber index
    int broker_pid = 0;        // to report the broker's CPU and RSS
    double drain_timeout = 10; // seconds to wait for the last messages after publishing stops
    std::string client_prefix = "zb";
};

/// Parses the command line and fills in the scenario's defaults. Prints
/// help or the error and returns the exit code when the run should not go on.
std::optional<int> parse_options(int argc, char** argv, bench_options& out);

/// `pattern` with every %i replaced by `index`.
std::string expand(std::string_view pattern, unsigned index);

} // namespace zama::bench
