"""Keepalive (closed after 1.5x the keepalive without packets, PINGREQ keeps
a connection up) and the will message: published when a connection ends
without DISCONNECT (killed client, keepalive expiry, protocol error, session
takeover), not after DISCONNECT; a retained will is retained."""

import signal
import subprocess
import threading
import time

import mqttraw
from conftest import closed_by_peer, raw_connect, read_packet


def will_client(port, cid, topic, payload, qos=0, retain=False, keepalive=60):
    s = mqttraw.open_socket(port)
    s.sendall(mqttraw.connect(cid, keepalive=keepalive, will=(topic, payload, qos, retain)))
    assert read_packet(s) == (0x20, b"\x00\x00")
    return s


def no_messages(sub, wait=1.0):
    time.sleep(wait)
    return list(sub.messages)


def test_keepalive_expiry_closes_silent_client(broker):
    s = raw_connect(broker.port, client_id="ka-silent", keepalive=1)
    assert read_packet(s) == (0x20, b"\x00\x00")
    port = s.getsockname()[1]
    start = time.monotonic()
    assert closed_by_peer(s, timeout=6), "silent client with keepalive 1 s not closed"
    elapsed = time.monotonic() - start
    s.close()
    assert 1.4 <= elapsed <= 3.0, "closed after %.2f s (expected about 1.5 s)" % elapsed
    line = broker.wait_log(r"keepalive of 1 s expired")
    assert ":%d:" % port in line


def test_pingreq_keeps_connection_alive(broker):
    s = raw_connect(broker.port, client_id="ka-ping", keepalive=1)
    assert read_packet(s) == (0x20, b"\x00\x00")
    end = time.monotonic() + 3.0
    pings = 0
    while time.monotonic() < end:
        s.sendall(mqttraw.PINGREQ)
        assert read_packet(s, timeout=2) == (0xD0, b""), "no PINGRESP after %d pings" % pings
        pings += 1
        time.sleep(0.5)
    assert pings >= 5
    # Still connected: a subscribe round trip works.
    s.sendall(mqttraw.subscribe(3, ("ka/x", 0)))
    assert read_packet(s) == (0x90, b"\x00\x03\x00")
    s.close()
    assert "ka-ping" not in broker.log()


def test_any_packet_counts_as_activity(broker, client):
    """Keepalive is reset by any control packet, not only PINGREQ."""
    s = raw_connect(broker.port, client_id="ka-pub", keepalive=1)
    assert read_packet(s) == (0x20, b"\x00\x00")
    for i in range(6):
        s.sendall(mqttraw.publish("ka/pub", b"x%d" % i))
        time.sleep(0.5)
    s.sendall(mqttraw.PINGREQ)
    assert read_packet(s) == (0xD0, b"")
    s.close()


def test_will_published_when_client_process_killed(broker, client):
    sub = client(broker.port)
    mqttraw.sub(sub, "will/kill", 1)
    # A retained marker: mosquitto_sub prints it once its subscription is live.
    sub.publish("ready/kill", b"ready", 1, retain=True)
    proc = subprocess.Popen(
        ["mosquitto_sub", "-p", str(broker.port), "-i", "killme", "-t", "ready/kill",
         "--will-topic", "will/kill", "--will-payload", "gone", "--will-qos", "1"],
        stdout=subprocess.PIPE, text=True)
    try:
        ready = []
        t = threading.Thread(target=lambda: ready.append(proc.stdout.readline()), daemon=True)
        t.start()
        t.join(5)
        assert ready == ["ready\n"], "mosquitto_sub did not connect"
        assert sub.messages == []
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    msgs = sub.wait_messages(1)
    assert [(m.topic, m.payload) for m in msgs] == [("will/kill", b"gone")]
    assert msgs[0].qos == 1
    assert msgs[0].retain == 0
    sub.publish("ready/kill", b"", 1, retain=True)


def test_will_published_on_keepalive_timeout(broker, client):
    sub = client(broker.port)
    mqttraw.sub(sub, "will/ka", 0)
    s = will_client(broker.port, "will-ka", "will/ka", b"timed out", keepalive=1)
    start = time.monotonic()
    msgs = sub.wait_messages(1, timeout=5)
    elapsed = time.monotonic() - start
    assert [(m.topic, m.payload) for m in msgs] == [("will/ka", b"timed out")]
    assert elapsed >= 1.2, "will published after %.2f s, before keepalive expiry" % elapsed
    assert closed_by_peer(s, timeout=1)
    s.close()
    broker.wait_log(r"will-ka.*keepalive of 1 s expired")


def test_will_published_on_protocol_error(broker, client):
    sub = client(broker.port)
    mqttraw.sub(sub, "will/proto", 0)
    s = will_client(broker.port, "will-proto", "will/proto", b"violated")
    time.sleep(0.2)
    assert sub.messages == []
    s.sendall(b"\xc1\x00")  # PINGREQ with a reserved flag bit set
    assert closed_by_peer(s)
    s.close()
    msgs = sub.wait_messages(1)
    assert [(m.topic, m.payload) for m in msgs] == [("will/proto", b"violated")]
    broker.wait_log(r"will-proto.*MQTT-2\.2\.2-2")


def test_will_published_on_takeover(broker, client):
    sub = client(broker.port)
    mqttraw.sub(sub, "will/take", 0)
    old = will_client(broker.port, "will-take", "will/take", b"taken over")
    time.sleep(0.2)
    assert sub.messages == []
    new = raw_connect(broker.port, client_id="will-take")
    assert read_packet(new) == (0x20, b"\x00\x00")
    assert closed_by_peer(old), "old connection not closed by the takeover"
    old.close()
    msgs = sub.wait_messages(1)
    assert [(m.topic, m.payload) for m in msgs] == [("will/take", b"taken over")]
    # The new connection is unaffected.
    new.sendall(mqttraw.PINGREQ)
    assert read_packet(new) == (0xD0, b"")
    new.sendall(mqttraw.DISCONNECT)
    new.close()
    assert len(no_messages(sub, 0.5)) == 1


def test_will_not_published_after_disconnect(broker, client):
    sub = client(broker.port)
    mqttraw.sub(sub, "will/#", 0)
    s = will_client(broker.port, "will-clean", "will/clean", b"should not appear")
    s.sendall(mqttraw.DISCONNECT)
    assert closed_by_peer(s), "broker kept the connection after DISCONNECT"
    s.close()
    # A paho client with a will that disconnects cleanly, too.
    c = client(broker.port, will=("will/paho", b"nor this", 0, False))
    c.close()
    assert no_messages(sub, 1.0) == []


def test_will_not_published_after_disconnect_then_close(broker, client):
    """DISCONNECT discards the will even if the socket is then reset."""
    sub = client(broker.port)
    mqttraw.sub(sub, "will/dc", 0)
    s = will_client(broker.port, "will-dc", "will/dc", b"no")
    s.sendall(mqttraw.DISCONNECT)
    s.close()
    assert no_messages(sub, 1.0) == []


def test_retained_will_is_retained(broker, client):
    s = will_client(broker.port, "will-ret", "will/ret", b"last words", qos=1, retain=True)
    s.close()  # no DISCONNECT: abnormal end
    time.sleep(0.5)
    later = client(broker.port)
    mqttraw.sub(later, "will/ret", 1)
    msgs = later.wait_messages(1)
    assert [(m.topic, m.payload) for m in msgs] == [("will/ret", b"last words")]
    assert msgs[0].retain == 1
    assert msgs[0].qos == 1
    later.publish("will/ret", b"", 1, retain=True)
