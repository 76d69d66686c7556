// The loop itself: sleeping, yielding, wake-ups from other threads, and the
// message given when io_uring cannot be set up.

#include <cstddef>
#include <cstring>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "runtime_test_util.hpp"

namespace zama::rt::test {
namespace {

using namespace std::chrono_literals;

task<void> sleeper(std::vector<int>* order, int id, duration d) {
    co_await reactor::local().sleep_for(d);
    order->push_back(id);
}

TEST(Reactor, SleepsResumeInDeadlineOrder) {
    auto r = make_reactor();
    std::vector<int> order;
    r->spawn(sleeper(&order, 3, 30ms));
    r->spawn(sleeper(&order, 1, 5ms));
    r->spawn(sleeper(&order, 2, 15ms));
    const time_point start = clock::now();
    reactor::loop_hooks hooks;
    hooks.done = [&] { return order.size() == 3; };
    r->run(hooks);
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    EXPECT_GE(clock::now() - start, 30ms);
}

// A long task that yields when asked lets a latency-sensitive one run
// long before it finishes.
TEST(Reactor, YieldingLongTaskDoesNotStarveOthers) {
    auto r = make_reactor();
    int long_progress_when_ping_ran = -1;
    int progress = 0;
    bool long_done = false;
    r->spawn([](int* p, bool* done) -> task<void> {
        for (int i = 0; i < 200; ++i) {
            const time_point until = clock::now() + 100us; // busy work
            while (clock::now() < until) {
            }
            ++*p;
            if (reactor::local().need_yield()) {
                co_await reactor::local().yield();
            }
        }
        *done = true;
    }(&progress, &long_done));
    r->spawn([](int* p, int* seen) -> task<void> {
        co_await reactor::local().sleep_for(1ms);
        *seen = *p;
    }(&progress, &long_progress_when_ping_ran));
    reactor::loop_hooks hooks;
    hooks.done = [&] { return long_done && long_progress_when_ping_ran >= 0; };
    r->run(hooks);
    EXPECT_GE(long_progress_when_ping_ran, 0);
    EXPECT_LT(long_progress_when_ping_ran, 100); // ran well before the long task ended
}

TEST(Reactor, PostExternalWakesASleepingLoop) {
    auto r = make_reactor();
    bool ran = false;
    reactor* target = r.get();
    std::thread other([&] {
        std::this_thread::sleep_for(20ms);
        target->post_external([&] { ran = true; });
    });
    reactor::loop_hooks hooks;
    hooks.done = [&] { return ran; };
    r->run(hooks); // sleeps with nothing to do until the post
    other.join();
    EXPECT_TRUE(ran);
}

TEST(Reactor, SetupErrorsSayWhatToDo) {
    EXPECT_NE(explain_setup_error(EPERM, 2).message.find("kernel.io_uring_disabled = 2"),
              std::string::npos);
    EXPECT_EQ(explain_setup_error(EPERM, 2).what, setup_failure::kind::disabled_by_sysctl);
    EXPECT_NE(explain_setup_error(EPERM, 1).message.find("io_uring_group"), std::string::npos);
    EXPECT_NE(explain_setup_error(EPERM, 0).message.find("seccomp"), std::string::npos);
    EXPECT_EQ(explain_setup_error(ENOSYS, 0).what, setup_failure::kind::not_supported);
    EXPECT_NE(explain_setup_error(ENOMEM, 0).message.find("ulimit -l"), std::string::npos);
}

// In a child process, a seccomp filter makes io_uring_setup fail with
// `err`; reactor::create must report it, not crash.
std::string setup_failure_under_seccomp(int err) {
    int pipefd[2];
    if (pipe(pipefd) != 0) {
        return "pipe failed";
    }
    const pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        sock_filter filter[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | static_cast<unsigned>(err)),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
        auto r = reactor::create({});
        const std::string msg = r ? std::string("created") : r.error().message;
        (void)!write(pipefd[1], msg.data(), msg.size());
        _exit(0);
    }
    close(pipefd[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<std::size_t>(n));
    }
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child crashed";
    return out;
}

TEST(Reactor, BlockedIoUringIsAClearErrorNotACrash) {
    const std::string eperm = setup_failure_under_seccomp(EPERM);
    EXPECT_NE(eperm.find("not permitted"), std::string::npos) << eperm;
    const std::string enosys = setup_failure_under_seccomp(ENOSYS);
    EXPECT_NE(enosys.find("no io_uring"), std::string::npos) << enosys;
}

} // namespace
} // namespace zama::rt::test
