"""Raw MQTT 3.1.1 packet builders for the integration tests (conftest's
raw_connect covers only the plain CONNECT)."""

import socket
import threading


def remaining_length(n):
    """The variable-length encoding of a remaining length."""
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def packet(first, body=b""):
    return bytes([first]) + remaining_length(len(body)) + body


def string(s):
    if isinstance(s, str):
        s = s.encode()
    return len(s).to_bytes(2, "big") + s


def connect(client_id="raw", clean=True, keepalive=60, level=4, proto=b"MQTT",
            will=None, flags=None):
    """A CONNECT; will = (topic, payload, qos, retain)."""
    f = 0x02 if clean else 0x00
    payload = string(client_id)
    if will is not None:
        topic, msg, qos, retain = will
        f |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += string(topic) + string(msg)
    if flags is not None:
        f = flags
    var = string(proto) + bytes([level, f]) + keepalive.to_bytes(2, "big")
    return packet(0x10, var + payload)


def publish(topic, payload, qos=0, pid=None, retain=False, dup=False):
    first = 0x30 | (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    if isinstance(payload, str):
        payload = payload.encode()
    body = string(topic)
    if qos:
        body += pid.to_bytes(2, "big")
    return packet(first, body + payload)


def subscribe(pid, *filters):
    """filters: (topic filter, qos) pairs."""
    body = pid.to_bytes(2, "big")
    for topic, qos in filters:
        body += string(topic) + bytes([qos])
    return packet(0x82, body)


def ack(kind, pid):
    """kind: 0x40 PUBACK, 0x50 PUBREC, 0x62 PUBREL, 0x70 PUBCOMP."""
    return bytes([kind, 2]) + pid.to_bytes(2, "big")


DISCONNECT = b"\xe0\x00"
PINGREQ = b"\xc0\x00"


def parse_publish(first, body):
    """(topic, pid or None, payload, qos, dup, retain) of a PUBLISH."""
    assert first >> 4 == 3, "not a PUBLISH: 0x%02x" % first
    qos = (first >> 1) & 3
    n = int.from_bytes(body[:2], "big")
    topic = body[2:2 + n].decode()
    rest = body[2 + n:]
    pid = None
    if qos:
        pid = int.from_bytes(rest[:2], "big")
        rest = rest[2:]
    return topic, pid, rest, qos, bool(first & 0x08), bool(first & 0x01)


def open_socket(port):
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def sub(client, topic, qos=0, timeout=5.0):
    """Subscribes a conftest Client and waits for the SUBACK; returns the
    granted QoS list. Unlike Client.subscribe, installs the callback before
    sending, so a fast SUBACK is not missed."""
    done = threading.Event()
    granted = []
    state = {"mid": None, "codes": {}}

    def on_subscribe(c, userdata, mid, codes):
        with lock:
            state["codes"][mid] = codes
            if mid == state["mid"]:
                done.set()

    lock = threading.Lock()
    client.c.on_subscribe = on_subscribe
    with lock:
        result, mid = client.c.subscribe(topic, qos)
        assert result == 0, "subscribe failed: %s" % result
        state["mid"] = mid
        if mid in state["codes"]:
            done.set()
    assert done.wait(timeout), "no SUBACK for %s" % topic
    granted.extend(state["codes"][mid])
    return granted
