package migrate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"
	"golang.org/x/sync/errgroup"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/internal/errs"
)

// Config drives Apply and Verify.
type Config struct {
	// Source names the source metastore (thrift://host:port); it is recorded in the checkpoint
	// so a run is resumed only from the same source.
	Source string
	// Databases selects source databases by name or glob (path.Match); empty selects all.
	Databases []string
	// Locations translates locations (see LocationMap).
	Locations LocationMap
	// Execute writes to the target; without it Apply only reports what it would do.
	Execute bool
	// Concurrency is how many tables are copied at once (default 4).
	Concurrency int
	// BatchSize is how many partitions are read or written per call (default 500).
	BatchSize int
	// Progress, when set, is told about the work found and done.
	Progress Progress
	// OnAction, when set, receives every change Apply makes (or would make, in a dry run),
	// one call at a time.
	OnAction func(Action)
	Log      *slog.Logger
}

func (c *Config) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = nopProgress{}
	}
}

// Progress is told how much work was found (tables, partitions) and how much is done.
type Progress interface {
	Found(tables, partitions int64)
	Done(tables, partitions int64)
}

type nopProgress struct{}

func (nopProgress) Found(int64, int64) {}
func (nopProgress) Done(int64, int64)  {}

// Action is one change to the target.
type Action struct {
	Op     string `json:"op"` // create-database, alter-database, create-table, alter-table, drop-table, add-partitions, alter-partitions, drop-partitions, create-function, alter-function, update-statistics
	Object string `json:"object"`
	Count  int    `json:"count,omitempty"` // partitions, for partition ops
	Detail string `json:"detail,omitempty"`
}

// Problem is an object Apply skipped, or a location it could not translate.
type Problem struct {
	Object string `json:"object"`
	Reason string `json:"reason"`
}

// Report is what Apply did (or would do). It is safe to read once Apply returned.
type Report struct {
	Source    string    `json:"source"`
	DryRun    bool      `json:"dry_run"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Databases int       `json:"databases"`
	Tables    int64     `json:"tables"`
	// Partitions is how many source partitions were compared.
	Partitions int64 `json:"partitions"`
	// Resumed counts tables an interrupted run had completed, skipped by this one.
	Resumed int64 `json:"resumed_tables"`
	// Unchanged counts tables (with their partitions) already equal in the target.
	Unchanged         int64            `json:"unchanged_tables"`
	Ops               map[string]int64 `json:"operations"`
	PartitionsAdded   int64            `json:"partitions_added"`
	PartitionsAltered int64            `json:"partitions_altered"`
	PartitionsDropped int64            `json:"partitions_dropped"`
	Skipped           []Problem        `json:"skipped"`
	Untranslated      []Problem        `json:"untranslated_locations"`

	mu sync.Mutex
}

func (r *Report) skip(object, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Skipped = append(r.Skipped, Problem{object, reason})
}

func (r *Report) untranslated(object, loc string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Untranslated = append(r.Untranslated, Problem{object, "no --location-map covers " + loc})
}

func (r *Report) op(a Action) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Ops[a.Op]++
}

// Apply copies the selected databases from src into dst, as a dry run unless cfg.Execute.
// It returns the report even when it fails part-way; a failure never leaves a table marked
// complete, so the next run redoes it.
func Apply(ctx context.Context, src Source, dst Target, cfg Config) (*Report, error) {
	cfg.defaults()
	rep := &Report{Source: cfg.Source, DryRun: !cfg.Execute, Started: time.Now(), Ops: map[string]int64{}}
	defer func() { rep.Finished = time.Now() }()
	dbs, err := selectDatabases(ctx, src, cfg.Databases)
	if err != nil {
		return rep, err
	}
	a := &applier{src: src, dst: dst, cfg: cfg, rep: rep,
		tr: translator{m: cfg.Locations, untranslated: rep.untranslated}}
	for _, db := range dbs {
		if err := a.database(ctx, db); err != nil {
			return rep, err
		}
		rep.Databases++
	}
	return rep, nil
}

// selectDatabases lists the source's databases matching patterns (all when none), sorted.
func selectDatabases(ctx context.Context, src Source, patterns []string) ([]string, error) {
	all, err := src.ListDatabases(ctx)
	if err != nil {
		return nil, fmt.Errorf("list source databases: %w", err)
	}
	if len(patterns) == 0 {
		slices.Sort(all)
		return all, nil
	}
	var out []string
	for _, db := range all {
		for _, p := range patterns {
			if ok, err := path.Match(strings.ToLower(p), strings.ToLower(db)); err != nil {
				return nil, errs.Invalid("database pattern %q: %v", p, err)
			} else if ok {
				out = append(out, db)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, errs.NotFound("no source database matches %s", strings.Join(patterns, ", "))
	}
	slices.Sort(out)
	return out, nil
}

type applier struct {
	src      Source
	dst      Target
	cfg      Config
	rep      *Report
	tr       translator
	onAction sync.Mutex
}

// act counts the action and hands it to OnAction, one call at a time.
func (a *applier) act(act Action) {
	a.rep.op(act)
	if a.cfg.OnAction != nil {
		a.onAction.Lock()
		defer a.onAction.Unlock()
		a.cfg.OnAction(act)
	}
}

func newRunID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// database copies one database: the database object, its functions, then its tables, at most
// Concurrency at a time. The checkpoint: the target database records the run and its state.
func (a *applier) database(ctx context.Context, name string) error {
	sdb, err := a.src.GetDatabase(ctx, name)
	if err != nil {
		return fmt.Errorf("source database %s: %w", name, err)
	}
	want := a.tr.database(sdb)
	cur, err := a.dst.GetDatabase(ctx, name)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("target database %s: %w", name, err)
	}
	run := newRunID()
	if cur != nil && cur.Parameters[paramState] == "running" && cur.Parameters[paramSource] == a.cfg.Source && cur.Parameters[paramRun] != "" {
		run = cur.Parameters[paramRun] // resume the interrupted run
		a.cfg.Log.Info("resuming an interrupted run", "database", name, "run", run)
	}
	marked := clone(want)
	if marked.Parameters == nil {
		marked.Parameters = map[string]string{}
	}
	marked.Parameters[paramRun], marked.Parameters[paramState], marked.Parameters[paramSource] = run, "running", a.cfg.Source
	switch {
	case cur == nil:
		a.act(Action{Op: "create-database", Object: name, Detail: want.LocationUri})
		if a.cfg.Execute {
			if err := a.dst.CreateDatabase(ctx, marked); err != nil {
				return fmt.Errorf("create database %s: %w", name, err)
			}
		}
	default:
		if d := diff(canonicalDatabase(want), canonicalDatabase(cur)); len(d) > 0 {
			a.act(Action{Op: "alter-database", Object: name, Detail: strings.Join(d, "; ")})
		}
		if a.cfg.Execute && (cur.Parameters[paramRun] != run || cur.Parameters[paramState] != "running" ||
			len(diff(canonicalDatabase(want), canonicalDatabase(cur))) > 0) {
			if err := a.dst.AlterDatabase(ctx, name, marked); err != nil {
				return fmt.Errorf("alter database %s: %w", name, err)
			}
		}
	}

	if err := a.functions(ctx, name, cur == nil); err != nil {
		return err
	}
	tables, err := a.src.ListTables(ctx, name)
	if err != nil {
		return fmt.Errorf("list tables of %s: %w", name, err)
	}
	a.cfg.Progress.Found(int64(len(tables)), 0)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.cfg.Concurrency)
	for _, ti := range tables {
		g.Go(func() error {
			if err := a.table(gctx, name, ti.Name, run, cur == nil); err != nil {
				return fmt.Errorf("table %s.%s: %w", name, ti.Name, err)
			}
			a.cfg.Progress.Done(1, 0)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if cur != nil {
		if err := a.dropVanished(ctx, name, tables); err != nil {
			return err
		}
	}
	if a.cfg.Execute {
		marked.Parameters[paramState] = "done"
		if err := a.dst.AlterDatabase(ctx, name, marked); err != nil {
			return fmt.Errorf("mark database %s done: %w", name, err)
		}
	}
	return nil
}

// dropVanished drops (metadata only) the target tables an earlier run copied whose source
// table is gone. Tables the migration did not create are never touched.
func (a *applier) dropVanished(ctx context.Context, db string, source []hms.TableInfo) error {
	have, err := a.dst.ListTables(ctx, db)
	if err != nil {
		return fmt.Errorf("list target tables of %s: %w", db, err)
	}
	inSource := make(map[string]bool, len(source))
	for _, t := range source {
		inSource[strings.ToLower(t.Name)] = true
	}
	for _, ti := range have {
		if inSource[strings.ToLower(ti.Name)] {
			continue
		}
		t, err := a.dst.GetTable(ctx, db, ti.Name)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if t.Parameters[paramRun] == "" {
			continue // made in Propolis, not by a migration
		}
		a.act(Action{Op: "drop-table", Object: db + "." + ti.Name, Detail: "no longer on the source (metadata only; data is kept)"})
		if a.cfg.Execute {
			if err := a.dst.DropTable(ctx, db, ti.Name, false); err != nil && !isNotFound(err) {
				return fmt.Errorf("drop table %s.%s: %w", db, ti.Name, err)
			}
		}
	}
	return nil
}

func (a *applier) functions(ctx context.Context, db string, fresh bool) error {
	fns, err := a.src.ListFunctions(ctx, db)
	if err != nil {
		return fmt.Errorf("list functions of %s: %w", db, err)
	}
	var have []*hm.Function
	if !fresh {
		if have, err = a.dst.ListFunctions(ctx, db); err != nil {
			return fmt.Errorf("list target functions of %s: %w", db, err)
		}
	}
	for _, f := range fns {
		obj := db + "." + f.FunctionName
		i := slices.IndexFunc(have, func(h *hm.Function) bool { return strings.EqualFold(h.FunctionName, f.FunctionName) })
		switch {
		case i < 0:
			a.act(Action{Op: "create-function", Object: obj, Detail: f.ClassName})
			if a.cfg.Execute {
				if err := a.dst.CreateFunction(ctx, f); err != nil {
					return fmt.Errorf("create function %s: %w", obj, err)
				}
			}
		case len(diff(canonicalFunction(f), canonicalFunction(have[i]))) > 0:
			a.act(Action{Op: "alter-function", Object: obj, Detail: f.ClassName})
			if a.cfg.Execute {
				if err := a.dst.AlterFunction(ctx, db, f.FunctionName, f); err != nil {
					return fmt.Errorf("alter function %s: %w", obj, err)
				}
			}
		}
	}
	return nil
}

// skipReason says why a table cannot be copied into the Propolis catalog, or "".
func skipReason(t *hm.Table) string {
	switch {
	case strings.EqualFold(t.Parameters["transactional"], "true"):
		return "ACID (transactional) table: Propolis cannot serve its delta files; federate the source metastore for this database instead (migrate plan prints the stanza)"
	case t.TableType == "MATERIALIZED_VIEW":
		return "materialized view: Propolis does not maintain materialized views; recreate it as a view or a table"
	}
	return ""
}

// table syncs one table and its partitions, then marks it complete for this run.
func (a *applier) table(ctx context.Context, db, name, run string, fresh bool) error {
	obj := db + "." + name
	var cur *hm.Table
	if !fresh {
		t, err := a.dst.GetTable(ctx, db, name)
		switch {
		case err == nil:
			cur = t
			if a.cfg.Execute && t.Parameters[paramRun] == run {
				atomic.AddInt64(&a.rep.Resumed, 1)
				atomic.AddInt64(&a.rep.Tables, 1)
				return nil
			}
		case !isNotFound(err):
			return err
		}
	}
	st, err := a.src.GetTable(ctx, db, name)
	if isNotFound(err) {
		return nil // dropped on the source while we ran
	}
	if err != nil {
		return err
	}
	atomic.AddInt64(&a.rep.Tables, 1)
	if why := skipReason(st); why != "" {
		a.rep.skip("table "+obj, why)
		return nil
	}
	want := a.tr.table(st)
	changed := false
	switch {
	case cur == nil:
		changed = true
		a.act(Action{Op: "create-table", Object: obj, Detail: want.TableType + " " + location(want)})
		if a.cfg.Execute {
			if err := a.dst.CreateTable(ctx, want); err != nil {
				return fmt.Errorf("create: %w", err)
			}
		}
	default:
		if d := diff(canonicalTable(want), canonicalTable(cur)); len(d) > 0 {
			changed = true
			a.act(Action{Op: "alter-table", Object: obj, Detail: strings.Join(d, "; ")})
			if a.cfg.Execute {
				if err := a.dst.AlterTable(ctx, db, name, want, false); err != nil {
					return fmt.Errorf("alter: %w", err)
				}
			}
		}
	}
	if len(st.PartitionKeys) > 0 {
		pc, err := a.partitions(ctx, st, cur == nil)
		if err != nil {
			return err
		}
		changed = changed || pc
	}
	if sc, err := a.statistics(ctx, st, cur == nil); err != nil {
		return err
	} else if sc {
		changed = true
	}
	if !changed {
		atomic.AddInt64(&a.rep.Unchanged, 1)
	}
	if !a.cfg.Execute {
		return nil
	}
	// The table is complete: record it, so a resumed run skips it.
	marked := clone(want)
	if marked.Parameters == nil {
		marked.Parameters = map[string]string{}
	}
	marked.Parameters[paramRun] = run
	if err := a.dst.AlterTable(ctx, db, name, marked, false); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// statistics copies the table's column statistics when the target's differ.
func (a *applier) statistics(ctx context.Context, st *hm.Table, fresh bool) (bool, error) {
	cols := columnNames(st)
	if len(cols) == 0 || st.TableType == "VIRTUAL_VIEW" {
		return false, nil
	}
	ss, err := a.src.TableColumnStatistics(ctx, st.DbName, st.TableName, cols)
	if err != nil {
		return false, fmt.Errorf("source statistics: %w", err)
	}
	var ts []*hm.ColumnStatisticsObj
	if !fresh || a.cfg.Execute {
		if ts, err = a.dst.TableColumnStatistics(ctx, st.DbName, st.TableName, cols); err != nil && !isNotFound(err) {
			return false, fmt.Errorf("target statistics: %w", err)
		}
	}
	if len(ss) == 0 || len(diff(statsByColumn(ss), statsByColumn(ts))) == 0 {
		return false, nil
	}
	obj := st.DbName + "." + st.TableName
	a.act(Action{Op: "update-statistics", Object: obj, Count: len(ss)})
	if a.cfg.Execute {
		if err := a.dst.UpdateColumnStatistics(ctx, &hm.ColumnStatistics{
			StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: true, DbName: st.DbName, TableName: st.TableName},
			StatsObj:  ss,
		}); err != nil {
			return false, fmt.Errorf("update statistics: %w", err)
		}
	}
	return true, nil
}

func location(t *hm.Table) string {
	if t.Sd == nil {
		return ""
	}
	return t.Sd.Location
}

// partitions syncs a table's partitions by name: missing ones are added, differing ones
// altered, ones the source no longer has dropped (metadata only), BatchSize at a time.
func (a *applier) partitions(ctx context.Context, st *hm.Table, fresh bool) (bool, error) {
	db, name := st.DbName, st.TableName
	obj := db + "." + name
	srcNames, err := a.src.ListPartitionNames(ctx, db, name, hms.PartitionQuery{})
	if err != nil {
		return false, fmt.Errorf("list source partitions: %w", err)
	}
	var dstNames []string
	if !fresh {
		if dstNames, err = a.dst.ListPartitionNames(ctx, db, name, hms.PartitionQuery{}); err != nil && !isNotFound(err) {
			return false, fmt.Errorf("list target partitions: %w", err)
		}
	}
	a.cfg.Progress.Found(0, int64(len(srcNames)))
	atomic.AddInt64(&a.rep.Partitions, int64(len(srcNames)))
	have := make(map[string]bool, len(dstNames))
	for _, n := range dstNames {
		have[n] = true
	}
	var missing, common []string
	for _, n := range srcNames {
		if have[n] {
			common = append(common, n)
			delete(have, n)
		} else {
			missing = append(missing, n)
		}
	}
	extra := make([]string, 0, len(have))
	for n := range have {
		extra = append(extra, n)
	}
	slices.Sort(extra)
	changed := false
	bs := a.cfg.BatchSize

	for i := 0; i < len(missing); i += bs {
		batch := missing[i:min(i+bs, len(missing))]
		parts, err := a.src.GetPartitionsByNames(ctx, db, name, batch)
		if err != nil {
			return changed, fmt.Errorf("read source partitions: %w", err)
		}
		out := make([]*hm.Partition, len(parts))
		for j, p := range parts {
			out[j] = a.tr.partition(st, p)
		}
		changed = true
		a.act(Action{Op: "add-partitions", Object: obj, Count: len(out), Detail: batch[0] + " .. " + batch[len(batch)-1]})
		if a.cfg.Execute && len(out) > 0 {
			if _, err := a.dst.AddPartitions(ctx, db, name, out, true); err != nil {
				return changed, fmt.Errorf("add partitions: %w", err)
			}
		}
		atomic.AddInt64(&a.rep.PartitionsAdded, int64(len(out)))
		a.cfg.Progress.Done(0, int64(len(batch)))
	}

	for i := 0; i < len(common); i += bs {
		batch := common[i:min(i+bs, len(common))]
		parts, err := a.src.GetPartitionsByNames(ctx, db, name, batch)
		if err != nil {
			return changed, fmt.Errorf("read source partitions: %w", err)
		}
		cur, err := a.dst.GetPartitionsByNames(ctx, db, name, batch)
		if err != nil {
			return changed, fmt.Errorf("read target partitions: %w", err)
		}
		byVals := make(map[string]*hm.Partition, len(cur))
		for _, p := range cur {
			byVals[strings.Join(p.Values, "\x00")] = p
		}
		var alter []*hm.Partition
		var first string
		for _, p := range parts {
			want := a.tr.partition(st, p)
			got := byVals[strings.Join(p.Values, "\x00")]
			if got == nil || len(diff(canonicalPartition(want), canonicalPartition(got))) > 0 {
				if first == "" && got != nil {
					first = strings.Join(p.Values, "/") + ": " + strings.Join(diff(canonicalPartition(want), canonicalPartition(got)), "; ")
				}
				alter = append(alter, want)
			}
		}
		if len(alter) > 0 {
			changed = true
			a.act(Action{Op: "alter-partitions", Object: obj, Count: len(alter), Detail: first})
			if a.cfg.Execute {
				if err := a.dst.AlterPartitions(ctx, db, name, alter); err != nil {
					return changed, fmt.Errorf("alter partitions: %w", err)
				}
			}
			atomic.AddInt64(&a.rep.PartitionsAltered, int64(len(alter)))
		}
		a.cfg.Progress.Done(0, int64(len(batch)))
	}

	if len(extra) > 0 {
		changed = true
		a.act(Action{Op: "drop-partitions", Object: obj, Count: len(extra), Detail: "no longer on the source (metadata only; data is kept)"})
		if a.cfg.Execute {
			for _, n := range extra {
				vals, err := partValues(n)
				if err != nil {
					return changed, err
				}
				if _, err := a.dst.DropPartition(ctx, db, name, vals, false); err != nil && !isNotFound(err) {
					return changed, fmt.Errorf("drop partition %s: %w", n, err)
				}
			}
		}
		atomic.AddInt64(&a.rep.PartitionsDropped, int64(len(extra)))
	}
	return changed, nil
}

func isNotFound(err error) bool { return errs.KindOf(err) == errs.KindNotFound }

// partValues splits a partition name "k1=v1/k2=v2" into its unescaped values.
func partValues(name string) ([]string, error) {
	_, vals, err := hivename.ParsePartName(name)
	return vals, err
}
