package enforce

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy"
	"github.com/propolis/propolis/policy/audit"
	"github.com/propolis/propolis/presto"
	"github.com/propolis/propolis/thrift"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

var testKey = []byte("0123456789abcdef0123456789abcdef")

// users of the matrix: one per kind of principal the policy distinguishes.
var users = []struct {
	name string
	id   thrift.Identity
}{
	{"analyst", thrift.Identity{User: "alice", Groups: []string{"analysts"}, Source: "sasl"}},
	{"eu_analyst", thrift.Identity{User: "erin", Groups: []string{"analysts", "eu_analysts"}, Source: "sasl"}},
	{"finance", thrift.Identity{User: "fred", Source: "sasl"}}, // finance through the policy's static groups
	{"outsider", thrift.Identity{User: "oscar", Groups: []string{"visitors"}, Source: "sasl"}},
	{"service", thrift.Identity{User: "propolis", Source: "sasl"}},
}

var testProfiles = []Profile{
	{Name: "trino", Dialect: "trino", Trusted: true, TrinoCatalog: "lake"},
	{Name: "spark", Dialect: "spark", Trusted: true},
	{Name: "notebook", Dialect: "hive", Trusted: false},
}

func col(name, typ string) *hm.FieldSchema { return &hm.FieldSchema{Name: name, Type: typ} }

// testTables is the catalog the matrix reads: for the analysts, customers is restricted
// (masks, a hidden column, and for EU analysts a row filter), regions raw, payments hidden and
// scores restricted by a mask only the worker path can apply.
func testTables() map[string]*hm.Table {
	tbl := func(name string, cols []*hm.FieldSchema, keys ...*hm.FieldSchema) *hm.Table {
		return &hm.Table{
			DbName: "sales", TableName: name, Owner: "etl", OwnerType: hm.PrincipalType_USER, TableType: "EXTERNAL_TABLE", CreateTime: 1700000000,
			Sd: &hm.StorageDescriptor{
				Cols: cols, Location: "s3://lake/sales/" + name,
				InputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
				OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
				SerdeInfo:    &hm.SerDeInfo{SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", Parameters: map[string]string{}},
				Parameters:   map[string]string{},
			},
			PartitionKeys: keys,
			Parameters:    map[string]string{"comment": name + " facts", "EXTERNAL": "TRUE", "spark.sql.sources.schema": "{}"},
		}
	}
	return map[string]*hm.Table{
		"customers": tbl("customers", []*hm.FieldSchema{
			col("id", "bigint"), col("name", "string"), col("email", "string"), col("phone", "varchar(20)"),
			col("ssn", "string"), col("region", "string"), col("account_manager", "string"),
		}, col("dt", "date")),
		"regions":  tbl("regions", []*hm.FieldSchema{col("region", "string"), col("label", "string")}),
		"payments": tbl("payments", []*hm.FieldSchema{col("id", "bigint"), col("amount", "decimal(12,2)")}),
		"scores":   tbl("scores", []*hm.FieldSchema{col("id", "bigint"), col("score", "double")}),
	}
}

var tableOrder = []string{"customers", "regions", "payments", "scores"}

func loadPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	data, err := os.ReadFile("testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse("testdata/policy.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return p.WithVersion(7)
}

// fakeAudit collects entries.
type fakeAudit struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (f *fakeAudit) Record(_ context.Context, e audit.Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, e)
	return nil
}

func (f *fakeAudit) take() []audit.Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.entries
	f.entries = nil
	return out
}

type fixture struct {
	g      *Guard
	aud    *fakeAudit
	pol    *policy.Policy
	tables map[string]*hm.Table
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{aud: &fakeAudit{}, pol: loadPolicy(t), tables: testTables()}
	g, err := New(Config{
		Profiles: testProfiles, Default: "notebook", AliasKey: testKey,
		LoadTable: func(_ context.Context, db, table string) (*hm.Table, error) {
			if tb, ok := f.tables[table]; ok && db == "sales" {
				return tb, nil
			}
			return nil, hms.TableNotFound(db, table)
		},
	}, func() *policy.Policy { return f.pol }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.aud = f.aud
	g.now = func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }
	f.g = g
	return f
}

// as is a call context for id through profile.
func as(profile string, id thrift.Identity) context.Context {
	ctx := context.Background()
	if profile != "" {
		ctx = WithProfile(ctx, profile)
	}
	s := &thrift.Session{ID: 1}
	s.SetIdentity(id)
	return thrift.WithSession(ctx, s)
}

// describeErr is an error as the golden files show it: its kind and message.
func describeErr(err error) string {
	return fmt.Sprintf("error (%s): %s", errs.KindOf(err), err)
}

// describeTable prints what a caller was shown of t.
func describeTable(orig, got *hm.Table) string {
	var b strings.Builder
	switch {
	case got == orig:
		return "raw (the table itself)"
	case presto.IsView(got):
		v, err := presto.DecodeView(got.ViewOriginalText)
		if err != nil {
			return "undecodable trino view: " + err.Error()
		}
		var cols []string
		for _, c := range v.Columns {
			cols = append(cols, c.Name+" "+c.Type)
		}
		fmt.Fprintf(&b, "trino view %s.%s (table owner %s; definer %s, runAsInvoker %v, catalog %s, schema %s, path %v)\n",
			got.DbName, got.TableName, got.Owner, v.Owner, v.RunAsInvoker, v.Catalog, v.Schema, v.Path)
		fmt.Fprintf(&b, "    columns: %s\n", strings.Join(cols, ", "))
		fmt.Fprintf(&b, "    sql: %s", v.OriginalSQL)
	case got.TableType == "VIRTUAL_VIEW":
		fmt.Fprintf(&b, "hive view %s.%s (location %q, parameters %v)\n", got.DbName, got.TableName, got.Sd.Location, got.Parameters)
		var cols []string
		for _, c := range got.Sd.Cols {
			cols = append(cols, c.Name+" "+c.Type)
		}
		fmt.Fprintf(&b, "    columns: %s\n", strings.Join(cols, ", "))
		fmt.Fprintf(&b, "    text: %s", got.ViewExpandedText)
		if got.ViewOriginalText != got.ViewExpandedText {
			fmt.Fprintf(&b, "\n    ORIGINAL TEXT DIFFERS: %s", got.ViewOriginalText)
		}
	default:
		fmt.Fprintf(&b, "UNEXPECTED table %s.%s %s", got.DbName, got.TableName, got.TableType)
	}
	return b.String()
}

// TestMatrix runs every Guard method for every profile, user and kind of table, and compares
// the whole transcript (outcomes, errors, rendered views) with testdata/matrix.golden.
func TestMatrix(t *testing.T) {
	f := newFixture(t)
	var b strings.Builder
	for _, p := range testProfiles {
		for _, u := range users {
			ctx := as(p.Name, u.id)
			fmt.Fprintf(&b, "== profile %s (dialect %s, trusted %v), user %s (%s)\n", p.Name, p.Dialect, p.Trusted, u.name, u.id.User)
			dbs, err := f.g.FilterDatabases(ctx, []string{"sales", "scratch", "hr"})
			fmt.Fprintf(&b, "FilterDatabases: %v %v\n", dbs, errString(err))
			ts, err := f.g.FilterTables(ctx, "sales", tableOrder)
			fmt.Fprintf(&b, "FilterTables sales: %v %v\n", ts, errString(err))
			for _, name := range tableOrder {
				orig := f.tables[name]
				before := deepCopy(t, orig)
				got, err := f.g.Table(ctx, orig)
				if !reflect.DeepEqual(before, orig) {
					t.Errorf("%s/%s: Table modified its argument", p.Name, u.name)
				}
				fmt.Fprintf(&b, "Table sales.%s: ", name)
				if err != nil {
					b.WriteString(describeErr(err))
				} else {
					b.WriteString(describeTable(orig, got))
					if got.TableType == "VIRTUAL_VIEW" && !presto.IsView(got) {
						alias := viewAlias(t, got)
						tb, ok := f.g.ResolveAlias(ctx, "sales", alias)
						fmt.Fprintf(&b, "\n    ResolveAlias(%s) by the same user: %q %v", alias, tb, ok)
						other := thrift.Identity{User: "mallory", Groups: u.id.Groups}
						tb, ok = f.g.ResolveAlias(as(p.Name, other), "sales", alias)
						fmt.Fprintf(&b, "\n    ResolveAlias(%s) by another user: %q %v", alias, tb, ok)
						fmt.Fprintf(&b, "\n    CheckRaw(%s) by the same user: %s", alias, errString(f.g.CheckRaw(ctx, "sales", alias)))
					}
				}
				b.WriteByte('\n')
				fmt.Fprintf(&b, "CheckRaw sales.%s: %s\n", name, errString(f.g.CheckRaw(ctx, "sales", name)))
				for _, op := range []string{hms.OpInsert, hms.OpDrop} {
					fmt.Fprintf(&b, "CheckWrite %s sales.%s: %s\n", op, name, errString(f.g.CheckWrite(ctx, op, "sales", name)))
				}
			}
			for _, w := range []struct{ op, db, table string }{
				{hms.OpCreate, "scratch", "tmp"}, {hms.OpDrop, "scratch", "keep"}, {hms.OpLock, "scratch", "tmp"}, {hms.OpCreate, "hr", ""},
			} {
				obj := w.db + "." + w.table
				if w.table == "" {
					obj = w.db
				}
				fmt.Fprintf(&b, "CheckWrite %s %s: %s\n", w.op, obj, errString(f.g.CheckWrite(ctx, w.op, w.db, w.table)))
			}
			b.WriteByte('\n')
		}
	}
	golden(t, "matrix.golden", b.String())
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return describeErr(err)
}

func deepCopy(t testing.TB, tb *hm.Table) *hm.Table {
	t.Helper()
	js, err := json.Marshal(tb)
	if err != nil {
		t.Fatal(err)
	}
	var out hm.Table
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Errorf("%s differs (run with -update to accept):\n%s", path, diff(string(want), got))
	}
}

// diff lists the first differing lines.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < max(len(w), len(g)) && n < 20; i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, a, c)
			n++
		}
	}
	return b.String()
}

// viewAlias is the raw-table alias a Hive view reads.
func viewAlias(t testing.TB, v *hm.Table) string {
	t.Helper()
	_, rest, ok := strings.Cut(v.ViewExpandedText, " FROM `"+v.DbName+"`.`")
	end := strings.IndexByte(rest, '`')
	if !ok || end < 0 {
		t.Fatalf("view text without a qualified FROM: %s", v.ViewExpandedText)
	}
	return rest[:end]
}
