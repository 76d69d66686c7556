#include "commitlog/memory_log.hpp"

#include <algorithm>

namespace zama::commitlog {

void memory_log::append(batch_ptr batch, offset evictable_end) {
    ZAMA_ASSERT(batch->base() == _end, "batch appended out of order");
    if (batch->empty()) {
        return;
    }
    _end = batch->end();
    _bytes += batch->bytes_size();
    _batches.push_back(std::move(batch));
    trim(evictable_end);
}

void memory_log::trim(offset evictable_end) {
    while (_bytes > _max_bytes && _batches.size() > 1 && _batches.front()->end() <= evictable_end) {
        const batch_ptr& oldest = _batches.front();
        _bytes -= oldest->bytes_size();
        _dropped += oldest->size();
        _batches.pop_front();
        _start = _batches.front()->base();
    }
}

std::vector<batch_ptr> memory_log::read(offset from, std::size_t max_bytes) const {
    std::vector<batch_ptr> out;
    if (from >= _end || _batches.empty()) {
        return out;
    }
    // The first batch whose end is past `from`.
    auto it = std::partition_point(_batches.begin(), _batches.end(),
                                   [from](const batch_ptr& b) { return b->end() <= from; });
    std::size_t bytes = 0;
    for (; it != _batches.end() && (out.empty() || bytes < max_bytes); ++it) {
        bytes += (*it)->bytes_size();
        out.push_back(*it);
    }
    return out;
}

} // namespace zama::commitlog
