#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace zama::inspect {

enum class command : std::uint8_t {
    partitions, // meta and one line per partition
    segments,   // one line per segment
    dump,       // one line per record of a partition
    verify,     // every byte checked; exit status 1 on damage
    sessions,   // the stored persistent sessions (sessions.kv)
    journals,   // the shard journals and what a replay restores
};

struct log_options {
    inspect::command command = command::partitions;
    std::string dir;
    std::optional<std::uint32_t> partition; // -p
    std::optional<std::string> client;      // sessions --client
    std::optional<std::uint64_t> from;      // dump --from
    std::optional<std::uint64_t> count;     // dump --count
    std::optional<std::string> topic;       // dump --topic (a topic filter)
    bool strict = false;                    // verify --strict: a torn tail is damage
};

/// Exit statuses.
inline constexpr int exit_ok = 0;
inline constexpr int exit_damage = 1; // verify found damage; dump, sessions or journals met some
inline constexpr int exit_error = 2;  // bad usage, or the directory cannot be read

/// Parses the command line. Prints help or the error and returns the exit
/// status when there is nothing to run.
std::optional<int> parse_options(int argc, char** argv, log_options& out);

} // namespace zama::inspect
