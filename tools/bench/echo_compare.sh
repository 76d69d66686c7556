#!/usr/bin/env bash
# Echo throughput of the runtime against a minimal epoll server: both pinned
# to CPU 1, the same load generator pinned to CPU 0, runs alternated
# (A B A B ...), medians and their ratio printed.
#
#   tools/bench/echo_compare.sh [runs] [connections] [window] [size] [seconds] [rate]
#
# Without a rate the load generator goes as fast as it can; it then shares
# the limit with the server (see both CPU shares). With a rate (messages/s)
# both servers get the same offered load and what is compared is server CPU
# time per message, whose inverse is the server's one-core capacity.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
connections=${2:-100}
window=${3:-16}
size=${4:-64}
seconds=${5:-5}
rate=${6:-}
bin=build/release/tools/bench
if [ -n "$rate" ]; then field='server CPU per message'; else field='messages/s'; fi

run_one() { # server command...; prints the compared figure
    local out port pid result
    out=$(mktemp)
    taskset -c 1 "$@" >"$out" &
    pid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/^listening on //p' "$out")
        [ -n "$port" ] && break
        sleep 0.05
    done
    result=$(taskset -c 0 "$bin/echo_load" "$port" "$connections" "$window" "$size" "$seconds" "$pid" $rate)
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    rm -f "$out"
    echo "$result" >&2
    echo "$result" | grep -F "$field " | awk '{print $(NF - ($NF == "us" ? 1 : 0))}'
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

uring=()
epoll=()
for i in $(seq "$runs"); do
    echo "run $i: runtime" >&2
    uring+=("$(run_one "$bin/echo_server" 0 1)")
    echo "run $i: epoll" >&2
    epoll+=("$(run_one "$bin/epoll_echo_server" 0)")
done
mu=$(printf '%s\n' "${uring[@]}" | median)
me=$(printf '%s\n' "${epoll[@]}" | median)
if [ -z "$rate" ]; then
    echo "runtime (io_uring) median: $mu messages/s"
    echo "epoll baseline median:     $me messages/s"
    awk -v a="$mu" -v b="$me" 'BEGIN { printf "ratio runtime/epoll: %.2f\n", a / b }'
else
    echo "offered load: $rate messages/s"
    echo "runtime (io_uring) median: $mu us of server CPU per message"
    echo "epoll baseline median:     $me us of server CPU per message"
    awk -v a="$mu" -v b="$me" 'BEGIN { printf "capacity ratio runtime/epoll (inverse cost): %.2f\n", b / a }'
fi
