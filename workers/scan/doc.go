// Package scan owns the worker's read side: where source files live (Storage: local files and
// S3), the per-query memory budget (Budget), and the deterministic re-encoding of a source
// Parquet file through a plan.Transform into a virtual output Parquet file (File).
//
// The S3 endpoint serves byte ranges of files it never materialises: the output is cut into
// row groups that depend only on the source's metadata, each row group is re-encoded on demand
// with fixed writer properties, and a cached layout (sizes, offsets, footer) makes every range
// exact and stable. Nothing is written to local disk.
//
// When the Transform keeps every row and serves some flat source columns unchanged
// (plan.Passthrough), and their Parquet types are exactly what the writer would produce, those
// columns' chunks are copied from the source as they are (copy.go): each output row group is
// then one source row group, only the other columns are decoded and re-encoded, ranges over
// copied chunks are read straight from the source, and the footer is assembled from the
// source's chunk metadata and the re-encoded chunks'. Otherwise every column is re-encoded.
package scan
