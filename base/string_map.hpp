#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/node_hash_map.h>

// XXH3 inlined (header only: no library to link for base's users).
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace zama {

/// Hash and equality for std::string keys that also take std::string_view,
/// so lookups by view do not build a string. (Debian's Abseil does not alias
/// absl::string_view to std::string_view, so its own transparent hashing of
/// strings does not accept one.) XXH3: a topic lookup per message made
/// libstdc++'s std::hash 4 % of the broker's instructions (callgrind).
///
/// Seeded: the partitioner picks a partition from unseeded XXH3's low bits,
/// so in a partition's own maps (topics, dictionary, sessions) every key
/// would share those bits, and Abseil uses a hash's low 7 bits unmixed to
/// filter probes.
struct string_hash {
    using is_transparent = void;
    static constexpr XXH64_hash_t seed = 0x9E3779B97F4A7C15;
    std::size_t operator()(std::string_view s) const noexcept {
        return XXH3_64bits_withSeed(s.data(), s.size(), seed);
    }
};
struct string_eq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};

template <typename V>
using string_map = absl::flat_hash_map<std::string, V, string_hash, string_eq>;

/// Like string_map, but values never move (references stay valid).
template <typename V>
using string_node_map = absl::node_hash_map<std::string, V, string_hash, string_eq>;

} // namespace zama
