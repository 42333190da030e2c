// Package node is one worker process's brain: it turns a worker token into a query (the plan
// a Propolis server computed for it, compiled into a Transform over the table's files, with
// its own memory budget) and serves that query's virtual Parquet files to the S3 endpoint
// (workers/s3api) and its record batches to Arrow Flight (workers/flight).
//
// A node holds no state worth keeping: queries are cached by token until the token expires,
// and everything can be recomputed from the token, the server and the source files. Two
// nodes given the same token serve the same bytes, which is what lets an engine read one
// file's ranges from different workers.
package node
