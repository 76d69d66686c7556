// zama-log: inspects a Zama data directory offline. See
// tools/zama_log/README.md for the subcommands and their output.

#include "commands.hpp"
#include "options.hpp"

int main(int argc, char** argv) {
    using namespace zama::inspect;
    log_options o;
    if (auto status = parse_options(argc, argv, o)) {
        return *status;
    }
    switch (o.command) {
    case command::partitions:
        return list_partitions(o);
    case command::segments:
        return list_segments(o);
    case command::dump:
        return dump_records(o);
    case command::verify:
        return verify(o);
    }
    return exit_error;
}
