"""$SYS topics: version, uptime, connected clients and message counters,
published retained every sys_interval seconds; sys_interval = 0 disables
them."""

import re
import time

import mqttraw


def latest(c, topic):
    """The payload of the last message received on `topic`, or None."""
    with c.cond:
        for m in reversed(c.messages):
            if m.topic == topic:
                return m.payload.decode()
    return None


def wait_for(c, topic, pred, timeout=5.0):
    """Waits until a message on `topic` satisfies pred(payload str)."""
    def ok():
        for m in c.messages:
            if m.topic == topic and pred(m.payload.decode()):
                return True
        return False

    with c.cond:
        assert c.cond.wait_for(ok, timeout), "no %s matching; last: %r" % (topic, latest_nolock(c, topic))


def latest_nolock(c, topic):
    for m in reversed(c.messages):
        if m.topic == topic:
            return m.payload.decode()
    return None


def test_sys_topics(make_broker, client):
    b = make_broker(config="sys_interval = 1\n")
    time.sleep(1.2)  # let the first round be published
    sub = client(b.port)
    mqttraw.sub(sub, "$SYS/broker/#", 0)
    wait_for(sub, "$SYS/broker/version", lambda p: True)
    wait_for(sub, "$SYS/broker/uptime", lambda p: True)
    wait_for(sub, "$SYS/broker/clients/connected", lambda p: True)
    wait_for(sub, "$SYS/broker/messages/received", lambda p: True)
    wait_for(sub, "$SYS/broker/messages/sent", lambda p: True)

    # Retained: delivered right away on subscribe, with the retain flag.
    first = {}
    for m in sub.messages:
        first.setdefault(m.topic, m)
    for t in ("version", "uptime", "clients/connected", "messages/received", "messages/sent"):
        assert first["$SYS/broker/" + t].retain == 1, t

    assert latest(sub, "$SYS/broker/version") == "zama 0.1.0"
    assert re.fullmatch(r"\d+ seconds", latest(sub, "$SYS/broker/uptime"))
    connected = latest(sub, "$SYS/broker/clients/connected")
    assert re.fullmatch(r"\d+", connected) and int(connected) >= 0

    # Periodic: uptime goes up, clients/connected counts our subscriber.
    up0 = int(latest(sub, "$SYS/broker/uptime").split()[0])
    wait_for(sub, "$SYS/broker/uptime", lambda p: int(p.split()[0]) > up0, timeout=4)
    wait_for(sub, "$SYS/broker/clients/connected", lambda p: int(p) >= 1, timeout=4)

    # More clients: clients/connected follows.
    others = [client(b.port) for _ in range(3)]
    wait_for(sub, "$SYS/broker/clients/connected", lambda p: int(p) >= 4, timeout=4)

    # messages/received grows after publishing.
    received0 = int(latest(sub, "$SYS/broker/messages/received"))
    sent0 = int(latest(sub, "$SYS/broker/messages/sent"))
    for i in range(10):
        others[0].publish("sys/test", b"x%d" % i, 1)
    wait_for(sub, "$SYS/broker/messages/received", lambda p: int(p) >= received0 + 10, timeout=4)
    wait_for(sub, "$SYS/broker/messages/sent", lambda p: int(p) > sent0, timeout=4)

    # Clients leaving: clients/connected goes back down.
    for c in others:
        c.close()
    wait_for(sub, "$SYS/broker/clients/connected", lambda p: 1 <= int(p) <= 2, timeout=4)


def test_sys_not_matched_by_hash(make_broker, client):
    b = make_broker(config="sys_interval = 1\n")
    sub = client(b.port)
    mqttraw.sub(sub, "#", 0)
    time.sleep(2.2)
    assert [m.topic for m in sub.messages if m.topic.startswith("$")] == []


def test_sys_interval_0_disables(make_broker, client):
    b = make_broker(config="sys_interval = 0\n")
    sub = client(b.port)
    mqttraw.sub(sub, "$SYS/#", 0)
    time.sleep(1.5)
    assert sub.messages == []
