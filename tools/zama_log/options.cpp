#include "options.hpp"

#include <CLI/CLI.hpp>

namespace zama::inspect {

std::optional<int> parse_options(int argc, char** argv, log_options& out) {
    CLI::App app("zama-log: inspects a Zama data directory offline (the broker must not be "
                 "running on it); it only reads, never repairs",
                 "zama-log");
    app.require_subcommand(1);
    app.fallthrough(false);

    auto* partitions = app.add_subcommand(
        "partitions", "the meta file, then per partition: segments, offsets, bytes, topics");
    partitions->add_option("dir", out.dir, "the data directory")->required();

    auto* segments = app.add_subcommand(
        "segments", "per segment: offsets, records, bytes, batch times, index entries");
    segments->add_option("dir", out.dir, "the data directory")->required();
    segments->add_option("-p,--partition", out.partition, "only this partition");

    auto* dump = app.add_subcommand("dump", "one line per record of a partition: offset, time, "
                                            "topic, QoS, retain, size, payload preview");
    dump->add_option("dir", out.dir, "the data directory")->required();
    dump->add_option("-p,--partition", out.partition, "the partition")->required();
    dump->add_option("--from", out.from, "the first offset (default: the partition's start)");
    dump->add_option("--count", out.count, "at most this many records")->check(CLI::PositiveNumber);
    dump->add_option("--topic", out.topic,
                     "only records whose topic matches this topic filter (+ and # allowed)");

    auto* verify = app.add_subcommand(
        "verify", "checks every batch, offset, index entry and dictionary entry; exit status 1 "
                  "if anything is damaged");
    verify->add_option("dir", out.dir, "the data directory")->required();
    verify->add_option("-p,--partition", out.partition, "only this partition");
    verify->add_flag("--strict", out.strict, "count a torn tail as damage too");

    auto* sessions = app.add_subcommand(
        "sessions", "per stored persistent session: subscriptions, committed cursors with each "
                    "partition's end (the backlog), QoS 2 ids in flight");
    sessions->add_option("dir", out.dir, "the data directory")->required();
    sessions->add_option("-p,--partition", out.partition,
                         "only the sessions stored in this partition");
    sessions->add_option("--client", out.client, "only this client's session");

    auto* journals = app.add_subcommand(
        "journals", "the shard journals (fsync_method = \"journal\"): entries, and per partition "
                    "the records the next start restores from them");
    journals->add_option("dir", out.dir, "the data directory")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int status = app.exit(e);
        return status == 0 ? exit_ok : exit_error;
    }
    if (partitions->parsed()) {
        out.command = command::partitions;
    } else if (segments->parsed()) {
        out.command = command::segments;
    } else if (dump->parsed()) {
        out.command = command::dump;
    } else if (verify->parsed()) {
        out.command = command::verify;
    } else if (sessions->parsed()) {
        out.command = command::sessions;
    } else {
        out.command = command::journals;
    }
    return std::nullopt;
}

} // namespace zama::inspect
