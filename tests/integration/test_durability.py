"""The commit log on disk: what was acknowledged survives a clean restart
and kill -9 — persistent sessions with their subscriptions and offline
backlog, and retained messages — also when the broker comes back with a
different number of shards; a QoS 1 publisher's acknowledged messages
survive a SIGKILL at a random moment (fsync = always)."""

import os
import random
import re
import signal
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest

import mqttraw
from conftest import ROOT, Broker, raw_connect, read_packet

ZAMA_LOG = os.environ.get(
    "ZAMA_LOG_BIN", os.path.join(ROOT, "build", "release", "tools", "zama_log", "zama-log")
)


def restart(b, how, shards=2, args=()):
    """Stops `b` (SIGTERM, or SIGKILL) and starts a broker on its data."""
    if how == "kill":
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(10)
    else:
        assert b.stop() == 0, b.log()
    return Broker(shards=shards, data_dir=b.data_dir, args=args)


def test_qos2_id_acknowledged_with_pubrec_survives_sigkill(client):
    # Exactly once across a crash: once PUBREC is sent for a persistent
    # session's QoS 2 PUBLISH, its packet id is on disk, so the PUBLISH the
    # client resends after the broker comes back is known as a duplicate.
    b = Broker(shards=2)
    try:
        sub = client(b.port, client_id="q2-sub", clean=False)
        assert mqttraw.sub(sub, "q2/t", 2) == [2]
        sub.close()

        s = raw_connect(b.port, "q2-pub", clean=False)
        assert read_packet(s) == (0x20, b"\x00\x00")
        s.sendall(mqttraw.publish("q2/t", b"exactly once", qos=2, pid=7))
        assert read_packet(s) == (0x50, b"\x00\x07")  # PUBREC
        # Killed at once: well within the second in which sessions are
        # otherwise stored again.
        b = restart(b, "kill")
        s.close()

        s = raw_connect(b.port, "q2-pub", clean=False)
        assert read_packet(s) == (0x20, b"\x01\x00"), "session present"
        s.sendall(mqttraw.publish("q2/t", b"exactly once", qos=2, pid=7, dup=True))
        assert read_packet(s) == (0x50, b"\x00\x07")
        s.sendall(mqttraw.ack(0x62, 7))  # PUBREL
        assert read_packet(s) == (0x70, b"\x00\x07")  # PUBCOMP
        s.close()

        sub = client(b.port, client_id="q2-sub", clean=False)
        sub.wait_messages(1, timeout=5)
        time.sleep(0.5)
        assert [m.payload for m in sub.messages] == [b"exactly once"], b.log()
    finally:
        assert b.stop() == 0, b.log()


@pytest.mark.parametrize("how,shards_after", [("term", 2), ("kill", 2), ("kill", 1)])
def test_sessions_backlog_and_retained_survive_restart(client, how, shards_after):
    b = Broker(shards=2)
    try:
        sub = client(b.port, client_id="dur-sub", clean=False)
        assert mqttraw.sub(sub, "dur/+/a", 1) == [1]
        sub.close()
        pub = client(b.port)
        pub.publish("dur/keep", b"retained one", 1, retain=True)
        pub.publish("dur/gone", b"to be deleted", 1, retain=True)
        pub.publish("dur/gone", b"", 1, retain=True)
        for i in range(200):
            pub.publish("dur/%d/a" % (i % 5), b"m%03d" % i, 1)
        pub.close()

        b2 = restart(b, how, shards_after)
        b = b2
        b.wait_log(r"restored \d+ persistent sessions")

        sub = client(b.port, client_id="dur-sub", clean=False)
        assert sub.connack == (1, 0), "session present after restart"
        msgs = sub.wait_messages(200, timeout=10)
        time.sleep(0.3)
        # In order per topic (per publisher and topic, MQTT-4.6.0-5); all there, once.
        got = sorted(m.payload for m in sub.messages)
        assert got == [b"m%03d" % i for i in range(200)], b.log()
        for t in range(5):
            per_topic = [m.payload for m in msgs if m.topic == "dur/%d/a" % t]
            assert per_topic == sorted(per_topic)

        # The subscription itself survived: new messages arrive too.
        pub = client(b.port)
        pub.publish("dur/9/a", b"after restart", 1)
        assert sub.wait_messages(201, timeout=5)[-1].payload == b"after restart"

        # Retained: kept, and the deleted one stays deleted.
        late = client(b.port)
        assert mqttraw.sub(late, "dur/#", 1) == [1]
        late.wait_messages(1, timeout=5)
        time.sleep(0.3)
        assert [(m.topic, m.payload, m.retain) for m in late.messages if m.retain] == [
            ("dur/keep", b"retained one", 1)
        ]
    finally:
        assert b.stop() == 0, b.log()


def test_clean_session_discards_the_stored_session(client):
    b = Broker(shards=2)
    try:
        sub = client(b.port, client_id="dur-clean", clean=False)
        mqttraw.sub(sub, "dur/clean", 1)
        sub.close()
        again = client(b.port, client_id="dur-clean", clean=True)
        assert again.connack == (0, 0)
        again.close()
        b = restart(b, "term")
        sub = client(b.port, client_id="dur-clean", clean=False)
        assert sub.connack == (0, 0), "no session after a clean-session connect"
    finally:
        assert b.stop() == 0, b.log()


class CountingPublisher:
    """Publishes numbered QoS 1 messages (payload: the number) as fast as
    paho's window allows, and records which were acknowledged (PUBACK)."""

    LIMIT = 60000  # below 65535: paho's message ids stay unique

    def __init__(self, port, topic):
        self.acked_mids = set()
        self.mids = {}  # mid -> number
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.topic = topic
        self.c = mqtt.Client(client_id="crash-pub", clean_session=True, protocol=mqtt.MQTTv311)
        self.c.max_inflight_messages_set(50)
        self.c.max_queued_messages_set(100)
        self.c.on_publish = self._on_publish
        self.c.connect("127.0.0.1", port, 60)
        self.c.loop_start()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _on_publish(self, client, userdata, mid):
        with self.lock:
            self.acked_mids.add(mid)

    def _run(self):
        seq = 0
        while not self.stop.is_set() and seq < self.LIMIT:
            # Not under self.lock: paho calls _on_publish holding its own locks.
            info = self.c.publish(self.topic, b"%08d" % seq, 1)
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                time.sleep(0.001)
                continue
            with self.lock:
                self.mids[info.mid] = seq
            seq += 1

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.c.loop_stop()
        self.c.disconnect()
        with self.lock:
            return {self.mids[m] for m in self.acked_mids if m in self.mids}


def test_acknowledged_messages_survive_sigkill_at_random_moments(client):
    rng = random.Random()
    fsync = ("--fsync", "always")
    b = Broker(shards=2, args=fsync)
    try:
        sub = client(b.port, client_id="crash-sub", clean=False)
        assert mqttraw.sub(sub, "crash/#", 1) == [1]
        sub.close()
        for round_ in range(10):
            topic = "crash/%d" % round_
            pub = CountingPublisher(b.port, topic)
            time.sleep(rng.uniform(0.05, 0.5))
            b.proc.send_signal(signal.SIGKILL)
            b.proc.wait(10)
            acked = pub.close()
            assert acked, "round %d: nothing was acknowledged before the kill" % round_
            b = Broker(shards=2, data_dir=b.data_dir, args=fsync)

            sub = client(b.port, client_id="crash-sub", clean=False)
            assert sub.connack == (1, 0), b.log()
            deadline = time.time() + 15
            while time.time() < deadline:
                with sub.cond:
                    got = {int(m.payload) for m in sub.messages if m.topic == topic}
                if acked <= got:
                    break
                time.sleep(0.05)
            time.sleep(0.3)  # a duplicate would show up now
            with sub.cond:
                numbers = [int(m.payload) for m in sub.messages if m.topic == topic]
            missing = sorted(acked - set(numbers))
            assert not missing, "round %d: %d acknowledged messages lost (first %s)\n%s" % (
                round_, len(missing), missing[:5], b.log())
            # In order, each once (the subscriber was offline: nothing was in flight).
            assert numbers == sorted(set(numbers)), "round %d: out of order or duplicated" % round_
            print("round %d: %d acknowledged, %d received" % (round_, len(acked), len(numbers)))
            sub.close()
    finally:
        assert b.stop() == 0, b.log()


def test_acknowledged_messages_whose_segment_bytes_were_lost_come_back_from_the_journal(client):
    # A power loss takes the page cache: segment bytes written but not yet
    # synced are gone. With fsync = always the shard journal holds every
    # acknowledged batch; start-up replays it into the partitions. Here the
    # broker is killed and the partition's segment emptied by hand, which
    # is what a power loss right after the acknowledgements would leave.
    b = Broker(shards=2, args=("--fsync", "always"))
    try:
        sub = client(b.port, client_id="journal-sub", clean=False)
        assert mqttraw.sub(sub, "journal/t", 1) == [1]
        sub.close()
        pub = client(b.port, client_id="journal-pub")
        for i in range(20):
            info = pub.publish("journal/t", str(i).encode(), qos=1)
            info.wait_for_publish(5)
            assert info.is_published()  # PUBACK: durable
        pub.close()
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait(10)

        emptied = 0
        for part in sorted(os.listdir(b.data_dir)):
            d = os.path.join(b.data_dir, part)
            names = os.path.join(d, "topics.dict")
            if not os.path.isfile(names) or b"journal/t" not in open(names, "rb").read():
                continue
            for name in os.listdir(d):
                if name.endswith(".log") or name.endswith(".index"):
                    os.truncate(os.path.join(d, name), 0)
                    emptied += 1
        assert emptied > 0, "no partition holds journal/t"
        # zama-log reads the journals offline and predicts the replay.
        p = subprocess.run([ZAMA_LOG, "journals", b.data_dir], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        predicted = int(re.search(r"^the next start restores (\d+) records?", p.stdout,
                                  re.M).group(1))

        b = Broker(shards=1, data_dir=b.data_dir, args=("--fsync", "always"))
        line = b.wait_log(r"journals in .*messages restored")
        restored = int(re.search(r"; (\d+) messages restored", line).group(1))
        assert restored >= 20, line
        assert restored == predicted, p.stdout + line

        sub = client(b.port, client_id="journal-sub", clean=False)
        sub.wait_messages(20, timeout=10)
        time.sleep(0.3)
        assert [int(m.payload) for m in sub.messages] == list(range(20)), b.log()
        sub.close()

        # Started without fsync = always, the broker writes no journal and
        # removes the replayed ones.
        b = restart(b, "kill", shards=1)
        journals = os.path.join(b.data_dir, "journal")
        assert [n for n in os.listdir(journals) if n.endswith(".journal")] == [], b.log()
    finally:
        assert b.stop() == 0, b.log()
