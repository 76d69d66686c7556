#include "commitlog/record_batch.hpp"

#include <array>
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
    // Appended piece by piece: resize() would zero-fill the bytes first.
    std::array<std::uint8_t, header_room + 2> head{};
    head[header_room] = static_cast<std::uint8_t>(topic.size() >> 8);
    head[header_room + 1] = static_cast<std::uint8_t>(topic.size());
    _bytes.insert(_bytes.end(), head.begin(), head.end());
    const auto* name = reinterpret_cast<const std::uint8_t*>(topic.data());
    _bytes.insert(_bytes.end(), name, name + topic.size());
    _bytes.insert(_bytes.end(), payload.begin(), payload.end());
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
