package plan

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Pos says where a batch of rows comes from. Per-row functions that must be deterministic
// (noise, for one) derive their randomness from it, so that re-encoding the same rows gives the
// same bytes: the S3 endpoint's sizes and ranges depend on that.
type Pos struct {
	File      string            // the source file's location
	RowGroup  int               // the source row group
	FirstRow  int64             // the batch's first row, counted from the start of the file
	Partition map[string]string // the file's Hive partition values (key -> value as in the path)
}

// Transform is what a worker does to each batch read from a source file: filter rows, drop
// hidden columns, compute masks. It is compiled once per query and is safe for concurrent use.
type Transform interface {
	// Columns are the source file's columns Apply reads; the scanner reads only these.
	Columns() []string
	// Schema is the schema of every record Apply returns.
	Schema() *arrow.Schema
	// Apply returns the transformed batch, allocated from mem (the query's budget). It does not
	// retain or release rec; the caller releases the result.
	Apply(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, pos Pos) (arrow.RecordBatch, error)
}

// Reserver is implemented by a query's memory budget: memory a query holds outside Arrow
// buffers (a lookup join's hash set) is reserved against the same limit.
type Reserver interface {
	Reserve(n int64) error
	Release(n int64)
}

// SourceTyper is implemented by Transforms that accept files lacking some of their columns,
// as Hive does for columns added to a table after its older files were written: the scanner
// gives such a column as all NULL, of the type SourceType returns.
type SourceTyper interface {
	SourceType(column string) (arrow.DataType, bool)
}

// Passthrough is implemented by Transforms that can say which output columns are source
// columns served unchanged. The scanner then copies those columns' Parquet bytes instead of
// decoding and re-encoding them; re-encoding unchanged columns is most of a worker's time.
type Passthrough interface {
	// Identity reports whether Apply may drop rows (filters; nothing is copied then, since a
	// copied column chunk has every row of its row group), and cols: output column index (in
	// Schema) -> source column (spelled as in Columns) whose values that output column is,
	// unmasked, uncast, of the same type.
	Identity() (filters bool, cols map[int]string)
	// Reads returns the source columns (spelled as in Columns) the given output columns are
	// computed from. When the other output columns are copied, Apply is given only these
	// columns' values; the others are all NULL in its input.
	Reads(outputs []int) []string
}
