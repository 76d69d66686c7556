#include "options.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>

#include "stamp.hpp"

namespace zama::bench {

std::string_view to_string(scenario s) noexcept {
    switch (s) {
    case scenario::fan_in:
        return "fan-in";
    case scenario::fan_out:
        return "fan-out";
    case scenario::pairs:
        return "pairs";
    case scenario::wildcard:
        return "wildcard";
    case scenario::connect_storm:
        return "connect-storm";
    case scenario::idle:
        return "idle";
    case scenario::backlog:
        return "backlog";
    }
    return "?";
}

std::string expand(std::string_view pattern, unsigned index) {
    std::string out;
    out.reserve(pattern.size() + 8);
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == '%' && i + 1 < pattern.size() && pattern[i + 1] == 'i') {
            out += std::to_string(index);
            ++i;
        } else {
            out += pattern[i];
        }
    }
    return out;
}

namespace {

void apply_defaults(bench_options& o) {
    auto set = [](unsigned& v, unsigned d) {
        if (v == 0) {
            v = d;
        }
    };
    auto set_text = [](std::string& v, const char* d) {
        if (v.empty()) {
            v = d;
        }
    };
    switch (o.scenario) {
    case scenario::fan_in:
        set(o.publishers, 10);
        set(o.subscribers, 1);
        set_text(o.topic, "bench/in/%i");
        set_text(o.filter, "bench/in/+");
        break;
    case scenario::fan_out:
        set(o.publishers, 1);
        set(o.subscribers, 50);
        set_text(o.topic, "bench/out");
        set_text(o.filter, "bench/out");
        break;
    case scenario::pairs:
        set(o.clients, 100);
        o.publishers = o.clients;
        o.subscribers = o.clients;
        set_text(o.topic, "bench/pair/%i");
        set_text(o.filter, "bench/pair/%i");
        break;
    case scenario::wildcard:
        set(o.publishers, 10);
        set(o.subscribers, 10);
        set(o.topics, 1000);
        set_text(o.topic, "bench/wild/%i/data");
        set_text(o.filter, "bench/wild/+/data");
        break;
    case scenario::connect_storm:
        set(o.clients, 10000);
        set(o.concurrency, 100);
        break;
    case scenario::idle:
        set(o.clients, 10000);
        set(o.concurrency, 100);
        break;
    case scenario::backlog:
        set(o.publishers, 1);
        set(o.subscribers, 10);
        if (o.count == 0) {
            o.count = 100000;
        }
        if (o.qos == 0) {
            o.qos = 1;
        }
        set_text(o.topic, "bench/backlog");
        set_text(o.filter, "bench/backlog");
        break;
    }
    if (o.topics == 0) {
        o.topics = o.publishers; // one topic per publisher unless the scenario spreads them
    }
}

} // namespace

std::optional<int> parse_options(int argc, char** argv, bench_options& out) {
    CLI::App app("zama-bench: MQTT 3.1.1 load generator that verifies what it receives",
                 "zama-bench");
    std::string scenario_name;
    const std::map<std::string, scenario> names{
        {"fan-in", scenario::fan_in},
        {"fan-out", scenario::fan_out},
        {"pairs", scenario::pairs},
        {"wildcard", scenario::wildcard},
        {"connect-storm", scenario::connect_storm},
        {"idle", scenario::idle},
        {"backlog", scenario::backlog},
    };
    app.add_option("scenario", scenario_name,
                   "fan-in, fan-out, pairs, wildcard, connect-storm, idle or backlog")
        ->required()
        ->check(CLI::IsMember(names));
    app.add_option("-H,--host", out.host, "broker address (IPv4 or IPv6)")->capture_default_str();
    app.add_option("-p,--port", out.port, "broker port")->capture_default_str();
    app.add_option("-q,--qos", out.qos, "QoS of publishes and subscriptions")
        ->check(CLI::Range(0, 2))
        ->capture_default_str();
    app.add_option("-s,--size", out.payload, "payload bytes")
        ->check(CLI::Range(stamp_size, std::size_t{256} * 1024 * 1024))
        ->capture_default_str();
    app.add_option("-r,--rate", out.rate, "messages/s offered by all publishers together (0: max)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("-d,--duration", out.duration, "seconds to measure (idle: to hold)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("-w,--warmup", out.warmup, "seconds before measuring")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("-n,--count", out.count, "messages per publisher (0: until the duration ends)");
    app.add_option("--window", out.window, "QoS 1/2 messages in flight per publisher")
        ->check(CLI::Range(1, 32768))
        ->capture_default_str();
    app.add_option("-P,--publishers", out.publishers, "publishers (default per scenario)");
    app.add_option("-S,--subscribers", out.subscribers, "subscribers (default per scenario)");
    app.add_option("-c,--clients", out.clients,
                   "pairs, connect-storm, idle: number of pairs or connections");
    app.add_option("--topics", out.topics, "wildcard: number of topics");
    app.add_option("--concurrency", out.concurrency,
                   "connect-storm, idle: CONNECTs in flight per thread");
    app.add_option("-t,--threads", out.threads, "load generator threads (one per core, pinned)")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("--topic", out.topic, "publishers' topic; %i is the publisher's index");
    app.add_option("--filter", out.filter, "subscribers' filter; %i is the subscriber's index");
    app.add_option("--broker-pid", out.broker_pid, "report this process's CPU time and RSS");
    app.add_option("--drain-timeout", out.drain_timeout,
                   "seconds to wait for the last messages once publishing stops")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--client-prefix", out.client_prefix, "client ids start with this")
        ->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    out.scenario = names.at(scenario_name);
    apply_defaults(out);
    return std::nullopt;
}

} // namespace zama::bench
