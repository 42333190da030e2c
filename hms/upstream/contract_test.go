package upstream

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

// step is one call of the contract table: run makes the call (checking the result itself) and
// returns the backend's error; want lists the acceptable error kinds (none: success). Where Hive
// versions and Propolis legitimately disagree on the exception (alter of a missing object), want
// lists each kind they use; none of them is ever Unavailable.
type step struct {
	name string
	want []errs.Kind
	run  func(t *testing.T, b *Client) error
}

var bg = context.Background()

// txnSteps need the upstream's transaction tables (HIVE_LOCKS and friends).
var txnSteps = map[string]bool{"lock, check, heartbeat, show": true, "unlock": true, "check unknown lock": true}

func col(name, typ string) *hm.FieldSchema { return &hm.FieldSchema{Name: name, Type: typ} }

func parquetSD(location string, cols ...*hm.FieldSchema) *hm.StorageDescriptor {
	return &hm.StorageDescriptor{
		Cols:         cols,
		Location:     location,
		InputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
		OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
		SerdeInfo: &hm.SerDeInfo{
			SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
			Parameters:       map[string]string{"serialization.format": "1"},
		},
		Parameters: map[string]string{},
	}
}

func salesTable(db, name, loc string) *hm.Table {
	return &hm.Table{
		DbName: db, TableName: name, Owner: "alice", TableType: "EXTERNAL_TABLE",
		CreateTime:    int32(time.Now().Unix()),
		Sd:            parquetSD(loc, col("id", "bigint"), col("amount", "double"), col("email", "string")),
		PartitionKeys: []*hm.FieldSchema{col("region", "string"), col("day", "int")},
		Parameters:    map[string]string{"EXTERNAL": "TRUE", "comment": "sales facts"},
	}
}

func partition(db, tbl, loc string, vals ...string) *hm.Partition {
	return &hm.Partition{
		DbName: db, TableName: tbl, Values: vals, CreateTime: int32(time.Now().Unix()),
		Sd:         parquetSD(fmt.Sprintf("%s/region=%s/day=%s", loc, vals[0], vals[1]), col("id", "bigint"), col("amount", "double"), col("email", "string")),
		Parameters: map[string]string{},
	}
}

func longStats(db, tbl string, part string, colName string, hi int64) *hm.ColumnStatistics {
	desc := &hm.ColumnStatisticsDesc{IsTblLevel: part == "", DbName: db, TableName: tbl, LastAnalyzed: ptr(time.Now().Unix())}
	if part != "" {
		desc.PartName = ptr(part)
	}
	return &hm.ColumnStatistics{
		StatsDesc: desc,
		StatsObj: []*hm.ColumnStatisticsObj{{
			ColName: colName, ColType: "bigint",
			StatsData: &hm.ColumnStatisticsData{LongStats: &hm.LongColumnStatsData{LowValue: ptr(int64(1)), HighValue: ptr(hi), NumNulls: 0, NumDVs: 10}},
		}},
	}
}

func check(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
}

func names[T any](xs []T, name func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = name(x)
	}
	return out
}

func partNames(ps []*hm.Partition) []string {
	return names(ps, func(p *hm.Partition) string { return strings.Join(p.Values, "/") })
}

// contract is the table of calls every upstream must answer alike. root is a directory URI the
// upstream can write to (file://...).
func contract(root string) []step {
	const db, tbl = "up_sales", "sales"
	loc := root + "/up_sales.db/sales"
	nf := []errs.Kind{errs.KindNotFound}
	var lockID int64
	return []step{
		{"create database", nil, func(t *testing.T, b *Client) error {
			return b.CreateDatabase(bg, &hm.Database{Name: db, Description: "federated sales", LocationUri: root + "/up_sales.db", Parameters: map[string]string{"team": "sales"}})
		}},
		{"create database duplicate", []errs.Kind{errs.KindExists}, func(t *testing.T, b *Client) error {
			return b.CreateDatabase(bg, &hm.Database{Name: db, LocationUri: root + "/up_sales.db"})
		}},
		{"get database", nil, func(t *testing.T, b *Client) error {
			d, err := b.GetDatabase(bg, db)
			if err == nil {
				check(t, d.Name == db && d.Description == "federated sales" && d.Parameters["team"] == "sales", "get_database = %+v", d)
			}
			return err
		}},
		{"get database missing", nf, func(t *testing.T, b *Client) error {
			_, err := b.GetDatabase(bg, "no_such_db")
			return err
		}},
		{"list databases", nil, func(t *testing.T, b *Client) error {
			dbs, err := b.ListDatabases(bg)
			if err == nil {
				check(t, slices.Contains(dbs, db) && slices.Contains(dbs, "default") && slices.IsSorted(dbs), "databases = %v", dbs)
			}
			return err
		}},
		{"alter database", nil, func(t *testing.T, b *Client) error {
			d, err := b.GetDatabase(bg, db)
			if err != nil {
				return err
			}
			d.Parameters["team"] = "finance"
			if err := b.AlterDatabase(bg, db, d); err != nil {
				return err
			}
			d, err = b.GetDatabase(bg, db)
			if err == nil {
				check(t, d.Parameters["team"] == "finance", "after alter_database: %v", d.Parameters)
			}
			return err
		}},
		{"create table", nil, func(t *testing.T, b *Client) error {
			return b.CreateTable(bg, salesTable(db, tbl, loc))
		}},
		{"create second table", nil, func(t *testing.T, b *Client) error {
			tb := salesTable(db, "refunds", root+"/up_sales.db/refunds")
			tb.PartitionKeys = nil
			tb.Parameters["comment"] = "refunds"
			return b.CreateTable(bg, tb)
		}},
		{"create view", nil, func(t *testing.T, b *Client) error {
			text := "SELECT id, amount FROM up_sales.sales"
			return b.CreateTable(bg, &hm.Table{
				DbName: db, TableName: "v_sales", Owner: "alice", TableType: "VIRTUAL_VIEW",
				Sd:               &hm.StorageDescriptor{Cols: []*hm.FieldSchema{col("id", "bigint"), col("amount", "double")}, SerdeInfo: &hm.SerDeInfo{Parameters: map[string]string{}}, Parameters: map[string]string{}},
				ViewOriginalText: text, ViewExpandedText: text,
				Parameters: map[string]string{"comment": "a view"},
			})
		}},
		{"create table duplicate", []errs.Kind{errs.KindExists}, func(t *testing.T, b *Client) error {
			return b.CreateTable(bg, salesTable(db, tbl, loc))
		}},
		{"create table in missing database", []errs.Kind{errs.KindNotFound, errs.KindInvalid}, func(t *testing.T, b *Client) error {
			return b.CreateTable(bg, salesTable("no_such_db", tbl, root+"/x"))
		}},
		{"get table", nil, func(t *testing.T, b *Client) error {
			got, err := b.GetTable(bg, db, tbl)
			if err == nil {
				check(t, got.TableName == tbl && got.DbName == db && got.TableType == "EXTERNAL_TABLE", "table = %s.%s %s", got.DbName, got.TableName, got.TableType)
				check(t, len(got.Sd.Cols) == 3 && got.Sd.Cols[2].Name == "email" && len(got.PartitionKeys) == 2, "columns %v keys %v", got.Sd.Cols, got.PartitionKeys)
				check(t, strings.HasSuffix(got.Sd.Location, "/up_sales.db/sales"), "location %q", got.Sd.Location)
			}
			return err
		}},
		{"get table missing", nf, func(t *testing.T, b *Client) error {
			_, err := b.GetTable(bg, db, "no_such_table")
			return err
		}},
		{"get table in missing database", nf, func(t *testing.T, b *Client) error {
			_, err := b.GetTable(bg, "no_such_db", tbl)
			return err
		}},
		{"get tables in the order asked, missing omitted", nil, func(t *testing.T, b *Client) error {
			ts, err := b.GetTables(bg, db, []string{"v_sales", "nope", "sales", "refunds"})
			if err == nil {
				got := names(ts, func(t *hm.Table) string { return t.TableName })
				check(t, slices.Equal(got, []string{"v_sales", "sales", "refunds"}), "get_tables = %v", got)
			}
			return err
		}},
		{"list tables", nil, func(t *testing.T, b *Client) error {
			infos, err := b.ListTables(bg, db)
			if err == nil {
				got := names(infos, func(i hms.TableInfo) string { return i.Name + ":" + i.Type + ":" + i.Comment })
				check(t, slices.Equal(got, []string{"refunds:EXTERNAL_TABLE:refunds", "sales:EXTERNAL_TABLE:sales facts", "v_sales:VIRTUAL_VIEW:a view"}), "list_tables = %v", got)
			}
			return err
		}},
		{"list tables of missing database", nf, func(t *testing.T, b *Client) error {
			_, err := b.ListTables(bg, "no_such_db")
			return err
		}},
		{"alter table", nil, func(t *testing.T, b *Client) error {
			got, err := b.GetTable(bg, db, tbl)
			if err != nil {
				return err
			}
			got.Parameters["owner.team"] = "payments"
			got.Sd.Cols = append(got.Sd.Cols, col("note", "string"))
			if err := b.AlterTable(bg, db, tbl, got, true); err != nil {
				return err
			}
			got, err = b.GetTable(bg, db, tbl)
			if err == nil {
				check(t, got.Parameters["owner.team"] == "payments" && len(got.Sd.Cols) == 4, "after alter: %v %v", got.Parameters, got.Sd.Cols)
			}
			return err
		}},
		{"alter missing table", []errs.Kind{errs.KindConflict, errs.KindNotFound, errs.KindInvalid}, func(t *testing.T, b *Client) error {
			return b.AlterTable(bg, db, "no_such_table", salesTable(db, "no_such_table", root+"/y"), false)
		}},
		{"add partitions", nil, func(t *testing.T, b *Client) error {
			in := []*hm.Partition{partition(db, tbl, loc, "us", "1"), partition(db, tbl, loc, "us", "2"), partition(db, tbl, loc, "eu", "1")}
			added, err := b.AddPartitions(bg, db, tbl, in, false)
			if err == nil {
				check(t, slices.Equal(partNames(added), []string{"us/1", "us/2", "eu/1"}), "added %v", partNames(added))
			}
			return err
		}},
		{"add partitions duplicate", []errs.Kind{errs.KindExists}, func(t *testing.T, b *Client) error {
			_, err := b.AddPartitions(bg, db, tbl, []*hm.Partition{partition(db, tbl, loc, "us", "1")}, false)
			return err
		}},
		{"add partitions if not exists", nil, func(t *testing.T, b *Client) error {
			added, err := b.AddPartitions(bg, db, tbl, []*hm.Partition{partition(db, tbl, loc, "us", "1"), partition(db, tbl, loc, "eu", "2")}, true)
			if err == nil {
				check(t, slices.Equal(partNames(added), []string{"eu/2"}), "added %v", partNames(added))
			}
			return err
		}},
		{"add partitions to missing table", []errs.Kind{errs.KindNotFound, errs.KindInvalid}, func(t *testing.T, b *Client) error {
			_, err := b.AddPartitions(bg, db, "no_such_table", []*hm.Partition{partition(db, "no_such_table", loc, "us", "1")}, false)
			return err
		}},
		{"get partition", nil, func(t *testing.T, b *Client) error {
			p, err := b.GetPartition(bg, db, tbl, []string{"us", "2"})
			if err == nil {
				check(t, slices.Equal(p.Values, []string{"us", "2"}) && strings.HasSuffix(p.Sd.Location, "region=us/day=2"), "partition %v at %s", p.Values, p.Sd.Location)
			}
			return err
		}},
		{"get partition missing", nf, func(t *testing.T, b *Client) error {
			_, err := b.GetPartition(bg, db, tbl, []string{"us", "9"})
			return err
		}},
		{"get partitions by names, missing omitted", nil, func(t *testing.T, b *Client) error {
			ps, err := b.GetPartitionsByNames(bg, db, tbl, []string{"region=eu/day=1", "region=xx/day=1", "region=us/day=1"})
			if err == nil {
				got := partNames(ps)
				slices.Sort(got)
				check(t, slices.Equal(got, []string{"eu/1", "us/1"}), "by names %v", got)
			}
			return err
		}},
		{"list partitions", nil, func(t *testing.T, b *Client) error {
			ps, err := b.ListPartitions(bg, db, tbl, hms.PartitionQuery{})
			if err == nil {
				check(t, slices.Equal(partNames(ps), []string{"eu/1", "eu/2", "us/1", "us/2"}), "all %v", partNames(ps))
			}
			return err
		}},
		{"list partitions by values", nil, func(t *testing.T, b *Client) error {
			ps, err := b.ListPartitions(bg, db, tbl, hms.PartitionQuery{Values: []string{"us"}})
			if err == nil {
				check(t, slices.Equal(partNames(ps), []string{"us/1", "us/2"}), "us %v", partNames(ps))
			}
			return err
		}},
		{"list partitions by filter, max", nil, func(t *testing.T, b *Client) error {
			ps, err := b.ListPartitions(bg, db, tbl, hms.PartitionQuery{Filter: `region = "eu"`})
			if err != nil {
				return err
			}
			check(t, slices.Equal(partNames(ps), []string{"eu/1", "eu/2"}), "eu %v", partNames(ps))
			ps, err = b.ListPartitions(bg, db, tbl, hms.PartitionQuery{Max: 1})
			if err == nil {
				check(t, len(ps) == 1, "max 1: %v", partNames(ps))
			}
			return err
		}},
		{"list partitions of missing table", nf, func(t *testing.T, b *Client) error {
			_, err := b.ListPartitions(bg, db, "no_such_table", hms.PartitionQuery{})
			return err
		}},
		{"list partition names", nil, func(t *testing.T, b *Client) error {
			all, err := b.ListPartitionNames(bg, db, tbl, hms.PartitionQuery{})
			if err != nil {
				return err
			}
			check(t, slices.Equal(all, []string{"region=eu/day=1", "region=eu/day=2", "region=us/day=1", "region=us/day=2"}), "names %v", all)
			us, err := b.ListPartitionNames(bg, db, tbl, hms.PartitionQuery{Values: []string{"us"}})
			if err != nil {
				return err
			}
			check(t, slices.Equal(us, []string{"region=us/day=1", "region=us/day=2"}), "us names %v", us)
			day1, err := b.ListPartitionNames(bg, db, tbl, hms.PartitionQuery{Filter: "day = 1"})
			if err == nil {
				check(t, slices.Equal(day1, []string{"region=eu/day=1", "region=us/day=1"}), "day=1 names %v", day1)
			}
			return err
		}},
		{"count partitions", nil, func(t *testing.T, b *Client) error {
			for _, c := range []struct {
				q    hms.PartitionQuery
				want int
			}{{hms.PartitionQuery{}, 4}, {hms.PartitionQuery{Values: []string{"eu"}}, 2}, {hms.PartitionQuery{Filter: `region = "us" and day = 2`}, 1}} {
				n, err := b.CountPartitions(bg, db, tbl, c.q)
				if err != nil {
					return err
				}
				check(t, n == c.want, "count %+v = %d, want %d", c.q, n, c.want)
			}
			return nil
		}},
		{"alter partitions", nil, func(t *testing.T, b *Client) error {
			p, err := b.GetPartition(bg, db, tbl, []string{"eu", "2"})
			if err != nil {
				return err
			}
			p.Parameters["quality"] = "checked"
			if err := b.AlterPartitions(bg, db, tbl, []*hm.Partition{p}); err != nil {
				return err
			}
			p, err = b.GetPartition(bg, db, tbl, []string{"eu", "2"})
			if err == nil {
				check(t, p.Parameters["quality"] == "checked", "after alter: %v", p.Parameters)
			}
			return err
		}},
		{"alter missing partition", []errs.Kind{errs.KindConflict, errs.KindNotFound, errs.KindInvalid}, func(t *testing.T, b *Client) error {
			return b.AlterPartitions(bg, db, tbl, []*hm.Partition{partition(db, tbl, loc, "xx", "9")})
		}},
		{"rename partition", nil, func(t *testing.T, b *Client) error {
			p, err := b.GetPartition(bg, db, tbl, []string{"eu", "2"})
			if err != nil {
				return err
			}
			p.Values = []string{"eu", "3"}
			p.Sd.Location = loc + "/region=eu/day=3"
			if err := b.RenamePartition(bg, db, tbl, []string{"eu", "2"}, p); err != nil {
				return err
			}
			if _, err := b.GetPartition(bg, db, tbl, []string{"eu", "2"}); errs.KindOf(err) != errs.KindNotFound {
				t.Errorf("old partition after rename: %v", err)
			}
			_, err = b.GetPartition(bg, db, tbl, []string{"eu", "3"})
			return err
		}},
		{"drop partition", nil, func(t *testing.T, b *Client) error {
			p, err := b.DropPartition(bg, db, tbl, []string{"eu", "3"}, false)
			if err == nil {
				check(t, slices.Equal(p.Values, []string{"eu", "3"}), "dropped %v", p.Values)
			}
			return err
		}},
		{"drop partition missing", nf, func(t *testing.T, b *Client) error {
			_, err := b.DropPartition(bg, db, tbl, []string{"eu", "3"}, false)
			return err
		}},
		{"update and read table statistics", nil, func(t *testing.T, b *Client) error {
			if err := b.UpdateColumnStatistics(bg, longStats(db, tbl, "", "id", 100)); err != nil {
				return err
			}
			objs, err := b.TableColumnStatistics(bg, db, tbl, []string{"id", "amount"})
			if err == nil {
				check(t, len(objs) == 1 && objs[0].ColName == "id" && objs[0].StatsData.LongStats.GetHighValue() == 100, "table stats %v", objs)
			}
			return err
		}},
		{"update and read partition statistics", nil, func(t *testing.T, b *Client) error {
			if err := b.UpdateColumnStatistics(bg, longStats(db, tbl, "region=us/day=1", "id", 7)); err != nil {
				return err
			}
			m, err := b.PartitionColumnStatistics(bg, db, tbl, []string{"region=us/day=1", "region=us/day=2"}, []string{"id"})
			if err == nil {
				objs := m["region=us/day=1"]
				check(t, len(m) == 1 && len(objs) == 1 && objs[0].StatsData.LongStats.GetHighValue() == 7, "partition stats %v", m)
			}
			return err
		}},
		{"delete statistics", nil, func(t *testing.T, b *Client) error {
			if err := b.DeleteColumnStatistics(bg, db, tbl, "", "id"); err != nil {
				return err
			}
			objs, err := b.TableColumnStatistics(bg, db, tbl, []string{"id"})
			if err != nil {
				return err
			}
			check(t, len(objs) == 0, "table stats after delete: %v", objs)
			if err := b.DeleteColumnStatistics(bg, db, tbl, "region=us/day=1", ""); err != nil {
				return err
			}
			m, err := b.PartitionColumnStatistics(bg, db, tbl, []string{"region=us/day=1"}, []string{"id"})
			if err == nil {
				check(t, len(m["region=us/day=1"]) == 0, "partition stats after delete: %v", m)
			}
			return err
		}},
		{"delete statistics missing", nf, func(t *testing.T, b *Client) error {
			return b.DeleteColumnStatistics(bg, db, tbl, "", "id")
		}},
		{"create function", nil, func(t *testing.T, b *Client) error {
			return b.CreateFunction(bg, &hm.Function{
				FunctionName: "mask_email", DbName: db, ClassName: "com.example.MaskEmail", OwnerName: "alice",
				OwnerType: hm.PrincipalType_USER, FunctionType: hm.FunctionType_JAVA, CreateTime: int32(time.Now().Unix()),
				ResourceUris: []*hm.ResourceUri{},
			})
		}},
		{"create function duplicate", []errs.Kind{errs.KindExists}, func(t *testing.T, b *Client) error {
			return b.CreateFunction(bg, &hm.Function{
				FunctionName: "mask_email", DbName: db, ClassName: "com.example.Other", OwnerName: "alice",
				OwnerType: hm.PrincipalType_USER, FunctionType: hm.FunctionType_JAVA, ResourceUris: []*hm.ResourceUri{},
			})
		}},
		{"get, list and alter function", nil, func(t *testing.T, b *Client) error {
			f, err := b.GetFunction(bg, db, "mask_email")
			if err != nil {
				return err
			}
			check(t, f.ClassName == "com.example.MaskEmail", "function %+v", f)
			fs, err := b.ListFunctions(bg, db)
			if err != nil {
				return err
			}
			check(t, len(fs) == 1 && fs[0].FunctionName == "mask_email", "functions of db: %v", fs)
			all, err := b.ListFunctions(bg, "")
			if err != nil {
				return err
			}
			check(t, slices.ContainsFunc(all, func(f *hm.Function) bool { return f.FunctionName == "mask_email" }), "all functions: %v", all)
			f.ClassName = "com.example.MaskEmailV2"
			if err := b.AlterFunction(bg, db, "mask_email", f); err != nil {
				return err
			}
			f, err = b.GetFunction(bg, db, "mask_email")
			if err == nil {
				check(t, f.ClassName == "com.example.MaskEmailV2", "after alter: %s", f.ClassName)
			}
			return err
		}},
		{"list functions of missing database", nf, func(t *testing.T, b *Client) error {
			_, err := b.ListFunctions(bg, "no_such_db")
			return err
		}},
		{"drop function", nil, func(t *testing.T, b *Client) error {
			return b.DropFunction(bg, db, "mask_email")
		}},
		{"get function missing", nf, func(t *testing.T, b *Client) error {
			_, err := b.GetFunction(bg, db, "mask_email")
			return err
		}},
		{"lock, check, heartbeat, show", nil, func(t *testing.T, b *Client) error {
			lc := hm.NewLockComponent()
			lc.Type, lc.Level, lc.Dbname, lc.Tablename = hm.LockType_SHARED_READ, hm.LockLevel_TABLE, db, ptr(tbl)
			req := hm.NewLockRequest()
			req.Component, req.User, req.Hostname = []*hm.LockComponent{lc}, "alice", "host1"
			res, err := b.Lock(bg, req)
			if err != nil {
				return err
			}
			check(t, res.State == hm.LockState_ACQUIRED, "lock state %v", res.State)
			lockID = res.Lockid
			if res, err = b.CheckLock(bg, lockID); err != nil {
				return err
			}
			check(t, res.State == hm.LockState_ACQUIRED, "check_lock state %v", res.State)
			if err := b.Heartbeat(bg, lockID); err != nil {
				return err
			}
			show, err := b.ShowLocks(bg, hm.NewShowLocksRequest())
			if err == nil {
				check(t, slices.ContainsFunc(show.Locks, func(l *hm.ShowLocksResponseElement) bool { return l.Lockid == lockID }), "show_locks: %v", show.Locks)
			}
			return err
		}},
		{"unlock", nil, func(t *testing.T, b *Client) error {
			return b.Unlock(bg, lockID)
		}},
		{"check unknown lock", nf, func(t *testing.T, b *Client) error {
			_, err := b.CheckLock(bg, lockID)
			return err
		}},
		{"events", nil, func(t *testing.T, b *Client) error {
			id, err := b.CurrentEventID(bg)
			if err != nil {
				return err
			}
			evs, err := b.NextEvents(bg, 0, 5)
			if err == nil {
				check(t, len(evs) <= 5 && id >= 0, "current %d, next %d events", id, len(evs))
				for i := 1; i < len(evs); i++ {
					check(t, evs[i].EventId > evs[i-1].EventId, "events out of order: %d after %d", evs[i].EventId, evs[i-1].EventId)
				}
			}
			return err
		}},
		{"drop table", nil, func(t *testing.T, b *Client) error {
			return b.DropTable(bg, db, "refunds", false)
		}},
		{"drop table missing", nf, func(t *testing.T, b *Client) error {
			return b.DropTable(bg, db, "refunds", false)
		}},
		{"drop non-empty database without cascade", []errs.Kind{errs.KindConflict}, func(t *testing.T, b *Client) error {
			return b.DropDatabase(bg, db, false, false)
		}},
		{"drop database cascade", nil, func(t *testing.T, b *Client) error {
			return b.DropDatabase(bg, db, false, true)
		}},
		{"get dropped database", nf, func(t *testing.T, b *Client) error {
			_, err := b.GetDatabase(bg, db)
			return err
		}},
	}
}

// runContract runs the contract table against b, in order (each step builds on the last).
// noTxn, when not empty, says why the upstream cannot serve the txn steps, which are skipped.
func runContract(t *testing.T, b *Client, root string, noTxn string) {
	for _, s := range contract(root) {
		t.Run(s.name, func(t *testing.T) {
			if txnSteps[s.name] && noTxn != "" {
				t.Skip(noTxn)
			}
			err := s.run(t, b)
			if errs.KindOf(err) == errs.KindUnavailable {
				t.Fatalf("upstream unavailable: %v", err)
			}
			switch {
			case len(s.want) == 0 && err != nil:
				t.Errorf("unexpected error (kind %v): %v", errs.KindOf(err), err)
			case len(s.want) > 0 && err == nil:
				t.Errorf("succeeded, want an error of kind %v", s.want)
			case len(s.want) > 0 && !slices.Contains(s.want, errs.KindOf(err)):
				t.Errorf("error kind %v, want %v: %v", errs.KindOf(err), s.want, err)
			}
		})
	}
}
