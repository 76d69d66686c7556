// Memory per idle connection: starts a server (the runtime's echo server by
// default), opens N loopback connections to it that never send a byte, and
// reports the growth of the server's resident set per connection.
//
//   idle_connections [N] [server command...]
//     default: idle_connections 10000 build/release/tools/bench/echo_server
//
// The server must print "listening on PORT". Its RSS is read from
// /proc/PID/status (VmRSS) before the connections and once they have all
// been accepted and have settled.

#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <netinet/in.h>
#include <signal.h>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

long rss_kib(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::strtol(line.c_str() + 6, nullptr, 10);
        }
    }
    return -1;
}

} // namespace

int main(int argc, char** argv) {
    const int count = argc > 1 ? std::atoi(argv[1]) : 10'000;
    std::vector<char*> server_argv;
    std::string default_server = "build/release/tools/bench/echo_server";
    if (argc > 2) {
        for (int i = 2; i < argc; ++i) {
            server_argv.push_back(argv[i]);
        }
    } else {
        server_argv.push_back(default_server.data());
    }
    server_argv.push_back(nullptr);

    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
    if (nofile.rlim_cur < static_cast<rlim_t>(count) + 100) {
        std::fprintf(stderr, "the fd limit (%ld) is below %d connections\n",
                     static_cast<long>(nofile.rlim_cur), count);
        return 1;
    }

    int out[2];
    if (pipe(out) != 0) {
        return 1;
    }
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        execv(server_argv[0], server_argv.data());
        std::perror("exec");
        _exit(127);
    }
    close(out[1]);
    std::string banner;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') {
        banner += c;
    }
    if (banner.rfind("listening on ", 0) != 0) {
        std::fprintf(stderr, "server did not start: '%s'\n", banner.c_str());
        return 1;
    }
    const int port = std::atoi(banner.c_str() + 13);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const long before = rss_kib(pid);

    std::vector<int> fds;
    fds.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            std::fprintf(stderr, "connect %d: %s\n", i, std::strerror(errno));
            return 1;
        }
        fds.push_back(fd);
    }
    std::this_thread::sleep_for(std::chrono::seconds(2)); // all accepted, recv armed
    const long after = rss_kib(pid);

    std::printf("connections %d\n", count);
    std::printf("server RSS before %ld KiB, after %ld KiB\n", before, after);
    std::printf("RSS per idle connection %.0f B\n",
                static_cast<double>(after - before) * 1024.0 / count);

    for (int fd : fds) {
        close(fd);
    }
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    return 0;
}
