"""QoS 2 with raw clients: the broker as receiver (PUBREC for every copy,
one delivery however many times the PUBLISH is re-sent before PUBREL,
PUBCOMP for PUBREL) and as sender (PUBLISH, PUBREL after PUBREC, done after
PUBCOMP; PUBREL re-sent to a reconnecting persistent session)."""

import time

import mqttraw
from conftest import raw_connect, read_packet


def raw_subscriber(port, cid, topic, qos=2, clean=True):
    s = raw_connect(port, client_id=cid, clean=clean)
    assert read_packet(s) == (0x20, b"\x00\x00")
    s.sendall(mqttraw.subscribe(1, (topic, qos)))
    assert read_packet(s) == (0x90, b"\x00\x01" + bytes([qos]))
    return s


def test_qos2_duplicate_publish_delivered_once(broker, client):
    sub = client(broker.port)
    mqttraw.sub(sub, "q2/dup", 2)
    s = raw_connect(broker.port, client_id="q2-pub")
    assert read_packet(s) == (0x20, b"\x00\x00")
    s.sendall(mqttraw.publish("q2/dup", b"exactly once", qos=2, pid=7))
    assert read_packet(s) == (0x50, b"\x00\x07")
    s.sendall(mqttraw.publish("q2/dup", b"exactly once", qos=2, pid=7, dup=True))
    assert read_packet(s) == (0x50, b"\x00\x07")
    s.sendall(mqttraw.publish("q2/dup", b"exactly once", qos=2, pid=7, dup=True))
    assert read_packet(s) == (0x50, b"\x00\x07")
    s.sendall(mqttraw.ack(0x62, 7))
    assert read_packet(s) == (0x70, b"\x00\x07")
    sub.wait_messages(1)
    time.sleep(0.5)
    assert [(m.payload, m.qos) for m in sub.messages] == [(b"exactly once", 2)]

    # The id is free again after PUBCOMP: a new PUBLISH with it is a new message.
    s.sendall(mqttraw.publish("q2/dup", b"second", qos=2, pid=7))
    assert read_packet(s) == (0x50, b"\x00\x07")
    s.sendall(mqttraw.ack(0x62, 7))
    assert read_packet(s) == (0x70, b"\x00\x07")
    sub.wait_messages(2)
    time.sleep(0.3)
    assert [m.payload for m in sub.messages] == [b"exactly once", b"second"]
    s.close()


def test_pubrel_for_unknown_id_gets_pubcomp(broker):
    s = raw_connect(broker.port, client_id="q2-rel")
    assert read_packet(s) == (0x20, b"\x00\x00")
    s.sendall(mqttraw.ack(0x62, 99))
    assert read_packet(s) == (0x70, b"\x00\x63")
    s.close()


def test_qos2_to_raw_subscriber(broker, client):
    s = raw_subscriber(broker.port, "q2-sub", "q2/out")
    pub = client(broker.port)
    pub.publish("q2/out", b"two-phase", 2)
    first, body = read_packet(s)
    topic, pid, payload, qos, dup, retain = mqttraw.parse_publish(first, body)
    assert (topic, payload, qos, dup, retain) == ("q2/out", b"two-phase", 2, False, False)
    assert pid != 0
    s.sendall(mqttraw.ack(0x50, pid))
    assert read_packet(s) == (0x62, pid.to_bytes(2, "big")), "no PUBREL after PUBREC"
    s.sendall(mqttraw.ack(0x70, pid))
    # Flow complete: nothing more for this message, and the next one flows.
    s.sendall(mqttraw.PINGREQ)
    assert read_packet(s) == (0xD0, b"")
    pub.publish("q2/out", b"next", 2)
    first, body = read_packet(s)
    topic, pid2, payload, qos, dup, retain = mqttraw.parse_publish(first, body)
    assert (payload, qos, dup) == (b"next", 2, False)
    s.sendall(mqttraw.ack(0x50, pid2))
    assert read_packet(s) == (0x62, pid2.to_bytes(2, "big"))
    s.sendall(mqttraw.ack(0x70, pid2))
    s.sendall(mqttraw.PINGREQ)
    assert read_packet(s) == (0xD0, b"")
    s.close()


def test_pubrel_resent_to_reconnecting_persistent_session(broker, client):
    s = raw_subscriber(broker.port, "q2-pers", "q2/pers", clean=False)
    pub = client(broker.port)
    pub.publish("q2/pers", b"half done", 2)
    first, body = read_packet(s)
    topic, pid, payload, qos, dup, retain = mqttraw.parse_publish(first, body)
    assert (payload, qos) == (b"half done", 2)
    s.sendall(mqttraw.ack(0x50, pid))
    assert read_packet(s) == (0x62, pid.to_bytes(2, "big"))
    s.close()  # no PUBCOMP
    time.sleep(0.3)

    s = raw_connect(broker.port, client_id="q2-pers", clean=False)
    assert read_packet(s) == (0x20, b"\x01\x00")
    # MQTT-4.4.0-1: the PUBREL is re-sent, not the PUBLISH.
    assert read_packet(s) == (0x62, pid.to_bytes(2, "big"))
    s.sendall(mqttraw.ack(0x70, pid))
    s.sendall(mqttraw.PINGREQ)
    assert read_packet(s) == (0xD0, b"")
    s.close()


def test_qos2_publish_redelivered_with_dup_before_pubrec(broker, client):
    s = raw_subscriber(broker.port, "q2-redeliver", "q2/redeliver", clean=False)
    pub = client(broker.port)
    pub.publish("q2/redeliver", b"again", 2)
    first, body = read_packet(s)
    topic, pid, payload, qos, dup, retain = mqttraw.parse_publish(first, body)
    assert (payload, qos, dup) == (b"again", 2, False)
    s.close()  # no PUBREC
    time.sleep(0.3)
    s = raw_connect(broker.port, client_id="q2-redeliver", clean=False)
    assert read_packet(s) == (0x20, b"\x01\x00")
    first, body = read_packet(s)
    topic, pid2, payload, qos, dup, retain = mqttraw.parse_publish(first, body)
    assert (payload, qos, dup, pid2) == (b"again", 2, True, pid)
    s.sendall(mqttraw.ack(0x50, pid))
    assert read_packet(s) == (0x62, pid.to_bytes(2, "big"))
    s.sendall(mqttraw.ack(0x70, pid))
    s.close()
