#include "runtime/blocking_pool.hpp"

namespace zama::rt {

blocking_pool& blocking_pool::instance() {
    static blocking_pool pool;
    return pool;
}

blocking_pool::blocking_pool() {
    for (unsigned i = 0; i < threads; ++i) {
        _threads.emplace_back([this] { worker(); });
    }
}

blocking_pool::~blocking_pool() {
    {
        std::lock_guard lock(_mutex);
        _stopping = true;
    }
    _cv.notify_all();
    for (auto& t : _threads) {
        t.join();
    }
}

void blocking_pool::submit(std::function<void()> job) {
    {
        std::lock_guard lock(_mutex);
        _jobs.push_back(std::move(job));
    }
    _cv.notify_one();
}

void blocking_pool::worker() {
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock lock(_mutex);
            _cv.wait(lock, [this] { return _stopping || !_jobs.empty(); });
            if (_jobs.empty()) {
                return;
            }
            job = std::move(_jobs.front());
            _jobs.erase(_jobs.begin());
        }
        job();
    }
}

} // namespace zama::rt
