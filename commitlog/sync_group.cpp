#include "commitlog/sync_group.hpp"

#include "base/errc.hpp"
#include "base/log.hpp"
#include "base/vassert.hpp"
#include "runtime/reactor.hpp"

namespace zama::commitlog {

struct sync_group::wait_for_round {
    sync_group* group;
    waiter* w;

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        w->handle = h;
        group->_next.push_back(w);
        for (std::size_t i = 0; i < group->_anchors.size(); ++i) {
            if (!group->_anchors[i].busy) {
                group->_anchors[i].busy = true;
                rt::reactor::local().spawn(group->run(i));
                break;
            }
        }
    }
    void await_resume() const noexcept {}
};

sync_group::sync_group(std::vector<std::unique_ptr<rt::file>> anchors) {
    for (auto& f : anchors) {
        _anchors.push_back({std::move(f), false});
    }
}

sync_group::~sync_group() {
    ZAMA_ASSERT(_next.empty(), "sync_group destroyed with syncs waiting");
    for (const anchor& a : _anchors) {
        ZAMA_ASSERT(!a.busy, "sync_group destroyed during a round");
    }
}

rt::task<result<void, std::errc>> sync_group::sync() {
    if (_anchors.empty() || !_anchors.front().file) {
        co_return std::errc::bad_file_descriptor;
    }
    waiter w;
    co_await wait_for_round{this, &w};
    co_return w.outcome;
}

rt::task<void> sync_group::run(std::size_t slot) {
    while (!_next.empty()) {
        // Everyone waiting now wrote before this round starts.
        std::vector<waiter*> round;
        round.swap(_next);
        ++_rounds;
        auto outcome = co_await _anchors[slot].file->sync_filesystem();
        if (!outcome) {
            ++_failures;
            log::warn("syncfs failed: {}; the partitions waiting for it sync their own files",
                      message_of(outcome.error()));
        }
        for (waiter* w : round) {
            w->outcome = outcome;
            rt::reactor::local().schedule(w->handle);
        }
    }
    _anchors[slot].busy = false;
}

rt::task<void> sync_group::close() {
    ZAMA_ASSERT(_next.empty(), "sync_group closed with syncs waiting");
    for (anchor& a : _anchors) {
        ZAMA_ASSERT(!a.busy, "sync_group closed during a round");
        if (a.file) {
            auto closed = co_await a.file->close();
            (void)closed; // read-only: nothing to lose
            a.file.reset();
        }
    }
}

} // namespace zama::commitlog
