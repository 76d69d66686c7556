#include "router/partitioner.hpp"

#include <xxhash.h>

namespace zama::router {

commitlog::partition_id partition_of(std::string_view topic, std::uint32_t partitions) noexcept {
    const XXH64_hash_t h = XXH3_64bits(topic.data(), topic.size());
    return commitlog::partition_id{static_cast<std::uint32_t>(h % partitions)};
}

} // namespace zama::router
