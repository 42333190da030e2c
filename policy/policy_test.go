package policy

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/propolis/propolis/internal/errs"
)

var update = flag.Bool("update", false, "rewrite golden files")

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
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test ./policy -update to accept):\n%s", path, lineDiff(splitLines(string(want)), splitLines(got)))
	}
}

func mustParse(t testing.TB, file string) *Policy {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(file, data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", file, err)
	}
	return p
}

func TestParseGood(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.yaml")
	if len(files) == 0 {
		t.Fatal("no good files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			mustParse(t, strings.TrimPrefix(f, "testdata/"))
		})
	}
}

func TestParseBad(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no bad files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".err")
			if err != nil {
				t.Fatalf("%v: every bad file needs a .err with the expected substrings, one a line", err)
			}
			p, err := Parse(filepath.Base(f), data)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", p)
			}
			if !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("error kind %v, want invalid: %v", errs.KindOf(err), err)
			}
			for _, sub := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error does not contain %q:\n%v", sub, err)
				}
			}
		})
	}
}

var (
	users = []struct {
		name string
		who  Principal
	}{
		{"analyst", Principal{User: "alice"}},
		{"eu_analyst", Principal{User: "Erin"}},
		{"finance", Principal{User: "frank"}},
		{"outsider", Principal{User: "oscar", Groups: []string{"marketing", "staff"}}},
		{"conn_group", Principal{User: "gina", Groups: []string{"Analysts"}}},
		{"auditor", Principal{User: "audrey"}},
		{"service", Principal{User: "propolis"}},
	}
	tables = []TableRef{
		{DB: "sales", Table: "customers", Columns: []Column{
			{"id", "bigint"}, {"name", "string"}, {"email", "string"}, {"phone", "string"}, {"ssn", "string"}, {"region", "string"}, {"email_verified", "boolean"}, {"mobile", "varchar(20)"},
		}},
		{DB: "sales", Table: "orders", Columns: []Column{
			{"id", "bigint"}, {"customer_id", "bigint"}, {"amount", "decimal(12,2)"}, {"order_date", "date"}, {"region", "string"}, {"contact_email", "string"},
		}},
		{DB: "sales", Table: "payments", Columns: []Column{
			{"id", "bigint"}, {"card", "string"}, {"region", "string"},
		}},
		{DB: "audit", Table: "events", Columns: []Column{
			{"ts", "timestamp"}, {"action", "string"}, {"user_email", "string"}, {"detail", "string"},
		}},
		{DB: "public", Table: "holidays", Columns: []Column{{"day", "date"}, {"name", "string"}}},
		{DB: "hr", Table: "people", Columns: []Column{{"id", "int"}, {"owner", "string"}, {"salary", "decimal(10,2)"}, {"token", "string"}}},
	}
)

func formatDecision(d Decision, err error) string {
	if err != nil {
		return fmt.Sprintf("  error (%s): %v\n", errs.KindOf(err), err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  outcome: %s (version %d)\n", d.Outcome, d.Version)
	if len(d.HiddenColumns) > 0 {
		fmt.Fprintf(&b, "  hidden: %s\n", strings.Join(d.HiddenColumns, ", "))
	}
	cols := make([]string, 0, len(d.Masks))
	for c := range d.Masks {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for _, c := range cols {
		fmt.Fprintf(&b, "  mask %s: %s\n", c, d.Masks[c])
	}
	if d.RowFilter != "" {
		fmt.Fprintf(&b, "  filter: %s\n", d.RowFilter)
	}
	if d.NeedsWorker {
		b.WriteString("  needs worker\n")
	}
	fmt.Fprintf(&b, "  rules: %s\n", strings.Join(d.Rules, "; "))
	fmt.Fprintf(&b, "  reason: %s\n", d.Reason)
	return b.String()
}

func decisions(t *testing.T, p *Policy) string {
	var b strings.Builder
	for _, u := range users {
		for _, tb := range tables {
			d, err := p.DecideTable(u.who, tb)
			fmt.Fprintf(&b, "%s × %s.%s\n%s", u.name, tb.DB, tb.Table, formatDecision(d, err))
			vis := p.TableVisible(u.who, tb.DB, tb.Table)
			if vis != (err != nil || d.Outcome != Hidden) {
				t.Errorf("%s × %s.%s: TableVisible=%v disagrees with DecideTable %v", u.name, tb.DB, tb.Table, vis, d.Outcome)
			}
			if vis && !p.DatabaseVisible(u.who, tb.DB) {
				t.Errorf("%s × %s.%s: table visible in a database DatabaseVisible hides", u.name, tb.DB, tb.Table)
			}
		}
		var dbs []string
		for _, db := range []string{"sales", "audit", "public", "hr", "scratch"} {
			if p.DatabaseVisible(u.who, db) {
				dbs = append(dbs, db)
			}
		}
		fmt.Fprintf(&b, "%s databases: %s\n\n", u.name, strings.Join(dbs, ", "))
	}
	return b.String()
}

func TestDecisions(t *testing.T) {
	for _, f := range []string{"sales", "allow", "empty"} {
		t.Run(f, func(t *testing.T) {
			p := mustParse(t, "good/"+f+".yaml").WithVersion(7)
			golden(t, "decisions_"+f+".golden", decisions(t, p))
		})
	}
	t.Run("nil", func(t *testing.T) {
		var p *Policy
		golden(t, "decisions_nil.golden", decisions(t, p))
	})
}

func TestExplain(t *testing.T) {
	p := mustParse(t, "good/sales.yaml").WithVersion(3)
	var b strings.Builder
	for _, c := range []struct {
		user  string
		table int
	}{{"eu_analyst", 1}, {"analyst", 0}, {"outsider", 2}, {"finance", 2}, {"auditor", 3}, {"service", 2}} {
		for _, u := range users {
			if u.name == c.user {
				fmt.Fprintf(&b, "=== %s\n%s\n", c.user, p.Explain(u.who, tables[c.table]))
			}
		}
	}
	golden(t, "explain.golden", b.String())
}

func TestCheckWrite(t *testing.T) {
	p := mustParse(t, "good/sales.yaml")
	allow := mustParse(t, "good/allow.yaml")
	alice, frank, oscar := Principal{User: "alice"}, Principal{User: "frank"}, Principal{User: "oscar"}
	for _, c := range []struct {
		p     *Policy
		who   Principal
		priv  Privilege
		db, t string
		want  string // "" = allowed, else a substring of the denial
	}{
		{p, frank, Insert, "sales", "orders", ""},
		{p, frank, Alter, "sales", "", ""},
		{p, frank, Drop, "sales", "orders", "no grant of drop"},
		{p, frank, Create, "sales", "", "no grant of create"},
		{p, alice, Insert, "sales", "orders", "no grant of insert"},
		{p, alice, Create, "scratch", "t1", ""},
		{p, alice, Create, "scratch", "", ""},
		{p, alice, Drop, "scratch", "t1", ""},
		{p, alice, Drop, "scratch", "keep", "denied by denies[2]"},
		{p, alice, Drop, "scratch", "", "denied by denies[2]"},
		{p, alice, Select, "sales", "orders", ""},
		{p, alice, Select, "sales", "payments", "denied by denies[0]"},
		{p, oscar, Create, "anything", "", "default deny"},
		{p, Principal{User: "PROPOLIS"}, Drop, "sales", "payments", ""},
		{p, oscar, Privilege("truncate"), "sales", "orders", "unknown privilege"},
		{allow, oscar, Drop, "hr", "people", ""},
		{allow, Principal{User: "mallory"}, Insert, "hr", "people", "denied by denies[0]"},
		{allow, Principal{User: "trino_svc"}, Drop, "hr", "", ""},
		{nil, frank, Insert, "sales", "orders", "no policy is loaded"},
	} {
		name := fmt.Sprintf("%s %s %s.%s", c.who.User, c.priv, c.db, c.t)
		err := c.p.CheckWrite(c.who, c.priv, c.db, c.t)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want allowed", name, err)
		case c.want != "" && err == nil:
			t.Errorf("%s: allowed, want %q", name, c.want)
		case c.want != "" && !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: %v, want %q", name, err, c.want)
		case c.want != "" && c.priv != "truncate" && !errors.Is(err, errs.ErrDenied):
			t.Errorf("%s: kind %v, want denied", name, errs.KindOf(err))
		}
	}
}

// TestDecideErrors: a policy that cannot be applied to a table is an error, never raw.
func TestDecideErrors(t *testing.T) {
	p, err := Parse("t", []byte(`
grants:
  - {to: ["*"], privileges: [select], on: "*"}
  - {to: [user:cole], privileges: [select], on: "x.t.a"}
masks:
  - {column: "x.t.d", mask: year}
row_filters:
  - {on: "x.f", filter: "missing = 1"}
  - {on: "x.g", filter: "a + 1"}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who  string
		t    TableRef
		want string
	}{
		{"u", TableRef{DB: "x", Table: "t", Columns: []Column{{"d", "string"}}}, "year applies to date"},
		{"u", TableRef{DB: "x", Table: "f", Columns: []Column{{"a", "int"}}}, `unknown column "missing"`},
		{"u", TableRef{DB: "x", Table: "g", Columns: []Column{{"a", "int"}}}, "must be boolean"},
	} {
		_, err := p.DecideTable(Principal{User: c.who}, c.t)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s.%s: %v, want %q", c.t.DB, c.t.Table, err, c.want)
		}
	}
	// Column grants that reach no column: visible in listings, refused on read.
	q, _ := Parse("t", []byte(`grants: [{to: [user:cole], privileges: [select], on: "x.t.a"}]`))
	if !q.TableVisible(Principal{User: "cole"}, "x", "t") {
		t.Error("column-granted table not visible")
	}
	_, err = q.DecideTable(Principal{User: "cole"}, TableRef{DB: "x", Table: "t", Columns: []Column{{"b", "int"}}})
	if !errors.Is(err, errs.ErrDenied) {
		t.Errorf("no visible column: %v, want denied", err)
	}
}

func TestConcurrent(t *testing.T) {
	p := mustParse(t, "good/sales.yaml")
	want := map[string]string{}
	for _, u := range users {
		for _, tb := range tables {
			d, err := p.DecideTable(u.who, tb)
			want[u.name+tb.Table] = formatDecision(d, err)
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			q := p.WithVersion(int64(g))
			for i := 0; i < 10; i++ {
				for _, u := range users {
					for _, tb := range tables {
						d, err := p.DecideTable(u.who, tb)
						if got := formatDecision(d, err); got != want[u.name+tb.Table] {
							t.Errorf("concurrent decision differs:\n%s\nvs\n%s", got, want[u.name+tb.Table])
							return
						}
						q.TableVisible(u.who, tb.DB, tb.Table)
						q.Explain(u.who, tb)
						_ = q.CheckWrite(u.who, Insert, tb.DB, tb.Table)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	if p.Version() != 0 {
		t.Errorf("WithVersion changed the original: %d", p.Version())
	}
}

func TestDiff(t *testing.T) {
	read := func(f string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	v1, v2 := read("good/sales.yaml"), read("good/sales_v2.yaml")
	var b strings.Builder
	fmt.Fprintf(&b, "=== sales -> sales_v2\n%s", Diff(v1, v2))
	fmt.Fprintf(&b, "=== empty -> allow\n%s", Diff(read("good/empty.yaml"), read("good/allow.yaml")))
	fmt.Fprintf(&b, "=== not yaml -> sales_v2 head (line diff)\n%s", Diff([]byte("grants: [\n"), []byte("default: deny\ngrants: []\n")))
	golden(t, "diff.golden", b.String())
	if d := Diff(v1, v1); d != "" {
		t.Errorf("Diff of identical files: %q", d)
	}
	// Reformatting and comments are not changes.
	if d := Diff([]byte("default: deny # x\ngrants:\n  - {to: [\"*\"], on: \"a.*\", privileges: [select]}\n"),
		[]byte("grants:\n  - on: a.*\n    privileges: [select]\n    to: ['*']\ndefault: deny\n")); d != "" {
		t.Errorf("reformatting is a change: %q", d)
	}
}
