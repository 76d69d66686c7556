#pragma once

#include "base/result.hpp"
#include "commitlog/partition_log.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace zama::broker {

/// Everything zama can be told, with its defaults. conf/zama.toml documents
/// each key; names are mosquitto's where the concept is the same.
struct config {
    // Network.
    std::string bind_address = "127.0.0.1";
    std::uint16_t port = 1883;

    // Storage and shards.
    std::string data_dir = "./data";
    std::uint32_t partitions = 64;
    unsigned shards = 0;           // 0: one per CPU
    commitlog::fsync_policy fsync; // fsync = "always" | "never" | milliseconds
    // "journal": one journal write per shard round; "syncfs": one syncfs
    // per shard round; "fdatasync": per file.
    std::string fsync_method = "journal";
    std::uint64_t segment_bytes = 1ull << 30;
    std::chrono::seconds segment_age{7 * 24 * 3600};
    std::uint64_t retention_bytes = 0;                 // per partition; 0: no limit
    std::chrono::seconds retention_age{7 * 24 * 3600}; // 0: no limit

    // Limits.
    std::size_t max_packet_size = 16u << 20;
    std::size_t max_inflight_messages = 20;
    std::size_t max_queued_bytes = 1u << 20;
    bool queue_qos0_messages = false;
    std::size_t max_subscriptions_per_client = 10'000;
    bool allow_zero_length_clientid = true;
    std::chrono::seconds connect_timeout{10};
    std::size_t partition_log_bytes = 1u << 20;
    std::size_t catchup_read_bytes = 32u << 20;

    // Monitoring.
    std::chrono::seconds sys_interval{10};
    std::string log_level = "info";

    std::string source; // the file read, if any (for messages)
};

/// What the command line asked for.
struct command_line {
    config settings;
    bool exit_now = false; // --help or --version printed
    int exit_code = 0;
};

/// Parses an fsync setting: "always", "never" or a number of milliseconds
/// (1 to 60000).
result<commitlog::fsync_policy, std::string> parse_fsync(std::string_view text);

/// Parses `zama [-c FILE] [-p PORT] [--data-dir DIR] [--shards N] [--fsync P] [-v]
/// [--help] [--version]`: defaults, then the file, then the flags. On a bad
/// file, key or value returns one line naming it and why.
result<command_line, std::string> parse_command_line(int argc, char** argv);

/// Reads a TOML configuration over `base`. Unknown keys are errors.
result<config, std::string> load_config(const std::string& path, config base);

} // namespace zama::broker
