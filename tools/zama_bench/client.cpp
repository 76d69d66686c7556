#include "client.hpp"

#include "mqtt/encoder.hpp"
#include "mqtt/error.hpp"

#include <system_error>

namespace zama::bench {

client::client(rt::stream s)
    : _stream(std::move(s)) {}

rt::task<bool> client::receive() {
    _buffer = co_await _stream.recv();
    if (_buffer.empty()) {
        co_return false;
    }
    _decoder.feed(_buffer.bytes());
    co_return true;
}

void client::queue(const mqtt::packet& p) {
    const auto size = mqtt::encoded_size(p);
    ZAMA_ASSERT(size.has_value(), "the load generator encodes only valid packets");
    const std::size_t at = _out.size();
    _out.resize(at + *size);
    (void)mqtt::encode(p, std::span(_out).subspan(at));
}

void client::flush() {
    if (!_out.empty()) {
        _stream.send_copy(_out);
        _out.clear();
    }
}

rt::task<void> client::disconnect() {
    queue(mqtt::disconnect{});
    flush();
    co_await _stream.close();
}

rt::task<result<session_reply, std::string>> open_session(rt::socket_address broker,
                                                          session_request request) {
    auto s = co_await rt::connect(broker);
    if (!s) {
        co_return std::string("connect: " + std::make_error_code(s.error()).message());
    }
    auto c = std::make_unique<client>(std::move(*s));
    mqtt::connect hello;
    hello.client_id = request.client_id;
    hello.clean_session = request.clean_session;
    hello.keep_alive = request.keep_alive;
    c->queue(hello);
    std::vector<mqtt::subscription> subs;
    subs.reserve(request.filters.size());
    for (const auto& f : request.filters) {
        subs.push_back({f, static_cast<mqtt::qos>(request.qos)});
    }
    if (!subs.empty()) {
        c->queue(
            mqtt::subscribe{mqtt::packet_id{1},
                            mqtt::subscription_list(std::span<const mqtt::subscription>(subs))});
    }
    c->flush();

    session_reply reply;
    bool connacked = false;
    bool subscribed = subs.empty();
    while (!connacked || !subscribed) {
        if (!co_await c->receive()) {
            const std::errc why = c->stream().error();
            co_return std::string(
                std::string("connection closed during the handshake") +
                (why != std::errc{} ? ": " + std::make_error_code(why).message() : std::string()));
        }
        for (;;) {
            const mqtt::decode_status st = c->next();
            if (st == mqtt::decode_status::need_more) {
                break;
            }
            if (st == mqtt::decode_status::error) {
                co_return std::string("malformed reply: " + mqtt::describe(c->decode_error()));
            }
            const mqtt::packet& p = c->packet();
            if (const auto* ack = std::get_if<mqtt::connack>(&p)) {
                if (ack->code != mqtt::connack_code::accepted) {
                    co_return std::string("CONNACK refused with code " +
                                          std::to_string(static_cast<int>(ack->code)));
                }
                reply.session_present = ack->session_present;
                connacked = true;
            } else if (const auto* sa = std::get_if<mqtt::suback>(&p)) {
                for (const std::uint8_t code : sa->return_codes) {
                    if (code == 0x80) {
                        co_return std::string("SUBACK refused a filter");
                    }
                }
                subscribed = true;
            } else {
                co_return std::string("unexpected " +
                                      std::string(mqtt::to_string(mqtt::type_of(p))) +
                                      " during the handshake");
            }
            if (connacked && subscribed) {
                break; // what follows (publishes) is the caller's
            }
        }
    }
    if (request.filters.empty() && request.clean_session) {
        // A clean session without subscriptions receives nothing before it
        // acts: give the receive buffer back to the pool now, so that idle
        // connections hold none.
        while (c->next() == mqtt::decode_status::ready) {
        }
        c->release_buffer();
    }
    reply.connection = std::move(c);
    co_return reply;
}

} // namespace zama::bench
