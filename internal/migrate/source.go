package migrate

import (
	"context"

	hm "github.com/beltran/gohive/hive_metastore"
	"golang.org/x/time/rate"

	"github.com/propolis/propolis/hms"
)

// Source is what migration reads from a metastore.
type Source interface {
	ListDatabases(ctx context.Context) ([]string, error)
	GetDatabase(ctx context.Context, name string) (*hm.Database, error)
	ListTables(ctx context.Context, db string) ([]hms.TableInfo, error)
	GetTable(ctx context.Context, db, name string) (*hm.Table, error)
	GetTables(ctx context.Context, db string, names []string) ([]*hm.Table, error)
	ListPartitionNames(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]string, error)
	GetPartitionsByNames(ctx context.Context, db, tbl string, names []string) ([]*hm.Partition, error)
	ListFunctions(ctx context.Context, db string) ([]*hm.Function, error)
	TableColumnStatistics(ctx context.Context, db, tbl string, cols []string) ([]*hm.ColumnStatisticsObj, error)
}

// Target is what migration writes to (and reads back from) the Propolis catalog.
type Target interface {
	Source
	CreateDatabase(ctx context.Context, db *hm.Database) error
	AlterDatabase(ctx context.Context, name string, db *hm.Database) error
	CreateTable(ctx context.Context, t *hm.Table) error
	AlterTable(ctx context.Context, db, name string, t *hm.Table, cascade bool) error
	DropTable(ctx context.Context, db, name string, deleteData bool) error
	AddPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition, ifNotExists bool) ([]*hm.Partition, error)
	AlterPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition) error
	DropPartition(ctx context.Context, db, tbl string, values []string, deleteData bool) (*hm.Partition, error)
	CreateFunction(ctx context.Context, f *hm.Function) error
	AlterFunction(ctx context.Context, db, name string, f *hm.Function) error
	UpdateColumnStatistics(ctx context.Context, stats *hm.ColumnStatistics) error
}

var (
	_ Target = hms.Backend(nil)
	_ Source = (*limited)(nil)
)

// Limit makes every call to src wait for the limiter first, so a migration stays polite to a
// metastore that production engines still use. A nil limiter means no limit.
func Limit(src Source, l *rate.Limiter) Source {
	if l == nil {
		return src
	}
	return &limited{src: src, l: l}
}

type limited struct {
	src Source
	l   *rate.Limiter
}

func (s *limited) ListDatabases(ctx context.Context) ([]string, error) {
	if err := s.l.Wait(ctx); err != nil {
		return nil, err
	}
	return s.src.ListDatabases(ctx)
}

func (s *limited) GetDatabase(ctx context.Context, name string) (*hm.Database, error) {
	if err := s.l.Wait(ctx); err != nil {
		return nil, err
	}
	return s.src.GetDatabase(ctx, name)
}

func (s *limited) ListTables(ctx context.Context, db string) ([]hms.TableInfo, error) {
	if err := s.l.Wait(ctx); err != nil {
		return nil, err
	}
	return s.src.ListTables(ctx, db)
}

func (s *limited) GetTable(ctx context.Context, db, name string) (*hm.Table, error) {
	if err := s.l.Wait(ctx); err != nil {
		return nil, err
	}
	return s.src.GetTable(ctx, db, name)
}

func (s *limited) GetTables(ctx context.Context, db string, names []string) ([]*hm.Table, error) {
	if err := s.l.Wait(ctx); err != nil {
		return nil, err
	}
	return s.src.GetTables(ctx, db, names)
}

func (s *limited) ListPartitionNames(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]string, error) {
	if err := s.l.Wait(ctx); err != nil {
		return nil, err
	}
	return s.src.ListPartitionNames(ctx, db, tbl, q)
}

func (s *limited) GetPartitionsByNames(ctx context.Context, db, tbl string, names []string) ([]*hm.Partition, error) {
	if err := s.l.Wait(ctx); err != nil {
		return nil, err
	}
	return s.src.GetPartitionsByNames(ctx, db, tbl, names)
}

func (s *limited) ListFunctions(ctx context.Context, db string) ([]*hm.Function, error) {
	if err := s.l.Wait(ctx); err != nil {
		return nil, err
	}
	return s.src.ListFunctions(ctx, db)
}

func (s *limited) TableColumnStatistics(ctx context.Context, db, tbl string, cols []string) ([]*hm.ColumnStatisticsObj, error) {
	if err := s.l.Wait(ctx); err != nil {
		return nil, err
	}
	return s.src.TableColumnStatistics(ctx, db, tbl, cols)
}
