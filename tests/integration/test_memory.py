"""An offline consumer costs disk, not RAM: 1,000 persistent sessions go
offline, 1 GB of QoS 1 messages is published to them (1,000 topics, 1 KiB
payloads, 1,024 per session), and the broker's resident memory stays within
a bound set by its configuration, not by the backlog; then every session
comes back and receives its whole backlog, in order, exactly once.

The load is zama-bench's backlog scenario (it verifies every delivery and
reads the broker's RSS from /proc). RSS bounds are meaningless under ASan
(shadow memory, quarantine), so the sanitized build skips this file.

ZAMA_BENCH_BIN names the zama-bench binary (ctest sets it); default
build/release.
"""

import json
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, Broker

ZAMA_BENCH = os.environ.get(
    "ZAMA_BENCH_BIN", os.path.join(ROOT, "build", "release", "tools", "zama_bench", "zama-bench"))

MiB = 1 << 20

# What the default configuration lets the broker hold, whatever the backlog:
# the hot tails of 64 partitions (1 MiB each), and per shard (2 here) the
# batches its subscribers keep (64 MiB), unwritten appends (8 MiB) and
# catch-up reads (32 MiB); plus the program, connections and slack.
OFFLINE_BOUND = 384 * MiB
PEAK_BOUND = 640 * MiB


@pytest.mark.skipif(os.environ.get("ZAMA_SANITIZED") == "1",
                    reason="RSS bounds do not hold under AddressSanitizer")
def test_offline_backlog_of_1gb_sits_on_disk_not_in_memory():
    b = Broker(shards=2)
    try:
        r = subprocess.run(
            [ZAMA_BENCH, "backlog", "-p", str(b.port), "-q", "1",
             "-P", "1000", "-S", "1000", "-s", "1024", "-n", "1024",
             "--topic", "mem/%i", "--filter", "mem/%i",
             "--broker-pid", str(b.proc.pid), "--drain-timeout", "240"],
            capture_output=True, text=True, timeout=280)
        lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
        assert r.returncode == 0 and lines, r.stdout + r.stderr
        run = json.loads(lines[-1])
        backlog = run["sent"] * run["payload"]
        print("backlog %.0f MB; broker RSS with the sessions offline %.0f MB, peak %.0f MB"
              % (backlog / 1e6, run["broker_rss_offline"] / 1e6, run["broker_rss_peak"] / 1e6))

        # Every message reached its session: 1,024 each, none lost,
        # duplicated or out of order.
        assert run["sent"] == 1000 * 1024
        assert run["expected"] == run["sent"]
        assert run["unique"] == run["expected"]
        assert run["lost"] == 0 and run["duplicated"] == 0 and run["out_of_order"] == 0

        # The backlog was on disk, not in memory.
        assert backlog >= 1_000_000_000
        assert 0 < run["broker_rss_offline"] < OFFLINE_BOUND, run
        assert 0 < run["broker_rss_peak"] < PEAK_BOUND, run
    finally:
        code = b.stop()
        shutil.rmtree(b.dir, ignore_errors=True)  # a gigabyte of segments
        assert code == 0, b.log()
