package migrate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	hm "github.com/beltran/gohive/hive_metastore"
	"golang.org/x/sync/errgroup"

	"github.com/propolis/propolis/hms"
)

// Difference is one way in which the target does not hold what the source does (after
// location translation).
type Difference struct {
	Object string `json:"object"`
	Detail string `json:"detail"`
}

// VerifyReport counts what Verify compared.
type VerifyReport struct {
	Databases   int          `json:"databases"`
	Tables      int64        `json:"tables"`
	Partitions  int64        `json:"partitions"`
	Functions   int64        `json:"functions"`
	Skipped     []Problem    `json:"skipped"`
	Differences []Difference `json:"differences"`

	mu sync.Mutex
}

func (r *VerifyReport) differ(object, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Differences = append(r.Differences, Difference{object, fmt.Sprintf(format, args...)})
}

// maxDifferences bounds what one Verify holds; past it, Verify stops.
const maxDifferences = 10000

// Verify compares the selected databases of src with dst object by object: databases,
// functions, tables (schemas, parameters, view texts, storage), table column statistics and
// every partition. Locations are compared after translation with cfg.Locations.
func Verify(ctx context.Context, src Source, dst Target, cfg Config) (*VerifyReport, error) {
	cfg.defaults()
	rep := &VerifyReport{}
	dbs, err := selectDatabases(ctx, src, cfg.Databases)
	if err != nil {
		return rep, err
	}
	v := &verifier{src: src, dst: dst, cfg: cfg, rep: rep, tr: translator{m: cfg.Locations}}
	for _, db := range dbs {
		if err := v.database(ctx, db); err != nil {
			return rep, err
		}
		rep.Databases++
	}
	slices.SortFunc(rep.Differences, func(a, b Difference) int { return strings.Compare(a.Object, b.Object) })
	return rep, nil
}

type verifier struct {
	src Source
	dst Target
	cfg Config
	rep *VerifyReport
	tr  translator
}

func (v *verifier) database(ctx context.Context, name string) error {
	sdb, err := v.src.GetDatabase(ctx, name)
	if err != nil {
		return fmt.Errorf("source database %s: %w", name, err)
	}
	tdb, err := v.dst.GetDatabase(ctx, name)
	if isNotFound(err) {
		v.rep.differ("database "+name, "missing in the target")
		return nil
	}
	if err != nil {
		return fmt.Errorf("target database %s: %w", name, err)
	}
	for _, d := range diff(canonicalDatabase(v.tr.database(sdb)), canonicalDatabase(tdb)) {
		v.rep.differ("database "+name, "%s", d)
	}
	if err := v.functions(ctx, name); err != nil {
		return err
	}

	st, err := v.src.ListTables(ctx, name)
	if err != nil {
		return fmt.Errorf("list source tables of %s: %w", name, err)
	}
	tt, err := v.dst.ListTables(ctx, name)
	if err != nil {
		return fmt.Errorf("list target tables of %s: %w", name, err)
	}
	inSource := map[string]bool{}
	for _, t := range st {
		inSource[strings.ToLower(t.Name)] = true
	}
	for _, t := range tt {
		if !inSource[strings.ToLower(t.Name)] {
			v.rep.differ("table "+name+"."+t.Name, "only in the target")
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.cfg.Concurrency)
	for _, t := range st {
		g.Go(func() error {
			if err := v.table(gctx, name, t.Name); err != nil {
				return fmt.Errorf("table %s.%s: %w", name, t.Name, err)
			}
			v.cfg.Progress.Done(1, 0)
			return nil
		})
	}
	return g.Wait()
}

func (v *verifier) functions(ctx context.Context, db string) error {
	sf, err := v.src.ListFunctions(ctx, db)
	if err != nil {
		return fmt.Errorf("list source functions of %s: %w", db, err)
	}
	tf, err := v.dst.ListFunctions(ctx, db)
	if err != nil {
		return fmt.Errorf("list target functions of %s: %w", db, err)
	}
	for _, f := range sf {
		atomic.AddInt64(&v.rep.Functions, 1)
		i := slices.IndexFunc(tf, func(h *hm.Function) bool { return strings.EqualFold(h.FunctionName, f.FunctionName) })
		if i < 0 {
			v.rep.differ("function "+db+"."+f.FunctionName, "missing in the target")
			continue
		}
		for _, d := range diff(canonicalFunction(f), canonicalFunction(tf[i])) {
			v.rep.differ("function "+db+"."+f.FunctionName, "%s", d)
		}
	}
	return nil
}

func (v *verifier) table(ctx context.Context, db, name string) error {
	obj := "table " + db + "." + name
	st, err := v.src.GetTable(ctx, db, name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if why := skipReason(st); why != "" {
		v.rep.mu.Lock()
		v.rep.Skipped = append(v.rep.Skipped, Problem{obj, why})
		v.rep.mu.Unlock()
		return nil
	}
	atomic.AddInt64(&v.rep.Tables, 1)
	tt, err := v.dst.GetTable(ctx, db, name)
	if isNotFound(err) {
		v.rep.differ(obj, "missing in the target")
		return nil
	}
	if err != nil {
		return err
	}
	for _, d := range diff(canonicalTable(v.tr.table(st)), canonicalTable(tt)) {
		v.rep.differ(obj, "%s", d)
	}
	if err := v.statistics(ctx, st, obj); err != nil {
		return err
	}
	if len(st.PartitionKeys) == 0 {
		return nil
	}
	return v.partitions(ctx, st, obj)
}

func (v *verifier) statistics(ctx context.Context, st *hm.Table, obj string) error {
	cols := columnNames(st)
	if len(cols) == 0 || st.TableType == "VIRTUAL_VIEW" {
		return nil
	}
	ss, err := v.src.TableColumnStatistics(ctx, st.DbName, st.TableName, cols)
	if err != nil {
		return fmt.Errorf("source statistics: %w", err)
	}
	ts, err := v.dst.TableColumnStatistics(ctx, st.DbName, st.TableName, cols)
	if err != nil {
		return fmt.Errorf("target statistics: %w", err)
	}
	for _, d := range diff(statsByColumn(ss), statsByColumn(ts)) {
		v.rep.differ(obj, "column statistics %s", d)
	}
	return nil
}

func (v *verifier) partitions(ctx context.Context, st *hm.Table, obj string) error {
	db, name := st.DbName, st.TableName
	sn, err := v.src.ListPartitionNames(ctx, db, name, hms.PartitionQuery{})
	if err != nil {
		return fmt.Errorf("list source partitions: %w", err)
	}
	tn, err := v.dst.ListPartitionNames(ctx, db, name, hms.PartitionQuery{})
	if err != nil {
		return fmt.Errorf("list target partitions: %w", err)
	}
	atomic.AddInt64(&v.rep.Partitions, int64(len(sn)))
	v.cfg.Progress.Found(0, int64(len(sn)))
	inTarget := make(map[string]bool, len(tn))
	for _, n := range tn {
		inTarget[n] = true
	}
	var common []string
	for _, n := range sn {
		if inTarget[n] {
			common = append(common, n)
			delete(inTarget, n)
		} else {
			v.rep.differ(obj, "partition %s missing in the target", n)
		}
	}
	for n := range inTarget {
		v.rep.differ(obj, "partition %s only in the target", n)
	}
	for i := 0; i < len(common); i += v.cfg.BatchSize {
		if len(v.rep.Differences) > maxDifferences {
			return fmt.Errorf("more than %d differences: stopped", maxDifferences)
		}
		batch := common[i:min(i+v.cfg.BatchSize, len(common))]
		sp, err := v.src.GetPartitionsByNames(ctx, db, name, batch)
		if err != nil {
			return fmt.Errorf("read source partitions: %w", err)
		}
		tp, err := v.dst.GetPartitionsByNames(ctx, db, name, batch)
		if err != nil {
			return fmt.Errorf("read target partitions: %w", err)
		}
		byVals := make(map[string]*hm.Partition, len(tp))
		for _, p := range tp {
			byVals[strings.Join(p.Values, "\x00")] = p
		}
		for _, p := range sp {
			got := byVals[strings.Join(p.Values, "\x00")]
			if got == nil {
				v.rep.differ(obj, "partition %s missing in the target", strings.Join(p.Values, "/"))
				continue
			}
			for _, d := range diff(canonicalPartition(v.tr.partition(st, p)), canonicalPartition(got)) {
				v.rep.differ(obj, "partition %s: %s", strings.Join(p.Values, "/"), d)
			}
		}
		v.cfg.Progress.Done(0, int64(len(batch)))
	}
	return nil
}

func columnNames(t *hm.Table) []string {
	if t.Sd == nil {
		return nil
	}
	out := make([]string, 0, len(t.Sd.Cols))
	for _, c := range t.Sd.Cols {
		out = append(out, strings.ToLower(c.Name))
	}
	return out
}

// statsByColumn keys statistics by column name, so the order a metastore answers in does not
// count as a difference.
func statsByColumn(objs []*hm.ColumnStatisticsObj) map[string]*hm.ColumnStatisticsData {
	out := make(map[string]*hm.ColumnStatisticsData, len(objs))
	for _, o := range objs {
		out[strings.ToLower(o.ColName)] = o.StatsData
	}
	return out
}
