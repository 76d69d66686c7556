#include "commitlog/partition_log.hpp"

#include "base/clock.hpp"
#include "base/errc.hpp"
#include "base/log.hpp"
#include "base/vassert.hpp"
#include "runtime/reactor.hpp"

#include <utility>

namespace zama::commitlog {

partition_log::partition_log(partition_id p, partition_log_options options,
                             partition_log_events events)
    : partition_log(p, 0, options, std::move(events), nullptr) {}

partition_log::partition_log(partition_id p, offset start, partition_log_options options,
                             partition_log_events events, std::unique_ptr<disk_log> disk)
    : _memory(p, options.memory_bytes, start)
    , _options(options)
    , _events(std::move(events))
    , _disk(std::move(disk))
    , _written_end(start) {}

partition_log::~partition_log() {
    ZAMA_ASSERT(!_writer_running && !_sync_scheduled, "partition log destroyed before close()");
}

rt::task<result<std::unique_ptr<partition_log>, std::errc>>
partition_log::open(rt::file_system& fs, std::string dir, partition_id p, disk_log_options disk,
                    partition_log_options options, partition_log_events events) {
    auto opened = co_await disk_log::open(fs, std::move(dir), p, disk);
    if (!opened) {
        co_return opened.error();
    }
    const offset end = (*opened)->end();
    std::unique_ptr<partition_log> log(
        new partition_log(p, end, options, std::move(events), std::move(*opened)));
    log->_writer_running = true;
    rt::reactor::local().spawn(log->write_loop());
    co_return log;
}

offset partition_log::start() const noexcept {
    return _disk ? _disk->start() : _memory.start();
}

offset partition_log::covered_end() const noexcept {
    if (!_disk) {
        return _memory.end();
    }
    return _options.fsync.mode == fsync_mode::always ? _disk->durable_end() : _written_end;
}

void partition_log::append(batch_ptr batch) {
    if (!_disk) {
        _memory.append(std::move(batch));
        return;
    }
    _memory.append(batch, _written_end);
    _unwritten_bytes += batch->bytes_size();
    _queue.push_back(std::move(batch));
    wake();
}

void partition_log::wake() noexcept {
    if (_writer_waiting) {
        rt::reactor::local().schedule(std::exchange(_writer_waiting, {}));
    }
}

void partition_log::request_retention() noexcept {
    if (_disk) {
        _retention_due = true;
        wake();
    }
}

rt::task<result<log_batches, std::errc>> partition_log::read(offset from, std::size_t max_bytes) {
    if (!_disk || from >= _memory.start()) {
        co_return log_batches{_memory.read(from, max_bytes), false};
    }
    // Behind the tail: the disk has it (the tail drops only written batches).
    auto got = co_await _disk->read(from, max_bytes);
    if (!got) {
        co_return got.error();
    }
    co_return log_batches{std::move(*got), true};
}

// The partition's only writer: disk_log's append, flush and retention never
// overlap because they all run here, one at a time.
//
// Order: a due sync goes before more writes (under steady load the queue is
// never empty, and the policy promises a sync within its interval), except
// at close, where the queue is written first and then synced; retention
// goes before writes too, so it can free space while a full disk makes
// writes fail.
rt::task<void> partition_log::write_loop() {
    for (;;) {
        const bool writable = !_queue.empty() && !_sync_broken;
        if (_sync_due && !_sync_broken && !(_closing && writable)) {
            co_await sync();
        } else if (_retention_due && !_closing) {
            co_await retain();
        } else if (writable) {
            co_await write_queued();
        } else if (_closing) {
            if (_retention_due) {
                co_await retain();
            }
            break;
        } else {
            co_await work_awaiter{this};
        }
    }
    _writer_running = false;
    if (_close_waiting) {
        rt::reactor::local().schedule(std::exchange(_close_waiting, {}));
    }
}

rt::task<void> partition_log::write_queued() {
    const std::vector<batch_ptr> batches(_queue.begin(), _queue.end());
    auto wrote = co_await _disk->append(batches);
    if (!wrote) {
        fail(wrote.error(), false);
        if (_closing) {
            std::uint64_t records = 0;
            for (const batch_ptr& b : _queue) {
                records += b->size();
            }
            log::error("partition {}: {} messages never acknowledged are not on disk at shutdown",
                       partition().value(), records);
            _queue.clear();
            _unwritten_bytes = 0;
            co_return;
        }
        co_await rt::reactor::local().sleep_for(_options.retry_interval);
        co_return;
    }
    if (_failed) {
        _failed = false;
        log::info("partition {}: writing to disk again; accepting messages", partition().value());
    }
    std::size_t bytes = 0;
    for (const batch_ptr& b : batches) {
        bytes += b->bytes_size();
        _queue.pop_front();
    }
    _unwritten_bytes -= bytes;
    _written_end = batches.back()->end();
    _memory.trim(_written_end);
    switch (_options.fsync.mode) {
    case fsync_mode::always:
        co_await sync();
        break;
    case fsync_mode::interval:
        if (!_sync_scheduled) {
            _sync_scheduled = true;
            rt::reactor::local().spawn(sync_later());
        }
        break;
    case fsync_mode::never:
        break;
    }
    if (_events.progress) {
        _events.progress(covered_end(), bytes);
    }
}

rt::task<void> partition_log::sync_later() {
    co_await rt::reactor::local().sleep_for(_options.fsync.interval);
    _sync_scheduled = false;
    _sync_due = true;
    wake();
    if (_close_waiting) {
        rt::reactor::local().schedule(std::exchange(_close_waiting, {}));
    }
}

rt::task<void> partition_log::sync() {
    _sync_due = false;
    if (_disk->durable_end() >= _written_end) {
        co_return;
    }
    auto synced = co_await _disk->flush();
    if (!synced) {
        fail(synced.error(), true);
    }
}

rt::task<void> partition_log::retain() {
    _retention_due = false;
    auto removed = co_await _disk->apply_retention(wall_clock_ms());
    if (!removed) {
        log::warn("partition {}: retention could not delete old segments: {}", partition().value(),
                  message_of(removed.error()));
    } else if (removed->segments_removed > 0) {
        log::info("partition {}: retention deleted {} segments ({} bytes, {} messages); the log "
                  "now starts at offset {}",
                  partition().value(), removed->segments_removed, removed->bytes_removed,
                  removed->records_removed, removed->start);
    }
}

void partition_log::fail(std::errc e, bool sync_failed) {
    if (sync_failed) {
        _sync_broken = true;
        log::error("partition {}: fdatasync failed: {}; its messages are refused until zama "
                   "restarts (recovery then checks what reached the disk)",
                   partition().value(), message_of(e));
    } else if (!_failed) {
        log::error("partition {}: cannot write to disk: {}; its messages are refused, publishers "
                   "waiting for acknowledgements are disconnected, retrying every {} ms",
                   partition().value(), message_of(e), _options.retry_interval.count());
    } else {
        log::debug("partition {}: write retry failed: {}", partition().value(), message_of(e));
    }
    if (!sync_failed) {
        _failed = true;
    }
    if (_events.failed) {
        _events.failed(e);
    }
}

rt::task<void> partition_log::close() {
    if (!_disk) {
        co_return;
    }
    _closing = true;
    _sync_due = true;
    wake();
    struct wait_for_tasks {
        partition_log* log;
        bool await_ready() const noexcept { return !log->_writer_running && !log->_sync_scheduled; }
        void await_suspend(std::coroutine_handle<> h) noexcept { log->_close_waiting = h; }
        void await_resume() const noexcept {}
    };
    while (_writer_running || _sync_scheduled) {
        co_await wait_for_tasks{this};
    }
    if (auto closed = co_await _disk->close(); !closed) {
        log::error("partition {}: closing its files failed: {}", partition().value(),
                   message_of(closed.error()));
    }
}

} // namespace zama::commitlog
