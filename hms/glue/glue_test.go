package glue

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/compat-tests/moto/mototest"
	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

func golden(t *testing.T, name string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	p := filepath.Join("testdata", name+".golden.json")
	if *update {
		must(t, "write golden", os.WriteFile(p, b, 0o644))
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./hms/glue/ -update to create it)", err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", p, b, want)
	}
}

func TestDatabases(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PageSize = 2; c.Warehouse = "s3://wh/"; c.DisableFunctions = true })
	ctx, c := e.ctx, e.c

	must(t, "create", c.CreateDatabase(ctx, &hm.Database{Name: "Sales", Description: "the sales", LocationUri: "s3://b/sales", Parameters: map[string]string{"k": "v"}}))
	got, err := c.GetDatabase(ctx, "SALES")
	must(t, "get", err)
	if got.Name != "sales" || got.Description != "the sales" || got.LocationUri != "s3://b/sales" || got.Parameters["k"] != "v" || got.CreateTime == nil || *got.CreateTime == 0 {
		t.Fatalf("round trip: %+v", got)
	}
	must(t, "create without location", c.CreateDatabase(ctx, &hm.Database{Name: "defaulted"}))
	if d, _ := c.GetDatabase(ctx, "defaulted"); d.LocationUri != "s3://wh/defaulted.db" {
		t.Fatalf("warehouse default location: %q", d.LocationUri)
	}
	for _, n := range []string{"d_e", "d_a", "d_c"} {
		e.db(n)
	}
	names, err := c.ListDatabases(ctx)
	must(t, "list", err)
	if want := []string{"d_a", "d_c", "d_e", "defaulted", "sales"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("list over pages of 2: %v, want %v", names, want)
	}

	upd := *got
	upd.Description = "changed"
	upd.Parameters = map[string]string{"k2": "v2"}
	must(t, "alter", c.AlterDatabase(ctx, "sales", &upd))
	if d, _ := c.GetDatabase(ctx, "sales"); d.Description != "changed" || d.Parameters["k2"] != "v2" || d.Parameters["k"] != "" {
		t.Fatalf("alter: %+v", d)
	}

	must(t, "create table", c.CreateTable(ctx, simpleTable("sales", "t1")))
	errCases := []struct {
		name string
		err  error
		kind errs.Kind
	}{
		{"duplicate database", c.CreateDatabase(ctx, &hm.Database{Name: "SALES"}), errs.KindExists},
		{"invalid name", c.CreateDatabase(ctx, &hm.Database{Name: "bad-name"}), errs.KindInvalid},
		{"nil database", c.CreateDatabase(ctx, nil), errs.KindInvalid},
		{"get missing", func() error { _, err := c.GetDatabase(ctx, "nope"); return err }(), errs.KindNotFound},
		{"alter missing", c.AlterDatabase(ctx, "nope", &hm.Database{Name: "nope"}), errs.KindNotFound},
		{"alter renames", c.AlterDatabase(ctx, "sales", &hm.Database{Name: "other"}), errs.KindInvalid},
		{"drop non-empty", c.DropDatabase(ctx, "sales", false, false), errs.KindConflict},
		{"drop missing", c.DropDatabase(ctx, "nope", false, true), errs.KindNotFound},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) { wantKind(t, tc.name, tc.err, tc.kind) })
	}
	must(t, "drop empty", c.DropDatabase(ctx, "d_a", true, false))
	must(t, "drop cascade", c.DropDatabase(ctx, "sales", true, true))
	if _, err := c.GetTable(ctx, "sales", "t1"); errs.KindOf(err) != errs.KindNotFound {
		t.Fatalf("table of a cascade-dropped database: %v", err)
	}
	names, _ = c.ListDatabases(ctx)
	if want := []string{"d_c", "d_e", "defaulted"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("after drops: %v", names)
	}
	must(t, "ping", c.Ping(ctx))
}

// fullTable has every field the translation carries.
func fullTable(db, name string) *hm.Table {
	sub := true
	return &hm.Table{
		DbName: db, TableName: name, Owner: "alice", OwnerType: hm.PrincipalType_USER,
		LastAccessTime: 1700000000, Retention: 7, TableType: "MANAGED_TABLE",
		Sd: &hm.StorageDescriptor{
			Cols: []*hm.FieldSchema{
				{Name: "id", Type: "bigint", Comment: "primary id"},
				{Name: "name", Type: "varchar(64)", Comment: ""},
				{Name: "tags", Type: "array<string>", Comment: "free tags"},
				{Name: "attrs", Type: "map<string,struct<a:int,b:decimal(10,2)>>", Comment: "nested"},
			},
			Location:     "s3://bucket/warehouse/" + name,
			InputFormat:  "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
			OutputFormat: "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
			Compressed:   true,
			NumBuckets:   8,
			SerdeInfo: &hm.SerDeInfo{Name: "orc-serde", SerializationLib: "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
				Parameters: map[string]string{"serialization.format": "1", "field.delim": "\u0001"}},
			BucketCols:             []string{"id"},
			SortCols:               []*hm.Order{{Col: "id", Order: 1}, {Col: "name", Order: 0}},
			Parameters:             map[string]string{"orc.compress": "ZSTD"},
			SkewedInfo:             &hm.SkewedInfo{SkewedColNames: []string{"name"}, SkewedColValues: [][]string{{"a$b", "12"}, {""}}},
			StoredAsSubDirectories: &sub,
		},
		PartitionKeys: []*hm.FieldSchema{{Name: "ds", Type: "string", Comment: "day"}, {Name: "hr", Type: "int", Comment: ""}},
		Parameters:    map[string]string{"comment": "a full table", "transactional": "false", "numFiles": "3"},
	}
}

func TestTableRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx, c := e.ctx, e.c
	db := e.db("rt")
	for _, tc := range []struct {
		name string
		in   *hm.Table
	}{
		{"full", fullTable(db, "Full_Table")},
		{"view", &hm.Table{DbName: db, TableName: "v1", Owner: "bob", TableType: "VIRTUAL_VIEW",
			ViewOriginalText: "select id from full_table", ViewExpandedText: "select `full_table`.`id` from `rt`.`full_table`",
			Sd:         &hm.StorageDescriptor{Cols: []*hm.FieldSchema{{Name: "id", Type: "bigint"}}},
			Parameters: map[string]string{"presto_view": "true"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().Add(-2 * time.Second).Unix()
			must(t, "create", c.CreateTable(ctx, tc.in))
			got, err := c.GetTable(ctx, db, tc.in.TableName)
			must(t, "get", err)
			if int64(got.CreateTime) < before || int64(got.CreateTime) > time.Now().Unix()+2 {
				t.Errorf("create time %d is not Glue's clock (now %d)", got.CreateTime, time.Now().Unix())
			}
			if got.Parameters[ddlTimeParam] == "" {
				t.Errorf("no %s stamped", ddlTimeParam)
			}
			// The documented differences: names lower-cased, create time and DDL time stamped.
			want := cloneTable(tc.in)
			want.TableName = strings.ToLower(want.TableName)
			want.CreateTime = got.CreateTime
			want.OwnerType = hm.PrincipalType_USER // Glue has no owner type
			want.Parameters[ddlTimeParam] = got.Parameters[ddlTimeParam]
			normalizeExpected(want)
			if !reflect.DeepEqual(got, want) {
				gb, _ := json.MarshalIndent(got, "", " ")
				wb, _ := json.MarshalIndent(want, "", " ")
				t.Fatalf("round trip differs\n--- got\n%s\n--- want\n%s", gb, wb)
			}
			got.CreateTime = 0
			delete(got.Parameters, ddlTimeParam)
			golden(t, "table_"+tc.name, got)
		})
	}
}

// normalizeExpected fills what a Hive client gets back for unset optional parts.
func normalizeExpected(t *hm.Table) {
	if t.Sd.SerdeInfo == nil {
		t.Sd.SerdeInfo = &hm.SerDeInfo{Parameters: map[string]string{}}
	}
	if t.Sd.Parameters == nil {
		t.Sd.Parameters = map[string]string{}
	}
	if t.Sd.BucketCols == nil {
		t.Sd.BucketCols = []string{}
	}
	if t.Sd.SortCols == nil {
		t.Sd.SortCols = []*hm.Order{}
	}
	if t.Sd.StoredAsSubDirectories == nil {
		f := false
		t.Sd.StoredAsSubDirectories = &f
	}
	if t.PartitionKeys == nil {
		t.PartitionKeys = []*hm.FieldSchema{}
	}
}

func TestTables(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PageSize = 3 })
	ctx, c := e.ctx, e.c
	db := e.db("tbls")
	other := e.db("tbls_other")
	var want []string
	for i := 7; i >= 1; i-- {
		n := fmt.Sprintf("t%d", i)
		tb := simpleTable(db, strings.ToUpper(n))
		tb.Parameters["comment"] = "table " + n
		must(t, "create "+n, c.CreateTable(ctx, tb))
		want = append([]string{n}, want...)
	}
	infos, err := c.ListTables(ctx, db)
	must(t, "list", err)
	var names []string
	for _, i := range infos {
		names = append(names, i.Name)
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("list over pages of 3: %v", names)
	}
	if infos[0] != (hms.TableInfo{Name: "t1", Type: "EXTERNAL_TABLE", Comment: "table t1", Owner: "alice"}) {
		t.Fatalf("table info: %+v", infos[0])
	}
	ts, err := c.GetTables(ctx, db, []string{"t3", "missing", "T1"})
	must(t, "get tables", err)
	if len(ts) != 2 || ts[0].TableName != "t3" || ts[1].TableName != "t1" {
		t.Fatalf("get tables keeps order, omits missing: %v", ts)
	}

	// Managed table without a location lands under the database's.
	m := simpleTable(db, "managed")
	m.TableType, m.Sd.Location = "", ""
	delete(m.Parameters, "EXTERNAL") // EXTERNAL=TRUE would make it external, as in Hive
	must(t, "create managed", c.CreateTable(ctx, m))
	if g, _ := c.GetTable(ctx, db, "managed"); g.Sd.Location != "s3://bucket/tbls.db/managed" || g.TableType != "MANAGED_TABLE" {
		t.Fatalf("managed defaults: %q %q", g.Sd.Location, g.TableType)
	}

	dup := simpleTable(db, "dup")
	dup.Sd.Cols = append(dup.Sd.Cols, &hm.FieldSchema{Name: "ID", Type: "int"})
	keyRepeat := simpleTable(db, "kr", key("v", "string"))
	noSD := simpleTable(db, "nosd")
	noSD.Sd = nil
	errCases := []struct {
		name string
		err  error
		kind errs.Kind
	}{
		{"create exists", c.CreateTable(ctx, simpleTable(db, "T1")), errs.KindExists},
		{"create in missing db", c.CreateTable(ctx, simpleTable("nodb", "x")), errs.KindNotFound},
		{"duplicate column", c.CreateTable(ctx, dup), errs.KindInvalid},
		{"key repeats column", c.CreateTable(ctx, keyRepeat), errs.KindInvalid},
		{"no storage descriptor", c.CreateTable(ctx, noSD), errs.KindInvalid},
		{"bad name", c.CreateTable(ctx, simpleTable(db, "a b")), errs.KindInvalid},
		{"get missing", func() error { _, err := c.GetTable(ctx, db, "nope"); return err }(), errs.KindNotFound},
		{"get in missing db", func() error { _, err := c.GetTable(ctx, "nodb", "t1"); return err }(), errs.KindNotFound},
		{"list missing db", func() error { _, err := c.ListTables(ctx, "nodb"); return err }(), errs.KindNotFound},
		{"drop missing", c.DropTable(ctx, db, "nope", false), errs.KindNotFound},
		{"alter missing", c.AlterTable(ctx, db, "nope", simpleTable(db, "nope"), false), errs.KindNotFound},
		{"alter partition keys", c.AlterTable(ctx, db, "t1", simpleTable(db, "t1", key("p", "string")), false), errs.KindInvalid},
		{"rename onto existing", c.AlterTable(ctx, db, "t1", simpleTable(db, "t2"), false), errs.KindExists},
		{"rename into missing db", c.AlterTable(ctx, db, "t1", simpleTable("nodb", "t1"), false), errs.KindNotFound},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) { wantKind(t, tc.name, tc.err, tc.kind) })
	}

	t.Run("alter in place", func(t *testing.T) {
		tb, _ := c.GetTable(ctx, db, "t2")
		tb.Sd.Cols = append(tb.Sd.Cols, &hm.FieldSchema{Name: "NEW", Type: "int", Comment: "added"})
		tb.Parameters["p"] = "q"
		must(t, "alter", c.AlterTable(ctx, db, "t2", tb, false))
		g, _ := c.GetTable(ctx, db, "t2")
		if len(g.Sd.Cols) != 3 || g.Sd.Cols[2].Name != "new" || g.Parameters["p"] != "q" {
			t.Fatalf("after alter: %+v", g.Sd.Cols)
		}
	})

	t.Run("rename with partitions and cascade", func(t *testing.T) {
		pt := simpleTable(db, "pt", key("ds", "string"))
		must(t, "create", c.CreateTable(ctx, pt))
		_, err := c.AddPartitions(ctx, db, "pt", []*hm.Partition{{Values: []string{"a"}}, {Values: []string{"b"}}}, false)
		must(t, "add", err)
		nt, _ := c.GetTable(ctx, db, "pt")
		nt.DbName, nt.TableName = other, "PT_Renamed"
		nt.Sd.Cols = append(nt.Sd.Cols, &hm.FieldSchema{Name: "extra", Type: "string"})
		must(t, "rename", c.AlterTable(ctx, db, "pt", nt, true))
		if _, err := c.GetTable(ctx, db, "pt"); errs.KindOf(err) != errs.KindNotFound {
			t.Fatalf("old name still there: %v", err)
		}
		parts, err := c.ListPartitions(ctx, other, "pt_renamed", hms.PartitionQuery{})
		must(t, "list renamed", err)
		if len(parts) != 2 || parts[0].TableName != "pt_renamed" || parts[0].DbName != other || len(parts[0].Sd.Cols) != 3 {
			t.Fatalf("partitions did not follow the rename with cascaded columns: %+v", parts)
		}
		// Cascade in place: columns reach every partition.
		nt2, _ := c.GetTable(ctx, other, "pt_renamed")
		nt2.Sd.Cols = nt2.Sd.Cols[:2]
		must(t, "alter cascade", c.AlterTable(ctx, other, "pt_renamed", nt2, true))
		p, _ := c.GetPartition(ctx, other, "pt_renamed", []string{"b"})
		if len(p.Sd.Cols) != 2 {
			t.Fatalf("cascade did not reach the partition: %v", p.Sd.Cols)
		}
	})

	must(t, "drop", c.DropTable(ctx, db, "t1", true))
	if _, err := c.GetTable(ctx, db, "t1"); errs.KindOf(err) != errs.KindNotFound {
		t.Fatalf("dropped table: %v", err)
	}
}

func fullPartition(values ...string) *hm.Partition {
	sub := false
	return &hm.Partition{
		Values: values, LastAccessTime: 1700000100,
		Sd: &hm.StorageDescriptor{
			Cols:         []*hm.FieldSchema{{Name: "id", Type: "bigint", Comment: "primary id"}},
			Location:     "s3://bucket/part/" + strings.Join(values, "/"),
			InputFormat:  "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
			OutputFormat: "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
			Compressed:   false, NumBuckets: 2,
			SerdeInfo:  &hm.SerDeInfo{Name: "s", SerializationLib: "org.apache.hadoop.hive.ql.io.orc.OrcSerde", Parameters: map[string]string{"a": "b"}},
			BucketCols: []string{"id"}, SortCols: []*hm.Order{{Col: "id", Order: 0}},
			Parameters:             map[string]string{"x": "y"},
			SkewedInfo:             &hm.SkewedInfo{SkewedColNames: []string{"id"}, SkewedColValues: [][]string{{"1"}}},
			StoredAsSubDirectories: &sub,
		},
		Parameters: map[string]string{"numRows": "10", "COLUMN_STATS_ACCURATE": `{"BASIC_STATS":"true"}`},
	}
}

func TestPartitions(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PageSize = 40 })
	ctx, c := e.ctx, e.c
	db := e.db("parts")
	must(t, "create table", c.CreateTable(ctx, simpleTable(db, "events", key("ds", "string"), key("hr", "int"))))

	// 250 partitions: 3 BatchCreatePartition calls, 7 GetPartitions pages of 40.
	var parts []*hm.Partition
	for d := 1; d <= 10; d++ {
		for h := 0; h < 25; h++ {
			parts = append(parts, &hm.Partition{Values: []string{fmt.Sprintf("2024-01-%02d", d), fmt.Sprint(h)}})
		}
	}
	start := time.Now()
	added, err := c.AddPartitions(ctx, db, "events", parts, false)
	must(t, "add 250", err)
	t.Logf("added 250 partitions in %s", time.Since(start).Round(time.Millisecond))
	if len(added) != 250 || added[0].Sd.Location != "s3://bucket/parts/events/ds=2024-01-01/hr=0" || added[0].CreateTime == 0 {
		t.Fatalf("added: %d, first %+v", len(added), added[0].Sd)
	}

	names := func(q hms.PartitionQuery) []string {
		t.Helper()
		n, err := c.ListPartitionNames(ctx, db, "events", q)
		must(t, fmt.Sprintf("names %+v", q), err)
		return n
	}
	count := func(q hms.PartitionQuery) int {
		t.Helper()
		n, err := c.CountPartitions(ctx, db, "events", q)
		must(t, fmt.Sprintf("count %+v", q), err)
		return n
	}
	all := names(hms.PartitionQuery{})
	if len(all) != 250 || !slices.IsSorted(all) || all[0] != "ds=2024-01-01/hr=0" {
		t.Fatalf("all names: %d sorted=%v first=%v", len(all), slices.IsSorted(all), all[:1])
	}
	queries := []struct {
		name string
		q    hms.PartitionQuery
		want int
		// moto: whether moto evaluates the pushed-down expression; informational only, the
		// answer must be right either way.
	}{
		{"all", hms.PartitionQuery{}, 250},
		{"max", hms.PartitionQuery{Max: 7}, 7},
		{"values one key", hms.PartitionQuery{Values: []string{"2024-01-03"}}, 25},
		{"values both keys", hms.PartitionQuery{Values: []string{"2024-01-03", "4"}}, 1},
		{"values wildcard first", hms.PartitionQuery{Values: []string{"", "4"}}, 10},
		{"filter string eq", hms.PartitionQuery{Filter: `ds = "2024-01-05"`}, 25},
		{"filter int range", hms.PartitionQuery{Filter: "hr >= 20 and hr < 23"}, 30},
		{"filter and/or", hms.PartitionQuery{Filter: "(ds = '2024-01-01' or ds = '2024-01-10') and hr = 3"}, 2},
		{"filter in", hms.PartitionQuery{Filter: "hr in (1, 2, 3)"}, 30},
		{"filter like (local)", hms.PartitionQuery{Filter: "ds like '2024-01-0%'"}, 225},
		{"filter like regex dot (local)", hms.PartitionQuery{Filter: "ds like '2024.01.1_'"}, 25},
		{"filter not", hms.PartitionQuery{Filter: "not (hr > 1)"}, 20},
		{"filter between", hms.PartitionQuery{Filter: "hr between 10 and 12"}, 30},
		{"filter with values", hms.PartitionQuery{Values: []string{"2024-01-02"}, Filter: "hr < 5"}, 5},
		{"filter with max", hms.PartitionQuery{Filter: "hr < 5", Max: 3}, 3},
		{"filter matching nothing", hms.PartitionQuery{Filter: "ds = 'nope'"}, 0},
		{"filter string key vs number (local)", hms.PartitionQuery{Filter: "ds < 3"}, 250},
	}
	for _, tc := range queries {
		t.Run("query/"+tc.name, func(t *testing.T) {
			n := names(tc.q)
			if len(n) != tc.want || !slices.IsSorted(n) {
				t.Fatalf("%d names (sorted %v), want %d", len(n), slices.IsSorted(n), tc.want)
			}
			ps, err := c.ListPartitions(ctx, db, "events", tc.q)
			must(t, "list", err)
			if len(ps) != tc.want {
				t.Fatalf("%d partitions, want %d", len(ps), tc.want)
			}
			q := tc.q
			q.Max = 0
			if tc.q.Max == 0 && count(q) != tc.want {
				t.Fatalf("count %d, want %d", count(q), tc.want)
			}
		})
	}
	t.Run("pushdown equals local", func(t *testing.T) {
		local := clientOn(t, e.endpoint, func(c *Config) { c.DisableFilterPushdown = true; c.PageSize = 40 })
		for _, tc := range queries {
			a, err1 := c.ListPartitionNames(ctx, db, "events", tc.q)
			b, err2 := local.c.ListPartitionNames(ctx, db, "events", tc.q)
			if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
				t.Errorf("%s: pushdown %d (%v) vs local %d (%v)", tc.name, len(a), err1, len(b), err2)
			}
		}
	})
	errCases := []struct {
		name string
		err  error
		kind errs.Kind
	}{
		{"bad filter", func() error {
			_, err := c.ListPartitions(ctx, db, "events", hms.PartitionQuery{Filter: "ds = "})
			return err
		}(), errs.KindInvalid},
		{"filter on unknown key", func() error {
			_, err := c.ListPartitions(ctx, db, "events", hms.PartitionQuery{Filter: "nokey = 1"})
			return err
		}(), errs.KindInvalid},
		{"too many values", func() error {
			_, err := c.ListPartitions(ctx, db, "events", hms.PartitionQuery{Values: []string{"a", "b", "c"}})
			return err
		}(), errs.KindInvalid},
		{"list missing table", func() error { _, err := c.ListPartitions(ctx, db, "nope", hms.PartitionQuery{}); return err }(), errs.KindNotFound},
		{"get missing", func() error { _, err := c.GetPartition(ctx, db, "events", []string{"x", "1"}); return err }(), errs.KindNotFound},
		{"add duplicate", func() error {
			_, err := c.AddPartitions(ctx, db, "events", []*hm.Partition{{Values: []string{"2024-01-01", "0"}}}, false)
			return err
		}(), errs.KindExists},
		{"add wrong arity", func() error {
			_, err := c.AddPartitions(ctx, db, "events", []*hm.Partition{{Values: []string{"x"}}}, false)
			return err
		}(), errs.KindInvalid},
		{"add empty value", func() error {
			_, err := c.AddPartitions(ctx, db, "events", []*hm.Partition{{Values: []string{"", "1"}}}, false)
			return err
		}(), errs.KindInvalid},
		{"add listed twice", func() error {
			_, err := c.AddPartitions(ctx, db, "events", []*hm.Partition{{Values: []string{"z", "1"}}, {Values: []string{"z", "1"}}}, false)
			return err
		}(), errs.KindInvalid},
		{"alter missing", c.AlterPartitions(ctx, db, "events", []*hm.Partition{{Values: []string{"2024-01-01", "0"}}, {Values: []string{"x", "1"}}}), errs.KindNotFound},
		{"drop missing", func() error { _, err := c.DropPartition(ctx, db, "events", []string{"x", "1"}, false); return err }(), errs.KindNotFound},
		{"rename missing", c.RenamePartition(ctx, db, "events", []string{"x", "1"}, &hm.Partition{Values: []string{"y", "1"}}), errs.KindNotFound},
		{"rename onto existing", c.RenamePartition(ctx, db, "events", []string{"2024-01-01", "0"}, &hm.Partition{Values: []string{"2024-01-01", "1"}}), errs.KindExists},
	}
	for _, tc := range errCases {
		t.Run("error/"+tc.name, func(t *testing.T) { wantKind(t, tc.name, tc.err, tc.kind) })
	}
	if n := count(hms.PartitionQuery{}); n != 250 {
		t.Fatalf("failed calls changed the table: %d partitions", n)
	}

	t.Run("add is all or none across chunks", func(t *testing.T) {
		// 150 new partitions and, in the second chunk of 100, one that exists: nothing stays.
		var batch []*hm.Partition
		for i := 0; i < 150; i++ {
			batch = append(batch, &hm.Partition{Values: []string{"2025-01-01", fmt.Sprint(i)}})
		}
		batch[120] = &hm.Partition{Values: []string{"2024-01-01", "5"}}
		_, err := c.AddPartitions(ctx, db, "events", batch, false)
		wantKind(t, "add with one existing", err, errs.KindExists)
		if n := count(hms.PartitionQuery{Values: []string{"2025-01-01"}}); n != 0 {
			t.Fatalf("%d partitions of the failed call remain", n)
		}
		got, err := c.AddPartitions(ctx, db, "events", batch, true)
		must(t, "if not exists", err)
		if len(got) != 149 || count(hms.PartitionQuery{Values: []string{"2025-01-01"}}) != 149 {
			t.Fatalf("ifNotExists added %d", len(got))
		}
	})

	t.Run("by names", func(t *testing.T) {
		ps, err := c.GetPartitionsByNames(ctx, db, "events", []string{"ds=2024-01-02/hr=3", "ds=nope/hr=1", "hr=1/ds=2024-01-01", "bad"})
		if errs.KindOf(err) != errs.KindInvalid {
			t.Fatalf("malformed name: %v", err)
		}
		var many []string
		for _, n := range all {
			many = append(many, n)
		}
		many = append(many, "ds=nope/hr=1")
		ps, err = c.GetPartitionsByNames(ctx, db, "events", many) // 251 names: one BatchGetPartition
		must(t, "by names", err)
		if len(ps) != 250 {
			t.Fatalf("by names: %d", len(ps))
		}
		ps, err = c.GetPartitionsByNames(ctx, db, "events", []string{"ds=2024-01-02/hr=3", "hr=1/ds=2024-01-01"})
		must(t, "by names order", err)
		if len(ps) != 2 || ps[0].Values[1] != "3" || ps[1].Values[0] != "2024-01-01" {
			t.Fatalf("order of names asked: %v", ps)
		}
	})

	t.Run("round trip", func(t *testing.T) {
		in := fullPartition("2030-01-01", "7")
		out, err := c.AddPartitions(ctx, db, "events", []*hm.Partition{in}, false)
		must(t, "add", err)
		got, err := c.GetPartition(ctx, db, "events", in.Values)
		must(t, "get", err)
		if d := int64(got.CreateTime) - int64(out[0].CreateTime); d < -3 || d > 3 {
			t.Errorf("create time %d vs %d", got.CreateTime, out[0].CreateTime)
		}
		want := *in
		want.DbName, want.TableName, want.CreateTime = db, "events", got.CreateTime
		if !reflect.DeepEqual(got, &want) {
			gb, _ := json.MarshalIndent(got, "", " ")
			wb, _ := json.MarshalIndent(&want, "", " ")
			t.Fatalf("round trip differs\n--- got\n%s\n--- want\n%s", gb, wb)
		}
		got.CreateTime = 0
		golden(t, "partition_full", got)
	})

	t.Run("alter", func(t *testing.T) {
		p1, _ := c.GetPartition(ctx, db, "events", []string{"2024-01-01", "1"})
		p2, _ := c.GetPartition(ctx, db, "events", []string{"2024-01-01", "2"})
		p1.Parameters["altered"], p2.Parameters["altered"] = "1", "2"
		p2.Sd.Location = "s3://elsewhere/"
		must(t, "alter", c.AlterPartitions(ctx, db, "events", []*hm.Partition{p1, p2}))
		g1, _ := c.GetPartition(ctx, db, "events", []string{"2024-01-01", "1"})
		g2, _ := c.GetPartition(ctx, db, "events", []string{"2024-01-01", "2"})
		if g1.Parameters["altered"] != "1" || g2.Parameters["altered"] != "2" || g2.Sd.Location != "s3://elsewhere/" {
			t.Fatalf("alter: %v %v %s", g1.Parameters, g2.Parameters, g2.Sd.Location)
		}
	})

	t.Run("rename and drop", func(t *testing.T) {
		old, _ := c.GetPartition(ctx, db, "events", []string{"2024-01-01", "3"})
		np := *old
		np.Values = []string{"2024-02-01", "3"}
		must(t, "rename", c.RenamePartition(ctx, db, "events", old.Values, &np))
		if _, err := c.GetPartition(ctx, db, "events", old.Values); errs.KindOf(err) != errs.KindNotFound {
			t.Fatalf("old partition remains: %v", err)
		}
		got, err := c.GetPartition(ctx, db, "events", np.Values)
		must(t, "get renamed", err)
		if got.Sd.Location != old.Sd.Location {
			t.Fatalf("renamed partition location %q", got.Sd.Location)
		}
		dropped, err := c.DropPartition(ctx, db, "events", np.Values, true)
		must(t, "drop", err)
		if !reflect.DeepEqual(dropped.Values, np.Values) {
			t.Fatalf("dropped %v", dropped.Values)
		}
		if _, err := c.GetPartition(ctx, db, "events", np.Values); errs.KindOf(err) != errs.KindNotFound {
			t.Fatalf("dropped partition remains: %v", err)
		}
	})
}

func TestDefaultPartitionOnTypedKeyStaysLocal(t *testing.T) {
	e := newEnv(t)
	ctx, c := e.ctx, e.c
	db := e.db("dflt")
	must(t, "table", c.CreateTable(ctx, simpleTable(db, "t", key("n", "int"))))
	_, err := c.AddPartitions(ctx, db, "t", []*hm.Partition{{Values: []string{"1"}}, {Values: []string{"__HIVE_DEFAULT_PARTITION__"}}, {Values: []string{"10"}}}, false)
	must(t, "add", err)
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"n > 0", []string{"n=1", "n=10"}},
		{"n = '__HIVE_DEFAULT_PARTITION__'", []string{"n=__HIVE_DEFAULT_PARTITION__"}},
		{"n < 5", []string{"n=1"}},
	} {
		got, err := c.ListPartitionNames(ctx, db, "t", hms.PartitionQuery{Filter: tc.filter})
		must(t, tc.filter, err)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func statsFixture() []*hm.ColumnStatisticsObj {
	lo, hi := int64(-5), int64(99)
	dlo, dhi := 0.5, 9.25
	return []*hm.ColumnStatisticsObj{
		{ColName: "l", ColType: "bigint", StatsData: &hm.ColumnStatisticsData{LongStats: &hm.LongColumnStatsData{LowValue: &lo, HighValue: &hi, NumNulls: 1, NumDVs: 50}}},
		{ColName: "d", ColType: "double", StatsData: &hm.ColumnStatisticsData{DoubleStats: &hm.DoubleColumnStatsData{LowValue: &dlo, HighValue: &dhi, NumNulls: 2, NumDVs: 40}}},
		{ColName: "s", ColType: "string", StatsData: &hm.ColumnStatisticsData{StringStats: &hm.StringColumnStatsData{MaxColLen: 30, AvgColLen: 7.5, NumNulls: 3, NumDVs: 20}}},
		{ColName: "b", ColType: "boolean", StatsData: &hm.ColumnStatisticsData{BooleanStats: &hm.BooleanColumnStatsData{NumTrues: 5, NumFalses: 6, NumNulls: 7}}},
		{ColName: "bin", ColType: "binary", StatsData: &hm.ColumnStatisticsData{BinaryStats: &hm.BinaryColumnStatsData{MaxColLen: 100, AvgColLen: 12.5, NumNulls: 0}}},
		{ColName: "dec", ColType: "decimal(10,2)", StatsData: &hm.ColumnStatisticsData{DecimalStats: &hm.DecimalColumnStatsData{
			LowValue: &hm.Decimal{Unscaled: []byte{0xff, 0x38}, Scale: 2}, HighValue: &hm.Decimal{Unscaled: []byte{0x27, 0x10}, Scale: 2}, NumNulls: 1, NumDVs: 9}}},
		{ColName: "dt", ColType: "date", StatsData: &hm.ColumnStatisticsData{DateStats: &hm.DateColumnStatsData{
			LowValue: &hm.Date{DaysSinceEpoch: 18000}, HighValue: &hm.Date{DaysSinceEpoch: 19000}, NumNulls: 4, NumDVs: 365}}},
	}
}

// TestStatsConversion proves the Hive <-> Glue statistics mapping without a server, for every
// kind Glue holds (moto has no statistics API, see TestColumnStatistics).
func TestStatsConversion(t *testing.T) {
	at := time.Unix(1700000000, 0).UTC()
	for _, o := range statsFixture() {
		t.Run(o.ColType, func(t *testing.T) {
			g, ok, err := statsToGlue(o, at)
			if err != nil || !ok {
				t.Fatalf("to glue: %v %v", ok, err)
			}
			back := statsFromGlue(&g)
			if !reflect.DeepEqual(back, o) {
				gb, _ := json.Marshal(back)
				ob, _ := json.Marshal(o)
				t.Fatalf("round trip\n got %s\nwant %s", gb, ob)
			}
		})
	}
	ts := &hm.ColumnStatisticsObj{ColName: "ts", ColType: "timestamp", StatsData: &hm.ColumnStatisticsData{TimestampStats: &hm.TimestampColumnStatsData{}}}
	if _, ok, err := statsToGlue(ts, at); ok || err != nil {
		t.Fatalf("timestamp statistics: Glue has no such kind, want skipped: %v %v", ok, err)
	}
	if _, _, err := statsToGlue(&hm.ColumnStatisticsObj{ColName: "x"}, at); errs.KindOf(err) != errs.KindInvalid {
		t.Fatalf("no data: %v", err)
	}
}

func TestColumnStatistics(t *testing.T) {
	e := newEnv(t)
	ctx, c := e.ctx, e.c
	db := e.db("st")
	tb := simpleTable(db, "t", key("ds", "string"))
	tb.Sd.Cols = nil
	for _, o := range statsFixture() {
		tb.Sd.Cols = append(tb.Sd.Cols, &hm.FieldSchema{Name: o.ColName, Type: o.ColType})
	}
	must(t, "table", c.CreateTable(ctx, tb))
	_, err := c.AddPartitions(ctx, db, "t", []*hm.Partition{{Values: []string{"a"}}}, false)
	must(t, "partition", err)
	tblStats := &hm.ColumnStatistics{StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: true, DbName: db, TableName: "t"}, StatsObj: statsFixture()}

	err = c.UpdateColumnStatistics(ctx, tblStats)
	if err != nil {
		// moto answers the unimplemented action with HTTP 500: Unavailable, never NotFound.
		wantKind(t, "update on moto", err, errs.KindUnavailable)
		t.Run("disabled", func(t *testing.T) { statsDisabled(t, e, db) })
		t.Skipf(motoNoStats, mototest.Version())
	}
	got, err := c.TableColumnStatistics(ctx, db, "t", []string{"dt", "l", "nostats", "s", "d", "b", "bin", "dec"})
	must(t, "get table stats", err)
	if len(got) != 7 {
		t.Fatalf("table stats: %d", len(got))
	}
	name := "ds=a"
	must(t, "update partition stats", c.UpdateColumnStatistics(ctx, &hm.ColumnStatistics{
		StatsDesc: &hm.ColumnStatisticsDesc{DbName: db, TableName: "t", PartName: &name}, StatsObj: statsFixture()[:2]}))
	pm, err := c.PartitionColumnStatistics(ctx, db, "t", []string{"ds=a", "ds=missing"}, []string{"l", "d", "s"})
	must(t, "get partition stats", err)
	if len(pm) != 1 || len(pm["ds=a"]) != 2 {
		t.Fatalf("partition stats: %v", pm)
	}
	must(t, "delete one", c.DeleteColumnStatistics(ctx, db, "t", "", "l"))
	must(t, "delete all of partition", c.DeleteColumnStatistics(ctx, db, "t", "ds=a", ""))
	got, _ = c.TableColumnStatistics(ctx, db, "t", []string{"l", "d"})
	if len(got) != 1 {
		t.Fatalf("after delete: %v", got)
	}
}

func statsDisabled(t *testing.T, e *env, db string) {
	c := clientOn(t, e.endpoint, func(c *Config) { c.DisableColumnStatistics = true }).c
	got, err := c.TableColumnStatistics(e.ctx, db, "t", []string{"l"})
	if err != nil || len(got) != 0 {
		t.Fatalf("disabled statistics read: %v %v", got, err)
	}
	if _, err := c.TableColumnStatistics(e.ctx, db, "nope", []string{"l"}); errs.KindOf(err) != errs.KindNotFound {
		t.Fatalf("disabled statistics of a missing table: %v", err)
	}
	pm, err := c.PartitionColumnStatistics(e.ctx, db, "t", []string{"ds=a"}, []string{"l"})
	if err != nil || len(pm) != 0 {
		t.Fatalf("disabled partition statistics read: %v %v", pm, err)
	}
	wantKind(t, "disabled write", c.UpdateColumnStatistics(e.ctx, &hm.ColumnStatistics{StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: true, DbName: db, TableName: "t"}, StatsObj: statsFixture()}), errs.KindUnsupported)
	wantKind(t, "disabled delete", c.DeleteColumnStatistics(e.ctx, db, "t", "", ""), errs.KindUnsupported)
}

func TestFunctions(t *testing.T) {
	e := newEnv(t)
	ctx, c := e.ctx, e.c
	db := e.db("fn")
	f := &hm.Function{FunctionName: "My_Upper", DbName: db, ClassName: "com.example.Upper", OwnerName: "alice", OwnerType: hm.PrincipalType_ROLE,
		FunctionType: hm.FunctionType_JAVA, ResourceUris: []*hm.ResourceUri{{ResourceType: hm.ResourceType_JAR, URI: "s3://b/u.jar"}, {ResourceType: hm.ResourceType_FILE, URI: "s3://b/f.txt"}}}
	err := c.CreateFunction(ctx, f)
	if err != nil {
		wantKind(t, "create on moto", err, errs.KindUnavailable)
		t.Run("disabled", func(t *testing.T) {
			dc := clientOn(t, e.endpoint, func(c *Config) { c.DisableFunctions = true }).c
			wantKind(t, "create", dc.CreateFunction(ctx, f), errs.KindUnsupported)
			_, err := dc.ListFunctions(ctx, db)
			wantKind(t, "list", err, errs.KindUnsupported)
			must(t, "drop database without the function check", dc.DropDatabase(ctx, db, false, false))
		})
		t.Skipf(motoNoFunctions, mototest.Version())
	}
	got, err := c.GetFunction(ctx, db, "MY_UPPER")
	must(t, "get", err)
	want := *f
	want.FunctionName, want.CreateTime = "my_upper", got.CreateTime
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("round trip: %+v", got)
	}
	wantKind(t, "duplicate", c.CreateFunction(ctx, f), errs.KindExists)
	wantKind(t, "drop database with a function", c.DropDatabase(ctx, db, false, false), errs.KindConflict)
	fs, err := c.ListFunctions(ctx, db)
	must(t, "list", err)
	if len(fs) != 1 {
		t.Fatalf("list: %v", fs)
	}
	f2 := want
	f2.ClassName = "com.example.Upper2"
	must(t, "alter", c.AlterFunction(ctx, db, "my_upper", &f2))
	must(t, "drop", c.DropFunction(ctx, db, "my_upper"))
	_, err = c.GetFunction(ctx, db, "my_upper")
	wantKind(t, "get dropped", err, errs.KindNotFound)
}

func TestLocksAndEvents(t *testing.T) {
	c, err := New(t.Context(), Config{Region: "us-east-1", AccessKeyID: "a", SecretAccessKey: "b", Endpoint: "http://127.0.0.1:1"}, nil)
	must(t, "new", err)
	ctx := t.Context()
	lockErrs := map[string]error{
		"lock":      func() error { _, err := c.Lock(ctx, &hm.LockRequest{}); return err }(),
		"checkLock": func() error { _, err := c.CheckLock(ctx, 1); return err }(),
		"unlock":    c.Unlock(ctx, 1),
		"heartbeat": c.Heartbeat(ctx, 1),
		"showLocks": func() error { _, err := c.ShowLocks(ctx, &hm.ShowLocksRequest{}); return err }(),
	}
	for name, err := range lockErrs {
		wantKind(t, name, err, errs.KindUnsupported)
		if !strings.Contains(err.Error(), "Glue has no metastore locks") {
			t.Errorf("%s: message %q", name, err)
		}
	}
	id, err := c.CurrentEventID(ctx)
	if id != 0 || err != nil {
		t.Fatalf("current event id: %d %v", id, err)
	}
	ev, err := c.NextEvents(ctx, 0, 10)
	if len(ev) != 0 || err != nil {
		t.Fatalf("next events: %v %v", ev, err)
	}
}
