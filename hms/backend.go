package hms

import (
	"context"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

// Backend is what the handler needs from a catalog: the embedded store, an upstream Hive
// Metastore, Glue, or the federation router in front of several of them.
//
// The Hive metastore's own Thrift structs are the domain model: they are what every engine and
// every backend speaks, and translating them field by field would only lose fields. Backends
// must treat arguments as read-only and return objects the caller may modify (rewrites copy).
//
// Errors use internal/errs kinds: NotFound, Exists, Invalid, Conflict (Hive's
// InvalidOperationException), Unavailable, Unsupported. Names are compared case-insensitively,
// as in Hive; backends store and return them lower-cased.
type Backend interface {
	Databases
	Tables
	Partitions
	Statistics
	Functions
	Locks
	Events
}

type Databases interface {
	// CreateDatabase fills in defaults the way Hive does (location under the warehouse, owner)
	// and returns Exists for a duplicate.
	CreateDatabase(ctx context.Context, db *hm.Database) error
	GetDatabase(ctx context.Context, name string) (*hm.Database, error)
	// ListDatabases returns all database names, sorted.
	ListDatabases(ctx context.Context) ([]string, error)
	AlterDatabase(ctx context.Context, name string, db *hm.Database) error
	// DropDatabase fails with Conflict when the database still holds tables or functions and
	// cascade is false. With deleteData the managed data directories are removed too.
	DropDatabase(ctx context.Context, name string, deleteData, cascade bool) error
}

// TableInfo is one row of a table listing.
type TableInfo struct {
	Name    string
	Type    string // MANAGED_TABLE, EXTERNAL_TABLE, VIRTUAL_VIEW, MATERIALIZED_VIEW
	Comment string
	Owner   string
}

type Tables interface {
	// CreateTable validates the table (database exists, columns, partition keys distinct from
	// columns, names legal), fills defaults (create time, location for managed tables) and
	// returns Exists for a duplicate.
	CreateTable(ctx context.Context, t *hm.Table) error
	GetTable(ctx context.Context, db, name string) (*hm.Table, error)
	// GetTables returns the named tables that exist, in the order asked; missing names are
	// omitted, as get_table_objects_by_name does.
	GetTables(ctx context.Context, db string, names []string) ([]*hm.Table, error)
	// ListTables returns every table of db, sorted by name. NotFound if db does not exist.
	ListTables(ctx context.Context, db string) ([]TableInfo, error)
	// AlterTable replaces the table definition. A changed db/name renames the table, moving
	// its partitions and statistics with it (and, for a managed table whose location is the
	// default one, its data directory). cascade applies column changes to every partition.
	AlterTable(ctx context.Context, db, name string, t *hm.Table, cascade bool) error
	// DropTable removes the table with its partitions and statistics; with deleteData the data
	// of a managed table is removed too.
	DropTable(ctx context.Context, db, name string, deleteData bool) error
}

// PartitionQuery selects partitions of one table. The zero value selects all of them.
type PartitionQuery struct {
	// Values is a partial partition specification in partition-key order, as in
	// get_partitions_ps: an empty string matches any value, and missing trailing values match
	// anything.
	Values []string
	// Filter is an expression in Hive's partition filter grammar (get_partitions_by_filter).
	Filter string
	// Max bounds the result; zero or negative means no bound.
	Max int
}

type Partitions interface {
	// AddPartitions adds partitions atomically: all or none. With ifNotExists, partitions that
	// already exist are skipped instead of failing with Exists. It returns the partitions
	// actually added, with defaults filled (location, create time).
	AddPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition, ifNotExists bool) ([]*hm.Partition, error)
	GetPartition(ctx context.Context, db, tbl string, values []string) (*hm.Partition, error)
	// GetPartitionsByNames returns the named partitions ("k1=v1/k2=v2", Hive-escaped) that
	// exist; missing names are omitted.
	GetPartitionsByNames(ctx context.Context, db, tbl string, names []string) ([]*hm.Partition, error)
	// ListPartitions returns partitions in the order of their names.
	ListPartitions(ctx context.Context, db, tbl string, q PartitionQuery) ([]*hm.Partition, error)
	ListPartitionNames(ctx context.Context, db, tbl string, q PartitionQuery) ([]string, error)
	CountPartitions(ctx context.Context, db, tbl string, q PartitionQuery) (int, error)
	// AlterPartitions replaces existing partitions (matched by values); NotFound if one is
	// missing, and then nothing changes.
	AlterPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition) error
	// RenamePartition gives the partition with oldValues the values (and definition) of p.
	RenamePartition(ctx context.Context, db, tbl string, oldValues []string, p *hm.Partition) error
	// DropPartition removes one partition and its statistics, and its data when deleteData is
	// set and the table is managed. It returns the dropped partition.
	DropPartition(ctx context.Context, db, tbl string, values []string, deleteData bool) (*hm.Partition, error)
	// ExchangePartitions moves the partitions of srcDB.srcTbl matching values (a partial
	// specification in key order; "" matches any value) to dstDB.dstTbl with their data, as
	// Hive's exchange_partitions: same columns and keys on both sides, none of the partitions
	// already in dst, all or nothing. It returns the partitions as dst now holds them.
	ExchangePartitions(ctx context.Context, srcDB, srcTbl, dstDB, dstTbl string, values []string) ([]*hm.Partition, error)
}

type Statistics interface {
	// UpdateColumnStatistics stores table-level (Desc.IsTblLevel) or partition-level
	// (Desc.PartName) column statistics, merging with what is stored per column.
	UpdateColumnStatistics(ctx context.Context, stats *hm.ColumnStatistics) error
	// TableColumnStatistics returns the stored statistics for the named columns that have any.
	TableColumnStatistics(ctx context.Context, db, tbl string, cols []string) ([]*hm.ColumnStatisticsObj, error)
	// PartitionColumnStatistics returns, per partition name, the stored statistics for the
	// named columns.
	PartitionColumnStatistics(ctx context.Context, db, tbl string, partNames, cols []string) (map[string][]*hm.ColumnStatisticsObj, error)
	// DeleteColumnStatistics deletes statistics of one column (col != "") or all columns, for
	// the table (partName == "") or one partition.
	DeleteColumnStatistics(ctx context.Context, db, tbl, partName, col string) error
}

type Functions interface {
	CreateFunction(ctx context.Context, f *hm.Function) error
	GetFunction(ctx context.Context, db, name string) (*hm.Function, error)
	// ListFunctions returns the functions of db, or of every database when db is "".
	ListFunctions(ctx context.Context, db string) ([]*hm.Function, error)
	AlterFunction(ctx context.Context, db, name string, f *hm.Function) error
	DropFunction(ctx context.Context, db, name string) error
}

// Locks follows Hive's DbLockManager protocol: Lock never blocks; it answers ACQUIRED or
// WAITING, and the client polls CheckLock. Locks not heartbeated within the store's timeout
// are released. Conflicts: EXCLUSIVE conflicts with everything; SHARED_WRITE with SHARED_WRITE
// and EXCLUSIVE; SHARED_READ only with EXCLUSIVE. A WAITING lock also queues: a later request
// never jumps ahead of an earlier conflicting one.
type Locks interface {
	Lock(ctx context.Context, req *hm.LockRequest) (*hm.LockResponse, error)
	// CheckLock re-evaluates a WAITING lock; NotFound for an unknown or expired id.
	CheckLock(ctx context.Context, lockID int64) (*hm.LockResponse, error)
	Unlock(ctx context.Context, lockID int64) error
	Heartbeat(ctx context.Context, lockID int64) error
	ShowLocks(ctx context.Context, req *hm.ShowLocksRequest) (*hm.ShowLocksResponse, error)
}

// Events is the notification log: every committed write appends one event.
type Events interface {
	CurrentEventID(ctx context.Context) (int64, error)
	// NextEvents returns up to max events with id > lastID, oldest first.
	NextEvents(ctx context.Context, lastID int64, max int) ([]*hm.NotificationEvent, error)
}

// TableNotFound and DatabaseNotFound are the one wording of a missing object, used by every
// backend and by the layers that hide objects, so a hidden object and a missing one can never
// be told apart by their errors. The wording is Hive's.
func TableNotFound(db, table string) error {
	return errs.NotFound("%s.%s table not found", db, table)
}

func DatabaseNotFound(db string) error { return errs.NotFound("Database %s not found", db) }
