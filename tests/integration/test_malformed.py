"""Malformed packets after a valid CONNECT (and garbage before it): the
connection is closed, the log names the violated rule, other clients are
unaffected, and the broker stays up (the fixture checks exit code 0)."""

import re
import time

import pytest

import mqttraw
from conftest import closed_by_peer, raw_connect, read_packet

CASES = {
    "pingreq_reserved_flag": (b"\xc1\x00", r"MQTT-2\.2\.2-2"),
    "publish_qos_3": (b"\x36\x06\x00\x01a\x00\x01x", r"MQTT-3\.3\.1-4"),
    "publish_topic_with_hash": (mqttraw.publish("a/#", b"x"), r"MQTT-3\.3\.2-2"),
    "publish_topic_with_plus": (mqttraw.publish("a/+/b", b"x"), r"MQTT-3\.3\.2-2"),
    "publish_invalid_utf8_topic": (mqttraw.publish(b"a\xc3(", b"x"), r"MQTT-1\.5\.3-1"),
    "publish_topic_with_nul": (mqttraw.publish(b"a\x00b", b"x"), r"MQTT-1\.5\.3-2"),
    "subscribe_flags_0000": (b"\x80" + mqttraw.subscribe(1, ("a", 0))[1:], r"MQTT-2\.2\.2-2"),
    "remaining_length_5_bytes": (b"\x30\xff\xff\xff\xff\x01", r"MQTT-2\.2\.3"),
    "subscribe_qos_3": (mqttraw.subscribe(1, ("a", 3)), r"MQTT-3\.8\.3-4"),
    "subscribe_bad_filter": (mqttraw.subscribe(1, ("a/b#", 0)), r"MQTT-4\.7\.1-2"),
    "publish_dup_on_qos0": (b"\x38" + mqttraw.publish("a", b"x")[1:], r"MQTT-3\.3\.1-2"),
    "publish_packet_id_zero": (mqttraw.publish("a", b"x", qos=1, pid=0), r"MQTT-2\.3\.1-1"),
    "server_packet_connack": (b"\x20\x02\x00\x00", r"MQTT-4\.8\.0-1"),
    "reserved_packet_type_0": (b"\x00\x00", r"MQTT-2\.2\.1"),
}


@pytest.fixture
def bystander(broker, client):
    """A subscriber and a publisher that must not notice anything."""
    sub = client(broker.port)
    mqttraw.sub(sub, "ok/t", 1)
    pub = client(broker.port)
    return sub, pub


def check_bystander(bystander, n):
    sub, pub = bystander
    pub.publish("ok/t", b"still here %d" % n, 1)
    msgs = sub.wait_messages(1)
    assert [m.payload for m in msgs] == [b"still here %d" % n]
    assert not sub.disconnected.is_set()
    assert not pub.disconnected.is_set()


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_packet_closes_connection(broker, bystander, name):
    data, rule = CASES[name]
    s = raw_connect(broker.port, client_id="bad-" + name)
    assert read_packet(s) == (0x20, b"\x00\x00")
    port = s.getsockname()[1]
    s.sendall(data)
    assert closed_by_peer(s), "connection left open after %s" % name
    s.close()
    line = broker.wait_log(r"127\.0\.0\.1:%d: " % port)
    assert "bad-" + name in line
    assert re.search(r"127\.0\.0\.1:%d: %s" % (port, rule), line), \
        "log line does not name %s: %r" % (rule, line)
    check_bystander(bystander, 0)
    assert broker.proc.poll() is None


def test_garbage_before_connect(broker, bystander):
    s = mqttraw.open_socket(broker.port)
    port = s.getsockname()[1]
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_packet(s) is None, "broker answered HTTP garbage"
    s.close()
    broker.wait_log(r"127\.0\.0\.1:%d: " % port)
    check_bystander(bystander, 0)


@pytest.mark.parametrize("data", [b"\x00\x01\x02\x03", b"\xff" * 16, b"\x10\xff\xff\xff\xff\xff"])
def test_binary_garbage_before_connect(broker, bystander, data):
    s = mqttraw.open_socket(broker.port)
    s.sendall(data)
    assert read_packet(s) is None
    s.close()
    check_bystander(bystander, 0)


def test_truncated_connect_then_close(broker, bystander):
    s = mqttraw.open_socket(broker.port)
    s.sendall(mqttraw.connect("trunc")[:7])
    s.close()
    time.sleep(0.2)
    check_bystander(bystander, 0)


def test_malformed_after_traffic_and_many_in_a_row(broker, bystander):
    """A burst of bad clients, each after doing normal work."""
    for i, name in enumerate(sorted(CASES)):
        s = raw_connect(broker.port, client_id="burst-%d" % i)
        assert read_packet(s) == (0x20, b"\x00\x00")
        s.sendall(mqttraw.subscribe(1, ("burst/t", 1)))
        assert read_packet(s) == (0x90, b"\x00\x01\x01")
        s.sendall(CASES[name][0])
        assert closed_by_peer(s), name
        s.close()
    check_bystander(bystander, 0)
    # The closed clients' subscriptions are gone (clean sessions): publishing
    # to their topic works and does not disturb anyone.
    sub, pub = bystander
    pub.publish("burst/t", b"nobody", 1)
    pub.publish("ok/t", b"final", 1)
    msgs = sub.wait_messages(2)
    assert [m.payload for m in msgs] == [b"still here 0", b"final"]
