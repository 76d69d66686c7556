"""The command line: --help, --version, configuration errors (exit 2, one
"zama: ..." line), a port in use (exit 1), SIGINT/SIGTERM (exit 0)."""

import os
import re
import signal
import socket
import subprocess
import tempfile
import time

from conftest import ZAMA, Broker, raw_connect, read_packet


def run(*args, timeout=10):
    return subprocess.run([ZAMA, *args], capture_output=True, text=True, timeout=timeout)


def config_file(text):
    d = tempfile.mkdtemp(prefix="zama-cli-")
    path = os.path.join(d, "zama.toml")
    with open(path, "w") as f:
        f.write(text)
    return d, path


def test_help():
    r = run("--help")
    assert r.returncode == 0, r.stderr
    assert "-c" in r.stdout
    assert "--data-dir" in r.stdout
    assert "--version" in r.stdout
    assert "-p" in r.stdout
    assert run("-h").stdout == r.stdout


def test_version():
    r = run("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "zama 0.1.0"


def test_unknown_config_key():
    d, path = config_file("port = 0\n\n  bogus_key = 1\n")
    r = run("-c", path, "--data-dir", os.path.join(d, "data"))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("zama: ")
    assert re.fullmatch(r"zama: %s:3:\d+: unknown key 'bogus_key'" % re.escape(path), lines[0]), lines[0]


def test_unknown_config_key_column_points_at_key():
    """FILE:LINE:COL of an unknown key locates the key itself."""
    d, path = config_file("port = 0\n\n  bogus_key = 1\n")
    r = run("-c", path, "--data-dir", os.path.join(d, "data"))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip() == "zama: %s:3:3: unknown key 'bogus_key'" % path


def test_bad_port_value():
    d, path = config_file("port = 70000\n")
    r = run("-c", path, "--data-dir", os.path.join(d, "data"))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("zama: ")
    assert "port" in lines[0]
    assert "must be between 0 and 65535 (got 70000)" in lines[0], lines[0]


def test_bad_connect_timeout_value():
    d, path = config_file("connect_timeout = 0\n")
    r = run("-c", path, "--data-dir", os.path.join(d, "data"))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("zama: ")
    assert "connect_timeout" in r.stderr


def test_bad_fsync_method():
    d, path = config_file('fsync_method = "fsync"\n')
    r = run("-c", path, "--data-dir", os.path.join(d, "data"))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip() == (
        "zama: %s: fsync_method: must be \"journal\", \"syncfs\" or \"fdatasync\" (got 'fsync')" % path)


def test_wrong_value_type():
    d, path = config_file('max_inflight_messages = "many"\n')
    r = run("-c", path, "--data-dir", os.path.join(d, "data"))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("zama: ")
    assert "max_inflight_messages" in r.stderr


def test_port_in_use():
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    port = held.getsockname()[1]
    try:
        d = tempfile.mkdtemp(prefix="zama-cli-")
        r = run("-p", str(port), "--data-dir", os.path.join(d, "data"), timeout=20)
        out = r.stdout + r.stderr
        assert r.returncode == 1, (r.returncode, out)
        assert "cannot listen on 127.0.0.1:%d: Address already in use" % port in out, out
    finally:
        held.close()


def test_port_held_by_another_zama():
    # Every shard listens with SO_REUSEPORT; a second broker must not
    # quietly join the first one's group and take half of its connections.
    first = Broker(shards=2)
    try:
        d = tempfile.mkdtemp(prefix="zama-cli-")
        r = run("-p", str(first.port), "--shards", "2", "--data-dir", os.path.join(d, "data"),
                timeout=20)
        out = r.stdout + r.stderr
        assert r.returncode == 1, (r.returncode, out)
        assert "cannot listen on 127.0.0.1:%d: Address already in use" % first.port in out, out
    finally:
        first.stop()


def test_config_file_settings_are_used():
    b = Broker(config="connect_timeout = 1\nsys_interval = 0\n")
    try:
        s = socket.create_connection(("127.0.0.1", b.port), timeout=5)
        start = time.monotonic()
        assert s.recv(1) == b""
        assert time.monotonic() - start < 3
        s.close()
    finally:
        assert b.stop() == 0, b.log()


def test_sigint_exits_0():
    b = Broker()
    s = raw_connect(b.port, client_id="sigint")
    assert read_packet(s) == (0x20, b"\x00\x00")
    code = b.stop(sig=signal.SIGINT)
    s.close()
    assert code == 0, b.log()
    assert re.search(r"SIGINT: stopping", b.log())


def test_sigterm_with_clients_exits_0_promptly():
    b = Broker()
    time.sleep(0.3)  # past start-up (see test_sigterm_right_after_start_...)
    socks = []
    for i in range(5):
        s = raw_connect(b.port, client_id="term-%d" % i)
        assert read_packet(s) == (0x20, b"\x00\x00")
        socks.append(s)
    start = time.monotonic()
    code = b.stop(sig=signal.SIGTERM)
    elapsed = time.monotonic() - start
    for s in socks:
        s.close()
    assert code == 0, b.log()
    assert elapsed < 3, "stopping took %.1f s:\n%s" % (elapsed, b.log())


def test_sigterm_right_after_start_stops_promptly():
    """A stop requested as soon as the broker is listening must not hang."""
    for _ in range(5):
        b = Broker()
        start = time.monotonic()
        code = b.stop(sig=signal.SIGTERM)
        elapsed = time.monotonic() - start
        assert code == 0, b.log()
        assert elapsed < 2, "stopping took %.1f s:\n%s" % (elapsed, b.log())
        assert "still in flight" not in b.log(), b.log()


def test_data_dir_held_by_another_zama():
    # Two brokers appending to the same partition files would destroy both
    # logs: the second one refuses to start, naming the first one's pid.
    first = Broker()
    try:
        r = run("-p", "0", "--data-dir", first.data_dir, timeout=20)
        out = r.stdout + r.stderr
        assert r.returncode == 1, (r.returncode, out)
        assert "data directory %s is in use by another broker (pid %d) or by zama-log" % (
            first.data_dir, first.proc.pid) in out, out
        # The first broker still serves.
        s = raw_connect(first.port, "still-here")
        assert read_packet(s) == (0x20, b"\x00\x00")
        s.close()
    finally:
        first.stop()
    # Once it has stopped, the directory is free again.
    second = Broker(data_dir=first.data_dir)
    second.stop()
