"""Retained messages: stored and delivered (retain flag 1) on subscribe,
replaced by a newer one, deleted by an empty payload; live deliveries to
existing subscribers carry retain 0; wildcard subscriptions get every
matching retained topic."""

import time

import mqttraw
from conftest import raw_connect, read_packet


def settle_messages(c, wait=0.5):
    time.sleep(wait)
    return list(c.messages)


def test_retained_delivered_to_later_subscriber(broker, client):
    pub = client(broker.port)
    pub.publish("ret/a", b"kept", 1, retain=True)
    sub = client(broker.port)
    mqttraw.sub(sub, "ret/a", 1)
    msgs = sub.wait_messages(1)
    assert [(m.topic, m.payload, m.retain, m.qos) for m in msgs] == [("ret/a", b"kept", 1, 1)]
    assert len(settle_messages(sub)) == 1


def test_retained_delivered_at_min_qos(broker, client):
    pub = client(broker.port)
    pub.publish("ret/q", b"two", 2, retain=True)
    sub = client(broker.port)
    mqttraw.sub(sub, "ret/q", 0)
    msgs = sub.wait_messages(1)
    assert [(m.payload, m.retain, m.qos) for m in msgs] == [(b"two", 1, 0)]


def test_retained_replaced_by_newer(broker, client):
    pub = client(broker.port)
    pub.publish("ret/r", b"old", 1, retain=True)
    pub.publish("ret/r", b"new", 1, retain=True)
    sub = client(broker.port)
    mqttraw.sub(sub, "ret/r", 1)
    sub.wait_messages(1)
    msgs = settle_messages(sub)
    assert [(m.payload, m.retain) for m in msgs] == [(b"new", 1)]


def test_non_retained_publish_does_not_replace_retained(broker, client):
    pub = client(broker.port)
    pub.publish("ret/n", b"retained", 1, retain=True)
    pub.publish("ret/n", b"live only", 1, retain=False)
    sub = client(broker.port)
    mqttraw.sub(sub, "ret/n", 1)
    sub.wait_messages(1)
    msgs = settle_messages(sub)
    assert [(m.payload, m.retain) for m in msgs] == [(b"retained", 1)]


def test_retained_deleted_by_empty_payload(broker, client):
    pub = client(broker.port)
    pub.publish("ret/d", b"soon gone", 1, retain=True)
    existing = client(broker.port)
    mqttraw.sub(existing, "ret/d", 1)
    assert [m.payload for m in existing.wait_messages(1)] == [b"soon gone"]
    pub.publish("ret/d", b"", 1, retain=True)
    # MQTT-3.3.1-10: the empty retained message is delivered as normal
    # to existing subscribers.
    msgs = existing.wait_messages(2)
    assert [(m.payload, m.retain) for m in msgs] == [(b"soon gone", 1), (b"", 0)]
    later = client(broker.port)
    mqttraw.sub(later, "ret/d", 1)
    assert settle_messages(later, 0.8) == [], "deleted retained message still delivered"


def test_live_delivery_has_retain_flag_0(broker, client):
    sub = client(broker.port)
    mqttraw.sub(sub, "ret/live", 1)
    pub = client(broker.port)
    pub.publish("ret/live", b"now", 1, retain=True)
    msgs = sub.wait_messages(1)
    assert [(m.payload, m.retain) for m in msgs] == [(b"now", 0)]
    # ...but it was stored: a new subscriber sees it with retain 1.
    later = client(broker.port)
    mqttraw.sub(later, "ret/live", 1)
    assert [(m.payload, m.retain) for m in later.wait_messages(1)] == [(b"now", 1)]


def test_live_delivery_retain_flag_raw(broker, client):
    s = raw_connect(broker.port, client_id="ret-raw")
    assert read_packet(s) == (0x20, b"\x00\x00")
    s.sendall(mqttraw.subscribe(1, ("ret/raw", 0)))
    assert read_packet(s) == (0x90, b"\x00\x01\x00")
    pub = client(broker.port)
    pub.publish("ret/raw", b"r", 0, retain=True)
    first, body = read_packet(s)
    assert first == 0x30, "live delivery first byte 0x%02x (retain must be 0)" % first
    s.close()
    s = raw_connect(broker.port, client_id="ret-raw2")
    assert read_packet(s) == (0x20, b"\x00\x00")
    s.sendall(mqttraw.subscribe(1, ("ret/raw", 0)))
    assert read_packet(s) == (0x90, b"\x00\x01\x00")
    first, body = read_packet(s)
    assert first == 0x31, "retained delivery first byte 0x%02x (retain must be 1)" % first
    assert mqttraw.parse_publish(first, body)[2] == b"r"
    s.close()


def test_wildcard_subscription_gets_all_matching_retained(broker, client):
    pub = client(broker.port)
    topics = {"wr/a": b"1", "wr/b/c": b"2", "wr/b/d": b"3", "wr/e/f/g": b"4"}
    for t, p in topics.items():
        pub.publish(t, p, 1, retain=True)
    pub.publish("other/x", b"no", 1, retain=True)
    pub.publish("wr/live", b"not retained", 1)

    multi = client(broker.port)
    mqttraw.sub(multi, "wr/#", 1)
    multi.wait_messages(4)
    got = {m.topic: (m.payload, m.retain) for m in settle_messages(multi)}
    assert got == {t: (p, 1) for t, p in topics.items()}

    single = client(broker.port)
    mqttraw.sub(single, "wr/b/+", 1)
    single.wait_messages(2)
    got = sorted((m.topic, m.payload) for m in settle_messages(single))
    assert got == [("wr/b/c", b"2"), ("wr/b/d", b"3")]


def test_retained_not_resent_on_unrelated_subscribe(broker, client):
    pub = client(broker.port)
    pub.publish("ru/a", b"a", 1, retain=True)
    sub = client(broker.port)
    mqttraw.sub(sub, "ru/a", 1)
    sub.wait_messages(1)
    mqttraw.sub(sub, "ru/other", 1)
    assert len(settle_messages(sub)) == 1
