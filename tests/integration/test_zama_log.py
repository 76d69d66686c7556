"""zama-log on what the real broker wrote. The broker takes publishes and
stops; zama-log lists the partitions, dumps the records and verifies the
data directory. A torn tail that `verify` predicts is then cut by the
broker's own recovery, by the same number of bytes. A persistent session's
offline backlog, as `sessions` shows it, is what the client gets when it
comes back. zama-log refuses the directory of a running broker. And the
command line's errors. (tests/unit/tools/zama_log_test.cpp covers damage in
detail, on a log written by disk_log and a session store by kv_log.)

ZAMA_LOG_BIN names the zama-log binary (ctest sets it); default build/release.
"""

import os
import re
import subprocess

import mqttraw
import pytest
from conftest import ROOT

ZAMA_LOG = os.environ.get(
    "ZAMA_LOG_BIN", os.path.join(ROOT, "build", "release", "tools", "zama_log", "zama-log")
)

RECORD = re.compile(
    r"^(?P<offset>\d+) (?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<topic>\S+) "
    r"qos=(?P<qos>[012]) retain=(?P<retain>[01]) size=(?P<size>\d+) (?P<preview>.*)$"
)


def zama_log(*args):
    p = subprocess.run([ZAMA_LOG, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def meta_file(partitions, version=1):
    """The meta file of commitlog/data_dir.hpp: version, partitions, CRC32C."""
    head = bytes([version]) + partitions.to_bytes(4, "little")
    return head + crc32c(head).to_bytes(4, "little")


SESSION = re.compile(r'^client (?P<client>\S+) \(stored in partition (?P<partition>\d+)\)$')
SUBSCRIPTION = re.compile(r"^  subscription (?P<filter>\S+) qos=(?P<qos>[012])$")
CURSOR = re.compile(
    r"^  cursor partition=(?P<partition>\d+) offset=(?P<offset>\d+) start=(?P<start>\d+|-) "
    r"end=(?P<end>\d+|-) backlog=(?P<backlog>\d+|-)(?P<notes>.*)$"
)


def sessions(data, *args):
    """`zama-log sessions`, parsed: {client: {"partition": stored in,
    "subscriptions": [(filter, qos)], "cursors": {partition: {"offset": ...,
    "start": ..., "end": ..., "backlog": ..., "notes": ...}}}}."""
    rc, out, err = zama_log("sessions", data, *args)
    assert rc == 0, out + err
    got = {}
    current = None
    for line in out.splitlines():
        m = SESSION.match(line)
        if m:
            current = {"partition": int(m["partition"]), "subscriptions": [], "cursors": {}}
            got[m["client"]] = current
            continue
        m = SUBSCRIPTION.match(line)
        if m:
            current["subscriptions"].append((m["filter"], int(m["qos"])))
            continue
        m = CURSOR.match(line)
        if m:
            current["cursors"][int(m["partition"])] = m.groupdict()
            continue
        assert line.startswith("  qos2 "), line
    return got


def partition_count(data):
    rc, out, err = zama_log("partitions", data)
    assert rc == 0, err
    return int(re.search(r"meta format 1, (\d+) partitions", out)[1])


def records(data, topic_filter):
    """Every record matching the filter, over all partitions:
    (partition, offset, topic, qos, retain, size, preview)."""
    out = []
    for p in range(partition_count(data)):
        rc, stdout, stderr = zama_log("dump", data, "-p", str(p), "--topic", topic_filter)
        assert rc == 0, stderr
        for line in stdout.splitlines():
            m = RECORD.match(line)
            assert m, line
            out.append((p, int(m["offset"]), m["topic"], int(m["qos"]), m["retain"] == "1",
                        int(m["size"]), m["preview"]))
    return out


def stopped_with_log(broker):
    assert broker.stop() == 0, broker.log()
    if not os.path.exists(os.path.join(broker.data_dir, "meta")):
        pytest.skip("this zama does not write the on-disk commit log")
    return broker.data_dir


def test_dumps_and_verifies_what_the_broker_wrote(make_broker, client):
    b = make_broker(shards=2)
    pub = client(b.port)
    for i in range(20):
        pub.publish("zl/a", b"a-%02d" % i, 1)
    pub.publish("zl/b", b"kept", 1, retain=True)
    pub.publish("zl/bin", bytes(range(40)), 1)
    pub.close()
    data = stopped_with_log(b)

    got = records(data, "zl/#")
    a = [r for r in got if r[2] == "zl/a"]
    assert [r[6] for r in a] == ['"a-%02d"' % i for i in range(20)]
    assert len({r[0] for r in a}) == 1, "a topic lives in one partition"
    assert [r[1] for r in a] == sorted(r[1] for r in a)
    assert all(r[3] == 1 and not r[4] and r[5] == 4 for r in a)
    assert [(r[3], r[4], r[6]) for r in got if r[2] == "zl/b"] == [(1, True, '"kept"')]
    assert [(r[5], r[6]) for r in got if r[2] == "zl/bin"] == [
        (40, "0x" + bytes(range(16)).hex() + "...")
    ]

    rc, out, err = zama_log("verify", data)
    assert rc == 0, out + err
    assert out.rstrip().endswith("0 damaged regions, 0 torn tails: clean"), out


def test_verify_predicts_what_recovery_cuts(make_broker, client):
    b = make_broker(shards=1)
    pub = client(b.port)
    for i in range(10):
        pub.publish("zl/torn", b"t-%02d" % i, 1)  # one batch each: every publish waits for its ack
    pub.close()
    data = stopped_with_log(b)
    (p,) = {r[0] for r in records(data, "zl/torn")}
    directory = os.path.join(data, "partition-%d" % p)
    last = sorted(n for n in os.listdir(directory) if n.endswith(".log"))[-1]
    path = os.path.join(directory, last)
    os.truncate(path, os.path.getsize(path) - 3)  # the last batch, torn

    rc, out, err = zama_log("verify", data, "-p", str(p))
    assert rc == 0, out + err
    m = re.search(r"partition-%d/%s: byte \d+: torn tail \(recovery will cut (\d+) bytes\)"
                  % (p, re.escape(last)), out)
    assert m, out
    predicted = int(m[1])
    rc, out, err = zama_log("verify", "--strict", data, "-p", str(p))
    assert rc == 1, out + err

    again = make_broker(shards=1, data_dir=data)
    line = again.wait_log(r"partition %d: recovered .* bytes cut" % p)
    assert int(re.search(r"last segment: \d+ batches checked, (\d+) bytes cut", line)[1]) == predicted
    assert again.stop() == 0, again.log()

    rc, out, err = zama_log("verify", data, "-p", str(p))
    assert rc == 0 and "torn tail (" not in out, out + err
    assert [r[6] for r in records(data, "zl/torn")] == ['"t-%02d"' % i for i in range(9)]


def test_sessions_show_an_offline_clients_backlog(make_broker, client):
    b = make_broker(shards=2)
    sub = client(b.port, client_id="zl-offline", clean=False)
    assert mqttraw.sub(sub, "zl/sess/t", 1) == [1]
    sub.close()
    pub = client(b.port)
    for i in range(7):
        pub.publish("zl/sess/t", b"m-%d" % i, 1)
    pub.close()
    data = stopped_with_log(b)

    (p,) = {r[0] for r in records(data, "zl/sess/t")}
    got = sessions(data)
    assert set(got) == {"zl-offline"}, got  # the publisher's clean session is not stored
    s = got["zl-offline"]
    assert s["subscriptions"] == [("zl/sess/t", 1)]
    cursor = s["cursors"][p]
    assert int(cursor["backlog"]) == 7, cursor
    assert int(cursor["end"]) - int(cursor["offset"]) == 7
    assert cursor["notes"] == "", cursor
    assert sessions(data, "--client", "zl-offline") == got
    assert sessions(data, "-p", str(s["partition"]))["zl-offline"]["cursors"][p]["backlog"] == "7"
    other = (s["partition"] + 1) % partition_count(data)
    assert sessions(data, "-p", str(other)) == {}

    # What the broker delivers when the client comes back is that backlog.
    again = make_broker(shards=2, data_dir=data)
    back = client(again.port, client_id="zl-offline", clean=False)
    assert back.connack == (1, 0)
    assert [m.payload for m in back.wait_messages(7)] == [b"m-%d" % i for i in range(7)]


def test_refuses_the_directory_of_a_running_broker(make_broker):
    b = make_broker(shards=1)
    if not os.path.exists(os.path.join(b.data_dir, "lock")):
        pytest.skip("this zama does not lock its data directory")
    message = ("zama-log: a broker (pid %d) is running on %s; stop it first or inspect a copy "
               "of the directory\n" % (b.proc.pid, b.data_dir))
    for command in ("sessions", "partitions", "verify"):
        rc, out, err = zama_log(command, b.data_dir)
        assert (rc, out, err) == (2, "", message)
    assert b.stop() == 0, b.log()
    rc, out, err = zama_log("sessions", b.data_dir)
    assert rc == 0, out + err


def test_errors_are_one_line_and_exit_status_2(tmp_path):
    def fails(args, message):
        rc, out, err = zama_log(*args)
        assert rc == 2, (out, err)
        assert len(err.splitlines()) == 1 and message in err, err

    fails(["partitions", str(tmp_path / "nowhere")], "no such directory")
    fails(["verify", str(tmp_path)], "not a Zama data directory")
    (tmp_path / "meta").write_bytes(meta_file(4)[:8] + b"\x00")
    fails(["partitions", str(tmp_path)], "is damaged")
    (tmp_path / "meta").write_bytes(meta_file(4, version=2))
    fails(["segments", str(tmp_path)], "meta format version 2")

    (tmp_path / "meta").write_bytes(meta_file(4))
    fails(["dump", str(tmp_path), "-p", "4"], "no partition 4")
    fails(["dump", str(tmp_path), "-p", "0", "--topic", "a/#/b"], "not a valid MQTT topic filter")
    rc, out, err = zama_log("partitions", str(tmp_path))
    assert rc == 0 and out.count("(no directory)") == 4, out + err
    rc, out, err = zama_log("verify", str(tmp_path))
    assert rc == 0 and "clean" in out, out + err


def test_help_lists_the_subcommands():
    rc, out, _ = zama_log("--help")
    assert rc == 0
    for sub in ("partitions", "segments", "dump", "verify", "sessions", "journals"):
        assert re.search(r"^\s+%s\s" % sub, out, re.M), out
    rc, _, err = zama_log("frobnicate")
    assert rc == 2, err
