#include "broker/connection.hpp"

#include "base/log.hpp"
#include "base/vassert.hpp"
#include "broker/server.hpp"
#include "mqtt/encoder.hpp"
#include "mqtt/error.hpp"

#include <fmt/format.h>

#include <array>
#include <random>

namespace zama::broker {
namespace {

std::string assign_client_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("zama-{:016x}", rng());
}

} // namespace

connection::connection(rt::stream s, const config& settings, server& srv)
    : _stream(std::move(s))
    , _config(settings)
    , _server(srv)
    , _decoder(mqtt::decoder_options{.max_packet_size = settings.max_packet_size == 0
                                                            ? mqtt::max_packet_size_limit
                                                            : settings.max_packet_size}) {}

connection::~connection() = default;

std::string connection::describe() const {
    // The session holds the client id; the connection keeps no copy.
    const std::string_view who = _session != nullptr ? std::string_view(_session->client_id())
                                 : _taken_over       ? "(taken over)"
                                                     : "(before CONNECT)";
    return fmt::format("client {} from {}", who, _stream.peer().to_string());
}

std::size_t connection::queued_bytes() const noexcept {
    return _stream.send_queued();
}

void connection::write_copy(std::span<const std::uint8_t> bytes) {
    _stream.send_copy(bytes);
}

void connection::write_ref(std::span<const std::uint8_t> bytes, rt::keepalive keep) {
    _stream.send_ref(bytes, std::move(keep));
}

void connection::send(const mqtt::packet& p) {
    std::array<std::uint8_t, 64> small{};
    auto size = mqtt::encoded_size(p);
    if (*size <= small.size()) {
        (void)mqtt::encode(p, small);
        _stream.send_copy({small.data(), *size});
        return;
    }
    std::vector<std::uint8_t> big(*size);
    (void)mqtt::encode(p, big);
    _stream.send_copy(big);
}

void connection::shutdown() noexcept {
    _closing = true;
    _stream.shutdown();
}

void connection::taken_over() {
    // The router has dropped or handed over the session already.
    _session = nullptr;
    _taken_over = true;
    shutdown();
}

bool connection::violation(std::string_view what) {
    log::warn("{}: {}: closing the connection", describe(), what);
    _closing = true;
    return false;
}

void connection::on_timer() noexcept {
    const rt::time_point now = rt::reactor::local().now();
    if (_session == nullptr && !_taken_over) {
        log::info("{}: no CONNECT within {} s: closing the connection", describe(),
                  _config.connect_timeout.count());
        shutdown();
        return;
    }
    // MQTT-3.1.2-24: one and a half keepalive periods without a packet.
    const auto limit = std::chrono::milliseconds(_keep_alive * 1500);
    if (now - _last_packet >= limit) {
        log::info("{}: keepalive of {} s expired: closing the connection", describe(), _keep_alive);
        shutdown();
        return;
    }
    _timer.arm(rt::reactor::local().timers(), _last_packet + limit);
}

// The coroutine frame is all an idle connection's task holds, so run()
// keeps few locals: decoding, handling and the will are in plain functions.
rt::task<void> connection::run(std::unique_ptr<connection> self) {
    ZAMA_ASSERT(self.get() == this, "a connection's task owns that connection");
    _timer.arm(rt::reactor::local().timers(), rt::reactor::local().now() + _config.connect_timeout);
    while (!_closing) {
        rt::recv_buffer data = co_await _stream.recv();
        if (data.empty()) {
            break;
        }
        _last_packet = rt::reactor::local().now();
        _decoder.feed(data.bytes());
        for (rt::task<void> wait = handle_fed(); wait.valid(); wait = handle_fed()) {
            co_await std::move(wait); // CONNECT, SUBSCRIBE or a store, then decode on
        }
        data.release();
        if (!_closing && _server.router().publish_blocked()) {
            co_await _server.router().room(); // stop reading: the owners are behind
        } else if (rt::reactor::local().need_yield()) {
            // recv() returns at once while buffers are queued: without this a
            // fast publisher would be read dry in one turn, and the turn's
            // end (sealing, fanout, every subscriber's write) would wait.
            co_await rt::reactor::local().yield();
        }
    }
    _timer.cancel();
    end_session();
    co_await _stream.close();
    _server.forget(*this);
}

rt::task<void> connection::handle_fed() {
    mqtt::packet p;
    while (!_closing) {
        const mqtt::decode_status st = _decoder.next(p);
        if (st == mqtt::decode_status::need_more) {
            if (_ids_to_store && _session != nullptr) {
                // One store for the QoS 2 ids of all that was read, before
                // reading on.
                return store_inbound_ids();
            }
            break;
        }
        if (st == mqtt::decode_status::error) {
            const mqtt::errc e = _decoder.error();
            if (_session == nullptr) {
                if (auto code = mqtt::connack_for(e)) {
                    // MQTT-3.1.2-2 and MQTT-3.1.3-8: refuse with a code, then close.
                    send(mqtt::connack{false, *code});
                }
            }
            violation(mqtt::describe(e));
            break;
        }
        if (_session == nullptr) {
            if (mqtt::type_of(p) != mqtt::packet_type::connect) {
                violation(fmt::format("MQTT-3.1.0-1 first packet is {}, not CONNECT",
                                      mqtt::to_string(mqtt::type_of(p))));
                break;
            }
            return on_connect(std::get<mqtt::connect>(p));
        }
        if (mqtt::type_of(p) == mqtt::packet_type::subscribe) {
            return on_subscribe(std::get<mqtt::subscribe>(p)); // may wait for the store
        }
        if (!on_packet(p)) {
            break;
        }
    }
    return {};
}

void connection::end_session() {
    // An abnormal end publishes the will (MQTT-3.1.2-8); DISCONNECT
    // discards it (MQTT-3.14.4-3).
    if (_will && !_graceful) {
        const mqtt::publish w{.topic = _will->topic,
                              .payload = _will->payload,
                              .qos = _will->qos,
                              .retain = _will->retain};
        _server.router().publish(w, nullptr, 0);
    }
    if (_session != nullptr) {
        _server.router().detach(*_session);
        _session = nullptr;
    }
}

// `c` is a copy: its views are into the fragment run() holds, and the
// decoder's packet is gone once handle_fed() returns.
rt::task<void> connection::on_connect(mqtt::connect c) {
    std::string id(c.client_id);
    if (id.empty()) {
        if (!_config.allow_zero_length_clientid) {
            send(mqtt::connack{false, mqtt::connack_code::identifier_rejected});
            violation("MQTT-3.1.3-9 zero-length client id refused (allow_zero_length_clientid)");
            co_return;
        }
        id = assign_client_id(); // MQTT-3.1.3-6
    }
    _keep_alive = c.keep_alive;
    if (c.will) {
        _will = std::make_unique<will>(
            will{std::string(c.will->topic),
                 std::vector<std::uint8_t>(c.will->payload.begin(), c.will->payload.end()),
                 c.will->qos, c.will->retain});
    }
    const bool clean = c.clean_session;
    router::attach_result attached = co_await _server.router().attach(std::move(id), clean, this);
    _session = attached.s;
    if (_closing) {
        // The socket went away (or another CONNECT took the id) meanwhile.
        co_return;
    }
    // MQTT-3.2.2-1..3: session present only for a resumed persistent session.
    send(mqtt::connack{attached.session_present, mqtt::connack_code::accepted});
    log::debug("{}: connected (clean session {}, keepalive {} s)", describe(), clean, _keep_alive);
    _timer.cancel();
    if (_keep_alive != 0) {
        _timer.arm(rt::reactor::local().timers(),
                   rt::reactor::local().now() + std::chrono::milliseconds(_keep_alive * 1500));
    }
    _server.router().resume(*_session);
}

bool connection::on_packet(const mqtt::packet& p) {
    router::router& r = _server.router();
    switch (mqtt::type_of(p)) {
    case mqtt::packet_type::connect:
        return violation("MQTT-3.1.0-2 second CONNECT");
    case mqtt::packet_type::publish:
        on_publish(std::get<mqtt::publish>(p));
        return true;
    case mqtt::packet_type::puback:
        r.puback(*_session, std::get<mqtt::puback>(p).id);
        return true;
    case mqtt::packet_type::pubrec: {
        const mqtt::packet_id id = std::get<mqtt::pubrec>(p).id;
        if (r.pubrec(*_session, id)) {
            send(mqtt::pubrel{id});
        }
        return true;
    }
    case mqtt::packet_type::pubrel:
        on_pubrel(std::get<mqtt::pubrel>(p).id);
        return true;
    case mqtt::packet_type::pubcomp:
        r.pubcomp(*_session, std::get<mqtt::pubcomp>(p).id);
        return true;
    case mqtt::packet_type::subscribe:
        return true; // run() handles it: it may wait for the session store
    case mqtt::packet_type::unsubscribe:
        on_unsubscribe(std::get<mqtt::unsubscribe>(p));
        return true;
    case mqtt::packet_type::pingreq:
        send(mqtt::pingresp{}); // MQTT-3.12.4-1
        return true;
    case mqtt::packet_type::disconnect:
        _graceful = true; // MQTT-3.14.4-3: the will is discarded
        _will.reset();
        _closing = true;
        return false;
    case mqtt::packet_type::connack:
    case mqtt::packet_type::suback:
    case mqtt::packet_type::unsuback:
    case mqtt::packet_type::pingresp:
        return violation(
            fmt::format("MQTT-4.8.0-1 {} is a server's packet", mqtt::to_string(mqtt::type_of(p))));
    }
    return violation("MQTT-2.2.1 unknown packet type");
}

void connection::on_publish(const mqtt::publish& p) {
    router::router& r = _server.router();
    switch (p.qos) {
    case mqtt::qos::at_most_once:
        r.publish(p, this, 0);
        return;
    case mqtt::qos::at_least_once: {
        const std::uint64_t ticket = _next_ticket++;
        _acks.push_back({ticket, p.id, p.qos, false});
        r.publish(p, this, ticket);
        return;
    }
    case mqtt::qos::exactly_once: {
        auto& awaiting = _session->state().awaiting_pubrel;
        const std::uint64_t ticket = _next_ticket++;
        if (awaiting.contains(p.id.value())) {
            // A resent PUBLISH before PUBREL: stored already, do not store
            // it again (MQTT-4.3.3-2); acknowledge again.
            _acks.push_back({ticket, p.id, p.qos, true});
            flush_acks();
            return;
        }
        awaiting.insert(p.id.value());
        r.changed(*_session);
        // A persistent session's id is stored before its PUBREC, so a
        // PUBLISH resent after a broker crash is still known as a duplicate.
        const bool persistent = !_session->clean();
        _ids_to_store = _ids_to_store || persistent;
        _acks.push_back({ticket, p.id, p.qos, false, !persistent});
        r.publish(p, this, ticket);
        return;
    }
    }
}

void connection::publish_stored(std::uint64_t ticket) {
    for (pending_ack& a : _acks) {
        if (a.ticket == ticket) {
            a.ready = true;
            break;
        }
    }
    flush_acks();
}

void connection::publish_refused(std::uint64_t /*ticket*/) {
    if (!_closing) {
        log::warn("{}: a message could not be stored (its partition cannot write to disk): "
                  "closing the connection without acknowledging it",
                  describe());
    }
    shutdown();
}

// PUBACKs and PUBRECs go out in the order their PUBLISHes came
// (MQTT-4.6.0-2, -3), whichever partition stored them first.
void connection::flush_acks() {
    while (!_acks.empty() && _acks.front().ready && _acks.front().session_stored) {
        const pending_ack& a = _acks.front();
        if (a.qos == mqtt::qos::at_least_once) {
            send(mqtt::puback{a.id});
        } else {
            send(mqtt::pubrec{a.id});
        }
        _acks.pop_front();
    }
}

// Stores the session with the QoS 2 ids received so far; their PUBRECs may
// go once their messages are stored too.
rt::task<void> connection::store_inbound_ids() {
    _ids_to_store = false;
    const std::uint64_t upto = _next_ticket;
    const bool stored = co_await _server.router().store_now(*_session);
    if (_session == nullptr || _closing) {
        co_return; // taken over or closing meanwhile: those PUBRECs are not sent
    }
    if (!stored) {
        log::warn("{}: its session could not be stored: closing the connection without "
                  "acknowledging its QoS 2 messages",
                  describe());
        shutdown();
        co_return;
    }
    for (pending_ack& a : _acks) {
        if (a.ticket < upto) {
            a.session_stored = true;
        }
    }
    flush_acks();
}

void connection::on_pubrel(mqtt::packet_id id) {
    // MQTT-4.3.3-2: the id is free again once PUBREL comes; PUBCOMP either way.
    _session->state().awaiting_pubrel.erase(id.value());
    _server.router().changed(*_session);
    send(mqtt::pubcomp{id});
}

rt::task<void> connection::on_subscribe(mqtt::subscribe s) {
    std::vector<std::uint8_t> codes = _server.router().subscribe(*_session, s.subscriptions);
    const mqtt::packet_id id = s.id;
    // A persistent session's subscription is stored before its SUBACK.
    co_await _server.router().anchor(*_session);
    if (_session != nullptr) { // not taken over meanwhile
        send(mqtt::suback{id, std::move(codes)});
    }
}

void connection::on_unsubscribe(const mqtt::unsubscribe& u) {
    _server.router().unsubscribe(*_session, u.filters);
    send(mqtt::unsuback{u.id}); // MQTT-3.10.4-4, even for filters it did not have
}

} // namespace zama::broker
