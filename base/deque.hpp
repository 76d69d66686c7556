#pragma once

#include <boost/container/deque.hpp>

namespace zama {

/// A double-ended queue that allocates nothing until its first element.
///
/// libstdc++'s std::deque allocates its map and a 512-byte block when it is
/// constructed, empty: 576 B for every queue a connection or session holds
/// whether it ever queues anything or not. Idle connections hold several,
/// so per-connection and per-session queues use this one. Same interface.
template <typename T>
using deque = boost::container::deque<T>;

} // namespace zama
