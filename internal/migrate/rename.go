package migrate

import (
	"context"
	"regexp"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

// DatabaseMap renames databases on the way into the target: source name -> target name.
type DatabaseMap map[string]string

// Parse adds "source=target" to m.
func (m DatabaseMap) Parse(s string) error {
	from, to, ok := strings.Cut(s, "=")
	from, to = strings.ToLower(strings.TrimSpace(from)), strings.ToLower(strings.TrimSpace(to))
	if !ok || from == "" || to == "" || strings.ContainsAny(from+to, ".`/ ") {
		return errs.Invalid("database mapping %q: want SOURCE=TARGET database names, e.g. sales=legacy_sales", s)
	}
	if _, dup := m[from]; dup {
		return errs.Invalid("database mapping: %q is mapped twice", from)
	}
	for _, t := range m {
		if t == to {
			return errs.Invalid("database mapping: two databases map to %q", to)
		}
	}
	m[from] = to
	return nil
}

// Rename makes dst look as if its databases had their source names: every name going in is
// mapped (and the database names inside view texts), every object coming out is mapped back.
// Apply and Verify then compare in the source's names. An empty map returns dst.
func Rename(dst Target, m DatabaseMap) Target {
	if len(m) == 0 {
		return dst
	}
	back := DatabaseMap{}
	for k, v := range m {
		back[v] = k
	}
	return &renamed{dst: dst, fwd: m, back: back}
}

type renamed struct {
	dst       Target
	fwd, back DatabaseMap
}

func (m DatabaseMap) name(db string) string {
	if to, ok := m[strings.ToLower(db)]; ok {
		return to
	}
	return db
}

// viewDB matches a database name where view texts put one: `db`.`t` (expanded text) or db.t.
var viewDB = regexp.MustCompile("(`?)([A-Za-z_][A-Za-z0-9_]*)(`?)\\.")

func (m DatabaseMap) text(s string) string {
	if s == "" {
		return s
	}
	return viewDB.ReplaceAllStringFunc(s, func(match string) string {
		sub := viewDB.FindStringSubmatch(match)
		if to, ok := m[strings.ToLower(sub[2])]; ok && sub[1] == sub[3] {
			return sub[1] + to + sub[3] + "."
		}
		return match
	})
}

func (m DatabaseMap) table(t *hm.Table) *hm.Table {
	if t == nil {
		return nil
	}
	out := clone(t)
	out.DbName = m.name(out.DbName)
	out.ViewOriginalText, out.ViewExpandedText = m.text(out.ViewOriginalText), m.text(out.ViewExpandedText)
	return out
}

func (m DatabaseMap) partitions(ps []*hm.Partition) []*hm.Partition {
	out := make([]*hm.Partition, len(ps))
	for i, p := range ps {
		out[i] = clone(p)
		out[i].DbName = m.name(p.DbName)
	}
	return out
}

func (m DatabaseMap) function(f *hm.Function) *hm.Function {
	out := clone(f)
	out.DbName = m.name(f.DbName)
	return out
}

func (r *renamed) ListDatabases(ctx context.Context) ([]string, error) {
	dbs, err := r.dst.ListDatabases(ctx)
	for i, d := range dbs {
		dbs[i] = r.back.name(d)
	}
	return dbs, err
}

func (r *renamed) GetDatabase(ctx context.Context, name string) (*hm.Database, error) {
	db, err := r.dst.GetDatabase(ctx, r.fwd.name(name))
	if err != nil {
		return nil, err
	}
	db.Name = r.back.name(db.Name)
	return db, nil
}

func (r *renamed) CreateDatabase(ctx context.Context, db *hm.Database) error {
	out := clone(db)
	out.Name = r.fwd.name(db.Name)
	return r.dst.CreateDatabase(ctx, out)
}

func (r *renamed) AlterDatabase(ctx context.Context, name string, db *hm.Database) error {
	out := clone(db)
	out.Name = r.fwd.name(db.Name)
	return r.dst.AlterDatabase(ctx, r.fwd.name(name), out)
}

func (r *renamed) ListTables(ctx context.Context, db string) ([]hms.TableInfo, error) {
	return r.dst.ListTables(ctx, r.fwd.name(db))
}

func (r *renamed) GetTable(ctx context.Context, db, name string) (*hm.Table, error) {
	t, err := r.dst.GetTable(ctx, r.fwd.name(db), name)
	if err != nil {
		return nil, err
	}
	return r.back.table(t), nil
}

func (r *renamed) GetTables(ctx context.Context, db string, names []string) ([]*hm.Table, error) {
	ts, err := r.dst.GetTables(ctx, r.fwd.name(db), names)
	for i, t := range ts {
		ts[i] = r.back.table(t)
	}
	return ts, err
}

func (r *renamed) CreateTable(ctx context.Context, t *hm.Table) error {
	return r.dst.CreateTable(ctx, r.fwd.table(t))
}

func (r *renamed) AlterTable(ctx context.Context, db, name string, t *hm.Table, cascade bool) error {
	return r.dst.AlterTable(ctx, r.fwd.name(db), name, r.fwd.table(t), cascade)
}

func (r *renamed) DropTable(ctx context.Context, db, name string, deleteData bool) error {
	return r.dst.DropTable(ctx, r.fwd.name(db), name, deleteData)
}

func (r *renamed) ListPartitionNames(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]string, error) {
	return r.dst.ListPartitionNames(ctx, r.fwd.name(db), tbl, q)
}

func (r *renamed) GetPartitionsByNames(ctx context.Context, db, tbl string, names []string) ([]*hm.Partition, error) {
	ps, err := r.dst.GetPartitionsByNames(ctx, r.fwd.name(db), tbl, names)
	if err != nil {
		return nil, err
	}
	return r.back.partitions(ps), nil
}

func (r *renamed) AddPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition, ifNotExists bool) ([]*hm.Partition, error) {
	ps, err := r.dst.AddPartitions(ctx, r.fwd.name(db), tbl, r.fwd.partitions(parts), ifNotExists)
	if err != nil {
		return nil, err
	}
	return r.back.partitions(ps), nil
}

func (r *renamed) AlterPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition) error {
	return r.dst.AlterPartitions(ctx, r.fwd.name(db), tbl, r.fwd.partitions(parts))
}

func (r *renamed) DropPartition(ctx context.Context, db, tbl string, values []string, deleteData bool) (*hm.Partition, error) {
	p, err := r.dst.DropPartition(ctx, r.fwd.name(db), tbl, values, deleteData)
	if err != nil || p == nil {
		return p, err
	}
	return r.back.partitions([]*hm.Partition{p})[0], nil
}

func (r *renamed) ListFunctions(ctx context.Context, db string) ([]*hm.Function, error) {
	fs, err := r.dst.ListFunctions(ctx, r.fwd.name(db))
	for i, f := range fs {
		fs[i] = r.back.function(f)
	}
	return fs, err
}

func (r *renamed) CreateFunction(ctx context.Context, f *hm.Function) error {
	return r.dst.CreateFunction(ctx, r.fwd.function(f))
}

func (r *renamed) AlterFunction(ctx context.Context, db, name string, f *hm.Function) error {
	return r.dst.AlterFunction(ctx, r.fwd.name(db), name, r.fwd.function(f))
}

func (r *renamed) TableColumnStatistics(ctx context.Context, db, tbl string, cols []string) ([]*hm.ColumnStatisticsObj, error) {
	return r.dst.TableColumnStatistics(ctx, r.fwd.name(db), tbl, cols)
}

func (r *renamed) UpdateColumnStatistics(ctx context.Context, stats *hm.ColumnStatistics) error {
	out := clone(stats)
	out.StatsDesc.DbName = r.fwd.name(stats.StatsDesc.DbName)
	return r.dst.UpdateColumnStatistics(ctx, out)
}
