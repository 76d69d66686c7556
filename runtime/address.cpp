#include "runtime/address.hpp"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <netinet/in.h>

namespace zama::rt {

result<socket_address, std::errc> socket_address::from(std::string_view host, std::uint16_t port) {
    socket_address a;
    const std::string h(host);
    sockaddr_in v4{};
    sockaddr_in6 v6{};
    if (inet_pton(AF_INET, h.c_str(), &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(port);
        std::memcpy(&a._storage, &v4, sizeof v4);
        a._size = sizeof v4;
        return a;
    }
    if (inet_pton(AF_INET6, h.c_str(), &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(port);
        std::memcpy(&a._storage, &v6, sizeof v6);
        a._size = sizeof v6;
        return a;
    }
    return std::errc::invalid_argument;
}

result<socket_address, std::errc> socket_address::parse(std::string_view host_port) {
    std::string_view host;
    std::string_view port;
    if (host_port.starts_with('[')) {
        const auto close = host_port.find(']');
        if (close == std::string_view::npos || close + 1 >= host_port.size() ||
            host_port[close + 1] != ':') {
            return std::errc::invalid_argument;
        }
        host = host_port.substr(1, close - 1);
        port = host_port.substr(close + 2);
    } else {
        const auto colon = host_port.rfind(':');
        if (colon == std::string_view::npos) {
            return std::errc::invalid_argument;
        }
        host = host_port.substr(0, colon);
        port = host_port.substr(colon + 1);
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value > 65535) {
        return std::errc::invalid_argument;
    }
    return from(host, static_cast<std::uint16_t>(value));
}

socket_address socket_address::local_of(int fd) {
    return of(fd, &getsockname);
}

socket_address socket_address::peer_of(int fd) {
    return of(fd, &getpeername);
}

socket_address socket_address::of(int fd, int (*get)(int, sockaddr*, socklen_t*)) {
    socket_address a;
    a._size = sizeof a._storage;
    if (get(fd, reinterpret_cast<sockaddr*>(&a._storage), &a._size) != 0) {
        a._size = 0;
    }
    return a;
}

std::uint16_t socket_address::port() const noexcept {
    if (family() == AF_INET) {
        return ntohs(reinterpret_cast<const sockaddr_in*>(&_storage)->sin_port);
    }
    if (family() == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&_storage)->sin6_port);
    }
    return 0;
}

std::string socket_address::to_string() const {
    char text[INET6_ADDRSTRLEN] = "?";
    if (family() == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&_storage)->sin_addr, text,
                  sizeof text);
        return fmt::format("{}:{}", text, port());
    }
    if (family() == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&_storage)->sin6_addr, text,
                  sizeof text);
        return fmt::format("[{}]:{}", text, port());
    }
    return "?";
}

} // namespace zama::rt
