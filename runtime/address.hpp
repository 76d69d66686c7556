#pragma once

#include "base/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <system_error>

namespace zama::rt {

/// An IPv4 or IPv6 socket address.
class socket_address {
  public:
    socket_address() = default;

    /// "127.0.0.1:1883", "[::1]:1883", "0.0.0.0:0".
    static result<socket_address, std::errc> parse(std::string_view host_port);
    static result<socket_address, std::errc> from(std::string_view host, std::uint16_t port);
    /// The local or remote address of a socket.
    static socket_address local_of(int fd);
    static socket_address peer_of(int fd);

    const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&_storage); }
    socklen_t size() const noexcept { return _size; }
    int family() const noexcept { return _storage.ss_family; }
    std::uint16_t port() const noexcept;
    std::string to_string() const;

  private:
    static socket_address of(int fd, int (*get)(int, sockaddr*, socklen_t*));

    sockaddr_storage _storage{};
    socklen_t _size = 0;
};

} // namespace zama::rt
