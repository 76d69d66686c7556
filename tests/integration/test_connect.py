"""CONNECT handling: CONNACK return codes, session present, the first packet
must be CONNECT, a second CONNECT is a violation, the CONNECT timeout."""

import time

import pytest

import mqttraw
from conftest import closed_by_peer, raw_connect, read_packet


def connack_then_closed(s, code, session_present=0):
    assert read_packet(s) == (0x20, bytes([session_present, code]))
    assert closed_by_peer(s), "connection left open after CONNACK 0x%02x" % code


@pytest.mark.parametrize("level", [3, 5])
def test_unsupported_protocol_level_refused_with_0x01(broker, level):
    s = raw_connect(broker.port, client_id="lvl%d" % level, level=level)
    connack_then_closed(s, 0x01)
    s.close()


def test_mqisdp_level_3_refused_with_0x01(broker):
    s = mqttraw.open_socket(broker.port)
    s.sendall(mqttraw.connect("old", proto=b"MQIsdp", level=3))
    connack_then_closed(s, 0x01)
    s.close()


def test_zero_length_client_id_with_clean_session_0_refused_with_0x02(broker):
    s = raw_connect(broker.port, client_id="", clean=False)
    connack_then_closed(s, 0x02)
    s.close()


def test_zero_length_client_id_with_clean_session_1_gets_assigned_id(broker, client):
    c = client(broker.port, client_id="", clean=True)
    assert c.connack == (0, 0)
    # The assigned id works like any other: subscribe and receive.
    assert mqttraw.sub(c, "zl/t", 1) == [1]
    c.publish("zl/t", b"hi", 1)
    assert [m.payload for m in c.wait_messages(1)] == [b"hi"]
    # Two anonymous clients get different ids: neither takes the other over.
    d = client(broker.port, client_id="", clean=True)
    time.sleep(0.3)
    assert not c.disconnected.is_set()
    assert not d.disconnected.is_set()


def test_zero_length_client_id_raw_clean_session_1_accepted(broker):
    s = raw_connect(broker.port, client_id="", clean=True)
    assert read_packet(s) == (0x20, b"\x00\x00")
    s.sendall(mqttraw.PINGREQ)
    assert read_packet(s) == (0xD0, b"")
    s.close()


def test_zero_length_client_id_refused_when_not_allowed(make_broker):
    b = make_broker(config="allow_zero_length_clientid = false\n")
    s = raw_connect(b.port, client_id="", clean=True)
    connack_then_closed(s, 0x02)
    s.close()
    # A non-empty id is still fine.
    s = raw_connect(b.port, client_id="named", clean=True)
    assert read_packet(s) == (0x20, b"\x00\x00")
    s.close()


def test_session_present_flag(broker):
    cid = "sp-client"
    s = raw_connect(broker.port, client_id=cid, clean=False)
    assert read_packet(s) == (0x20, b"\x00\x00"), "first persistent connect: no session"
    s.sendall(mqttraw.DISCONNECT)
    assert closed_by_peer(s)
    s.close()

    s = raw_connect(broker.port, client_id=cid, clean=False)
    assert read_packet(s) == (0x20, b"\x01\x00"), "reconnect must report session present"
    s.sendall(mqttraw.DISCONNECT)
    assert closed_by_peer(s)
    s.close()

    s = raw_connect(broker.port, client_id=cid, clean=True)
    assert read_packet(s) == (0x20, b"\x00\x00"), "clean session: session present 0"
    s.sendall(mqttraw.DISCONNECT)
    assert closed_by_peer(s)
    s.close()

    # The clean session discarded the stored one.
    s = raw_connect(broker.port, client_id=cid, clean=False)
    assert read_packet(s) == (0x20, b"\x00\x00"), "session survived a clean session"
    s.close()


def test_first_packet_not_connect_closes(broker):
    s = mqttraw.open_socket(broker.port)
    port = s.getsockname()[1]
    s.sendall(mqttraw.PINGREQ)
    assert read_packet(s) is None, "broker answered a PINGREQ before CONNECT"
    s.close()
    broker.wait_log(r"127\.0\.0\.1:%d: MQTT-3\.1\.0-1" % port)


def test_first_packet_subscribe_closes(broker):
    s = mqttraw.open_socket(broker.port)
    s.sendall(mqttraw.subscribe(1, ("a", 0)))
    assert read_packet(s) is None, "broker answered a SUBSCRIBE before CONNECT"
    s.close()


def test_second_connect_closes(broker):
    s = raw_connect(broker.port, client_id="twice")
    assert read_packet(s) == (0x20, b"\x00\x00")
    port = s.getsockname()[1]
    s.sendall(mqttraw.connect("twice"))
    assert read_packet(s) is None, "broker answered a second CONNECT"
    s.close()
    broker.wait_log(r"127\.0\.0\.1:%d: MQTT-3\.1\.0-2" % port)


def test_reserved_connect_flag_closes_without_connack(broker):
    s = mqttraw.open_socket(broker.port)
    s.sendall(mqttraw.connect("resv", flags=0x03))
    assert read_packet(s) is None
    s.close()
    broker.wait_log(r"MQTT-3\.1\.2-3 reserved connect flag set")


def test_silent_socket_closed_after_connect_timeout(make_broker):
    b = make_broker(config="connect_timeout = 1\n")
    s = mqttraw.open_socket(b.port)
    port = s.getsockname()[1]
    start = time.monotonic()
    assert closed_by_peer(s, timeout=5), "silent socket not closed"
    elapsed = time.monotonic() - start
    s.close()
    assert 0.8 <= elapsed <= 3.0, "closed after %.2f s" % elapsed
    line = b.wait_log(r"no CONNECT within 1 s")
    assert str(port) in line


def test_connect_in_time_not_closed_by_connect_timeout(make_broker):
    b = make_broker(config="connect_timeout = 1\n")
    s = raw_connect(b.port, client_id="intime", keepalive=0)
    assert read_packet(s) == (0x20, b"\x00\x00")
    assert not closed_by_peer(s, timeout=2.0), "connected client closed by connect_timeout"
    s.sendall(mqttraw.PINGREQ)
    assert read_packet(s) == (0xD0, b"")
    s.close()
