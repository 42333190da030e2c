package migrate

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/embedded"
	"github.com/propolis/propolis/internal/errs"
)

func openStore(t *testing.T) *embedded.Store {
	t.Helper()
	dir := t.TempDir()
	s, err := embedded.Open(context.Background(), embedded.Config{Driver: "sqlite", DSN: filepath.Join(dir, "catalog.db"),
		Warehouse: "file://" + filepath.Join(dir, "warehouse")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func parquetSD(loc string) *hm.StorageDescriptor {
	return &hm.StorageDescriptor{
		Cols:         []*hm.FieldSchema{{Name: "id", Type: "bigint"}, {Name: "name", Type: "string"}},
		Location:     loc,
		InputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
		OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
		SerdeInfo:    &hm.SerDeInfo{SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", Parameters: map[string]string{"serialization.format": "1"}},
	}
}

// fill makes a source catalog: a database on hdfs with a partitioned external table, an
// unpartitioned one with column statistics, a view, an ACID table and a function.
func fill(t *testing.T, s *embedded.Store, parts int) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateDatabase(ctx, &hm.Database{Name: "sales", LocationUri: "hdfs://nn/warehouse/sales.db", Description: "sales data",
		Parameters: map[string]string{"team": "revenue"}}))
	ext := map[string]string{"EXTERNAL": "TRUE"}
	must(s.CreateTable(ctx, &hm.Table{DbName: "sales", TableName: "orders", Owner: "etl", TableType: "EXTERNAL_TABLE", Parameters: ext,
		Sd: parquetSD("hdfs://nn/warehouse/sales.db/orders"), PartitionKeys: []*hm.FieldSchema{{Name: "day", Type: "string"}}}))
	var ps []*hm.Partition
	for i := 0; i < parts; i++ {
		v := fmt.Sprintf("2024-01-%03d", i)
		ps = append(ps, &hm.Partition{DbName: "sales", TableName: "orders", Values: []string{v},
			Sd: parquetSD("hdfs://nn/warehouse/sales.db/orders/day=" + v), Parameters: map[string]string{"numRows": fmt.Sprint(i)}})
	}
	_, err := s.AddPartitions(ctx, "sales", "orders", ps, false)
	must(err)
	must(s.CreateTable(ctx, &hm.Table{DbName: "sales", TableName: "customers", Owner: "etl", TableType: "EXTERNAL_TABLE",
		Parameters: map[string]string{"EXTERNAL": "TRUE", "numRows": "3"}, Sd: parquetSD("hdfs://nn/warehouse/sales.db/customers")}))
	nulls := int64(1)
	must(s.UpdateColumnStatistics(ctx, &hm.ColumnStatistics{
		StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: true, DbName: "sales", TableName: "customers"},
		StatsObj: []*hm.ColumnStatisticsObj{{ColName: "id", ColType: "bigint", StatsData: &hm.ColumnStatisticsData{
			LongStats: &hm.LongColumnStatsData{NumNulls: nulls, NumDVs: 3, LowValue: &nulls}}}}}))
	must(s.CreateTable(ctx, &hm.Table{DbName: "sales", TableName: "big_orders", Owner: "analyst", TableType: "VIRTUAL_VIEW",
		ViewOriginalText: "select * from orders where id > 100", ViewExpandedText: "select `orders`.`id` from `sales`.`orders` where `orders`.`id` > 100",
		Sd: &hm.StorageDescriptor{Cols: []*hm.FieldSchema{{Name: "id", Type: "bigint"}}, SerdeInfo: &hm.SerDeInfo{}}}))
	must(s.CreateTable(ctx, &hm.Table{DbName: "sales", TableName: "acid", Owner: "etl", TableType: "MANAGED_TABLE",
		Parameters: map[string]string{"transactional": "true"}, Sd: parquetSD("hdfs://nn/warehouse/sales.db/acid")}))
	must(s.CreateFunction(ctx, &hm.Function{DbName: "sales", FunctionName: "tax", ClassName: "com.example.Tax", OwnerName: "etl",
		OwnerType: hm.PrincipalType_USER, FunctionType: hm.FunctionType_JAVA}))
}

func testConfig(execute bool) Config {
	return Config{Source: "thrift://old:9083", Databases: []string{"sales"}, Execute: execute, BatchSize: 7, Concurrency: 2,
		Locations: LocationMap{{From: "hdfs://nn/warehouse", To: "s3a://lake/warehouse"}}}
}

func verifyClean(t *testing.T, src Source, dst Target) *VerifyReport {
	t.Helper()
	rep, err := Verify(context.Background(), src, dst, testConfig(false))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Differences {
		t.Errorf("difference: %s: %s", d.Object, d.Detail)
	}
	return rep
}

func TestApplyDryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	src, dst := openStore(t), openStore(t)
	fill(t, src, 20)
	var actions []Action
	cfg := testConfig(false)
	cfg.OnAction = func(a Action) { actions = append(actions, a) }
	rep, err := Apply(ctx, src, dst, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.GetDatabase(ctx, "sales"); !isNotFound(err) {
		t.Fatalf("a dry run created the database: %v", err)
	}
	if rep.Ops["create-database"] != 1 || rep.Ops["create-table"] != 3 || rep.PartitionsAdded != 20 || rep.Ops["create-function"] != 1 {
		t.Errorf("dry run report: %+v", rep)
	}
	if len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0].Object, "sales.acid") {
		t.Errorf("skipped: %+v", rep.Skipped)
	}
	if len(actions) == 0 || actions[0].Op != "create-database" || actions[0].Detail != "s3a://lake/warehouse/sales.db" {
		t.Errorf("actions: %+v", actions)
	}
}

func TestApplyVerifyIncremental(t *testing.T) {
	ctx := context.Background()
	src, dst := openStore(t), openStore(t)
	fill(t, src, 20)
	rep, err := Apply(ctx, src, dst, testConfig(true))
	if err != nil {
		t.Fatal(err)
	}
	if rep.PartitionsAdded != 20 || rep.Tables != 4 {
		t.Errorf("first apply: %+v", rep)
	}
	vr := verifyClean(t, src, dst)
	if vr.Tables != 3 || vr.Partitions != 20 || vr.Functions != 1 || len(vr.Skipped) != 1 {
		t.Errorf("verify counts: %+v", vr)
	}
	p, err := dst.GetPartition(ctx, "sales", "orders", []string{"2024-01-003"})
	if err != nil || p.Sd.Location != "s3a://lake/warehouse/sales.db/orders/day=2024-01-003" {
		t.Fatalf("translated partition: %v %+v", err, p)
	}
	v, err := dst.GetTable(ctx, "sales", "big_orders")
	if err != nil || v.ViewExpandedText == "" {
		t.Fatalf("view: %v %+v", err, v)
	}

	// Unchanged source: a second run changes nothing.
	rep, err = Apply(ctx, src, dst, testConfig(true))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unchanged != 3 || rep.PartitionsAdded+rep.PartitionsAltered+rep.PartitionsDropped != 0 {
		t.Errorf("second apply of an unchanged source: %+v", rep)
	}

	// Changes on the source: a partition added, one altered, one dropped, a table parameter.
	if _, err := src.AddPartitions(ctx, "sales", "orders", []*hm.Partition{{DbName: "sales", TableName: "orders", Values: []string{"2025-01-01"},
		Sd: parquetSD("hdfs://nn/warehouse/sales.db/orders/day=2025-01-01")}}, false); err != nil {
		t.Fatal(err)
	}
	p5, _ := src.GetPartition(ctx, "sales", "orders", []string{"2024-01-005"})
	p5.Sd.Location = "hdfs://nn/warehouse/sales.db/orders/moved"
	if err := src.AlterPartitions(ctx, "sales", "orders", []*hm.Partition{p5}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.DropPartition(ctx, "sales", "orders", []string{"2024-01-007"}, false); err != nil {
		t.Fatal(err)
	}
	if err := src.DropTable(ctx, "sales", "big_orders", false); err != nil {
		t.Fatal(err)
	}
	// A table made in Propolis itself is not the migration's to drop.
	if err := dst.CreateTable(ctx, &hm.Table{DbName: "sales", TableName: "local_only", TableType: "EXTERNAL_TABLE",
		Parameters: map[string]string{"EXTERNAL": "TRUE"}, Sd: parquetSD("s3a://lake/local_only")}); err != nil {
		t.Fatal(err)
	}
	cust, _ := src.GetTable(ctx, "sales", "customers")
	cust.Parameters["comment"] = "now documented"
	if err := src.AlterTable(ctx, "sales", "customers", cust, false); err != nil {
		t.Fatal(err)
	}
	if d := verifyDiffs(t, src, dst); d < 4 {
		t.Errorf("verify saw %d differences after 4 source changes", d)
	}
	rep, err = Apply(ctx, src, dst, testConfig(true))
	if err != nil {
		t.Fatal(err)
	}
	if rep.PartitionsAdded != 1 || rep.PartitionsAltered != 1 || rep.PartitionsDropped != 1 || rep.Ops["alter-table"] != 1 || rep.Ops["drop-table"] != 1 {
		t.Errorf("incremental apply: %+v", rep)
	}
	if _, err := dst.GetTable(ctx, "sales", "big_orders"); !isNotFound(err) {
		t.Errorf("the view dropped on the source is still in the target: %v", err)
	}
	if err := dst.DropTable(ctx, "sales", "local_only", false); err != nil {
		t.Errorf("the table made in Propolis was dropped by the migration: %v", err)
	}
	verifyClean(t, src, dst)
}

func verifyDiffs(t *testing.T, src Source, dst Target) int {
	t.Helper()
	rep, err := Verify(context.Background(), src, dst, testConfig(false))
	if err != nil {
		t.Fatal(err)
	}
	return len(rep.Differences)
}

// failing breaks the target after a number of partition writes, as a kill would.
type failing struct {
	Target
	left atomic.Int64
}

func (f *failing) AddPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition, ifNotExists bool) ([]*hm.Partition, error) {
	if f.left.Add(-1) < 0 {
		return nil, errs.Unavailable("killed")
	}
	return f.Target.AddPartitions(ctx, db, tbl, parts, ifNotExists)
}

func TestApplyResumes(t *testing.T) {
	ctx := context.Background()
	src, dst := openStore(t), openStore(t)
	fill(t, src, 50)
	// A second partitioned table, so the first run completes one table before it dies.
	if err := src.CreateTable(ctx, &hm.Table{DbName: "sales", TableName: "a_small", TableType: "EXTERNAL_TABLE", Parameters: map[string]string{"EXTERNAL": "TRUE"},
		Sd: parquetSD("hdfs://nn/warehouse/sales.db/a_small"), PartitionKeys: []*hm.FieldSchema{{Name: "k", Type: "int"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.AddPartitions(ctx, "sales", "a_small", []*hm.Partition{{Values: []string{"1"}, Sd: parquetSD("hdfs://nn/warehouse/sales.db/a_small/k=1")}}, false); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(true)
	cfg.Concurrency = 1
	f := &failing{Target: dst}
	f.left.Store(4) // a_small's one batch, then 3 of orders' 8
	if _, err := Apply(ctx, src, f, cfg); err == nil {
		t.Fatal("the interrupted apply succeeded")
	}
	db, _ := dst.GetDatabase(ctx, "sales")
	if db.Parameters[paramState] != "running" {
		t.Fatalf("checkpoint after the interruption: %v", db.Parameters)
	}
	rep, err := Apply(ctx, src, dst, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Resumed < 2 || rep.PartitionsAdded != 50-21 {
		t.Errorf("resumed apply: resumed %d tables, added %d partitions (want >= 2 and 29): %+v", rep.Resumed, rep.PartitionsAdded, rep)
	}
	verifyClean(t, src, dst)
	db, _ = dst.GetDatabase(ctx, "sales")
	if db.Parameters[paramState] != "done" {
		t.Errorf("checkpoint after completion: %v", db.Parameters)
	}
}

func TestLocationMap(t *testing.T) {
	m, err := NewLocationMap([]Mapping{{"hdfs://nn/warehouse", "s3a://lake/wh"}, {"hdfs://nn/warehouse/special", "s3a://special/"}})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"hdfs://nn/warehouse":               "s3a://lake/wh",
		"hdfs://nn/warehouse/a.db/t":        "s3a://lake/wh/a.db/t",
		"hdfs://nn/warehouse/special/x":     "s3a://special/x",
		"hdfs://nn/warehouse2/x":            "hdfs://nn/warehouse2/x",
		"hdfs://other/warehouse/x":          "hdfs://other/warehouse/x",
		"hdfs://nn/warehouse/specialist/x/": "s3a://lake/wh/specialist/x/",
	} {
		if got, _ := m.Translate(in); got != want {
			t.Errorf("Translate(%q) = %q, want %q", in, got, want)
		}
	}
	// What a metastore stores for file:///x is file:/x: one mapping covers both.
	fm := LocationMap{{From: "file:///data/old", To: "file:///data/new"}}
	for in, want := range map[string]string{
		"file:///data/old/t": "file:///data/new/t",
		"file:/data/old/t":   "file:///data/new/t",
		"file:/data/older":   "file:/data/older",
	} {
		if got, _ := fm.Translate(in); got != want {
			t.Errorf("Translate(%q) = %q, want %q", in, got, want)
		}
	}
	text := "select * from parquet.`hdfs://nn/warehouse/a.db/t` join parquet.`hdfs://nn/warehouse2/x`"
	if got := m.TranslateText(text); got != "select * from parquet.`s3a://lake/wh/a.db/t` join parquet.`hdfs://nn/warehouse2/x`" {
		t.Errorf("TranslateText = %q", got)
	}
	for _, bad := range []string{"a", "=b", "hdfs://x=", "/local=s3a://x"} {
		if _, err := ParseMapping(bad); err == nil {
			t.Errorf("ParseMapping(%q) accepted", bad)
		}
	}
	if _, err := NewLocationMap([]Mapping{{"hdfs://a/", "s3a://x"}, {"hdfs://a", "s3a://y"}}); err == nil {
		t.Error("a prefix mapped twice was accepted")
	}
}

func TestPlan(t *testing.T) {
	src := openStore(t)
	fill(t, src, 20)
	cfg := testConfig(false)
	cfg.Databases = nil
	p, err := PlanSource(context.Background(), src, cfg, "old:9083")
	if err != nil {
		t.Fatal(err)
	}
	if p.Tables != 4 || p.Partitions != 20 || p.Functions != 1 || p.ByType["VIRTUAL_VIEW"] != 1 || p.ByFormat["parquet"] != 3 {
		t.Errorf("plan: %+v", p)
	}
	if len(p.Views) != 1 || len(p.Views[0].References) != 1 || p.Views[0].References[0] != "sales.orders" {
		t.Errorf("views: %+v", p.Views)
	}
	var acid bool
	for _, a := range p.Attention {
		acid = acid || strings.Contains(a.Object, "sales.acid")
	}
	if !acid {
		t.Errorf("attention lacks the ACID table: %+v", p.Attention)
	}
	var hdfs *LocationGroup
	for i, g := range p.Locations {
		if g.Prefix == "hdfs://nn/warehouse" {
			hdfs = &p.Locations[i]
		}
	}
	if hdfs == nil || hdfs.Tables != 3 || hdfs.Partitions != 20 || hdfs.Target != "s3a://lake/warehouse" {
		t.Errorf("locations: %+v", p.Locations)
	}
	if !strings.Contains(p.Federation, "mapping: {sales: sales}") {
		t.Errorf("federation stanza:\n%s", p.Federation)
	}
}

// --database-map: the copy lands under another name, view texts follow, verify compares
// through the same mapping.
func TestApplyRenamesDatabases(t *testing.T) {
	ctx := context.Background()
	src, store := openStore(t), openStore(t)
	fill(t, src, 10)
	m := DatabaseMap{}
	if err := m.Parse("sales=legacy_sales"); err != nil {
		t.Fatal(err)
	}
	dst := Rename(store, m)
	if _, err := Apply(ctx, src, dst, testConfig(true)); err != nil {
		t.Fatal(err)
	}
	verifyClean(t, src, dst)
	if _, err := store.GetDatabase(ctx, "sales"); !isNotFound(err) {
		t.Errorf("the source name exists in the target: %v", err)
	}
	v, err := store.GetTable(ctx, "legacy_sales", "big_orders")
	if err != nil || !strings.Contains(v.ViewExpandedText, "`legacy_sales`.`orders`") || v.DbName != "legacy_sales" {
		t.Fatalf("renamed view: %v %+v", err, v)
	}
	names, err := store.ListPartitionNames(ctx, "legacy_sales", "orders", hms.PartitionQuery{})
	if err != nil || len(names) != 10 {
		t.Fatalf("partitions under the new name: %v %v", names, err)
	}
	fns, _ := store.ListFunctions(ctx, "legacy_sales")
	if len(fns) != 1 {
		t.Errorf("functions under the new name: %v", fns)
	}
	for _, bad := range []string{"a", "a=", "a=b.c", "sales=x"} {
		if err := m.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
