// zama-bench: the load generator of Zama's benchmark suite. See
// tools/zama_bench/README.md for the scenarios and the output.

#include "options.hpp"
#include "run.hpp"

int main(int argc, char** argv) {
    zama::bench::bench_options o;
    if (auto exit_code = zama::bench::parse_options(argc, argv, o)) {
        return *exit_code;
    }
    return zama::bench::run(o);
}
