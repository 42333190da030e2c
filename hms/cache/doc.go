// Package cache is a metadata cache in front of one hms.Backend, in practice an upstream Hive
// Metastore: Propolis can only answer faster than the metastore it fronts if the hot reads
// (get_table, the partition listings a query planner issues for every scan) do not cross the
// network to it each time.
//
// It owns the cached reads (databases, tables, table listings, partitions by name, partition
// listings and partition names per query), their memory bound, and keeping them fresh. It does
// not own the backend: Close stops the cache's poller, not the backend.
//
// # Consistency model
//
// The cache is an accelerator, never a second source of truth, so it trades only a bounded,
// explained staleness for speed:
//
//   - Writes through Propolis are seen at once by every later read (read-your-writes): each
//     write drops what it touches before it returns, successful or not, because a failed or
//     timed-out write may still have happened upstream.
//   - Writes made elsewhere (an engine still talking to the upstream directly, Hive's own
//     compactor) are seen within about PollInterval: the poller reads the upstream's
//     notification log, which Hive appends to in the same transaction as every change, and
//     drops what each event names. Nothing is stored before the log position is known, so no
//     entry can predate the events that invalidate it.
//   - A fill that raced an invalidation is discarded (a generation counter), and concurrent
//     misses share one upstream call only with callers that started after the last
//     invalidation: a read that began before a write never repopulates the cache with the
//     value from before it.
//   - If the log cannot vouch for continuity (a gap: events purged before they were read, or the
//     event id went backwards because the metastore's database was replaced) the whole cache
//     is dropped, since any entry might be stale and nothing says which.
//   - TTL is the safety net for everything the log cannot cover: a backend without a log
//     (an Unsupported answer: the cache then relies on TTL and its own writes, said once in
//     the log), a poller that cannot reach the upstream, an event type that names the wrong
//     object. It bounds the worst case, not the usual one.
//   - Errors are never cached. A NotFound in particular must not stick: Hive clients check
//     that a table is absent, create it, then read it back. Absent partitions in a
//     by-names lookup are not remembered either.
//
// Objects are handed out as deep copies, because the hms.Backend contract lets callers modify
// what they get (the federation router renames in place), and a shared pointer would let one
// caller's rewrite leak into every later answer. The copy walks only pointers, slices and maps
// and shares the immutable strings, about twice as fast as a Thrift decode (BenchmarkCopy).
//
// Memory is bounded by the entries' serialized (Thrift binary) size, a measure that is stable
// across Go versions and close to what the upstream would send, with least-recently-used
// eviction. The LRU is a container/list with indexes by database and table rather than
// golang-lru: that library bounds entry counts, not bytes, and cannot drop "everything about
// table t" without scanning every key.
//
// With PerUser, entries are kept per caller identity: needed when the backend impersonates the
// end user and the upstream itself decides what each user may read, because otherwise the
// cache would serve one user's answer to another.
package cache
