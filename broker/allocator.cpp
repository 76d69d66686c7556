// jemalloc's settings for the broker, read by jemalloc at its first
// allocation (the symbol is looked up by name; MALLOC_CONF in the
// environment still overrides it).
//
// - background_thread: one jemalloc thread returns freed pages to the
//   system on a timer, so an idle broker shrinks too (without it, pages
//   are purged only as a side effect of later allocations on the shard).
// - dirty_decay_ms 1000, muzzy_decay_ms 0: freed pages go back within
//   about a second, for good: after a burst (a fleet draining its offline
//   backlog) RSS returns to what the broker holds.

extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): jemalloc's interface
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
