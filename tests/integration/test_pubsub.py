"""Publish and subscribe: QoS 0, 1 and 2 in both directions, delivered QoS,
overlapping subscriptions, wildcards and $ topics."""

import subprocess
import time

from conftest import raw_connect, read_packet


def test_qos_levels_roundtrip(broker, client):
    sub = client(broker.port)
    assert sub.subscribe("t/#", 2) == [2]
    pub = client(broker.port)
    for qos in (0, 1, 2):
        pub.publish(f"t/{qos}", f"m{qos}".encode(), qos)
    msgs = sub.wait_messages(3)
    got = sorted((m.topic, m.payload, m.qos) for m in msgs)
    assert got == [("t/0", b"m0", 0), ("t/1", b"m1", 1), ("t/2", b"m2", 2)]


def test_delivered_qos_is_min_of_published_and_granted(broker, client):
    sub = client(broker.port)
    sub.subscribe("min/+", 1)
    pub = client(broker.port)
    pub.publish("min/two", b"x", 2)
    pub.publish("min/zero", b"y", 0)
    msgs = {m.topic: m for m in sub.wait_messages(2)}
    assert msgs["min/two"].qos == 1
    assert msgs["min/zero"].qos == 0


def test_overlapping_subscriptions_deliver_one_copy_at_highest_qos(broker, client):
    sub = client(broker.port)
    sub.subscribe("o/#", 0)
    sub.subscribe("o/+/c", 2)
    sub.subscribe("o/b/c", 1)
    pub = client(broker.port)
    pub.publish("o/b/c", b"once", 2)
    time.sleep(0.5)
    msgs = sub.wait_messages(1)
    assert len(msgs) == 1
    assert msgs[0].qos == 2


def test_dollar_topics_not_matched_by_leading_wildcards(broker, client):
    sub_all = client(broker.port)
    sub_all.subscribe("#", 0)
    sub_plus = client(broker.port)
    sub_plus.subscribe("+/x", 0)
    sub_sys = client(broker.port)
    sub_sys.subscribe("$test/#", 0)
    pub = client(broker.port)
    pub.publish("$test/x", b"d", 1)
    pub.publish("plain/x", b"p", 1)
    assert [m.topic for m in sub_sys.wait_messages(1)] == ["$test/x"]
    time.sleep(0.3)
    assert "$test/x" not in [m.topic for m in sub_all.wait_messages(1)]
    assert [m.topic for m in sub_plus.wait_messages(1)] == ["plain/x"]


def test_unsubscribe_stops_delivery(broker, client):
    sub = client(broker.port)
    sub.subscribe("u/t", 1)
    pub = client(broker.port)
    pub.publish("u/t", b"1", 1)
    assert len(sub.wait_messages(1)) == 1
    result, mid = sub.c.unsubscribe("u/t")
    time.sleep(0.3)
    pub.publish("u/t", b"2", 1)
    time.sleep(0.5)
    assert len(sub.messages) == 1


def test_mosquitto_clients(broker):
    sub = subprocess.Popen(
        ["mosquitto_sub", "-p", str(broker.port), "-t", "mq/#", "-C", "3", "-v", "-q", "1"],
        stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    for i in range(3):
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", f"mq/{i}", "-m", f"v{i}",
                        "-q", str(i)], check=True, timeout=5)
    out, _ = sub.communicate(timeout=10)
    assert out.splitlines() == ["mq/0 v0", "mq/1 v1", "mq/2 v2"]


def test_pingreq_gets_pingresp(broker):
    s = raw_connect(broker.port)
    assert read_packet(s) == (0x20, b"\x00\x00")
    s.sendall(b"\xc0\x00")
    assert read_packet(s) == (0xD0, b"")
    s.close()
