// Package workers is the root of the Arrow worker fleet: stateless processes that read a
// protected table's real files, apply the caller's policy with Arrow, and serve the result to
// engines that cannot be trusted with it, through an S3-compatible endpoint (for Spark's s3a
// and Trino's S3 file system) and Arrow Flight (for Arrow-native clients).
//
// The metastore decides; the worker enforces. A table whose policy takes the worker path is
// given a location on the fleet carrying a signed, expiring token (workers/token) scoped to the
// user, the table, the policy version and the partition set. A worker holds no catalog state:
// it asks a Propolis server for the plan behind a token, reads the files (workers/scan),
// evaluates masks and filters (workers/eval), and serves bytes (workers/s3api) or record
// batches (workers/flight). Secrets for keyed functions live only on workers.
package workers
