// The baseline for the echo benchmark: a minimal single-threaded epoll echo
// server, written the usual way (non-blocking sockets, level-triggered
// epoll, one recv and one send per readable event, the rest of a short
// send kept for EPOLLOUT).
//
//   epoll_echo_server [port]     Prints "listening on PORT".

#include <arpa/inet.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;

void set_nonblocking(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

} // namespace

int main(int argc, char** argv) {
    const int port = argc > 1 ? std::atoi(argv[1]) : 0;
    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, [](int) { g_stop = 1; });
    signal(SIGTERM, [](int) { g_stop = 1; });

    const int lfd = socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(lfd, 4096) != 0) {
        std::perror("listen");
        return 1;
    }
    socklen_t len = sizeof a;
    getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
    std::printf("listening on %u\n", ntohs(a.sin_port));
    std::fflush(stdout);
    set_nonblocking(lfd);

    const int ep = epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

    std::unordered_map<int, std::string> unsent; // bytes a short send left behind
    std::vector<char> buf(std::size_t{64} * 1024);
    std::vector<epoll_event> events(512);
    while (!g_stop) {
        const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    const int c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
                    if (c < 0) {
                        break;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    epoll_event cev{};
                    cev.events = EPOLLIN;
                    cev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            if ((events[i].events & EPOLLOUT) != 0) {
                std::string& rest = unsent[fd];
                const ssize_t w = send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
                if (w > 0) {
                    rest.erase(0, static_cast<std::size_t>(w));
                }
                if (rest.empty()) {
                    epoll_event cev{};
                    cev.events = EPOLLIN;
                    cev.data.fd = fd;
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
                }
                continue;
            }
            const ssize_t r = recv(fd, buf.data(), buf.size(), 0);
            if (r <= 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
                unsent.erase(fd);
                close(fd);
                continue;
            }
            auto it = unsent.find(fd);
            if (it != unsent.end() && !it->second.empty()) {
                it->second.append(buf.data(), static_cast<std::size_t>(r)); // keep order
                continue;
            }
            const ssize_t w = send(fd, buf.data(), static_cast<std::size_t>(r), MSG_NOSIGNAL);
            const std::size_t sent = w > 0 ? static_cast<std::size_t>(w) : 0;
            if (sent < static_cast<std::size_t>(r)) {
                unsent[fd].assign(buf.data() + sent, static_cast<std::size_t>(r) - sent);
                epoll_event cev{};
                cev.events = EPOLLIN | EPOLLOUT;
                cev.data.fd = fd;
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
            }
        }
    }
    return 0;
}
