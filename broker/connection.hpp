#pragma once

#include "base/deque.hpp"
#include "broker/config.hpp"
#include "mqtt/decoder.hpp"
#include "router/router.hpp"
#include "runtime/stream.hpp"
#include "runtime/timer_wheel.hpp"

#include <boost/intrusive/list_hook.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace zama::broker {

class server;

/// One client connection: its socket, its decoder, its keepalive, and the
/// session it is attached to after CONNECT. The task reads, decodes and
/// handles packets in order; the session's deliveries come from the router
/// through the client_link interface.
///
/// Lives on one shard, owned by its task (run()); the server lists it for
/// shutdown.
class connection final : public router::client_link {
  public:
    connection(rt::stream s, const config& settings, server& srv);
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() override;

    /// The whole life of the connection. The task owns it: `self` (this
    /// connection) is destroyed with the task's frame. One allocation less
    /// per client than a frame holding the connection and awaiting a
    /// second frame.
    rt::task<void> run(std::unique_ptr<connection> self);
    /// Ends the connection from outside (shutdown, takeover).
    void shutdown() noexcept;

    /// The server's list of its connections (no table slot per client). A
    /// connection destroyed while listed takes itself off the list.
    using list_hook = boost::intrusive::list_member_hook<
        boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;
    list_hook server_hook;

    // client_link.
    std::size_t queued_bytes() const noexcept override;
    void write_copy(std::span<const std::uint8_t> bytes) override;
    void write_ref(std::span<const std::uint8_t> bytes, rt::keepalive keep) override;
    void publish_stored(std::uint64_t ticket) override;
    void publish_refused(std::uint64_t ticket) override;
    void taken_over() override;

  private:
    struct will {
        std::string topic;
        std::vector<std::uint8_t> payload;
        mqtt::qos qos;
        bool retain;
    };
    struct pending_ack {
        std::uint64_t ticket = 0;
        mqtt::packet_id id;
        mqtt::qos qos = mqtt::qos::at_least_once;
        bool ready = false;         // the message is stored per the fsync policy
        bool session_stored = true; // QoS 2, persistent session: its id is stored
    };

    /// Decodes and handles the packets fed so far. What has to wait comes
    /// back as the task to await before decoding on: CONNECT (the router),
    /// SUBSCRIBE and, once all that was fed is decoded, new QoS 2 ids (the
    /// session store). An empty task means all that was fed is handled, or
    /// the connection is closing.
    rt::task<void> handle_fed();
    rt::task<void> on_connect(mqtt::connect c);
    bool on_packet(const mqtt::packet& p);
    void on_publish(const mqtt::publish& p);
    void on_pubrel(mqtt::packet_id id);
    rt::task<void> on_subscribe(mqtt::subscribe s);
    void on_unsubscribe(const mqtt::unsubscribe& u);
    bool violation(std::string_view what);
    void send(const mqtt::packet& p);
    void flush_acks();
    rt::task<void> store_inbound_ids();
    void on_timer() noexcept;
    /// Publishes the will if the end was abnormal, and detaches the session.
    void end_session();
    std::string describe() const;

    rt::stream _stream;
    const config& _config;
    server& _server;
    mqtt::decoder _decoder;
    router::session* _session = nullptr;
    std::unique_ptr<will> _will; // a pointer: most clients set none
    zama::deque<pending_ack> _acks;
    std::uint64_t _next_ticket = 1;
    bool _ids_to_store = false; // a QoS 2 id was added to a persistent session
    bool _closing = false;      // stop reading
    bool _graceful = false;     // DISCONNECT received: no will
    bool _taken_over = false;
    std::uint16_t _keep_alive = 0;
    rt::time_point _last_packet;
    rt::member_timer<connection, &connection::on_timer> _timer{this}; // CONNECT and keepalive
};

} // namespace zama::broker
