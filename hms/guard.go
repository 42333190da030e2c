package hms

import (
	"context"
	"errors"

	hm "github.com/beltran/gohive/hive_metastore"
)

// Guard is the "decide" and "rewrite" steps of every handler method: what the caller (from the
// call's context: thrift.SessionFrom(ctx)) may see and do. The policy layer implements it; a
// Handler without a Guard serves everything.
//
// Implementations fail closed: when a decision cannot be made they deny, and a hidden object
// is reported exactly like a missing one (errs.NotFound with the same message), so listings
// and errors never leak what exists.
type Guard interface {
	// FilterDatabases keeps the databases the caller may see.
	FilterDatabases(ctx context.Context, dbs []string) ([]string, error)
	// FilterTables keeps the tables of db the caller may see.
	FilterTables(ctx context.Context, db string, tables []string) ([]string, error)
	// Table returns what the caller is shown of t: t itself, a copy without hidden columns, or a
	// view enforcing masks and row filters in the caller's dialect; errs.NotFound when hidden.
	// It must not modify t.
	Table(ctx context.Context, t *hm.Table) (*hm.Table, error)
	// CheckRaw allows calls that reveal a table's storage or data (partitions, locations,
	// statistics) only to callers who may read the table unrestricted.
	CheckRaw(ctx context.Context, db, table string) error
	// CheckWrite allows a change: op is "create", "alter", "drop", "insert" (partitions and
	// statistics) or "lock"; table is "" for database-level changes.
	CheckWrite(ctx context.Context, op, db, table string) error
}

// allowAll is the Guard of a Handler without policy.
type allowAll struct{}

func (allowAll) FilterDatabases(_ context.Context, dbs []string) ([]string, error) { return dbs, nil }
func (allowAll) FilterTables(_ context.Context, _ string, ts []string) ([]string, error) {
	return ts, nil
}
func (allowAll) Table(_ context.Context, t *hm.Table) (*hm.Table, error) { return t, nil }
func (allowAll) CheckRaw(context.Context, string, string) error          { return nil }
func (allowAll) CheckWrite(context.Context, string, string, string) error {
	return nil
}

// Write operations named to Guard.CheckWrite.
const (
	OpCreate = "create"
	OpAlter  = "alter"
	OpDrop   = "drop"
	OpInsert = "insert"
	OpLock   = "lock"
)

// WithheldError is what CheckRaw returns for a table the caller may read, but only as the
// Guard rewrote it (served by the worker fleet): its real storage, partitions and statistics
// stay hidden. Statistics calls answer as for a table without statistics, so engines plan
// the scan instead of failing it; every other raw call is refused with Err.
type WithheldError struct{ Err error }

func (e *WithheldError) Error() string { return e.Err.Error() }
func (e *WithheldError) Unwrap() error { return e.Err }

// withheld reports whether err says a table's statistics should answer empty.
func withheld(err error) bool {
	var w *WithheldError
	return errors.As(err, &w)
}

// PartitionViewer is implemented by guards that serve some tables rewritten but still
// partitioned (the worker path): PartitionView returns how the caller is shown db.table's
// partitions, or the error CheckRaw gave when the table is not served partitioned to them.
// The rewrite must not modify the partitions it is given.
type PartitionViewer interface {
	PartitionView(ctx context.Context, db, table string) (func([]*hm.Partition) ([]*hm.Partition, error), error)
}
