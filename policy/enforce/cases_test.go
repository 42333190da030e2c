package enforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy"
	"github.com/propolis/propolis/policy/audit"
	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/presto"
	"github.com/propolis/propolis/thrift"
)

var (
	alice = users[0].id
	erin  = users[1].id
	fred  = users[2].id
	oscar = users[3].id
	svc   = users[4].id
)

// TestHiddenLooksMissing: a hidden table fails every call exactly as a missing one does.
func TestHiddenLooksMissing(t *testing.T) {
	f := newFixture(t)
	missing := hms.TableNotFound("sales", "payments")
	ctx := as("spark", oscar)
	calls := []struct {
		name string
		err  error
	}{
		{"Table", func() error { _, err := f.g.Table(as("spark", alice), f.tables["payments"]); return err }()},
		{"Table outsider", func() error { _, err := f.g.Table(ctx, f.tables["payments"]); return err }()},
		{"CheckRaw", f.g.CheckRaw(ctx, "sales", "payments")},
		{"CheckWrite alter", f.g.CheckWrite(as("trino", alice), hms.OpAlter, "sales", "payments")},
		{"CheckWrite insert", f.g.CheckWrite(ctx, hms.OpInsert, "sales", "payments")},
	}
	for _, c := range calls {
		if errs.KindOf(c.err) != errs.KindNotFound || c.err.Error() != missing.Error() {
			t.Errorf("%s: %v (%s), want %q", c.name, c.err, errs.KindOf(c.err), missing)
		}
	}
	// A table that really is missing, from a database the caller may see: the same answer.
	err := f.g.CheckRaw(as("spark", alice), "scratch", "nothing")
	if want := hms.TableNotFound("scratch", "nothing"); errs.KindOf(err) != errs.KindNotFound || err.Error() != want.Error() {
		t.Errorf("CheckRaw of a missing table: %v, want %v", err, want)
	}
	// A hidden database is missing too.
	err = f.g.CheckWrite(as("spark", alice), hms.OpDrop, "hr", "")
	if want := hms.DatabaseNotFound("hr"); errs.KindOf(err) != errs.KindNotFound || err.Error() != want.Error() {
		t.Errorf("CheckWrite drop of a hidden database: %v, want %v", err, want)
	}
}

// TestFailClosed: without a policy, a session or a profile, every method denies and says why.
func TestFailClosed(t *testing.T) {
	cases := []struct {
		name   string
		policy bool
		ctx    context.Context
		want   string
	}{
		{"no policy", false, as("trino", alice), "no access policy is loaded"},
		{"no session", true, WithProfile(context.Background(), "trino"), "no client session"},
		{"unknown profile", true, as("flink", alice), `engine profile "flink" is not configured`},
		{"service principal through an untrusted engine", true, as("notebook", svc), "served only through trusted engine profiles"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			if !c.policy {
				f.pol = nil
			}
			check := func(method string, err error) {
				t.Helper()
				if errs.KindOf(err) != errs.KindDenied || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: %v (%s), want denied with %q", method, err, errs.KindOf(err), c.want)
				}
			}
			_, err := f.g.FilterDatabases(c.ctx, []string{"sales"})
			check("FilterDatabases", err)
			_, err = f.g.FilterTables(c.ctx, "sales", []string{"regions"})
			check("FilterTables", err)
			_, err = f.g.Table(c.ctx, f.tables["regions"])
			check("Table", err)
			check("CheckRaw", f.g.CheckRaw(c.ctx, "sales", "regions"))
			check("CheckWrite", f.g.CheckWrite(c.ctx, hms.OpInsert, "sales", "regions"))
			if _, ok := f.g.ResolveAlias(c.ctx, "sales", "regions__raw_0123456789abcdef"); ok {
				t.Error("ResolveAlias resolved")
			}
			entries := f.aud.take()
			if len(entries) != 6 {
				t.Fatalf("%d audit entries, want 6: %+v", len(entries), entries)
			}
			for _, e := range entries {
				if e.Outcome != "denied" || !strings.Contains(e.Reason, c.want) {
					t.Errorf("audit entry %+v: want outcome denied with the reason", e)
				}
			}
		})
	}
}

// TestDefaultProfile: a connection without a profile gets the default one, or nothing.
func TestDefaultProfile(t *testing.T) {
	f := newFixture(t)
	ctx := as("", alice) // default: notebook, untrusted
	if _, err := f.g.Table(ctx, f.tables["customers"]); errs.KindOf(err) != errs.KindDenied || !strings.Contains(err.Error(), `"notebook" is untrusted`) {
		t.Errorf("default profile: %v", err)
	}
	g, err := New(Config{Profiles: testProfiles, AliasKey: testKey}, func() *policy.Policy { return f.pol }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Table(ctx, f.tables["regions"]); errs.KindOf(err) != errs.KindDenied || !strings.Contains(err.Error(), "no engine profile") {
		t.Errorf("no default profile: %v", err)
	}
	if got := ProfileFrom(WithProfile(context.Background(), "trino")); got != "trino" {
		t.Errorf("ProfileFrom = %q", got)
	}
	if got := ProfileFrom(context.Background()); got != "" {
		t.Errorf("ProfileFrom(empty) = %q", got)
	}
}

func TestNewValidation(t *testing.T) {
	pol := func() *policy.Policy { return nil }
	cases := []struct {
		name string
		cfg  Config
		src  func() *policy.Policy
		want string
	}{
		{"no policy source", Config{}, nil, "no policy source"},
		{"unnamed profile", Config{Profiles: []Profile{{Dialect: "hive"}}}, pol, "has no name"},
		{"duplicate profile", Config{Profiles: []Profile{{Name: "a", Dialect: "trino"}, {Name: "a", Dialect: "trino"}}}, pol, "defined twice"},
		{"no dialect", Config{Profiles: []Profile{{Name: "a"}}}, pol, "has no dialect"},
		{"bad dialect", Config{Profiles: []Profile{{Name: "a", Dialect: "oracle"}}}, pol, "unknown dialect"},
		{"unknown default", Config{Profiles: []Profile{{Name: "a", Dialect: "trino"}}, Default: "b"}, pol, `default engine profile "b"`},
		{"trusted hive without key", Config{Profiles: []Profile{{Name: "a", Dialect: "spark", Trusted: true}}}, pol, "alias key"},
		{"trusted hive with short key", Config{Profiles: []Profile{{Name: "a", Dialect: "hive", Trusted: true}}, AliasKey: []byte("short")}, pol, "alias key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg, c.src, nil, nil)
			if errs.KindOf(err) != errs.KindInvalid || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v, want invalid with %q", err, c.want)
			}
		})
	}
	// Untrusted Hive and trusted Trino profiles need no key.
	if _, err := New(Config{Profiles: []Profile{{Name: "nb", Dialect: "hive"}, {Name: "t", Dialect: "presto", Trusted: true}}}, pol, nil, nil); err != nil {
		t.Errorf("New without a key: %v", err)
	}
}

// TestResolveAlias: an alias resolves only for its user, table, policy version and a trusted
// Hive-dialect engine.
func TestResolveAlias(t *testing.T) {
	f := newFixture(t)
	v, err := f.g.Table(as("spark", alice), f.tables["customers"])
	if err != nil {
		t.Fatal(err)
	}
	alias := viewAlias(t, v)
	token := strings.TrimPrefix(alias, "customers"+AliasInfix)
	cases := []struct {
		name      string
		ctx       context.Context
		db, alias string
		bump      bool // a new policy version is in force
		want      string
	}{
		{"its user", as("spark", alice), "sales", alias, false, "customers"},
		{"its user, upper case", as("spark", alice), "SALES", strings.ToUpper(alias), false, "customers"},
		{"its user with other groups", as("spark", thrift.Identity{User: "alice"}), "sales", alias, false, "customers"},
		{"another user", as("spark", erin), "sales", alias, false, ""},
		{"another table", as("spark", alice), "sales", "regions" + AliasInfix + token, false, ""},
		{"another database", as("spark", alice), "scratch", alias, false, ""},
		{"a newer policy", as("spark", alice), "sales", alias, true, ""},
		{"through trino", as("trino", alice), "sales", alias, false, ""},
		{"through an untrusted engine", as("notebook", alice), "sales", alias, false, ""},
		{"short token", as("spark", alice), "sales", alias[:len(alias)-1], false, ""},
		{"not hex", as("spark", alice), "sales", "customers__raw_0123456789abcdeg", false, ""},
		{"no table", as("spark", alice), "sales", "__raw_" + token, false, ""},
		{"plain name", as("spark", alice), "sales", "customers", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.pol = loadPolicy(t)
			if c.bump {
				f.pol = f.pol.WithVersion(8)
			}
			got, ok := f.g.ResolveAlias(c.ctx, c.db, c.alias)
			if got != c.want || ok != (c.want != "") {
				t.Errorf("ResolveAlias(%s, %s) = %q, %v; want %q", c.db, c.alias, got, ok, c.want)
			}
			err := f.g.CheckRaw(c.ctx, c.db, c.alias)
			if (err == nil) != ok {
				t.Errorf("CheckRaw(%s, %s) = %v, want allowed %v", c.db, c.alias, err, ok)
			}
		})
	}
}

// TestViews checks the shape of both kinds of view against what each engine requires.
func TestViews(t *testing.T) {
	f := newFixture(t)
	orig := f.tables["customers"]

	hv, err := f.g.Table(as("spark", erin), orig)
	if err != nil {
		t.Fatal(err)
	}
	if hv.TableType != "VIRTUAL_VIEW" || hv.Sd.Location != "" || hv.ViewOriginalText != hv.ViewExpandedText ||
		len(hv.PartitionKeys) != 0 || hv.DbName != "sales" || hv.TableName != "customers" {
		t.Errorf("hive view: %+v", hv)
	}
	for k := range hv.Parameters {
		if strings.HasPrefix(k, "spark.sql.") || k == "EXTERNAL" {
			t.Errorf("hive view keeps table parameter %s", k)
		}
	}
	var cols []string
	for _, c := range hv.Sd.Cols {
		cols = append(cols, c.Name+":"+c.Type)
	}
	if want := "id:bigint name:string email:string phone:string region:string account_manager:string dt:date"; strings.Join(cols, " ") != want {
		t.Errorf("hive view columns %v, want %s", cols, want)
	}
	if !strings.HasPrefix(hv.ViewExpandedText, "SELECT `id`, `name`, ") || !strings.Contains(hv.ViewExpandedText, " FROM `sales`.`customers__raw_") ||
		strings.Contains(hv.ViewExpandedText, "ssn") || !strings.Contains(hv.ViewExpandedText, "'erin'") {
		t.Errorf("hive view text: %s", hv.ViewExpandedText)
	}

	tv, err := f.g.Table(as("trino", erin), orig)
	if err != nil {
		t.Fatal(err)
	}
	v, err := presto.DecodeView(tv.ViewOriginalText)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(); err != nil {
		t.Error(err)
	}
	want := presto.ViewTable("sales", "customers", v)
	want.CreateTime = orig.CreateTime
	if !reflect.DeepEqual(tv, want) {
		t.Errorf("trino view is not presto.ViewTable:\n got %+v\nwant %+v", tv, want)
	}
	if !presto.IsView(tv) || v.Owner != "propolis" || v.RunAsInvoker || v.Catalog != "lake" || v.Schema != "sales" {
		t.Errorf("trino view definition: %+v", v)
	}
	if !strings.Contains(v.OriginalSQL, `FROM "lake"."sales"."customers__raw_`) || !strings.HasSuffix(v.OriginalSQL, `" WHERE (("region" IN ('EU')) OR ("account_manager" = 'erin'))`) {
		t.Errorf("trino view sql: %s", v.OriginalSQL)
	}
	// The default catalog.
	g, err := New(Config{Profiles: []Profile{{Name: "t", Dialect: "trino", Trusted: true}}}, func() *policy.Policy { return f.pol }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tv, err = g.Table(as("t", alice), orig)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := presto.DecodeView(tv.ViewOriginalText); !strings.Contains(v.OriginalSQL, `FROM "hive"."sales"."customers__raw_`) || v.Catalog != "hive" {
		t.Errorf("default catalog: %+v", v)
	}
}

// TestBuildPlan covers what a decision can carry that the policy would normally have refused.
func TestBuildPlan(t *testing.T) {
	ref := policy.TableRef{DB: "d", Table: "t", Columns: []policy.Column{{Name: "id", Type: "bigint"}, {Name: "score", Type: "double"}, {Name: "c", Type: "char(4)"}}}
	env := expr.RenderEnv{User: "u"}
	cases := []struct {
		name   string
		d      policy.Decision
		worker bool
		want   string // error text, or the Trino SQL
	}{
		{"plain", policy.Decision{HiddenColumns: []string{"c"}}, false, `SELECT "id", "score" FROM "x"`},
		{"round of double", policy.Decision{Masks: map[string]string{"score": "round(1)"}}, true, "not native"},
		{"hash of char", policy.Decision{Masks: map[string]string{"c": "hash"}}, true, "not native"},
		{"keyed function", policy.Decision{Masks: map[string]string{"id": "expr(tokenize(id, 'k'))"}}, true, ""},
		{"mask of a missing column", policy.Decision{Masks: map[string]string{"nope": "null"}}, false, "does not have"},
		{"bad mask", policy.Decision{Masks: map[string]string{"id": "scramble"}}, false, "unknown mask"},
		{"filter on a missing column", policy.Decision{RowFilter: "nope = 1"}, false, "row filter"},
		{"non-boolean filter", policy.Decision{RowFilter: "id + 1"}, false, "not boolean"},
		{"unparsable filter", policy.Decision{RowFilter: "id = "}, false, "row filter"},
		{"everything hidden", policy.Decision{HiddenColumns: []string{"id", "score", "c"}}, false, "every column is hidden"},
		{"filter over a hidden column", policy.Decision{HiddenColumns: []string{"score"}, RowFilter: "score > 1 AND current_user() = 'u'"}, false, `SELECT "id", "c" FROM "x" WHERE (("score" > 1) AND ('u' = 'u'))`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := buildPlan(ref, c.d, expr.Trino, env)
			var we *workerError
			if got := errors.As(err, &we); got != c.worker {
				t.Fatalf("worker error %v, want %v (%v)", got, c.worker, err)
			}
			if err != nil {
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %v, want %q", err, c.want)
				}
				return
			}
			if got := p.selectSQL(expr.Trino, "x"); got != c.want {
				t.Errorf("sql %s, want %s", got, c.want)
			}
		})
	}
}

// TestCheckWriteOps: each operation needs its privilege; the service principal needs none.
func TestCheckWriteOps(t *testing.T) {
	pol, err := policy.Parse("ops", []byte(`
default: deny
grants:
  - {to: [user:reader], privileges: [select], on: "d.*"}
  - {to: [user:creator], privileges: [select, create], on: "d.*"}
  - {to: [user:alterer], privileges: [select, alter], on: "d.*"}
  - {to: [user:dropper], privileges: [select, drop], on: "d.*"}
  - {to: [user:inserter], privileges: [select, insert], on: "d.*"}
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{Profiles: []Profile{{Name: "t", Dialect: "trino", Trusted: true}}}, func() *policy.Policy { return pol }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ops := []string{hms.OpCreate, hms.OpAlter, hms.OpDrop, hms.OpInsert, hms.OpLock, "truncate"}
	cases := []struct {
		user    string
		allowed string // the ops allowed, in ops order
	}{
		{"reader", ""},
		{"creator", "create"},
		{"alterer", "alter"},
		{"dropper", "drop"},
		{"inserter", "insert lock"},
		{"propolis", "create alter drop insert lock"},
	}
	for _, c := range cases {
		var got []string
		for _, op := range ops {
			err := g.CheckWrite(as("t", thrift.Identity{User: c.user}), op, "d", "t")
			switch {
			case err == nil:
				got = append(got, op)
			case errs.KindOf(err) != errs.KindDenied:
				t.Errorf("%s %s: %v (%s), want denied", c.user, op, err, errs.KindOf(err))
			}
		}
		if strings.Join(got, " ") != c.allowed {
			t.Errorf("%s may %v, want %s", c.user, got, c.allowed)
		}
	}
}

// TestAudit: every decision is recorded with its engine, version and path.
func TestAudit(t *testing.T) {
	f := newFixture(t)
	ctx := as("spark", erin)
	_, _ = f.g.FilterDatabases(ctx, []string{"sales", "hr"})
	_, _ = f.g.FilterTables(ctx, "sales", tableOrder)
	v, _ := f.g.Table(ctx, f.tables["customers"])
	_, _ = f.g.ResolveAlias(ctx, "sales", viewAlias(t, v))
	_, _ = f.g.Table(ctx, f.tables["regions"])
	_, _ = f.g.Table(ctx, f.tables["payments"])
	_, _ = f.g.Table(ctx, f.tables["scores"])
	_ = f.g.CheckRaw(ctx, "sales", "customers")
	_ = f.g.CheckWrite(ctx, hms.OpCreate, "scratch", "tmp")
	_, _ = f.g.Table(as("trino", erin), f.tables["customers"])
	var b strings.Builder
	for _, e := range f.aud.take() {
		fmt.Fprintf(&b, "%s user=%s groups=%v engine=%s action=%s object=%s outcome=%s version=%d path=%s rules=%v\n    reason: %s\n",
			e.Time.Format("2006-01-02T15:04:05Z"), e.User, e.Groups, e.Engine, e.Action, e.Object, e.Outcome, e.PolicyVersion, e.Path, e.Rules, e.Reason)
	}
	golden(t, "audit.golden", b.String())
}

// TestAuditLog: the Guard writes to a real audit.Log as JSON lines.
func TestAuditLog(t *testing.T) {
	var buf bytes.Buffer
	pol := loadPolicy(t)
	g, err := New(Config{Profiles: testProfiles, AliasKey: testKey}, func() *policy.Policy { return pol }, audit.New(&buf), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Table(as("trino", alice), testTables()["customers"]); err != nil {
		t.Fatal(err)
	}
	var e audit.Entry
	if err := json.Unmarshal(buf.Bytes(), &e); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if e.User != "alice" || e.Engine != "trino" || e.Action != ActionGetTable || e.Object != "sales.customers" ||
		e.Outcome != audit.OutcomeRestricted || e.Path != audit.PathNative || e.PolicyVersion != 7 || len(e.Rules) == 0 {
		t.Errorf("audit entry %+v", e)
	}
}

// BenchmarkTable is the decision plus rewrite cost of one get_table, per kind of answer.
func BenchmarkTable(b *testing.B) {
	f := newFixture(b)
	f.g.aud = nil
	cases := []struct {
		name, profile, table string
		id                   thrift.Identity
	}{
		{"raw", "trino", "regions", alice},
		{"hidden", "trino", "payments", alice},
		{"trino view", "trino", "customers", erin},
		{"hive view", "spark", "customers", erin},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ctx, tb := as(c.profile, c.id), f.tables[c.table]
			for b.Loop() {
				_, _ = f.g.Table(ctx, tb)
			}
		})
	}
}
