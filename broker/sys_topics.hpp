#pragma once

#include "broker/config.hpp"
#include "runtime/task.hpp"

namespace zama::broker {

/// Publishes the broker's $SYS topics every sys_interval seconds, retained,
/// with mosquitto's names ($SYS/broker/version, uptime, clients/connected,
/// messages/received, ...). Runs on shard 0; sums every shard's counters.
rt::task<void> publish_sys_topics(const config& settings);

} // namespace zama::broker
