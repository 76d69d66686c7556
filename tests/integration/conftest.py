"""Fixtures for the integration tests: the real zama binary on an ephemeral
loopback port, and real clients (Python paho, mosquitto_pub/sub, raw
sockets). Run with /usr/bin/python3 -m pytest (Debian's paho).

ZAMA_BIN names the broker binary (ctest sets it); default build/release.
"""

import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZAMA = os.environ.get("ZAMA_BIN", os.path.join(ROOT, "build", "release", "broker", "zama"))


class Broker:
    """A running zama: start() waits for its listening line; stop() sends
    SIGTERM and returns the exit code. Its data directory is a fresh one
    unless `data_dir` names one (a restart on the same data)."""

    def __init__(self, shards=2, config=None, args=(), data_dir=None):
        self.dir = tempfile.mkdtemp(prefix="zama-it-")
        self.data_dir = data_dir if data_dir is not None else os.path.join(self.dir, "data")
        cmd = [ZAMA, "-p", "0", "--shards", str(shards), "--data-dir", self.data_dir]
        if config is not None:
            path = os.path.join(self.dir, "zama.toml")
            with open(path, "w") as f:
                f.write(config)
            cmd += ["-c", path]
        cmd += list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.port = None
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(10):
            self.proc.kill()
            raise RuntimeError("zama did not start:\n" + "\n".join(self.lines))
        if self.port is None:
            raise RuntimeError("zama did not start:\n" + "\n".join(self.lines))

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self._lock:
                self.lines.append(line)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                self._ready.set()
        self._ready.set()

    def log(self):
        with self._lock:
            return "\n".join(self.lines)

    def wait_log(self, pattern, timeout=5.0):
        """Waits for a log line matching `pattern`; returns it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                for line in self.lines:
                    if re.search(pattern, line):
                        return line
            time.sleep(0.02)
        raise AssertionError(f"no log line matching {pattern!r} in:\n{self.log()}")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("zama did not stop within %s s:\n%s" % (timeout, self.log()))


@pytest.fixture
def broker():
    b = Broker(shards=2)
    yield b
    code = b.stop()
    assert code == 0, "zama exited with %s:\n%s" % (code, b.log())


@pytest.fixture
def make_broker():
    """Starts brokers with a given configuration; stops them all after."""
    started = []

    def make(**kwargs):
        b = Broker(**kwargs)
        started.append(b)
        return b

    yield make
    for b in started:
        code = b.stop()
        assert code == 0, "zama exited with %s:\n%s" % (code, b.log())


class Client:
    """A paho MQTT 3.1.1 client that records what it receives."""

    def __init__(self, port, client_id=None, clean=True, keepalive=60, will=None):
        self.client_id = client_id if client_id is not None else "it-" + uuid.uuid4().hex[:10]
        self.c = mqtt.Client(client_id=self.client_id, clean_session=clean, protocol=mqtt.MQTTv311)
        self.messages = []
        self.cond = threading.Condition()
        self.connack = None
        self.disconnected = threading.Event()
        self.c.on_message = self._on_message
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda c, u, rc: self.disconnected.set()
        if will is not None:
            self.c.will_set(*will)
        self.c.connect("127.0.0.1", port, keepalive)
        self.c.loop_start()
        with self.cond:
            if not self.cond.wait_for(lambda: self.connack is not None, 5):
                raise AssertionError("no CONNACK")

    def _on_connect(self, client, userdata, flags, rc):
        with self.cond:
            self.connack = (flags.get("session present", 0), rc)
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.messages.append(msg)
            self.cond.notify_all()

    def subscribe(self, topic, qos=0):
        # Every SUBACK is recorded by packet id, so one that comes back
        # before subscribe() returns its id is not missed.
        acks = {}
        cv = threading.Condition()

        def on_subscribe(client, userdata, m, codes):
            with cv:
                acks[m] = list(codes)
                cv.notify_all()

        self.c.on_subscribe = on_subscribe
        result, mid = self.c.subscribe(topic, qos)
        assert result == mqtt.MQTT_ERR_SUCCESS
        with cv:
            if not cv.wait_for(lambda: mid in acks, 5):
                raise AssertionError("no SUBACK")
            return acks[mid]

    def publish(self, topic, payload, qos=0, retain=False):
        info = self.c.publish(topic, payload, qos, retain)
        if qos > 0:
            info.wait_for_publish(5)
            assert info.is_published(), "no acknowledgement for %s" % topic
        return info

    def wait_messages(self, n, timeout=5.0):
        with self.cond:
            self.cond.wait_for(lambda: len(self.messages) >= n, timeout)
            return list(self.messages)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def client():
    """Makes connected clients; disconnects them all after the test."""
    made = []

    def make(port, **kwargs):
        c = Client(port, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.close()
        except Exception:
            pass


def raw_connect(port, client_id="raw", clean=True, keepalive=60, level=4):
    """A raw socket with a CONNECT sent; returns the socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    cid = client_id.encode()
    var = b"\x00\x04MQTT" + bytes([level, 0x02 if clean else 0x00]) + keepalive.to_bytes(2, "big")
    payload = len(cid).to_bytes(2, "big") + cid
    body = var + payload
    s.sendall(bytes([0x10, len(body)]) + body)
    return s


def read_packet(s, timeout=5.0):
    """Reads one MQTT packet (first byte, body); None if the socket closed."""
    s.settimeout(timeout)
    first = s.recv(1)
    if not first:
        return None
    length, mult = 0, 1
    while True:
        b = s.recv(1)
        if not b:
            return None
        length += (b[0] & 0x7F) * mult
        mult *= 128
        if b[0] & 0x80 == 0:
            break
    body = b""
    while len(body) < length:
        chunk = s.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return first[0], body


def closed_by_peer(s, timeout=5.0):
    """True if the peer closes the socket within `timeout` (reads EOF)."""
    s.settimeout(timeout)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
