#pragma once

#include "commitlog/record_batch.hpp"

#include <cstdint>
#include <string_view>

namespace zama::router {

/// The partition of a topic: XXH3-64 of the topic name's bytes (seed 0)
/// modulo the partition count. This function decides where every message
/// is stored, so it must never change: a data directory records its
/// partition count, and the same topic must map to the same partition in
/// every version of Zama. (XXH3's output is frozen by its specification.)
commitlog::partition_id partition_of(std::string_view topic, std::uint32_t partitions) noexcept;

/// The shard serving a partition.
inline unsigned owner_of(commitlog::partition_id p, unsigned shards) noexcept {
    return p.value() % shards;
}

} // namespace zama::router
