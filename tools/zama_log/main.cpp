// zama-log: inspects a Zama data directory offline. See
// tools/zama_log/README.md for the subcommands and their output.

#include "commands.hpp"
#include "dir_lock.hpp"
#include "options.hpp"

namespace {

int run(const zama::inspect::log_options& o) {
    using namespace zama::inspect;
    switch (o.command) {
    case command::partitions:
        return list_partitions(o);
    case command::segments:
        return list_segments(o);
    case command::dump:
        return dump_records(o);
    case command::verify:
        return verify(o);
    case command::sessions:
        return list_sessions(o);
    case command::journals:
        return list_journals(o);
    }
    return exit_error;
}

} // namespace

int main(int argc, char** argv) {
    using namespace zama::inspect;
    log_options o;
    if (auto status = parse_options(argc, argv, o)) {
        return *status;
    }
    // Held until the command is done: no broker starts on the directory
    // while it is read.
    auto lock = shared_dir_lock::take(o.dir);
    if (!lock) {
        return fail(lock.error());
    }
    return run(o);
}
