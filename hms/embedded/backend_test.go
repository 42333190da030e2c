package embedded

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

// suite is every Backend behaviour, run against each database.
var suite = []struct {
	name string
	run  func(t *testing.T, s *Store)
}{
	{"Databases", testDatabases},
	{"DropDatabase", testDropDatabase},
	{"Tables", testTables},
	{"AlterTable", testAlterTable},
	{"Partitions", testPartitions},
	{"PartitionQueries", testPartitionQueries},
	{"AlterPartitions", testAlterPartitions},
	{"Statistics", testStatistics},
	{"Functions", testFunctions},
	{"Locks", testLocks},
	{"Events", testEvents},
}

func TestBackend(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range suite {
				t.Run(tc.name, func(t *testing.T) {
					open := b.fresh(t)
					tc.run(t, open(t, Config{}))
				})
			}
		})
	}
}

func TestReopenIsIdempotent(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			open := b.fresh(t)
			s := open(t, Config{})
			ctx := context.Background()
			must(t, s.CreateDatabase(ctx, &hm.Database{Name: "keep"}))
			must(t, s.Close())
			s2 := open(t, Config{})
			must(t, s2.Ping(ctx))
			got, err := s2.ListDatabases(ctx)
			must(t, err)
			if !reflect.DeepEqual(got, []string{"default", "keep"}) {
				t.Fatalf("databases after reopen = %v", got)
			}
			var v int
			must(t, s2.db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v))
			if v != schemaVersion {
				t.Fatalf("schema version = %d", v)
			}
			if b.name == "sqlite" {
				var mode string
				var sync int
				must(t, s2.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
				must(t, s2.db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync))
				if mode != "wal" || sync != 2 {
					t.Fatalf("journal_mode=%s synchronous=%d, want wal and 2 (FULL)", mode, sync)
				}
			}
		})
	}
}

func testDatabases(t *testing.T, s *Store) {
	ctx := context.Background()
	def, err := s.GetDatabase(ctx, "DEFAULT")
	must(t, err)
	if def.Description != "Default Hive database" || def.LocationUri != s.root {
		t.Fatalf("default database = %+v", def)
	}
	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "Sales", Description: "d", Parameters: map[string]string{"k": "v"}}))
	got, err := s.GetDatabase(ctx, "sales")
	must(t, err)
	if got.Name != "sales" || got.LocationUri != s.root+"/sales.db" || got.Parameters["k"] != "v" || got.CreateTime == nil {
		t.Fatalf("created database = %+v", got)
	}
	if !dirExists(localDir(t, got.LocationUri)) {
		t.Fatalf("database directory %s not created", got.LocationUri)
	}
	for _, tc := range []struct {
		name string
		db   *hm.Database
		kind errs.Kind
	}{
		{"duplicate", &hm.Database{Name: "SALES"}, errs.KindExists},
		{"bad name", &hm.Database{Name: "no-dash"}, errs.KindInvalid},
		{"empty name", &hm.Database{}, errs.KindInvalid},
		{"nil", nil, errs.KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) { wantKind(t, s.CreateDatabase(ctx, tc.db), tc.kind) })
	}
	_, err = s.GetDatabase(ctx, "nope")
	wantKind(t, err, errs.KindNotFound)

	must(t, s.AlterDatabase(ctx, "sales", &hm.Database{Name: "sales", Description: "new"}))
	got, err = s.GetDatabase(ctx, "sales")
	must(t, err)
	if got.Description != "new" || got.LocationUri != s.root+"/sales.db" {
		t.Fatalf("altered database = %+v", got)
	}
	wantKind(t, s.AlterDatabase(ctx, "nope", &hm.Database{}), errs.KindNotFound)
	wantKind(t, s.AlterDatabase(ctx, "sales", &hm.Database{Name: "other"}), errs.KindInvalid)

	names, err := s.ListDatabases(ctx)
	must(t, err)
	if !reflect.DeepEqual(names, []string{"default", "sales"}) {
		t.Fatalf("ListDatabases = %v", names)
	}
}

func testDropDatabase(t *testing.T, s *Store) {
	ctx := context.Background()
	wantKind(t, s.DropDatabase(ctx, "default", true, true), errs.KindConflict)
	wantKind(t, s.DropDatabase(ctx, "nope", false, false), errs.KindNotFound)

	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "d1"}))
	must(t, s.CreateTable(ctx, table("d1", "t1", "dt")))
	_, err := s.AddPartitions(ctx, "d1", "t1", []*hm.Partition{part("2024")}, false)
	must(t, err)
	must(t, s.CreateFunction(ctx, &hm.Function{DbName: "d1", FunctionName: "f", ClassName: "x.F"}))
	wantKind(t, s.DropDatabase(ctx, "d1", false, false), errs.KindConflict)

	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "d2"}))
	must(t, s.CreateFunction(ctx, &hm.Function{DbName: "d2", FunctionName: "f", ClassName: "x.F"}))
	wantKind(t, s.DropDatabase(ctx, "d2", false, false), errs.KindConflict)

	db, err := s.GetDatabase(ctx, "d1")
	must(t, err)
	must(t, s.DropDatabase(ctx, "D1", true, true))
	_, err = s.GetDatabase(ctx, "d1")
	wantKind(t, err, errs.KindNotFound)
	_, err = s.GetTable(ctx, "d1", "t1")
	wantKind(t, err, errs.KindNotFound)
	fns, err := s.ListFunctions(ctx, "")
	must(t, err)
	if len(fns) != 1 || fns[0].DbName != "d2" {
		t.Fatalf("functions after cascade drop = %v", fns)
	}
	if dirExists(localDir(t, db.LocationUri)) {
		t.Fatalf("deleteData left %s", db.LocationUri)
	}
	var n int
	must(t, s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM parts`).Scan(&n))
	if n != 0 {
		t.Fatalf("%d partitions left after cascade drop", n)
	}
	// Without deleteData the directory stays.
	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "d3"}))
	db3, err := s.GetDatabase(ctx, "d3")
	must(t, err)
	must(t, s.DropDatabase(ctx, "d3", false, false))
	if !dirExists(localDir(t, db3.LocationUri)) {
		t.Fatalf("drop without deleteData removed %s", db3.LocationUri)
	}
}

func testTables(t *testing.T, s *Store) {
	ctx := context.Background()
	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "db"}))
	in := table("DB", "Events", "DT")
	must(t, s.CreateTable(ctx, in))
	if in.TableName != "Events" || in.Sd.Location != "" {
		t.Fatal("CreateTable modified its argument")
	}
	got, err := s.GetTable(ctx, "db", "EVENTS")
	must(t, err)
	wantLoc := s.root + "/db.db/events"
	if got.TableName != "events" || got.DbName != "db" || got.Sd.Location != wantLoc || got.CreateTime == 0 ||
		got.Parameters[ddlTimeParam] == "" || got.Parameters["spark.sql.sources.provider"] != "parquet" ||
		got.Sd.Cols[0].Name != "id" || got.PartitionKeys[0].Name != "dt" {
		t.Fatalf("stored table = %+v sd=%+v", got, got.Sd)
	}
	if !dirExists(localDir(t, wantLoc)) {
		t.Fatalf("table directory %s not created", wantLoc)
	}
	ext := table("db", "ext")
	ext.TableType = "EXTERNAL_TABLE"
	ext.Sd.Location = "s3a://bucket/ext"
	must(t, s.CreateTable(ctx, ext))
	view := &hm.Table{DbName: "db", TableName: "v", TableType: "VIRTUAL_VIEW", ViewOriginalText: "select 1",
		ViewExpandedText: "select 1", Sd: &hm.StorageDescriptor{Cols: cols("x")}}
	must(t, s.CreateTable(ctx, view))
	gv, err := s.GetTable(ctx, "db", "v")
	must(t, err)
	if gv.Sd.Location != "" || gv.ViewExpandedText != "select 1" {
		t.Fatalf("view = %+v", gv)
	}

	for _, tc := range []struct {
		name string
		tbl  *hm.Table
		kind errs.Kind
	}{
		{"duplicate", table("db", "EVENTS"), errs.KindExists},
		{"no database", table("nodb", "t"), errs.KindNotFound},
		{"bad name", table("db", "a b"), errs.KindInvalid},
		{"duplicate column", func() *hm.Table { x := table("db", "x"); x.Sd.Cols = cols("a", "A"); return x }(), errs.KindInvalid},
		{"key is column", table("db", "x", "name"), errs.KindInvalid},
		{"empty column", func() *hm.Table { x := table("db", "x"); x.Sd.Cols = cols(""); return x }(), errs.KindInvalid},
		{"no sd", &hm.Table{DbName: "db", TableName: "x"}, errs.KindInvalid},
		{"nil", nil, errs.KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) { wantKind(t, s.CreateTable(ctx, tc.tbl), tc.kind) })
	}

	_, err = s.GetTable(ctx, "db", "nope")
	wantKind(t, err, errs.KindNotFound)
	ts, err := s.GetTables(ctx, "db", []string{"v", "nope", "Events"})
	must(t, err)
	if len(ts) != 2 || ts[0].TableName != "v" || ts[1].TableName != "events" {
		t.Fatalf("GetTables = %v", ts)
	}
	_, err = s.GetTables(ctx, "nodb", []string{"x"})
	wantKind(t, err, errs.KindNotFound)
	infos, err := s.ListTables(ctx, "db")
	must(t, err)
	want := []hms.TableInfo{
		{Name: "events", Type: "MANAGED_TABLE", Comment: "a table", Owner: "alice"},
		{Name: "ext", Type: "EXTERNAL_TABLE", Comment: "a table", Owner: "alice"},
		{Name: "v", Type: "VIRTUAL_VIEW"},
	}
	if !reflect.DeepEqual(infos, want) {
		t.Fatalf("ListTables = %+v", infos)
	}
	_, err = s.ListTables(ctx, "nodb")
	wantKind(t, err, errs.KindNotFound)

	// Drop: managed data goes with deleteData, external data never.
	_, err = s.AddPartitions(ctx, "db", "events", []*hm.Partition{part("1")}, false)
	must(t, err)
	must(t, s.DropTable(ctx, "db", "ext", true))
	must(t, s.DropTable(ctx, "db", "events", true))
	if dirExists(localDir(t, wantLoc)) {
		t.Fatal("managed table directory survived DropTable with deleteData")
	}
	wantKind(t, s.DropTable(ctx, "db", "events", false), errs.KindNotFound)
}

func testAlterTable(t *testing.T, s *Store) {
	ctx := context.Background()
	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "a"}))
	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "b"}))
	must(t, s.CreateTable(ctx, table("a", "t", "dt")))
	must(t, s.CreateTable(ctx, table("b", "taken")))
	_, err := s.AddPartitions(ctx, "a", "t", []*hm.Partition{part("1"), part("2")}, false)
	must(t, err)
	must(t, s.UpdateColumnStatistics(ctx, longStats("a", "t", "", "id", 7)))
	must(t, s.UpdateColumnStatistics(ctx, longStats("a", "t", "dt=1", "id", 3)))
	old, err := s.GetTable(ctx, "a", "t")
	must(t, err)
	marker := filepath.Join(localDir(t, old.Sd.Location), "dt=1", "data.parquet")
	must(t, writeFile(marker))

	for _, tc := range []struct {
		name    string
		db, tbl string
		edit    func(*hm.Table)
		kind    errs.Kind
	}{
		{"missing", "a", "nope", func(*hm.Table) {}, errs.KindNotFound},
		{"target exists", "a", "t", func(x *hm.Table) { x.DbName, x.TableName = "b", "taken" }, errs.KindExists},
		{"target db missing", "a", "t", func(x *hm.Table) { x.DbName = "nodb" }, errs.KindNotFound},
		{"partition keys", "a", "t", func(x *hm.Table) { x.PartitionKeys = cols("other") }, errs.KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := table("a", "t", "dt")
			tc.edit(x)
			wantKind(t, s.AlterTable(ctx, tc.db, tc.tbl, x, false), tc.kind)
		})
	}

	// Cascade: new column reaches every partition.
	x := table("a", "t", "dt")
	x.Sd.Cols = cols("id:int", "name", "extra")
	x.Sd.Location = old.Sd.Location
	must(t, s.AlterTable(ctx, "a", "t", x, true))
	p, err := s.GetPartition(ctx, "a", "t", []string{"1"})
	must(t, err)
	if len(p.Sd.Cols) != 3 {
		t.Fatalf("cascade did not reach partition: %v", p.Sd.Cols)
	}
	got, err := s.GetTable(ctx, "a", "t")
	must(t, err)
	if got.CreateTime != old.CreateTime {
		t.Fatalf("alter lost create time")
	}

	// Rename across databases moves the data, partitions and statistics.
	x.DbName, x.TableName = "b", "T2"
	must(t, s.AlterTable(ctx, "a", "t", x, false))
	_, err = s.GetTable(ctx, "a", "t")
	wantKind(t, err, errs.KindNotFound)
	got, err = s.GetTable(ctx, "b", "t2")
	must(t, err)
	if got.Sd.Location != s.root+"/b.db/t2" {
		t.Fatalf("renamed location = %s", got.Sd.Location)
	}
	if !fileExists(filepath.Join(localDir(t, got.Sd.Location), "dt=1", "data.parquet")) || fileExists(marker) {
		t.Fatal("rename did not move the data directory")
	}
	ps, err := s.ListPartitions(ctx, "b", "t2", hms.PartitionQuery{})
	must(t, err)
	if len(ps) != 2 || ps[0].DbName != "b" || ps[0].TableName != "t2" || ps[0].Sd.Location != got.Sd.Location+"/dt=1" {
		t.Fatalf("partitions after rename = %+v", ps[0])
	}
	st, err := s.TableColumnStatistics(ctx, "b", "t2", []string{"id"})
	must(t, err)
	pst, err := s.PartitionColumnStatistics(ctx, "b", "t2", []string{"dt=1"}, []string{"id"})
	must(t, err)
	if len(st) != 1 || len(pst["dt=1"]) != 1 {
		t.Fatalf("stats after rename: table %v partition %v", st, pst)
	}

	// An external table keeps its location on rename.
	ext := table("a", "ext")
	ext.TableType = "EXTERNAL_TABLE"
	ext.Sd.Location = "s3a://bucket/ext"
	must(t, s.CreateTable(ctx, ext))
	ext.TableName = "ext2"
	must(t, s.AlterTable(ctx, "a", "ext", ext, false))
	e2, err := s.GetTable(ctx, "a", "ext2")
	must(t, err)
	if e2.Sd.Location != "s3a://bucket/ext" {
		t.Fatalf("external rename moved location to %s", e2.Sd.Location)
	}
}

func testPartitions(t *testing.T, s *Store) {
	ctx := context.Background()
	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "db"}))
	must(t, s.CreateTable(ctx, table("db", "t", "dt", "Country")))
	must(t, s.CreateTable(ctx, table("db", "flat")))
	added, err := s.AddPartitions(ctx, "db", "t", []*hm.Partition{part("2024-01-01", "US"), part("2024/01:02", "x=y")}, false)
	must(t, err)
	if len(added) != 2 || added[0].CreateTime == 0 || added[0].Sd.Location != s.root+"/db.db/t/dt=2024-01-01/country=US" {
		t.Fatalf("added = %+v", added[0])
	}
	if !dirExists(localDir(t, added[0].Sd.Location)) {
		t.Fatal("partition directory not created")
	}
	names, err := s.ListPartitionNames(ctx, "db", "t", hms.PartitionQuery{})
	must(t, err)
	if !reflect.DeepEqual(names, []string{"dt=2024%2F01%3A02/country=x%3Dy", "dt=2024-01-01/country=US"}) {
		t.Fatalf("names = %v", names)
	}

	for _, tc := range []struct {
		name  string
		tbl   string
		parts []*hm.Partition
		kind  errs.Kind
	}{
		{"existing", "t", []*hm.Partition{part("2024-01-02", "US"), part("2024-01-01", "US")}, errs.KindExists},
		{"duplicate in request", "t", []*hm.Partition{part("9", "a"), part("9", "a")}, errs.KindExists},
		{"value count", "t", []*hm.Partition{part("2024-01-03")}, errs.KindInvalid},
		{"unpartitioned", "flat", []*hm.Partition{part("1")}, errs.KindInvalid},
		{"no table", "nope", []*hm.Partition{part("1", "2")}, errs.KindNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AddPartitions(ctx, "db", tc.tbl, tc.parts, false)
			wantKind(t, err, tc.kind)
		})
	}
	if n, err := s.CountPartitions(ctx, "db", "t", hms.PartitionQuery{}); err != nil || n != 2 {
		t.Fatalf("atomicity: count = %d, %v", n, err)
	}
	added, err = s.AddPartitions(ctx, "db", "t", []*hm.Partition{part("2024-01-01", "US"), part("2024-01-02", "US"), part("2024-01-02", "US")}, true)
	must(t, err)
	if len(added) != 1 || added[0].Values[0] != "2024-01-02" {
		t.Fatalf("ifNotExists added %v", added)
	}

	p, err := s.GetPartition(ctx, "db", "t", []string{"2024/01:02", "x=y"})
	must(t, err)
	if p.DbName != "db" || p.TableName != "t" || p.Sd.Location != s.root+"/db.db/t/dt=2024%2F01%3A02/country=x%3Dy" {
		t.Fatalf("GetPartition = %+v", p)
	}
	_, err = s.GetPartition(ctx, "db", "t", []string{"nope", "x"})
	wantKind(t, err, errs.KindNotFound)
	_, err = s.GetPartition(ctx, "db", "t", []string{"nope"})
	wantKind(t, err, errs.KindInvalid)

	byName, err := s.GetPartitionsByNames(ctx, "db", "t", []string{"DT=2024-01-02/country=US", "dt=9/country=9", "dt=2024%2F01%3A02/country=x%3Dy"})
	must(t, err)
	if len(byName) != 2 || byName[0].Values[0] != "2024-01-02" || byName[1].Values[1] != "x=y" {
		t.Fatalf("GetPartitionsByNames = %v", byName)
	}

	// Drop.
	dropped, err := s.DropPartition(ctx, "db", "t", []string{"2024-01-01", "US"}, true)
	must(t, err)
	if dropped.Values[0] != "2024-01-01" || dirExists(localDir(t, dropped.Sd.Location)) {
		t.Fatalf("dropped = %+v", dropped)
	}
	_, err = s.DropPartition(ctx, "db", "t", []string{"2024-01-01", "US"}, true)
	wantKind(t, err, errs.KindNotFound)
}

func testPartitionQueries(t *testing.T, s *Store) {
	ctx := context.Background()
	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "db"}))
	must(t, s.CreateTable(ctx, table("db", "t", "y:int", "m:int", "tag")))
	var parts []*hm.Partition
	for _, y := range []string{"2023", "2024"} {
		for _, m := range []string{"1", "2", "3"} {
			parts = append(parts, part(y, m, "a"), part(y, m, "B"))
		}
	}
	_, err := s.AddPartitions(ctx, "db", "t", parts, false)
	must(t, err)

	for _, tc := range []struct {
		name string
		q    hms.PartitionQuery
		want int
		kind errs.Kind
	}{
		{"all", hms.PartitionQuery{}, 12, 0},
		{"max", hms.PartitionQuery{Max: 5}, 5, 0},
		{"negative max", hms.PartitionQuery{Max: -1}, 12, 0},
		{"prefix", hms.PartitionQuery{Values: []string{"2024"}}, 6, 0},
		{"prefix two", hms.PartitionQuery{Values: []string{"2024", "2"}}, 2, 0},
		{"full", hms.PartitionQuery{Values: []string{"2024", "2", "a"}}, 1, 0},
		{"case sensitive value", hms.PartitionQuery{Values: []string{"2024", "2", "b"}}, 0, 0},
		{"hole", hms.PartitionQuery{Values: []string{"", "3"}}, 4, 0},
		{"hole last", hms.PartitionQuery{Values: []string{"", "", "B"}}, 6, 0},
		{"trailing wildcards", hms.PartitionQuery{Values: []string{"2024", "", ""}}, 6, 0},
		{"trailing wildcard", hms.PartitionQuery{Values: []string{"2024", "2", ""}}, 2, 0},
		{"prefix with max", hms.PartitionQuery{Values: []string{"2023"}, Max: 2}, 2, 0},
		{"hole with max", hms.PartitionQuery{Values: []string{"", "3"}, Max: 3}, 3, 0},
		{"filter", hms.PartitionQuery{Filter: "y = 2024 and m >= 2"}, 4, 0},
		{"filter string", hms.PartitionQuery{Filter: `tag = "B"`}, 6, 0},
		{"filter and values", hms.PartitionQuery{Values: []string{"2023"}, Filter: "m < 2"}, 2, 0},
		{"filter and max", hms.PartitionQuery{Filter: "m <> 1", Max: 3}, 3, 0},
		{"bad filter", hms.PartitionQuery{Filter: "y = = 1"}, 0, errs.KindInvalid},
		{"too many values", hms.PartitionQuery{Values: []string{"1", "2", "3", "4"}}, 0, errs.KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names, err := s.ListPartitionNames(ctx, "db", "t", tc.q)
			if tc.kind != 0 {
				wantKind(t, err, tc.kind)
				return
			}
			must(t, err)
			ps, err := s.ListPartitions(ctx, "db", "t", tc.q)
			must(t, err)
			n, err := s.CountPartitions(ctx, "db", "t", tc.q)
			must(t, err)
			if len(names) != tc.want || len(ps) != tc.want || (tc.q.Max <= 0 && n != tc.want) {
				t.Fatalf("got %d names, %d partitions, count %d; want %d (%v)", len(names), len(ps), n, tc.want, names)
			}
			for i := range names {
				if i > 0 && names[i-1] >= names[i] {
					t.Fatalf("names not sorted: %v", names)
				}
				pn, _ := makePartName(cols("y", "m", "tag"), ps[i].Values)
				if pn != names[i] {
					t.Fatalf("partition %d is %s, name %s", i, pn, names[i])
				}
			}
		})
	}
	_, err = s.ListPartitions(ctx, "db", "nope", hms.PartitionQuery{})
	wantKind(t, err, errs.KindNotFound)
}

func testAlterPartitions(t *testing.T, s *Store) {
	ctx := context.Background()
	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "db"}))
	must(t, s.CreateTable(ctx, table("db", "t", "dt")))
	_, err := s.AddPartitions(ctx, "db", "t", []*hm.Partition{part("1"), part("2")}, false)
	must(t, err)
	orig, err := s.GetPartition(ctx, "db", "t", []string{"1"})
	must(t, err)

	p1 := part("1")
	p1.Parameters = map[string]string{"numRows": "10"}
	p1.Sd = &hm.StorageDescriptor{Cols: cols("id:int")}
	must(t, s.AlterPartitions(ctx, "db", "t", []*hm.Partition{p1}))
	got, err := s.GetPartition(ctx, "db", "t", []string{"1"})
	must(t, err)
	if got.Parameters["numRows"] != "10" || got.Sd.Location != orig.Sd.Location || got.CreateTime != orig.CreateTime {
		t.Fatalf("altered partition = %+v", got)
	}
	p2 := part("2")
	p2.Parameters = map[string]string{"numRows": "5"}
	wantKind(t, s.AlterPartitions(ctx, "db", "t", []*hm.Partition{p2, part("3")}), errs.KindNotFound)
	got2, err := s.GetPartition(ctx, "db", "t", []string{"2"})
	must(t, err)
	if got2.Parameters["numRows"] != "" {
		t.Fatal("failed AlterPartitions changed a partition")
	}

	must(t, s.UpdateColumnStatistics(ctx, longStats("db", "t", "dt=1", "id", 9)))
	must(t, writeFile(filepath.Join(localDir(t, orig.Sd.Location), "f")))
	must(t, s.RenamePartition(ctx, "db", "t", []string{"1"}, part("10")))
	_, err = s.GetPartition(ctx, "db", "t", []string{"1"})
	wantKind(t, err, errs.KindNotFound)
	moved, err := s.GetPartition(ctx, "db", "t", []string{"10"})
	must(t, err)
	if !strings.HasSuffix(moved.Sd.Location, "/dt=10") || !fileExists(filepath.Join(localDir(t, moved.Sd.Location), "f")) {
		t.Fatalf("renamed partition location %s (data not moved?)", moved.Sd.Location)
	}
	pst, err := s.PartitionColumnStatistics(ctx, "db", "t", []string{"dt=10"}, []string{"id"})
	must(t, err)
	if len(pst["dt=10"]) != 1 {
		t.Fatalf("stats did not follow the rename: %v", pst)
	}
	wantKind(t, s.RenamePartition(ctx, "db", "t", []string{"10"}, part("2")), errs.KindExists)
	wantKind(t, s.RenamePartition(ctx, "db", "t", []string{"404"}, part("5")), errs.KindNotFound)
}

func longStats(db, tbl, partName, col string, max int64) *hm.ColumnStatistics {
	desc := &hm.ColumnStatisticsDesc{IsTblLevel: partName == "", DbName: db, TableName: tbl}
	if partName != "" {
		desc.PartName = &partName
	}
	return &hm.ColumnStatistics{StatsDesc: desc, StatsObj: []*hm.ColumnStatisticsObj{statsObj(col, max)}}
}

func statsObj(col string, max int64) *hm.ColumnStatisticsObj {
	return &hm.ColumnStatisticsObj{ColName: col, ColType: "int", StatsData: &hm.ColumnStatisticsData{
		LongStats: &hm.LongColumnStatsData{HighValue: &max, NumNulls: 1, NumDVs: 2},
	}}
}

func testStatistics(t *testing.T, s *Store) {
	ctx := context.Background()
	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "db"}))
	must(t, s.CreateTable(ctx, table("db", "t", "dt")))
	_, err := s.AddPartitions(ctx, "db", "t", []*hm.Partition{part("1"), part("2")}, false)
	must(t, err)

	must(t, s.UpdateColumnStatistics(ctx, longStats("db", "T", "", "ID", 10)))
	both := longStats("db", "t", "", "name", 0)
	both.StatsObj = append(both.StatsObj, statsObj("id", 20))
	must(t, s.UpdateColumnStatistics(ctx, both))
	st, err := s.TableColumnStatistics(ctx, "db", "t", []string{"ID", "name", "missing"})
	must(t, err)
	if len(st) != 2 || st[0].ColName != "id" || *st[0].StatsData.LongStats.HighValue != 20 || st[1].ColName != "name" {
		t.Fatalf("table stats = %v", st)
	}
	must(t, s.UpdateColumnStatistics(ctx, longStats("db", "t", "dt=2", "id", 3)))
	pst, err := s.PartitionColumnStatistics(ctx, "db", "t", []string{"dt=1", "dt=2", "dt=404"}, []string{"id", "name"})
	must(t, err)
	if len(pst) != 1 || len(pst["dt=2"]) != 1 || *pst["dt=2"][0].StatsData.LongStats.HighValue != 3 {
		t.Fatalf("partition stats = %v", pst)
	}

	for _, tc := range []struct {
		name  string
		stats *hm.ColumnStatistics
		kind  errs.Kind
	}{
		{"no table", longStats("db", "nope", "", "id", 1), errs.KindNotFound},
		{"no partition", longStats("db", "t", "dt=404", "id", 1), errs.KindNotFound},
		{"no column", longStats("db", "t", "", "zzz", 1), errs.KindInvalid},
		{"partition key is no column", longStats("db", "t", "", "dt", 1), errs.KindInvalid},
		{"no desc", &hm.ColumnStatistics{}, errs.KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) { wantKind(t, s.UpdateColumnStatistics(ctx, tc.stats), tc.kind) })
	}
	_, err = s.TableColumnStatistics(ctx, "db", "nope", []string{"id"})
	wantKind(t, err, errs.KindNotFound)
	_, err = s.PartitionColumnStatistics(ctx, "db", "nope", []string{"dt=1"}, []string{"id"})
	wantKind(t, err, errs.KindNotFound)

	must(t, s.DeleteColumnStatistics(ctx, "db", "t", "", "name"))
	wantKind(t, s.DeleteColumnStatistics(ctx, "db", "t", "", "name"), errs.KindNotFound)
	wantKind(t, s.DeleteColumnStatistics(ctx, "db", "t", "", "zzz"), errs.KindInvalid)
	wantKind(t, s.DeleteColumnStatistics(ctx, "db", "t", "dt=404", ""), errs.KindNotFound)
	st, err = s.TableColumnStatistics(ctx, "db", "t", []string{"id", "name"})
	must(t, err)
	if len(st) != 1 {
		t.Fatalf("after delete: %v", st)
	}
	must(t, s.DeleteColumnStatistics(ctx, "db", "t", "dt=2", ""))
	pst, err = s.PartitionColumnStatistics(ctx, "db", "t", []string{"dt=2"}, []string{"id"})
	must(t, err)
	if len(pst) != 0 {
		t.Fatalf("partition stats after delete: %v", pst)
	}

	// Dropping a partition or a table takes its statistics along.
	must(t, s.UpdateColumnStatistics(ctx, longStats("db", "t", "dt=1", "id", 3)))
	_, err = s.DropPartition(ctx, "db", "t", []string{"1"}, false)
	must(t, err)
	must(t, s.DropTable(ctx, "db", "t", false))
	for _, q := range []string{`SELECT COUNT(*) FROM part_stats`, `SELECT COUNT(*) FROM tbl_stats`} {
		var n int
		must(t, s.db.QueryRowContext(ctx, q).Scan(&n))
		if n != 0 {
			t.Fatalf("%s = %d after drop", q, n)
		}
	}
}

func testFunctions(t *testing.T, s *Store) {
	ctx := context.Background()
	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "db"}))
	f := &hm.Function{DbName: "DB", FunctionName: "MyUpper", ClassName: "com.x.Upper", OwnerName: "bob",
		FunctionType: hm.FunctionType_JAVA, ResourceUris: []*hm.ResourceUri{{ResourceType: hm.ResourceType_JAR, URI: "s3a://b/x.jar"}}}
	must(t, s.CreateFunction(ctx, f))
	for _, tc := range []struct {
		name string
		f    *hm.Function
		kind errs.Kind
	}{
		{"duplicate", &hm.Function{DbName: "db", FunctionName: "myupper"}, errs.KindExists},
		{"no database", &hm.Function{DbName: "nodb", FunctionName: "f"}, errs.KindNotFound},
		{"bad name", &hm.Function{DbName: "db", FunctionName: "a.b"}, errs.KindInvalid},
		{"nil", nil, errs.KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) { wantKind(t, s.CreateFunction(ctx, tc.f), tc.kind) })
	}
	got, err := s.GetFunction(ctx, "db", "MYUPPER")
	must(t, err)
	if got.FunctionName != "myupper" || got.DbName != "db" || got.CreateTime == 0 || len(got.ResourceUris) != 1 {
		t.Fatalf("function = %+v", got)
	}
	_, err = s.GetFunction(ctx, "db", "nope")
	wantKind(t, err, errs.KindNotFound)
	must(t, s.CreateFunction(ctx, &hm.Function{DbName: "default", FunctionName: "other", ClassName: "c"}))

	all, err := s.ListFunctions(ctx, "")
	must(t, err)
	if len(all) != 2 || all[0].DbName != "db" || all[1].DbName != "default" {
		t.Fatalf("all functions = %v", all)
	}
	inDB, err := s.ListFunctions(ctx, "db")
	must(t, err)
	if len(inDB) != 1 {
		t.Fatalf("functions of db = %v", inDB)
	}
	_, err = s.ListFunctions(ctx, "nodb")
	wantKind(t, err, errs.KindNotFound)

	alt := &hm.Function{DbName: "db", FunctionName: "upper2", ClassName: "com.x.Upper2"}
	must(t, s.AlterFunction(ctx, "db", "myupper", alt))
	got, err = s.GetFunction(ctx, "db", "upper2")
	must(t, err)
	if got.ClassName != "com.x.Upper2" || got.CreateTime == 0 {
		t.Fatalf("altered function = %+v", got)
	}
	_, err = s.GetFunction(ctx, "db", "myupper")
	wantKind(t, err, errs.KindNotFound)
	wantKind(t, s.AlterFunction(ctx, "db", "nope", alt), errs.KindNotFound)
	wantKind(t, s.AlterFunction(ctx, "default", "other", &hm.Function{DbName: "db", FunctionName: "upper2"}), errs.KindExists)

	must(t, s.DropFunction(ctx, "DB", "Upper2"))
	wantKind(t, s.DropFunction(ctx, "db", "upper2"), errs.KindNotFound)
}

func testEvents(t *testing.T, s *Store) {
	ctx := context.Background()
	start, err := s.CurrentEventID(ctx)
	must(t, err)
	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "db"}))
	must(t, s.CreateTable(ctx, table("db", "t", "dt")))
	_, err = s.AddPartitions(ctx, "db", "t", []*hm.Partition{part("1")}, false)
	must(t, err)
	must(t, s.AlterTable(ctx, "db", "t", table("db", "t", "dt"), false))
	must(t, s.AlterPartitions(ctx, "db", "t", []*hm.Partition{part("1")}))
	_, err = s.DropPartition(ctx, "db", "t", []string{"1"}, false)
	must(t, err)
	must(t, s.CreateFunction(ctx, &hm.Function{DbName: "db", FunctionName: "f"}))
	must(t, s.DropFunction(ctx, "db", "f"))
	must(t, s.AlterDatabase(ctx, "db", &hm.Database{Name: "db"}))
	must(t, s.DropTable(ctx, "db", "t", false))
	must(t, s.DropDatabase(ctx, "db", false, false))
	// A failed write leaves no event.
	wantKind(t, s.CreateDatabase(ctx, &hm.Database{Name: "default"}), errs.KindExists)

	evs, err := s.NextEvents(ctx, start, 100)
	must(t, err)
	var types []string
	for i, e := range evs {
		types = append(types, e.EventType)
		if e.EventId != start+int64(i)+1 || e.EventTime == 0 || e.GetMessageFormat() != "json-0.2" || e.GetDbName() != "db" {
			t.Fatalf("event %d = %+v", i, e)
		}
		var m map[string]any
		must(t, json.Unmarshal([]byte(e.Message), &m))
	}
	want := []string{"CREATE_DATABASE", "CREATE_TABLE", "ADD_PARTITION", "ALTER_TABLE", "ALTER_PARTITION",
		"DROP_PARTITION", "CREATE_FUNCTION", "DROP_FUNCTION", "ALTER_DATABASE", "DROP_TABLE", "DROP_DATABASE"}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("event types = %v", types)
	}
	if evs[1].GetTableName() != "t" {
		t.Fatalf("CREATE_TABLE event table = %q", evs[1].GetTableName())
	}
	cur, err := s.CurrentEventID(ctx)
	must(t, err)
	if cur != evs[len(evs)-1].EventId {
		t.Fatalf("CurrentEventID = %d, last event %d", cur, evs[len(evs)-1].EventId)
	}
	page, err := s.NextEvents(ctx, start+2, 3)
	must(t, err)
	if len(page) != 3 || page[0].EventId != start+3 {
		t.Fatalf("page = %v", page)
	}
	_, err = s.NextEvents(ctx, 0, 0)
	wantKind(t, err, errs.KindInvalid)
}
