#include "commitlog/record_batch.hpp"

#include <cstring>

namespace zama::commitlog {

offset record_batch::append(std::string_view topic, std::span<const std::uint8_t> payload,
                            record_flags flags) {
    ZAMA_ASSERT(topic.size() <= 0xFFFF, "topic longer than 65535 bytes");
    record r;
    r.at = end();
    r.start = static_cast<std::uint32_t>(_bytes.size());
    r.topic_size = static_cast<std::uint16_t>(topic.size());
    r.payload_size = static_cast<std::uint32_t>(payload.size());
    r.flags = flags;
    const std::size_t size = header_room + 2 + topic.size() + payload.size();
    _bytes.resize(_bytes.size() + size);
    std::uint8_t* p = _bytes.data() + r.start + header_room;
    p[0] = static_cast<std::uint8_t>(topic.size() >> 8);
    p[1] = static_cast<std::uint8_t>(topic.size());
    std::memcpy(p + 2, topic.data(), topic.size());
    if (!payload.empty()) {
        std::memcpy(p + 2 + topic.size(), payload.data(), payload.size());
    }
    _records.push_back(r);
    return r.at;
}

void record_batch::set_header(std::size_t i, std::span<const std::uint8_t> header) noexcept {
    ZAMA_ASSERT(header.size() <= header_room, "header larger than its room");
    record& r = _records[i];
    std::memcpy(_bytes.data() + r.start + header_room - header.size(), header.data(),
                header.size());
    r.header_size = static_cast<std::uint8_t>(header.size());
}

} // namespace zama::commitlog
