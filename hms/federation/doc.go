// Package federation owns the routing of one metastore namespace onto several catalogs: which
// backend a database name belongs to, how names are translated both ways (prefixes, explicit
// mappings, and database names inside view texts), which databases and tables each backend
// exposes, which may be written, and what a failing backend does to a call.
//
// The Router is itself an hms.Backend, so the handler does not know whether it serves one
// catalog or twenty. Failure rules are explicit: a call addressed to one backend fails with an
// Unavailable error that names it (never "not found"); a listing fans out in parallel with a
// per-backend deadline and either fails or omits the backend, as configured, and an omission is
// logged, counted and reported by Status. A circuit breaker stops calling a dead backend and
// lets one probe through now and then.
package federation
