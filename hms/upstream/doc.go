// Package upstream is the hms.Backend for a real Hive Metastore behind Propolis, spoken to over
// Thrift with the metastore's own IDL bindings.
//
// It owns what makes one metastore a dependable backend among several:
//
//   - A bounded connection pool. The upstream is shared with every engine that still talks to
//     it directly, so Propolis must never open more than its share; reusing connections keeps
//     latency close to a direct client's. A connection that saw a transport error is dropped,
//     because after a half-read reply the stream is out of step and the next call would read
//     someone else's answer. Idle connections are checked before use and by a periodic health
//     check, so an upstream restart costs no failed calls.
//   - Deadlines. Every call is bounded by the caller's context and CallTimeout, waiting for a
//     connection included, so one slow metastore stalls only the calls addressed to it.
//   - Errors that tell the truth. The upstream's Hive exceptions become internal/errs kinds; a
//     transport failure becomes Unavailable naming the backend and never NotFound, because a
//     client told "no such table" when the metastore was merely unreachable draws the wrong
//     conclusion (Spark drops cached plans, a job recreates a table).
//   - Version tolerance. Hive 2.3, 3.1 and 4.x disagree on which calls exist: 4.x dropped some
//     of the old ones, 2.3 lacks the request-struct ones. The newer call is tried first and an
//     UNKNOWN_METHOD answer switches this backend to the older call for good, so a mixed fleet
//     needs no per-version configuration.
//   - Impersonation. With Impersonate, the end user reaches the upstream through set_ugi, so the
//     upstream's own authorization and audit see the real user. Hive binds set_ugi to the
//     connection once, so the pool hands a connection only to the user it was set for.
//
// Arguments are never modified: where the upstream needs a field changed, a copy is sent.
package upstream
