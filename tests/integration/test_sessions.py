"""Persistent sessions (clean session 0): subscriptions and QoS 1/2 messages
survive while the client is offline and arrive in order on reconnect, with
DUP on redelivery of in-flight messages; clean session 1 discards the old
session; a second connection with the same client id takes over."""

import time

import mqttraw
from conftest import closed_by_peer, raw_connect, read_packet


def test_subscriptions_survive_reconnect(broker, client):
    sub = client(broker.port, client_id="sess-subs", clean=False)
    assert sub.connack == (0, 0)
    mqttraw.sub(sub, "sess/subs/#", 1)
    sub.close()
    sub = client(broker.port, client_id="sess-subs", clean=False)
    assert sub.connack == (1, 0)
    pub = client(broker.port)
    pub.publish("sess/subs/a", b"still subscribed", 1)
    msgs = sub.wait_messages(1)
    assert [(m.topic, m.payload, m.qos) for m in msgs] == [("sess/subs/a", b"still subscribed", 1)]


def test_offline_qos1_messages_delivered_in_order(broker, client):
    sub = client(broker.port, client_id="sess-offline", clean=False)
    mqttraw.sub(sub, "sess/offline", 1)
    sub.close()
    pub = client(broker.port)
    for i in range(50):
        pub.publish("sess/offline", b"m%03d" % i, 1)
    sub = client(broker.port, client_id="sess-offline", clean=False)
    assert sub.connack == (1, 0)
    msgs = sub.wait_messages(50, timeout=10)
    time.sleep(0.5)  # anything extra (a duplicate) would show up now
    got = [m.payload for m in sub.messages]
    assert got == [b"m%03d" % i for i in range(50)]
    assert all(m.qos == 1 for m in msgs)


def test_offline_qos2_messages_delivered(broker, client):
    sub = client(broker.port, client_id="sess-offline2", clean=False)
    mqttraw.sub(sub, "sess/offline2", 2)
    sub.close()
    pub = client(broker.port)
    for i in range(10):
        pub.publish("sess/offline2", b"q2-%d" % i, 2)
    sub = client(broker.port, client_id="sess-offline2", clean=False)
    sub.wait_messages(10)
    time.sleep(0.5)
    assert [(m.payload, m.qos) for m in sub.messages] == [(b"q2-%d" % i, 2) for i in range(10)]


def test_offline_qos0_messages_not_queued(broker, client):
    sub = client(broker.port, client_id="sess-q0", clean=False)
    mqttraw.sub(sub, "sess/q0", 1)
    sub.close()
    pub = client(broker.port)
    pub.publish("sess/q0", b"qos0 while offline", 0)
    pub.publish("sess/q0", b"qos1 while offline", 1)
    time.sleep(0.3)
    sub = client(broker.port, client_id="sess-q0", clean=False)
    sub.wait_messages(1)
    time.sleep(0.5)
    assert [m.payload for m in sub.messages] == [b"qos1 while offline"]


def test_clean_session_discards_previous_session(broker, client):
    sub = client(broker.port, client_id="sess-clean", clean=False)
    mqttraw.sub(sub, "sess/clean", 1)
    sub.close()
    pub = client(broker.port)
    pub.publish("sess/clean", b"backlog", 1)
    time.sleep(0.2)
    c = client(broker.port, client_id="sess-clean", clean=True)
    assert c.connack == (0, 0)
    time.sleep(0.5)
    assert c.messages == [], "clean session got the old session's backlog"
    c.close()
    # The old subscription is gone too.
    c = client(broker.port, client_id="sess-clean", clean=False)
    assert c.connack == (0, 0)
    pub.publish("sess/clean", b"after", 1)
    time.sleep(0.5)
    assert c.messages == []


def test_takeover_closes_first_connection(broker):
    # Many ids, so that old and new connections land on different shards.
    for i in range(20):
        cid = "take-%d" % i
        first = raw_connect(broker.port, client_id=cid)
        assert read_packet(first) == (0x20, b"\x00\x00")
        second = raw_connect(broker.port, client_id=cid)
        assert read_packet(second) == (0x20, b"\x00\x00")
        assert closed_by_peer(first), "first connection of %s not closed" % cid
        first.close()
        second.sendall(mqttraw.PINGREQ)
        assert read_packet(second) == (0xD0, b""), "second connection of %s not working" % cid
        second.close()


def test_takeover_keeps_persistent_session(broker, client):
    first = raw_connect(broker.port, client_id="take-pers", clean=False)
    assert read_packet(first) == (0x20, b"\x00\x00")
    first.sendall(mqttraw.subscribe(1, ("take/pers", 1)))
    assert read_packet(first) == (0x90, b"\x00\x01\x01")
    second = raw_connect(broker.port, client_id="take-pers", clean=False)
    assert read_packet(second) == (0x20, b"\x01\x00"), "takeover lost the session"
    assert closed_by_peer(first)
    first.close()
    pub = client(broker.port)
    pub.publish("take/pers", b"to the new one", 1)
    first_byte, body = read_packet(second)
    topic, pid, payload, qos, dup, retain = mqttraw.parse_publish(first_byte, body)
    assert (topic, payload, qos) == ("take/pers", b"to the new one", 1)
    second.sendall(mqttraw.ack(0x40, pid))
    second.close()


def test_takeover_with_paho_clients(broker, client):
    a = client(broker.port, client_id="take-paho")
    a.c.reconnect_delay_set(30, 60)  # don't fight back
    b = client(broker.port, client_id="take-paho")
    assert a.disconnected.wait(5), "first paho client not disconnected"
    assert not b.disconnected.is_set()
    mqttraw.sub(b, "take/paho", 1)
    b.publish("take/paho", b"ok", 1)
    assert [m.payload for m in b.wait_messages(1)] == [b"ok"]
    a.c.loop_stop()


def test_unacknowledged_message_redelivered_with_dup(broker, client):
    cid = "sess-dup"
    s = raw_connect(broker.port, client_id=cid, clean=False)
    assert read_packet(s) == (0x20, b"\x00\x00")
    s.sendall(mqttraw.subscribe(5, ("sess/dup", 1)))
    assert read_packet(s) == (0x90, b"\x00\x05\x01")
    pub = client(broker.port)
    pub.publish("sess/dup", b"deliver me twice", 1)
    first_byte, body = read_packet(s)
    topic, pid, payload, qos, dup, retain = mqttraw.parse_publish(first_byte, body)
    assert (topic, payload, qos, dup) == ("sess/dup", b"deliver me twice", 1, False)
    s.close()  # no PUBACK
    time.sleep(0.3)

    s = raw_connect(broker.port, client_id=cid, clean=False)
    assert read_packet(s) == (0x20, b"\x01\x00")
    first_byte, body = read_packet(s)
    assert first_byte & 0x08, "redelivered PUBLISH lacks DUP: 0x%02x" % first_byte
    topic2, pid2, payload2, qos2, dup2, retain2 = mqttraw.parse_publish(first_byte, body)
    assert (topic2, payload2, qos2) == ("sess/dup", b"deliver me twice", 1)
    assert pid2 == pid, "MQTT-4.4.0-1: re-sent with a new packet identifier"
    s.sendall(mqttraw.ack(0x40, pid2))
    s.sendall(mqttraw.DISCONNECT)
    s.close()
    time.sleep(0.3)

    # Acknowledged now: not delivered a third time.
    s = raw_connect(broker.port, client_id=cid, clean=False)
    assert read_packet(s) == (0x20, b"\x01\x00")
    s.sendall(mqttraw.PINGREQ)
    assert read_packet(s) == (0xD0, b""), "acknowledged message delivered again"
    s.close()


def test_backlog_after_inflight_keeps_order(broker, client):
    """In-flight (unacknowledged) messages come first, then the queued ones."""
    cid = "sess-order"
    s = raw_connect(broker.port, client_id=cid, clean=False)
    assert read_packet(s) == (0x20, b"\x00\x00")
    s.sendall(mqttraw.subscribe(1, ("sess/order", 1)))
    assert read_packet(s) == (0x90, b"\x00\x01\x01")
    pub = client(broker.port)
    pub.publish("sess/order", b"0", 1)
    first_byte, body = read_packet(s)
    assert mqttraw.parse_publish(first_byte, body)[2] == b"0"
    s.close()  # no PUBACK
    time.sleep(0.3)
    for i in range(1, 6):
        pub.publish("sess/order", str(i).encode(), 1)
    s = raw_connect(broker.port, client_id=cid, clean=False)
    assert read_packet(s) == (0x20, b"\x01\x00")
    got = []
    for _ in range(6):
        p = read_packet(s)
        assert p is not None
        topic, pid, payload, qos, dup, retain = mqttraw.parse_publish(*p)
        got.append(payload)
        s.sendall(mqttraw.ack(0x40, pid))
    assert got == [b"0", b"1", b"2", b"3", b"4", b"5"]
    s.sendall(mqttraw.PINGREQ)
    assert read_packet(s) == (0xD0, b"")
    s.close()
