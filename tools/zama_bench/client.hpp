#pragma once

#include "base/result.hpp"
#include "mqtt/decoder.hpp"
#include "mqtt/packet.hpp"
#include "runtime/address.hpp"
#include "runtime/stream.hpp"
#include "runtime/task.hpp"

#include <memory>
#include <span>
#include <string>
#include <vector>

namespace zama::bench {

/// One MQTT connection of the load generator: a stream and a decoder.
///
/// Hot loops use it without a coroutine per packet: `co_await receive()`
/// once per buffer of bytes, then next() until it says need_more.
/// Packets to send are encoded into out() and written with flush() (one
/// send per flush, however many packets).
///
/// Owned by one task on the shard that connected it.
class client {
  public:
    explicit client(rt::stream s);

    /// Waits for bytes and feeds them to the decoder; false once the stream
    /// has ended or failed.
    rt::task<bool> receive();
    mqtt::decode_status next() noexcept { return _decoder.next(_packet); }
    /// The packet of the last next() that returned ready.
    const mqtt::packet& packet() const noexcept { return _packet; }
    /// Why decoding failed (after next() returned error).
    mqtt::errc decode_error() const noexcept { return _decoder.error(); }

    /// Gives the receive buffer back; only once next() has said need_more.
    void release_buffer() noexcept { _buffer.release(); }

    /// Encodes `p` at the end of the pending output.
    void queue(const mqtt::packet& p);
    /// Sends the pending output (a copy), if any.
    void flush();

    rt::stream& stream() noexcept { return _stream; }
    /// Sends DISCONNECT and closes the socket.
    rt::task<void> disconnect();

  private:
    rt::stream _stream;
    mqtt::decoder _decoder;
    mqtt::packet _packet;
    rt::recv_buffer _buffer; // the fragment the decoder is reading
    std::vector<std::uint8_t> _out;
};

struct session_request {
    std::string client_id;
    bool clean_session = true;
    std::uint16_t keep_alive = 0;
    std::vector<std::string> filters; // subscribed at `qos`, after CONNACK
    int qos = 0;
};

struct session_reply {
    std::unique_ptr<client> connection;
    bool session_present = false;
};

/// Connects, sends CONNECT (and SUBSCRIBE), and waits for CONNACK (and
/// SUBACK, which must grant every filter). Publishes that follow in the
/// same bytes stay in the decoder for the caller. The error says what went
/// wrong, for the run's report.
rt::task<result<session_reply, std::string>> open_session(rt::socket_address broker,
                                                          session_request request);

} // namespace zama::bench
