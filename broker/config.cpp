#include "broker/config.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

#include <charconv>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

namespace zama::broker {
namespace {

std::string where(const std::string& path, const toml::source_region& at) {
    return fmt::format("{}:{}:{}", path, at.begin.line, at.begin.column);
}

// Reads one integer key within [lo, hi]; sets `error` when it is wrong.
template <typename T>
void read_int(const toml::table& t, const std::string& path, std::string_view key, T& out,
              std::int64_t lo, std::int64_t hi, std::string& error) {
    const toml::node* n = t.get(key);
    if (n == nullptr || !error.empty()) {
        return;
    }
    const auto v = n->value<std::int64_t>();
    if (!n->is_integer() || !v) {
        error = fmt::format("{}: {}: must be an integer", where(path, n->source()), key);
        return;
    }
    if (*v < lo || *v > hi) {
        error = fmt::format("{}: {}: must be between {} and {} (got {})", where(path, n->source()),
                            key, lo, hi, *v);
        return;
    }
    out = static_cast<T>(*v);
}

void read_bool(const toml::table& t, const std::string& path, std::string_view key, bool& out,
               std::string& error) {
    const toml::node* n = t.get(key);
    if (n == nullptr || !error.empty()) {
        return;
    }
    if (!n->is_boolean()) {
        error = fmt::format("{}: {}: must be true or false", where(path, n->source()), key);
        return;
    }
    out = *n->value<bool>();
}

void read_string(const toml::table& t, const std::string& path, std::string_view key,
                 std::string& out, std::string& error) {
    const toml::node* n = t.get(key);
    if (n == nullptr || !error.empty()) {
        return;
    }
    if (!n->is_string()) {
        error = fmt::format("{}: {}: must be a string", where(path, n->source()), key);
        return;
    }
    out = *n->value<std::string>();
}

const std::set<std::string_view> known_keys{
    "bind_address",
    "port",
    "data_dir",
    "partitions",
    "shards",
    "fsync",
    "fsync_method",
    "segment_bytes",
    "segment_age",
    "retention_bytes",
    "retention_age",
    "max_packet_size",
    "max_inflight_messages",
    "max_queued_bytes",
    "queue_qos0_messages",
    "max_subscriptions_per_client",
    "catchup_read_bytes",
    "allow_zero_length_clientid",
    "connect_timeout",
    "partition_log_bytes",
    "sys_interval",
    "log_level",
};

std::optional<std::string> check(const config& c) {
    static const std::set<std::string_view> levels{"trace", "debug", "info", "warning", "error"};
    if (!levels.contains(c.log_level)) {
        return fmt::format(
            "log_level: must be one of trace, debug, info, warning, error (got '{}')", c.log_level);
    }
    if (c.fsync_method != "journal" && c.fsync_method != "syncfs" &&
        c.fsync_method != "fdatasync") {
        return fmt::format(
            "fsync_method: must be \"journal\", \"syncfs\" or \"fdatasync\" (got '{}')",
            c.fsync_method);
    }
    if (c.bind_address.empty()) {
        return std::string("bind_address: must not be empty");
    }
    return std::nullopt;
}

// fsync: a string ("always", "never") or an integer (milliseconds).
void read_fsync(const toml::table& t, const std::string& path, commitlog::fsync_policy& out,
                std::string& error) {
    const toml::node* n = t.get("fsync");
    if (n == nullptr || !error.empty()) {
        return;
    }
    std::string text;
    if (n->is_integer()) {
        text = std::to_string(*n->value<std::int64_t>());
    } else if (n->is_string()) {
        text = *n->value<std::string>();
    } else {
        error = fmt::format("{}: fsync: must be \"always\", \"never\" or milliseconds",
                            where(path, n->source()));
        return;
    }
    auto parsed = parse_fsync(text);
    if (!parsed) {
        error = fmt::format("{}: {}", where(path, n->source()), parsed.error());
        return;
    }
    out = *parsed;
}

void read_seconds(const toml::table& t, const std::string& path, std::string_view key,
                  std::chrono::seconds& out, std::int64_t lo, std::int64_t hi, std::string& error) {
    std::int64_t seconds = out.count();
    read_int(t, path, key, seconds, lo, hi, error);
    out = std::chrono::seconds(seconds);
}

} // namespace

result<commitlog::fsync_policy, std::string> parse_fsync(std::string_view text) {
    if (text == "always") {
        return commitlog::fsync_policy{.mode = commitlog::fsync_mode::always};
    }
    if (text == "never") {
        return commitlog::fsync_policy{.mode = commitlog::fsync_mode::never};
    }
    std::int64_t ms = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec != std::errc{} || end != text.data() + text.size() || ms < 1 || ms > 60'000) {
        return fmt::format("fsync: must be \"always\", \"never\" or milliseconds from 1 to "
                           "60000 (got '{}')",
                           text);
    }
    return commitlog::fsync_policy{.mode = commitlog::fsync_mode::interval,
                                   .interval = std::chrono::milliseconds(ms)};
}

result<config, std::string> load_config(const std::string& path, config base) {
    toml::table t;
    try {
        t = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        if (e.source().begin.line == 0) {
            return fmt::format("{}: {}", path, e.description());
        }
        return fmt::format("{}: {}", where(path, e.source()), e.description());
    }
    for (const auto& [key, node] : t) {
        if (!known_keys.contains(key.str())) {
            return fmt::format("{}: unknown key '{}'", where(path, key.source()), key.str());
        }
    }
    std::string error;
    constexpr std::int64_t max_size = std::numeric_limits<std::int32_t>::max();
    read_string(t, path, "bind_address", base.bind_address, error);
    read_int(t, path, "port", base.port, 0, 65535, error);
    read_string(t, path, "data_dir", base.data_dir, error);
    read_int(t, path, "partitions", base.partitions, 1, 65536, error);
    read_int(t, path, "shards", base.shards, 0, 64, error);
    read_fsync(t, path, base.fsync, error);
    read_string(t, path, "fsync_method", base.fsync_method, error);
    read_int(t, path, "segment_bytes", base.segment_bytes, 1 << 20,
             std::numeric_limits<std::int64_t>::max(), error);
    read_seconds(t, path, "segment_age", base.segment_age, 0, 10ll * 365 * 86400, error);
    read_int(t, path, "retention_bytes", base.retention_bytes, 0,
             std::numeric_limits<std::int64_t>::max(), error);
    read_seconds(t, path, "retention_age", base.retention_age, 0, 100ll * 365 * 86400, error);
    read_int(t, path, "max_packet_size", base.max_packet_size, 0, 268'435'460, error);
    read_int(t, path, "max_inflight_messages", base.max_inflight_messages, 1, 65535, error);
    read_int(t, path, "max_queued_bytes", base.max_queued_bytes, 1, max_size, error);
    read_bool(t, path, "queue_qos0_messages", base.queue_qos0_messages, error);
    read_int(t, path, "catchup_read_bytes", base.catchup_read_bytes, 1u << 16, max_size, error);
    read_int(t, path, "max_subscriptions_per_client", base.max_subscriptions_per_client, 1, 65535,
             error);
    read_bool(t, path, "allow_zero_length_clientid", base.allow_zero_length_clientid, error);
    read_seconds(t, path, "connect_timeout", base.connect_timeout, 1, 3600, error);
    read_int(t, path, "partition_log_bytes", base.partition_log_bytes, 4096, max_size, error);
    read_seconds(t, path, "sys_interval", base.sys_interval, 0, 86400, error);
    read_string(t, path, "log_level", base.log_level, error);
    if (!error.empty()) {
        return error;
    }
    if (auto bad = check(base)) {
        return fmt::format("{}: {}", path, *bad);
    }
    base.source = path;
    return base;
}

result<command_line, std::string> parse_command_line(int argc, char** argv) {
    CLI::App app("Zama: an MQTT 3.1.1 broker whose commit log is the queue", "zama");
    std::string file;
    std::optional<int> port;
    std::optional<std::string> data_dir;
    std::optional<unsigned> shards;
    std::optional<std::string> fsync;
    bool verbose = false;
    bool version = false;
    app.add_option("-c,--config-file", file, "read the configuration from FILE (TOML)");
    app.add_option("-p,--port", port, "listen on PORT (0: any free port)")
        ->check(CLI::Range(0, 65535));
    app.add_option("--data-dir", data_dir, "keep the commit log in DIR");
    app.add_option("--shards", shards, "run N shards (0: one per CPU)")->check(CLI::Range(0, 64));
    app.add_option("--fsync", fsync,
                   "sync the commit log: always (before every ack), never, or every N ms");
    app.add_flag("-v,--verbose", verbose, "log debug messages");
    app.add_flag("--version", version, "print the version and exit");

    command_line out;
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::ostringstream help;
        help << app.help();
        std::fputs(help.str().c_str(), stdout);
        out.exit_now = true;
        return out;
    } catch (const CLI::ParseError& e) {
        return std::string(e.what());
    }
    if (version) {
        std::printf("zama %s\n", ZAMA_VERSION);
        out.exit_now = true;
        return out;
    }
    config c;
    if (!file.empty()) {
        auto loaded = load_config(file, c);
        if (!loaded) {
            return loaded.error();
        }
        c = std::move(*loaded);
    }
    if (port) {
        c.port = static_cast<std::uint16_t>(*port);
    }
    if (data_dir) {
        c.data_dir = *data_dir;
    }
    if (shards) {
        c.shards = *shards;
    }
    if (fsync) {
        auto parsed = parse_fsync(*fsync);
        if (!parsed) {
            return "--" + parsed.error();
        }
        c.fsync = *parsed;
    }
    if (verbose) {
        c.log_level = "debug";
    }
    out.settings = std::move(c);
    return out;
}

} // namespace zama::broker
