package cache

import (
	"context"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
)

// Writes go to next, then drop what they touched, whatever the outcome: a failed or timed-out
// write may still have happened upstream. The drop happens before the write returns, so the
// caller's next read sees its write.

func (b *Backend) CreateDatabase(ctx context.Context, db *hm.Database) error {
	defer b.store.dropDB("write", norm(db.GetName()))
	return b.next.CreateDatabase(ctx, db)
}

func (b *Backend) AlterDatabase(ctx context.Context, name string, db *hm.Database) error {
	defer b.store.dropDB("write", norm(name))
	return b.next.AlterDatabase(ctx, name, db)
}

func (b *Backend) DropDatabase(ctx context.Context, name string, deleteData, cascade bool) error {
	defer b.store.dropDB("write", norm(name))
	return b.next.DropDatabase(ctx, name, deleteData, cascade)
}

func (b *Backend) CreateTable(ctx context.Context, t *hm.Table) error {
	defer b.store.dropTable("write", norm(t.GetDbName()), norm(t.GetTableName()), true, false)
	return b.next.CreateTable(ctx, t)
}

func (b *Backend) AlterTable(ctx context.Context, db, name string, t *hm.Table, cascade bool) error {
	defer func() {
		b.store.dropTable("write", norm(db), norm(name), true, false)
		if t != nil && (norm(t.DbName) != norm(db) || norm(t.TableName) != norm(name)) {
			b.store.dropTable("write", norm(t.DbName), norm(t.TableName), true, false)
		}
	}()
	return b.next.AlterTable(ctx, db, name, t, cascade)
}

func (b *Backend) DropTable(ctx context.Context, db, name string, deleteData bool) error {
	defer b.store.dropTable("write", norm(db), norm(name), true, false)
	return b.next.DropTable(ctx, db, name, deleteData)
}

// Partition and statistics writes drop the whole table's entries: the table object carries
// statistics parameters that such writes update.

func (b *Backend) AddPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition, ifNotExists bool) ([]*hm.Partition, error) {
	defer b.store.dropTable("write", norm(db), norm(tbl), false, false)
	return b.next.AddPartitions(ctx, db, tbl, parts, ifNotExists)
}

func (b *Backend) AlterPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition) error {
	defer b.store.dropTable("write", norm(db), norm(tbl), false, false)
	return b.next.AlterPartitions(ctx, db, tbl, parts)
}

func (b *Backend) RenamePartition(ctx context.Context, db, tbl string, oldValues []string, p *hm.Partition) error {
	defer b.store.dropTable("write", norm(db), norm(tbl), false, false)
	return b.next.RenamePartition(ctx, db, tbl, oldValues, p)
}

func (b *Backend) DropPartition(ctx context.Context, db, tbl string, values []string, deleteData bool) (*hm.Partition, error) {
	defer b.store.dropTable("write", norm(db), norm(tbl), false, false)
	return b.next.DropPartition(ctx, db, tbl, values, deleteData)
}

func (b *Backend) ExchangePartitions(ctx context.Context, srcDB, srcTbl, dstDB, dstTbl string, values []string) ([]*hm.Partition, error) {
	defer b.store.dropTable("write", norm(srcDB), norm(srcTbl), false, false)
	defer b.store.dropTable("write", norm(dstDB), norm(dstTbl), false, false)
	return b.next.ExchangePartitions(ctx, srcDB, srcTbl, dstDB, dstTbl, values)
}

func (b *Backend) UpdateColumnStatistics(ctx context.Context, stats *hm.ColumnStatistics) error {
	if d := stats.GetStatsDesc(); d != nil {
		defer b.store.dropTable("write", norm(d.DbName), norm(d.TableName), false, false)
	}
	return b.next.UpdateColumnStatistics(ctx, stats)
}

func (b *Backend) DeleteColumnStatistics(ctx context.Context, db, tbl, partName, col string) error {
	defer b.store.dropTable("write", norm(db), norm(tbl), false, false)
	return b.next.DeleteColumnStatistics(ctx, db, tbl, partName, col)
}

// --- not cached: single partitions by values and counts are cheap upstream and rarely hot,
// statistics are large and read once per query plan, functions and locks are not metadata
// reads at all, and the event log must be the upstream's own ---

func (b *Backend) GetPartition(ctx context.Context, db, tbl string, values []string) (*hm.Partition, error) {
	return b.next.GetPartition(ctx, db, tbl, values)
}

func (b *Backend) CountPartitions(ctx context.Context, db, tbl string, q hms.PartitionQuery) (int, error) {
	return b.next.CountPartitions(ctx, db, tbl, q)
}

func (b *Backend) TableColumnStatistics(ctx context.Context, db, tbl string, cols []string) ([]*hm.ColumnStatisticsObj, error) {
	return b.next.TableColumnStatistics(ctx, db, tbl, cols)
}

func (b *Backend) PartitionColumnStatistics(ctx context.Context, db, tbl string, partNames, cols []string) (map[string][]*hm.ColumnStatisticsObj, error) {
	return b.next.PartitionColumnStatistics(ctx, db, tbl, partNames, cols)
}

func (b *Backend) CreateFunction(ctx context.Context, f *hm.Function) error {
	return b.next.CreateFunction(ctx, f)
}

func (b *Backend) GetFunction(ctx context.Context, db, name string) (*hm.Function, error) {
	return b.next.GetFunction(ctx, db, name)
}

func (b *Backend) ListFunctions(ctx context.Context, db string) ([]*hm.Function, error) {
	return b.next.ListFunctions(ctx, db)
}

func (b *Backend) AlterFunction(ctx context.Context, db, name string, f *hm.Function) error {
	return b.next.AlterFunction(ctx, db, name, f)
}

func (b *Backend) DropFunction(ctx context.Context, db, name string) error {
	return b.next.DropFunction(ctx, db, name)
}

func (b *Backend) Lock(ctx context.Context, req *hm.LockRequest) (*hm.LockResponse, error) {
	return b.next.Lock(ctx, req)
}

func (b *Backend) CheckLock(ctx context.Context, lockID int64) (*hm.LockResponse, error) {
	return b.next.CheckLock(ctx, lockID)
}

func (b *Backend) Unlock(ctx context.Context, lockID int64) error { return b.next.Unlock(ctx, lockID) }

func (b *Backend) Heartbeat(ctx context.Context, lockID int64) error {
	return b.next.Heartbeat(ctx, lockID)
}

func (b *Backend) ShowLocks(ctx context.Context, req *hm.ShowLocksRequest) (*hm.ShowLocksResponse, error) {
	return b.next.ShowLocks(ctx, req)
}

func (b *Backend) CurrentEventID(ctx context.Context) (int64, error) {
	return b.next.CurrentEventID(ctx)
}

func (b *Backend) NextEvents(ctx context.Context, lastID int64, max int) ([]*hm.NotificationEvent, error) {
	return b.next.NextEvents(ctx, lastID, max)
}
