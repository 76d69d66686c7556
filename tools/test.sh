#!/usr/bin/env bash
# Zama's whole test suite, as CI runs it (.ci/run runs the command README.md
# gives). Stops at the first failure.
#   1. clang-format: every C++ file is formatted.
#   2. asan preset (ASan + UBSan, -Werror): unit tests.
#   3. release preset (-Werror, benchmarks built but not run): all tests.
#   4. benchmark smoke: every zama-bench scenario, briefly, against Zama
#      (figures are printed, not judged; a failed verification fails).
#   5. clang-tidy with the curated .clang-tidy checks, over every source.
#   6. fuzz preset (clang, ASan + UBSan): each libFuzzer target for
#      ZAMA_FUZZ_SECONDS (default 60) from a fresh seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzz_seconds=${ZAMA_FUZZ_SECONDS:-60}
jobs=$(nproc)
passed=0
failed=0

step() { printf '\n== %s\n' "$*"; }

# Runs ctest for a preset and adds its counts to the totals.
run_ctest() {
    local preset=$1 log
    log=$(mktemp)
    set +e
    ctest --preset "$preset" -j "$jobs" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    local line
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
    rm -f "$log"
    if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
        failed=$((failed + BASH_REMATCH[1]))
        passed=$((passed + BASH_REMATCH[2] - BASH_REMATCH[1]))
    fi
    if [ "$rc" -ne 0 ]; then
        echo "tests: $passed passed, $failed failed"
        exit "$rc"
    fi
}

sources() {
    git ls-files -co --exclude-standard -- '*.cpp' '*.hpp' | grep -v '^build/'
}

step "clang-format"
unformatted=$(sources | xargs clang-format --dry-run -Werror 2>&1 | grep -E '^[^ ].*: (error|warning):' | cut -d: -f1 | sort -u || true)
if [ -n "$unformatted" ]; then
    echo "not formatted (run: clang-format -i FILE):"
    echo "$unformatted"
    exit 1
fi

step "asan: build and unit tests"
cmake --preset asan -DZAMA_WERROR=ON >/dev/null
cmake --build --preset asan -j "$jobs"
run_ctest asan

step "release: build and tests"
cmake --preset release -DZAMA_WERROR=ON >/dev/null
cmake --build --preset release -j "$jobs"
run_ctest release

step "benchmark smoke: zama-bench scenarios against Zama"
if /usr/bin/python3 tools/bench/suite.py --no-build --smoke; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    echo "tests: $passed passed, $failed failed"
    exit 1
fi

step "clang-tidy"
# (clang does not know some of g++'s warning flags in the compile database.)
sources | grep '\.cpp$' | xargs run-clang-tidy -quiet -p build/release -j "$jobs" \
    -extra-arg=-Wno-unknown-warning-option >/tmp/zama-tidy.log 2>&1 || {
    grep -E 'error:|warning:' /tmp/zama-tidy.log | sort -u | head -50
    echo "clang-tidy found problems (full log: /tmp/zama-tidy.log)"
    exit 1
}
echo "clean"

step "fuzz: ${fuzz_seconds}s per target"
cmake --preset fuzz -DZAMA_WERROR=ON >/dev/null
cmake --build --preset fuzz -j "$jobs"
fuzz_dir=build/fuzz/tests/fuzz
rm -rf "$fuzz_dir/seeds" "$fuzz_dir/corpus"
mkdir -p "$fuzz_dir/seeds" "$fuzz_dir/corpus"
"$fuzz_dir/mqtt_fuzz_seeds" "$fuzz_dir/seeds"
for target in "$fuzz_dir"/*_fuzz; do
    name=$(basename "$target")
    log="$fuzz_dir/$name.log"
    set +e
    "$target" -max_total_time="$fuzz_seconds" -print_final_stats=1 -artifact_prefix="$fuzz_dir/" \
        "$fuzz_dir/corpus" "$fuzz_dir/seeds" >"$log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
        tail -60 "$log"
        echo "$name: FAILED (exit $rc); the input is saved under $fuzz_dir/"
        failed=$((failed + 1))
        echo "tests: $passed passed, $failed failed"
        exit 1
    fi
    echo "$name: $(grep -E '^Done' "$log"), no crash, leak or UB"
    passed=$((passed + 1))
done

echo
echo "tests: $passed passed, $failed failed"
