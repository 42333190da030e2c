package hms_test

import (
	"context"
	"testing"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

// workerGuard serves every table as the worker path does: raw calls withheld, statistics
// empty, and (when partitioned) partitions rewritten to a location of its own.
type workerGuard struct{ partitioned bool }

func (workerGuard) FilterDatabases(_ context.Context, dbs []string) ([]string, error) {
	return dbs, nil
}
func (workerGuard) FilterTables(_ context.Context, _ string, ts []string) ([]string, error) {
	return ts, nil
}
func (workerGuard) Table(_ context.Context, t *hm.Table) (*hm.Table, error) { return t, nil }
func (workerGuard) CheckRaw(_ context.Context, db, t string) error {
	return &hms.WithheldError{Err: errs.Denied("%s.%s is served by the fleet", db, t)}
}
func (workerGuard) CheckWrite(context.Context, string, string, string) error { return nil }

func (g workerGuard) PartitionView(_ context.Context, db, t string) (func([]*hm.Partition) ([]*hm.Partition, error), error) {
	if !g.partitioned {
		return nil, &hms.WithheldError{Err: errs.Denied("%s.%s is served unpartitioned", db, t)}
	}
	return func(ps []*hm.Partition) ([]*hm.Partition, error) {
		out := make([]*hm.Partition, len(ps))
		for i, p := range ps {
			cp := *p
			sd := *p.Sd
			sd.Location = "s3a://propolis/token-" + p.Values[0]
			cp.Sd = &sd
			out[i] = &cp
		}
		return out, nil
	}, nil
}

// TestWithheldTables: statistics of a withheld table answer empty (engines plan the scan),
// its partitions are listed only through the guard's PartitionViewer, rewritten.
func TestWithheldTables(t *testing.T) {
	e := newEnv(t)
	wantErr(t, "create db", e.c.CreateDatabase(ctx, &hm.Database{Name: "sales"}), nil, "")
	wantErr(t, "create table", e.c.CreateTable(ctx, salesTable("sales", "orders")), nil, "")
	_, err := e.c.AddPartition(ctx, part("sales", "orders", "eu", "1"))
	wantErr(t, "add partition", err, nil, "")

	for _, partitioned := range []bool{true, false} {
		c := dial(t, newGuardedServer(t, e, workerGuard{partitioned: partitioned}), false)
		st, err := c.GetTableStatisticsReq(ctx, &hm.TableStatsRequest{DbName: "sales", TblName: "orders", ColNames: []string{"id"}})
		if err != nil || len(st.TableStats) != 0 {
			t.Fatalf("table statistics of a withheld table: %v, %v", st, err)
		}
		ps, err := c.GetPartitionsStatisticsReq(ctx, &hm.PartitionsStatsRequest{DbName: "sales", TblName: "orders", ColNames: []string{"id"}, PartNames: []string{"region=eu/day=1"}})
		if err != nil || len(ps.PartStats) != 0 {
			t.Fatalf("partition statistics of a withheld table: %v, %v", ps, err)
		}
		parts, err := c.GetPartitions(ctx, "sales", "orders", -1)
		names, nerr := c.GetPartitionNames(ctx, "sales", "orders", -1)
		byName, berr := c.GetPartitionsByNames(ctx, "sales", "orders", []string{"region=eu/day=1"})
		if !partitioned {
			if err == nil || nerr == nil || berr == nil {
				t.Fatalf("unpartitioned: partitions were served: %v %v %v", parts, names, byName)
			}
			continue
		}
		if err != nil || len(parts) != 1 || parts[0].Sd.Location != "s3a://propolis/token-eu" {
			t.Fatalf("partitions through the view: %v, %v", parts, err)
		}
		if nerr != nil || len(names) != 1 || berr != nil || len(byName) != 1 || byName[0].Sd.Location != "s3a://propolis/token-eu" {
			t.Fatalf("names %v (%v), by name %v (%v)", names, nerr, byName, berr)
		}
	}
}
