"""Load: fan-in (50 publishers x 200 QoS 1 messages to 50 subscribers, some
on "load/#", some on "load/+", some on one publisher's topic) and fan-out
(1 publisher, 100 subscribers, 100 messages). Every subscriber gets every
matching message exactly once, in order per publisher."""

import subprocess
import threading
import time

import mqttraw

PUBLISHERS = 50
PER_PUBLISHER = 200


class MosquittoSub:
    """A mosquitto_sub process whose output lines are collected."""

    def __init__(self, port, cid, topic, qos=1):
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-p", str(port), "-i", cid, "-t", topic, "-q", str(qos), "-v"],
            stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_lines(self, n, timeout):
        with self.cond:
            return self.cond.wait_for(lambda: len(self.lines) >= n, timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(5)


def expected_payloads(pubid):
    return ["%d:%d" % (pubid, seq) for seq in range(PER_PUBLISHER)]


def check_per_publisher(pairs, pubids, who):
    """pairs: (topic, payload) in arrival order. Each listed publisher's
    messages arrive exactly once, in order; nothing else arrives."""
    by_pub = {p: [] for p in pubids}
    for topic, payload in pairs:
        assert topic.startswith("load/"), "%s got %r" % (who, topic)
        pubid = int(topic[len("load/"):])
        assert pubid in by_pub, "%s got a message from publisher %d" % (who, pubid)
        assert payload.startswith("%d:" % pubid), "%s: %r on %r" % (who, payload, topic)
        by_pub[pubid].append(payload)
    for p in pubids:
        got = by_pub[p]
        want = expected_payloads(p)
        if got != want:
            missing = sorted(set(want) - set(got), key=lambda s: int(s.split(":")[1]))
            dups = len(got) - len(set(got))
            raise AssertionError(
                "%s, publisher %d: %d received, %d missing (first %s), %d duplicates, in order: %s"
                % (who, p, len(got), len(missing), missing[:5], dups, got == sorted(got, key=lambda s: int(s.split(":")[1]))))


def test_fan_in_50_publishers_50_subscribers(broker, client):
    port = broker.port
    all_ids = list(range(PUBLISHERS))
    subs = []  # (kind, object, pubids it should get)
    mosq = []
    try:
        # A retained marker tells when a mosquitto_sub's subscription is live.
        marker = client(port)
        marker.publish("load/ready", b"ready", 1, retain=True)
        for i in range(30):
            m = MosquittoSub(port, "fanin-mq-%d" % i, "load/#")
            mosq.append(m)
            subs.append(("mosquitto_sub load/# #%d" % i, m, all_ids))
        for i in range(5):
            c = client(port, client_id="fanin-plus-%d" % i)
            mqttraw.sub(c, "load/+", 1)
            subs.append(("paho load/+ #%d" % i, c, all_ids))
        for i in range(15):
            pubid = i * 3
            c = client(port, client_id="fanin-exact-%d" % i)
            mqttraw.sub(c, "load/%d" % pubid, 1)
            subs.append(("paho load/%d" % pubid, c, [pubid]))
        for m in mosq:
            assert m.wait_lines(1, 10), "mosquitto_sub did not subscribe"
            assert m.lines[0] == "load/ready ready"
        # The paho load/+ subscribers got the marker too.
        for kind, c, ids in subs:
            if kind.startswith("paho load/+"):
                assert [m.topic for m in c.wait_messages(1)] == ["load/ready"]
        marker.publish("load/ready", b"", 1, retain=True)
        time.sleep(0.3)

        pubs = [client(port, client_id="fanin-pub-%d" % p) for p in all_ids]
        errors = []

        def publish_all(pubid, c):
            try:
                infos = [c.c.publish("load/%d" % pubid, "%d:%d" % (pubid, seq), 1)
                         for seq in range(PER_PUBLISHER)]
                for info in infos:
                    info.wait_for_publish(30)
                    if not info.is_published():
                        errors.append("publisher %d: PUBACK missing" % pubid)
                        return
            except Exception as e:  # noqa: BLE001
                errors.append("publisher %d: %r" % (pubid, e))

        start = time.monotonic()
        threads = [threading.Thread(target=publish_all, args=(p, c)) for p, c in zip(all_ids, pubs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors

        # Wait for everything (plus the marker's deletion on load/+ and load/#).
        deadline = start + 30
        for kind, obj, ids in subs:
            want = len(ids) * PER_PUBLISHER
            left = max(0.1, deadline - time.monotonic())
            if isinstance(obj, MosquittoSub):
                obj.wait_lines(1 + 1 + want, left)  # marker, marker deletion
            elif kind.startswith("paho load/+"):
                obj.wait_messages(2 + want, left)
            else:
                obj.wait_messages(want, left)
        time.sleep(0.5)  # duplicates would show up now

        for kind, obj, ids in subs:
            if isinstance(obj, MosquittoSub):
                with obj.cond:
                    lines = list(obj.lines)
                pairs = [tuple(l.split(" ", 1)) if " " in l else (l, "") for l in lines]
            else:
                pairs = [(m.topic, m.payload.decode()) for m in obj.messages]
            pairs = [p for p in pairs if p[0] != "load/ready"]
            check_per_publisher(pairs, ids, kind)
    finally:
        for m in mosq:
            m.stop()


def test_fan_out_1_publisher_100_subscribers(broker, client):
    subs = []
    for i in range(100):
        c = client(broker.port, client_id="fanout-sub-%d" % i)
        assert mqttraw.sub(c, "fan/t", 1) == [1]
        subs.append(c)
    pub = client(broker.port, client_id="fanout-pub")
    infos = [pub.c.publish("fan/t", "m%d" % i, 1) for i in range(100)]
    for info in infos:
        info.wait_for_publish(10)
        assert info.is_published()
    want = [b"m%d" % i for i in range(100)]
    deadline = time.monotonic() + 20
    for c in subs:
        c.wait_messages(100, max(0.1, deadline - time.monotonic()))
    time.sleep(0.5)
    for i, c in enumerate(subs):
        got = [m.payload for m in c.messages]
        assert got == want, "subscriber %d: %d messages, first wrong at %s" % (
            i, len(got), next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), None))
        assert all(m.qos == 1 for m in c.messages)
