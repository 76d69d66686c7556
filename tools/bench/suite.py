#!/usr/bin/python3
"""Zama against mosquitto, side by side, with zama-bench as the load.

    /usr/bin/python3 tools/bench/suite.py                  # build, 3 rounds of every scenario
    /usr/bin/python3 tools/bench/suite.py --no-build --rounds 1 --duration 3 --only fan-in-qos0
    /usr/bin/python3 tools/bench/suite.py --write          # ... and update docs/benchmarks.md
    /usr/bin/python3 tools/bench/suite.py --no-build --smoke   # CI: every scenario once, Zama only

For every scenario and round the brokers take turns (Zama, mosquitto, Zama,
mosquitto, ...). Each run starts its broker fresh on a free loopback port,
pinned with taskset to --broker-cpu (default 0), and runs zama-bench pinned to
--load-cpus (default 1) with --broker-pid, so that zama-bench reports the
broker's CPU time and memory. The broker is stopped (SIGTERM, then SIGKILL)
before the next run. The last stdout line of zama-bench is a JSON object; the
suite keeps it and prints the medians per (scenario, broker) as a Markdown
table, with the targets Zama is held to.

--smoke runs each scenario once against Zama only, short and small, and exits
non-zero if any run fails (zama-bench's exit status, or no JSON line). It is
what CI calls and takes well under a minute.

Standard library only; run with /usr/bin/python3. See tools/zama_bench/README.md.
"""

import argparse
import atexit
import datetime
import json
import os
import platform
import pwd
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZAMA = os.path.join("build", "release", "broker", "zama")
BENCH = os.path.join("build", "release", "tools", "zama_bench", "zama-bench")
MOSQUITTO = "/usr/sbin/mosquitto"
DOC = os.path.join("docs", "benchmarks.md")
SECTION = "## Zama vs mosquitto (side by side)"

# --- Scenarios ------------------------------------------------------------------
#
# args: zama-bench's arguments (without -p, -d, -w, --broker-pid).
# metric: the JSON field compared; better: "higher" or "lower".
# target: (kind, value): "min" Zama/mosquitto >= value, "max" <= value,
#   "below" Zama's figure below mosquitto's; None: no target.
# smoke: arguments that replace those of `args` in --smoke (same option).
# duration: a fixed -d (idle holds its connections for 5 s), else --duration.
# inflight: max_inflight_messages of both brokers (default: their default, 20).
#
# QoS 0 scenarios pass --drain-timeout 2: losses are allowed there, and once
# publishing stops zama-bench otherwise waits 10 s for messages that were
# dropped. (It waits only while nothing arrives: a broker still delivering
# its backlog keeps being drained.) QoS 1 scenarios keep the default 10 s,
# since a stalled drain there means lost messages.

# The smoke runs QoS 1 at a bounded rate: at full rate publishers are
# acknowledged far faster than one subscriber with a 20-message window takes
# messages, and draining the backlog from the log would outlast a short
# smoke. The full suite runs at full rate.
QOS1_SMOKE = {"-r": "20000"}

SCENARIOS = [
    dict(name="fan-in-qos0", args=["fan-in", "-q", "0", "-s", "64", "--drain-timeout", "2"],
         what="10 publishers -> 1 subscriber, QoS 0, 64 B",
         metric="received_rate", label="received msg/s", better="higher", target=("min", 20)),
    # With 20 messages in flight (both brokers' default) one subscriber gets
    # 20 per round trip, and a round trip through a busy broker's loop is
    # 0.1-0.2 ms: the row measures that, not the broker. The throughput row
    # gives both brokers the same 1,000; the default row stays for reference.
    # Zama acknowledges publishers about 10x faster than that subscriber
    # takes messages, and zama-bench verifies the whole backlog, which takes
    # 40-80 s to drain at 20 in flight: hence its longer timeout.
    dict(name="fan-in-qos1", args=["fan-in", "-q", "1", "-s", "64"], inflight=1000,
         what="10 publishers -> 1 subscriber, QoS 1, 64 B",
         note="max_inflight_messages 1000 on both",
         metric="received_rate", label="received msg/s", better="higher", target=("min", 18),
         smoke=QOS1_SMOKE),
    dict(name="fan-in-qos1-window-20", args=["fan-in", "-q", "1", "-s", "64"],
         what="10 publishers -> 1 subscriber, QoS 1, 64 B, default window",
         note="max_inflight_messages 20, the default",
         metric="received_rate", label="received msg/s", better="higher", target=None,
         smoke=QOS1_SMOKE, timeout=300),
    dict(name="fan-out-1000",
         args=["fan-out", "-q", "0", "-s", "64", "-S", "1000", "--drain-timeout", "2"],
         what="1 publisher -> 1000 subscribers, QoS 0, 64 B",
         metric="received_rate", label="received msg/s", better="higher", target=("min", 20),
         smoke={"-S": "200"}),
    dict(name="fan-out-50",
         args=["fan-out", "-q", "0", "-s", "64", "-S", "50", "--drain-timeout", "2"],
         what="1 publisher -> 50 subscribers, QoS 0, 64 B",
         metric="received_rate", label="received msg/s", better="higher", target=("min", 20)),
    dict(name="pairs-100-qos0",
         args=["pairs", "-c", "100", "-q", "0", "-s", "64", "--drain-timeout", "2"],
         what="100 publisher/subscriber pairs, QoS 0, 64 B",
         metric="received_rate", label="received msg/s", better="higher", target=("min", 13)),
    dict(name="pairs-100-qos1-1k", args=["pairs", "-c", "100", "-q", "1", "-s", "1024"],
         what="100 publisher/subscriber pairs, QoS 1, 1 KiB",
         metric="received_rate", label="received msg/s", better="higher", target=("min", 13),
         smoke=QOS1_SMOKE),
    dict(name="connect-storm-10k", args=["connect-storm", "-c", "10000"],
         what="10,000 CONNECTs, 100 in flight",
         metric="connect_rate", label="connects/s", better="higher", target=("min", 10),
         smoke={"-c": "1000"}),
    dict(name="idle-10k", args=["idle", "-c", "10000"], duration=5,
         what="10,000 idle connections held 5 s",
         metric="rss_per_connection", label="RSS B/connection", better="lower",
         target=("max", 0.35), smoke={"-c": "1000"}),
    dict(name="latency-10k",
         args=["fan-in", "-q", "0", "-s", "64", "-r", "10000", "--drain-timeout", "2"],
         what="10 publishers -> 1 subscriber at 10 k msg/s, QoS 0, 64 B",
         metric="latency_p50", label="p50 latency µs", better="lower", target=("below", None)),
    dict(name="backlog", args=["backlog", "-q", "1", "-S", "10", "-n", "100000"],
         what="10 persistent subscribers offline, 100,000 QoS 1 messages, then drain",
         note="Zama's commit log on disk (fsync every 5 ms); mosquitto persistence on",
         metric="received_rate", label="drain msg/s", better="higher", target=None,
         smoke={"-n": "5000"}, timeout=300),
]

SMOKE_DURATION = 2.0
SMOKE_WARMUP = 0.5
SMOKE_DRAIN_TIMEOUT = 5.0

# --- mosquitto's configuration -------------------------------------------------
#
# - listener PORT 127.0.0.1, allow_anonymous true: the same loopback, no-auth
#   setup as Zama's.
# - max_queued_messages 1000000, max_queued_bytes 0 (no byte limit): a QoS 1
#   message is never dropped because a subscriber's queue is full (the
#   default, 1000, would drop in backlog, which queues 100,000 per
#   subscriber, and could in fan-in QoS 1). The same limit caps QoS 0
#   messages waiting to be written to a slow subscriber; Zama drops QoS 0
#   beyond max_queued_bytes (1 MiB) instead, so at QoS 0 mosquitto keeps more,
#   which can only help its received rate.
# - max_inflight_messages 20: both brokers' default, written out; a scenario's
#   `inflight` replaces it for both.
# - set_tcp_nodelay true: Zama sets TCP_NODELAY on every connection; without
#   it mosquitto's latency row would measure Nagle's algorithm.
# - log_type error + warning, connection_messages false: Zama logs no line
#   per connection at its default level; mosquitto's default logs two per
#   CONNECT, which would tax it in connect-storm.
# - persistence false, except for backlog: persistence true with a fresh
#   persistence_location per run, so that mosquitto's offline sessions are
#   kept the way a durable broker keeps them (mosquitto writes its database
#   at autosave_interval and at exit, so the row still measures memory).
# - user: when run as root mosquitto switches to the user `mosquitto`, which
#   could not write the temporary directory; this keeps the current user.


def mosquitto_config(port, persistence_dir, inflight=20):
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "max_queued_messages 1000000",
        "max_queued_bytes 0",
        f"max_inflight_messages {inflight}",
        "set_tcp_nodelay true",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "connection_messages false",
        f"user {pwd.getpwuid(os.geteuid()).pw_name}",
    ]
    if persistence_dir:
        lines += ["persistence true", f"persistence_location {persistence_dir}/"]
    else:
        lines.append("persistence false")
    return "\n".join(lines) + "\n"


def zama_config_with(base, workdir, tag, inflight):
    """A copy of --zama-config (or an empty file) with max_inflight_messages set."""
    lines = []
    if base:
        with open(base) as f:
            lines = [l for l in f.read().splitlines()
                     if not re.match(r"\s*max_inflight_messages\s*=", l)]
    lines.append(f"max_inflight_messages = {inflight}")
    path = os.path.join(workdir, f"{tag}-zama.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


# --- Processes ------------------------------------------------------------------

_live = {}  # pid -> Popen: every broker and zama-bench started, until reaped


def _stop(proc, timeout=10.0):
    """SIGTERM, then SIGKILL after `timeout`; returns the exit status."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass
    _live.pop(proc.pid, None)
    return proc.returncode


def _stop_all():
    for proc in list(_live.values()):
        _stop(proc, timeout=5.0)


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def _die_with_parent():
    """In the child: SIGKILL when the suite dies, even by SIGKILL (Linux's
    PR_SET_PDEATHSIG; it survives taskset's exec)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(cmd, **kw):
    proc = subprocess.Popen(cmd, cwd=ROOT, preexec_fn=_die_with_parent, **kw)
    _live[proc.pid] = proc
    return proc


def raise_nofile():
    """idle and connect-storm hold 10,000 sockets on each side."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


class BrokerError(Exception):
    pass


class Broker:
    """One broker process, started fresh and pinned; stop() by PID."""

    def __init__(self, kind, cpu, workdir, tag, persistent=False, zama_config=None, inflight=None):
        self.kind = kind
        self.log = os.path.join(workdir, f"{tag}-{kind}.log")
        self.port = None
        self.proc = None
        self.data = None  # the data or persistence directory, removed by stop()
        if kind == "zama":
            self._start_zama(cpu, workdir, tag, zama_config, inflight)
        else:
            self._start_mosquitto(cpu, workdir, tag, persistent, inflight or 20)

    def _start_zama(self, cpu, workdir, tag, zama_config, inflight):
        data = os.path.join(workdir, f"{tag}-zama-data")
        os.makedirs(data, exist_ok=True)
        self.data = data
        if inflight:
            zama_config = zama_config_with(zama_config, workdir, tag, inflight)
        # -p 0: the kernel picks a free port and the log names it. Every shard
        # listens with SO_REUSEPORT, so a fixed port could be shared with a
        # stray zama.
        cmd = ["taskset", "-c", cpu, ZAMA, "-p", "0", "--shards", "1", "--data-dir", data]
        if zama_config:
            cmd += ["-c", zama_config]
        with open(self.log, "w") as log:
            self.proc = _spawn(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        pattern = re.compile(r"listening on \S+:(\d+)")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(f"zama exited with status {self.proc.returncode}:\n{tail(self.log)}")
            with open(self.log, errors="replace") as f:
                m = pattern.search(f.read())
            if m:
                self.port = int(m.group(1))
                break
            time.sleep(0.02)
        if self.port is None or not self._wait_ready(deadline):
            self.stop()
            raise BrokerError(f"zama did not start listening:\n{tail(self.log)}")

    def _start_mosquitto(self, cpu, workdir, tag, persistent, inflight):
        # mosquitto needs a port up front: take a free one and retry if it
        # was taken in the meantime (mosquitto then exits at once).
        for _ in range(5):
            self.port = free_port()
            persistence = None
            if persistent:
                persistence = os.path.join(workdir, f"{tag}-mosquitto-db")
                os.makedirs(persistence, exist_ok=True)
                self.data = persistence
            conf = os.path.join(workdir, f"{tag}-mosquitto.conf")
            with open(conf, "w") as f:
                f.write(mosquitto_config(self.port, persistence, inflight))
            with open(self.log, "w") as log:
                self.proc = _spawn(["taskset", "-c", cpu, MOSQUITTO, "-c", conf],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if self._wait_ready(time.monotonic() + 15):
                return
            self.stop()
        raise BrokerError(f"mosquitto did not start listening:\n{tail(self.log)}")

    def _wait_ready(self, deadline):
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if port_accepts(self.port):
                return True
            time.sleep(0.02)
        return False

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Stops the broker and removes its data: a deleted file's dirty pages
        are dropped, so one run's writeback does not slow the next run's disk."""
        status = _stop(self.proc) if self.proc is not None else None
        if self.data:
            shutil.rmtree(self.data, ignore_errors=True)
        return status


# --- Runs -----------------------------------------------------------------------


def bench_args(sc, duration, warmup, smoke):
    args = list(sc["args"])
    if smoke:
        for opt, value in sc.get("smoke", {}).items():
            if opt in args:
                args[args.index(opt) + 1] = value
            else:
                args += [opt, value]
        d = min(SMOKE_DURATION, sc.get("duration", SMOKE_DURATION))
        w = SMOKE_WARMUP
        if "--drain-timeout" not in args:
            # A 2 s run that stalls for 5 s has failed; don't wait 10.
            args += ["--drain-timeout", f"{SMOKE_DRAIN_TIMEOUT:g}"]
    else:
        d = sc.get("duration", duration)
        w = warmup
    return args + ["-d", f"{d:g}", "-w", f"{w:g}"], d, w


def bench_command(load_cpus, args, port="PORT", pid="PID"):
    return ["taskset", "-c", load_cpus, BENCH] + args + ["-p", str(port), "--broker-pid", str(pid)]


def option_value(args, opt, default):
    return float(args[args.index(opt) + 1]) if opt in args else default


def run_one(sc, kind, args, d, w, opts, workdir, tag, smoke):
    """One broker start, one zama-bench run, one broker stop. Returns a record."""
    rec = dict(scenario=sc["name"], broker=kind, tag=tag, ok=False, failure=None, json=None,
               command=None, seconds=0.0)
    t0 = time.monotonic()
    broker = None
    try:
        broker = Broker(kind, opts.broker_cpu, workdir, tag,
                        persistent=(sc["name"] == "backlog"), zama_config=opts.zama_config,
                        inflight=sc.get("inflight"))
        cmd = bench_command(opts.load_cpus, args, broker.port, broker.pid)
        rec["command"] = shlex.join(cmd)
        drain = option_value(args, "--drain-timeout", 10.0)
        timeout = sc.get("timeout", 0) if not smoke else 0
        timeout = max(timeout, d + w + 2 * drain + 60)
        err_path = os.path.join(workdir, f"{tag}-{kind}-bench.err")
        with open(err_path, "w") as err:
            proc = _spawn(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True)
            try:
                out, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
                rec["failure"] = f"zama-bench timed out after {timeout:.0f} s (killed)"
            finally:
                _live.pop(proc.pid, None)
        rec["exit"] = proc.returncode
        rec["stdout"] = out
        rec["stderr_tail"] = tail(err_path, 10)
        lines = [l for l in out.splitlines() if l.strip()]
        if lines:
            try:
                rec["json"] = json.loads(lines[-1])
            except ValueError:
                pass
        if not broker.alive():
            rec["failure"] = rec["failure"] or (
                f"{kind} exited during the run (status {broker.proc.returncode}): " + tail(broker.log, 5))
        if rec["failure"] is None:
            if rec["json"] is None:
                rec["failure"] = f"no JSON line from zama-bench (exit {proc.returncode})"
            elif proc.returncode != 0:
                j = rec["json"]
                why = "; ".join(j.get("errors", [])) or "run failed"
                rec["failure"] = (f"verification FAILED (exit {proc.returncode}): {why} "
                                  f"[lost {j.get('lost')}, duplicated {j.get('duplicated')}, "
                                  f"out of order {j.get('out_of_order')}]")
            elif not rec["json"].get("ok", False):
                rec["failure"] = "zama-bench reported ok=false: " + "; ".join(rec["json"].get("errors", []))
        rec["ok"] = rec["failure"] is None
    except BrokerError as e:
        rec["failure"] = f"broker did not start: {e}"
    finally:
        if broker is not None:
            status = broker.stop()
            rec["broker_exit"] = status
    rec["seconds"] = time.monotonic() - t0
    return rec


def figure(j, metric):
    if j is None:
        return None
    if metric == "latency_p50":
        return j.get("latency_us", {}).get("p50")
    return j.get(metric)


# --- Formatting -----------------------------------------------------------------


def fmt_rate(v):
    if v is None:
        return "—"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k"
    return f"{v:.0f}"


def fmt_metric(metric, v):
    if v is None:
        return "—"
    if metric == "rss_per_connection":
        return f"{v:,.0f} B"
    if metric == "latency_p50":
        return f"{v:,.0f} µs" if v >= 100 else f"{v:.1f} µs"
    return fmt_rate(v)


def fmt_share(v):
    return "—" if v is None else f"{v * 100:.0f} %"


def fmt_target(sc):
    t = sc["target"]
    if t is None:
        return "—"
    kind, value = t
    if kind == "min":
        return f"≥ {value:g}×"
    if kind == "max":
        return f"≤ {value:g}×"
    return "below mosquitto's"


def median_of(records, broker, metric, only_ok=True):
    vals = [figure(r["json"], metric) for r in records
            if r["broker"] == broker and r["json"] is not None and (r["ok"] or not only_ok)]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def para(text):
    """A paragraph wrapped as docs/benchmarks.md is (76 columns)."""
    return textwrap.fill(text, width=76, break_long_words=False, break_on_hyphens=False)


def comparison_tables(results, brokers):
    """Markdown: the comparison, the CPU table, the failures."""
    out = []
    both = "mosquitto" in brokers
    out.append("| scenario | metric | Zama median | mosquitto median | Zama/mosquitto | target | met? |")
    out.append("|---|---|---|---|---|---|---|")
    for sc in SCENARIOS:
        recs = results.get(sc["name"])
        if recs is None:
            continue
        m = sc["metric"]
        z = median_of(recs, "zama", m)
        q = median_of(recs, "mosquitto", m) if both else None
        ratio = z / q if z is not None and q else None
        met = "—"
        t = sc["target"]
        if t is not None and z is not None and q is not None:
            kind, value = t
            ok = (ratio >= value) if kind == "min" else (ratio <= value) if kind == "max" else (z < q)
            met = "yes" if ok else "**no**"
        name = sc["name"]
        if sc.get("note"):
            name += f" ({sc['note']})"
        fails = [r for r in recs if not r["ok"]]
        if fails:
            name += f" **⚠ {len(fails)} FAILED RUN(S)**"
        out.append(f"| {name} | {sc['label']} | {fmt_metric(m, z)} | {fmt_metric(m, q)} | "
                   f"{'—' if ratio is None else f'{ratio:.2f}×'} | {fmt_target(sc)} | {met} |")
    out.append("")
    out.append(para("CPU (medians; shares are of one core over the measured window; CPU s per "
                    "million are per million messages received; \"load gen\" is zama-bench, "
                    "shown to tell whether it, rather than the broker, was the limit):"))
    out.append("")
    out.append("| scenario | Zama CPU | Zama CPU s / M msg | load gen (vs Zama) | "
               "mosquitto CPU | mosquitto CPU s / M msg | load gen (vs mosquitto) | failed runs |")
    out.append("|---|---|---|---|---|---|---|---|")
    for sc in SCENARIOS:
        recs = results.get(sc["name"])
        if recs is None:
            continue
        msgs = sc["metric"] in ("received_rate", "latency_p50")
        row = [sc["name"]]
        for b in ("zama", "mosquitto"):
            if b not in brokers:
                row += ["—", "—", "—"]
                continue
            row.append(fmt_share(median_of(recs, b, "broker_cpu_share")))
            per_m = median_of(recs, b, "broker_cpu_s_per_million") if msgs else None
            row.append("—" if per_m is None else f"{per_m:.2f}")
            row.append(fmt_share(median_of(recs, b, "bench_cpu_share")))
        fails = [r for r in recs if not r["ok"]]
        row.append("none" if not fails else "**" + ", ".join(
            f"{r['broker']} round {r['round']}" for r in fails) + "**")
        out.append("| " + " | ".join(row) + " |")
    failures = [r for recs in results.values() for r in recs if not r["ok"]]
    if failures:
        out.append("")
        out.append("**FAILED RUNS** (left out of the medians):")
        out.append("")
        for r in failures:
            out.append(f"- **{r['scenario']}, {r['broker']}, round {r['round']}**: {r['failure']}")
    return "\n".join(out)


# --- Machine and docs -----------------------------------------------------------


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mosq = "?"
    try:
        out = subprocess.run([MOSQUITTO, "-h"], capture_output=True, text=True, timeout=10)
        m = re.search(r"mosquitto version (\S+)", out.stdout + out.stderr)
        if m:
            mosq = m.group(1)
    except (OSError, subprocess.TimeoutExpired):
        pass
    return dict(nproc=os.cpu_count(), cpu=model, kernel=platform.release(), mosquitto=mosq)


def write_doc(text):
    path = os.path.join(ROOT, DOC)
    with open(path) as f:
        lines = f.read().splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith(SECTION)), None)
    new = text.rstrip("\n").splitlines()
    if start is None:
        while lines and not lines[-1].strip():
            lines.pop()
        lines += [""] + new
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        rest = lines[end:]
        lines = lines[:start] + new + ([""] + rest if rest else [])
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def doc_section(opts, argv, tables, info, brokers):
    today = datetime.date.today().isoformat()
    out = [SECTION, ""]
    out.append(para(f"Date: {today}. Machine: {info['nproc']} CPUs ({info['cpu']}), Linux "
               f"{info['kernel']}, mosquitto {info['mosquitto']} (Debian's). Rounds: "
               f"{opts.rounds} per broker and scenario, alternated (Zama, mosquitto, Zama, ...); "
               f"medians of the runs that passed verification."))
    out.append("")
    out.append("Command:")
    out.append("")
    out.append("```")
    out.append(shlex.join(["/usr/bin/python3", "tools/bench/suite.py"] + argv))
    out.append("```")
    out.append("")
    out.append(para(f"Each run starts the broker fresh on a free loopback port pinned to CPU "
               f"{opts.broker_cpu} (`taskset -c {opts.broker_cpu}`): Zama as `zama -p 0 --shards 1 "
               f"--data-dir TMP` (default configuration), mosquitto with the configuration that "
               f"`tools/bench/suite.py` writes (`listener PORT 127.0.0.1`, `allow_anonymous "
               f"true`, `max_queued_messages 1000000` so that QoS 1 is never dropped, "
               f"`set_tcp_nodelay true` as Zama, no per-connection log lines; `persistence true` "
               f"in a fresh directory for backlog). zama-bench runs pinned to CPU "
               f"{opts.load_cpus}, with the broker's PID for its CPU time and RSS; the broker is "
               f"stopped after every run. zama-bench command lines (PORT and PID per run):"))
    out.append("")
    out.append("```")
    for sc in SCENARIOS:
        if sc["name"] in opts.only_set:
            args, _, _ = bench_args(sc, opts.duration, opts.warmup, False)
            out.append(f"{sc['name']:<18} " + shlex.join(bench_command(opts.load_cpus, args)))
    out.append("```")
    out.append("")
    out.append(tables)
    out.append("")
    return "\n".join(out)


# --- Main -----------------------------------------------------------------------


def parse(argv):
    p = argparse.ArgumentParser(
        description="Zama vs mosquitto with zama-bench (see tools/zama_bench/README.md)")
    p.add_argument("--no-build", action="store_true", help="do not build the release preset first")
    p.add_argument("--rounds", type=int, default=3, help="runs per broker and scenario (default 3)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds measured per run (default 10)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring (default 1)")
    p.add_argument("--only", default="", help="comma-separated scenario names")
    p.add_argument("--brokers", default="zama,mosquitto",
                   help="which brokers (default zama,mosquitto; --smoke: zama)")
    p.add_argument("--broker-cpu", default="0", help="taskset CPU list of the broker (default 0)")
    p.add_argument("--load-cpus", default="1", help="taskset CPU list of zama-bench (default 1)")
    p.add_argument("--zama-config", help="pass -c FILE to zama")
    p.add_argument("--write", action="store_true",
                   help=f"write the tables into {DOC} (section '{SECTION[3:]}')")
    p.add_argument("--json", metavar="FILE", help="write every run's record (JSON) to FILE")
    p.add_argument("--smoke", action="store_true",
                   help="CI: every scenario once, Zama only, short; non-zero exit on any failure")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    opts = p.parse_args(argv)
    names = [sc["name"] for sc in SCENARIOS]
    if opts.only:
        wanted = [n.strip() for n in opts.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            p.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(names)}")
        opts.only_set = set(wanted)
    else:
        opts.only_set = set(names)
    opts.broker_list = [b.strip() for b in opts.brokers.split(",") if b.strip()]
    if opts.smoke:
        opts.broker_list = ["zama"]
        if opts.write:
            p.error("--write needs a full run, not --smoke")
    for b in opts.broker_list:
        if b not in ("zama", "mosquitto"):
            p.error(f"unknown broker {b}")
    if opts.rounds < 1:
        p.error("--rounds must be at least 1")
    return opts


def build():
    for cmd in (["cmake", "--preset", "release"],
                ["cmake", "--build", "build/release", "--target", "zama", "zama-bench"]):
        print("+ " + shlex.join(cmd), file=sys.stderr, flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)


def summary_line(sc, rec):
    j = rec["json"]
    parts = [f"{sc['name']:<18}", "ok    " if rec["ok"] else "FAILED"]
    if j is not None:
        parts.append(f"{sc['label']} {fmt_metric(sc['metric'], figure(j, sc['metric']))}")
        if sc["metric"] != "received_rate" and sc["metric"] != "connect_rate" and j.get("received"):
            parts.append(f"received {fmt_rate(j.get('received_rate'))} msg/s")
        parts.append(f"broker CPU {fmt_share(j.get('broker_cpu_share'))}, "
                     f"load gen {fmt_share(j.get('bench_cpu_share'))}")
    parts.append(f"({rec['seconds']:.1f} s)")
    line = "  ".join(parts)
    if not rec["ok"]:
        line += f"\n    {rec['failure']}\n    command: {rec['command']}"
        if rec.get("stderr_tail"):
            line += "\n    zama-bench stderr (tail):\n" + "".join(
                "      " + l + "\n" for l in rec["stderr_tail"].splitlines())
    return line


def main(argv):
    opts = parse(argv)
    if opts.list:
        for sc in SCENARIOS:
            note = f" ({sc['note']})" if sc.get("note") else ""
            print(f"{sc['name']:<21} zama-bench {shlex.join(sc['args'])}   # {sc['what']}{note}")
        return 0
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    atexit.register(_stop_all)
    raise_nofile()

    if not opts.no_build:
        build()
    missing = [b for b in (ZAMA, BENCH) if not os.path.exists(b)]
    if "mosquitto" in opts.broker_list and not os.path.exists(MOSQUITTO):
        missing.append(MOSQUITTO)
    if not shutil.which("taskset"):
        missing.append("taskset")
    if missing:
        print("suite.py: missing " + ", ".join(missing), file=sys.stderr)
        return 2

    scenarios = [sc for sc in SCENARIOS if sc["name"] in opts.only_set]
    rounds = 1 if opts.smoke else opts.rounds
    results = {}
    workdir = tempfile.mkdtemp(prefix="zama-suite-")
    started = time.monotonic()
    try:
        total = len(scenarios) * rounds * len(opts.broker_list)
        n = 0
        for sc in scenarios:
            args, d, w = bench_args(sc, opts.duration, opts.warmup, opts.smoke)
            recs = results.setdefault(sc["name"], [])
            for r in range(1, rounds + 1):
                for kind in opts.broker_list:
                    n += 1
                    tag = f"{sc['name']}-r{r}"
                    rec = run_one(sc, kind, args, d, w, opts, workdir, tag, opts.smoke)
                    rec["round"] = r
                    recs.append(rec)
                    if opts.smoke:
                        print(summary_line(sc, rec), flush=True)
                    else:
                        status = "ok" if rec["ok"] else "FAILED: " + rec["failure"]
                        fig = fmt_metric(sc["metric"], figure(rec["json"], sc["metric"]))
                        print(f"[{n}/{total}] {sc['name']} round {r} {kind}: {sc['label']} {fig} "
                              f"({rec['seconds']:.1f} s) {status}", file=sys.stderr, flush=True)
                        if not rec["ok"]:
                            print(f"    command: {rec['command']}", file=sys.stderr)
                            if rec.get("stderr_tail"):
                                print("    zama-bench stderr (tail):\n" + rec["stderr_tail"],
                                      file=sys.stderr)
    finally:
        _stop_all()
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump(results, f, indent=1)
        shutil.rmtree(workdir, ignore_errors=True)

    failed = [r for recs in results.values() for r in recs if not r["ok"]]
    elapsed = time.monotonic() - started
    if opts.smoke:
        print(f"smoke: {len(scenarios) - len({r['scenario'] for r in failed})} of {len(scenarios)} "
              f"scenarios passed in {elapsed:.0f} s")
        return 1 if failed else 0

    tables = comparison_tables(results, opts.broker_list)
    print()
    print(tables)
    if opts.write:
        section = doc_section(opts, argv, tables, machine(), opts.broker_list)
        write_doc(section)
        print(f"\nwrote the section '{SECTION[3:]}' of {DOC}", file=sys.stderr)
    if failed:
        print(f"\n*** {len(failed)} RUN(S) FAILED — see the table above ***", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
