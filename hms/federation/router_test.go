package federation

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/embedded"
	"github.com/propolis/propolis/internal/errs"
)

var update = flag.Bool("update", false, "rewrite golden files")

var ctx = context.Background()

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// store opens a real embedded catalog: the members of these tests are real backends.
func store(t *testing.T, dbs ...string) *embedded.Store {
	t.Helper()
	dir := t.TempDir()
	s, err := embedded.Open(ctx, embedded.Config{Driver: "sqlite", DSN: filepath.Join(dir, "c.db"), Warehouse: "file://" + dir + "/wh"}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, db := range dbs {
		if err := s.CreateDatabase(ctx, &hm.Database{Name: db}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// faulty wraps a backend for fault injection: down makes every call unavailable, slow delays
// it past any deadline; calls counts what reached the backend.
type faulty struct {
	hms.Backend
	name  string
	down  atomic.Bool
	slow  atomic.Bool
	calls atomic.Int64
}

func (f *faulty) fail(ctx context.Context) error {
	f.calls.Add(1)
	if f.down.Load() {
		return errs.Unavailable("backend %s (127.0.0.1:1) unavailable: connection refused", f.name)
	}
	if f.slow.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
	return nil
}

func (f *faulty) ListDatabases(ctx context.Context) ([]string, error) {
	if err := f.fail(ctx); err != nil {
		return nil, err
	}
	return f.Backend.ListDatabases(ctx)
}

func (f *faulty) GetTable(ctx context.Context, db, name string) (*hm.Table, error) {
	if err := f.fail(ctx); err != nil {
		return nil, err
	}
	return f.Backend.GetTable(ctx, db, name)
}

type fixture struct {
	r      *Router
	main   *embedded.Store
	legacy *faulty
	glue   *faulty
	ro     *embedded.Store
}

func newFixture(t *testing.T, legacyRule OnUnavailable) *fixture {
	t.Helper()
	f := &fixture{
		main:   store(t, "sales"),
		legacy: &faulty{Backend: store(t, "sales", "tmp_scratch", "finance"), name: "legacy"},
		glue:   &faulty{Backend: store(t, "marketing", "tmp_x"), name: "glue"},
		ro:     store(t, "archive"),
	}
	members := []*Member{
		{Name: "main", Backend: f.main, Write: ReadWrite},
		{Name: "legacy", Backend: f.legacy, Prefix: "legacy_", Write: AllowList, WriteDatabases: []string{"sales"},
			Databases: Patterns{Deny: []string{"tmp_*"}}, Tables: Patterns{Deny: []string{"finance.secret*"}},
			OnUnavailable: legacyRule, ListTimeout: 300 * time.Millisecond},
		{Name: "glue", Backend: f.glue, Mapping: map[string]string{"mkt": "marketing"}, Write: ReadWrite, OnUnavailable: Omit,
			ListTimeout: 300 * time.Millisecond},
		{Name: "ro", Backend: f.ro, Prefix: "ro_", Write: ReadOnly},
	}
	r, err := New(members, "main", BreakerConfig{Failures: 3, Cooldown: 200 * time.Millisecond}, quiet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	return f
}

func table(db, name string) *hm.Table {
	return &hm.Table{DbName: db, TableName: name, TableType: "MANAGED_TABLE",
		Sd: &hm.StorageDescriptor{Cols: []*hm.FieldSchema{{Name: "id", Type: "bigint"}, {Name: "region", Type: "string"}}, SerdeInfo: &hm.SerDeInfo{}}}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from golden:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func TestResolve(t *testing.T) {
	f := newFixture(t, Fail)
	var b strings.Builder
	for _, name := range []string{
		"sales", "SALES", "default", "legacy_sales", "legacy_default", "legacy_", "legacy_tmp_scratch",
		"mkt", "marketing", "glue_marketing", "tmp_x", "ro_archive", "ro_", "@hive#sales", "nosuch",
	} {
		m, own, err := f.r.resolve(name)
		switch {
		case err != nil:
			fmt.Fprintf(&b, "%-20s -> %s: %v\n", name, errs.KindOf(err), err)
		default:
			fmt.Fprintf(&b, "%-20s -> %s.%s\n", name, m.Name, own)
		}
	}
	golden(t, "resolve.golden", b.String())
}

func TestListDatabasesMergesAndFilters(t *testing.T) {
	f := newFixture(t, Fail)
	got, err := f.r.ListDatabases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "databases.golden", strings.Join(got, "\n")+"\n")
}

func TestNamesTranslatedBothWays(t *testing.T) {
	f := newFixture(t, Fail)
	// A view defined in the legacy catalog, as Spark writes it there.
	view := &hm.Table{DbName: "sales", TableName: "v_orders", TableType: "VIRTUAL_VIEW",
		Sd:               &hm.StorageDescriptor{Cols: []*hm.FieldSchema{{Name: "id", Type: "bigint"}}, SerdeInfo: &hm.SerDeInfo{}},
		ViewOriginalText: "SELECT id FROM orders",
		ViewExpandedText: "SELECT `o`.`id` FROM `sales`.`orders` `o` JOIN `finance`.`rates` `r` ON `o`.`id` = `r`.`id`",
		Parameters:       map[string]string{"view.catalogAndNamespace.part.0": "spark_catalog", "view.catalogAndNamespace.part.1": "sales"}}
	if err := f.legacy.Backend.CreateTable(ctx, view); err != nil {
		t.Fatal(err)
	}
	got, err := f.r.GetTable(ctx, "legacy_sales", "v_orders")
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("db: %s\nexpanded: %s\noriginal: %s\nspark db: %s\n", got.DbName, got.ViewExpandedText, got.ViewOriginalText,
		got.Parameters["view.catalogAndNamespace.part.1"])

	// And back: a view created through Propolis lands with the backend's own names.
	in := *view
	in.DbName, in.TableName = "legacy_sales", "v2"
	in.ViewExpandedText = "SELECT `o`.`id` FROM `legacy_sales`.`orders` `o`"
	in.Parameters = map[string]string{"view.catalogAndNamespace.part.1": "legacy_sales"}
	if err := f.r.CreateTable(ctx, &in); err != nil {
		t.Fatal(err)
	}
	stored, err := f.legacy.Backend.GetTable(ctx, "sales", "v2")
	if err != nil {
		t.Fatal(err)
	}
	out += fmt.Sprintf("stored db: %s\nstored expanded: %s\nstored spark db: %s\n", stored.DbName, stored.ViewExpandedText,
		stored.Parameters["view.catalogAndNamespace.part.1"])
	if in.DbName != "legacy_sales" {
		t.Errorf("the caller's table was modified: %s", in.DbName)
	}
	golden(t, "views.golden", out)

	db, err := f.r.GetDatabase(ctx, "mkt")
	if err != nil || db.Name != "mkt" {
		t.Fatalf("mapped database = %v, %v", db, err)
	}
}

func TestVisibilityAndWriteRules(t *testing.T) {
	f := newFixture(t, Fail)
	if err := f.legacy.Backend.CreateTable(ctx, table("finance", "secret_salaries")); err != nil {
		t.Fatal(err)
	}
	if err := f.legacy.Backend.CreateTable(ctx, table("finance", "rates")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		call func() error
		want errs.Kind
	}{
		{"hidden table get", func() error { _, err := f.r.GetTable(ctx, "legacy_finance", "secret_salaries"); return err }, errs.KindNotFound},
		{"visible table get", func() error { _, err := f.r.GetTable(ctx, "legacy_finance", "rates"); return err }, errs.KindUnknown},
		{"hidden database", func() error { _, err := f.r.GetDatabase(ctx, "legacy_tmp_scratch"); return err }, errs.KindNotFound},
		{"write to allow-listed db", func() error { return f.r.CreateTable(ctx, table("legacy_sales", "t1")) }, errs.KindUnknown},
		{"write to other legacy db", func() error { return f.r.CreateTable(ctx, table("legacy_finance", "t1")) }, errs.KindDenied},
		{"write to read-only backend", func() error { return f.r.CreateTable(ctx, table("ro_archive", "t1")) }, errs.KindDenied},
		{"create database on read-only", func() error { return f.r.CreateDatabase(ctx, &hm.Database{Name: "ro_new"}) }, errs.KindDenied},
		{"create database on primary", func() error { return f.r.CreateDatabase(ctx, &hm.Database{Name: "fresh"}) }, errs.KindUnknown},
		{"rename across backends", func() error {
			if err := f.r.CreateTable(ctx, table("sales", "moveme")); err != nil {
				return err
			}
			return f.r.AlterTable(ctx, "sales", "moveme", table("legacy_sales", "moveme"), false)
		}, errs.KindInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.want == errs.KindUnknown {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if errs.KindOf(err) != tc.want {
				t.Fatalf("got %v (%v), want %v", errs.KindOf(err), err, tc.want)
			}
		})
	}
	names, err := f.r.ListTables(ctx, "legacy_finance")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0].Name != "rates" {
		t.Fatalf("listing shows hidden tables: %v", names)
	}
	created, err := f.main.GetTable(ctx, "fresh", "nope")
	if errs.KindOf(err) != errs.KindNotFound || created != nil {
		t.Fatalf("fresh database not on the primary: %v", err)
	}
}

func TestUnavailableBackend(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule OnUnavailable
	}{{"fail", Fail}, {"omit", Omit}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.rule)
			f.legacy.down.Store(true)
			// A call addressed to the dead backend names it and is never "not found".
			_, err := f.r.GetTable(ctx, "legacy_sales", "orders")
			if errs.KindOf(err) != errs.KindUnavailable || !strings.Contains(err.Error(), "legacy") {
				t.Fatalf("get_table on a dead backend: %v (%v)", errs.KindOf(err), err)
			}
			// Calls to the others still work.
			if _, err := f.r.GetDatabase(ctx, "sales"); err != nil {
				t.Fatal(err)
			}
			dbs, err := f.r.ListDatabases(ctx)
			switch tc.rule {
			case Fail:
				if errs.KindOf(err) != errs.KindUnavailable || !strings.Contains(err.Error(), "backend legacy") {
					t.Fatalf("listing with a failed backend: %v", err)
				}
			case Omit:
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range dbs {
					if strings.HasPrefix(d, "legacy_") {
						t.Fatalf("omitted backend still listed: %v", dbs)
					}
				}
				var st MemberStatus
				for _, s := range f.r.Status() {
					if s.Name == "legacy" {
						st = s
					}
				}
				if st.Omissions == 0 || st.LastError == "" {
					t.Fatalf("omission not reported: %+v", st)
				}
			}
		})
	}
}

func TestSlowBackendHitsItsDeadline(t *testing.T) {
	f := newFixture(t, Fail)
	f.glue.slow.Store(true) // glue omits
	start := time.Now()
	dbs, err := f.r.ListDatabases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("listing waited %v for a slow backend with a 300ms deadline", d)
	}
	for _, d := range dbs {
		if d == "mkt" {
			t.Fatalf("slow, omitted backend listed: %v", dbs)
		}
	}
	f.glue.slow.Store(false)
	f.legacy.slow.Store(true) // legacy fails the listing
	_, err = f.r.ListDatabases(ctx)
	if errs.KindOf(err) != errs.KindUnavailable {
		t.Fatalf("deadline on a failing backend: %v (%v)", errs.KindOf(err), err)
	}
}

func TestCircuitBreaker(t *testing.T) {
	f := newFixture(t, Fail)
	f.legacy.down.Store(true)
	for i := 0; i < 3; i++ {
		f.r.GetTable(ctx, "legacy_sales", "t")
	}
	before := f.legacy.calls.Load()
	for i := 0; i < 5; i++ {
		_, err := f.r.GetTable(ctx, "legacy_sales", "t")
		if errs.KindOf(err) != errs.KindUnavailable || !strings.Contains(err.Error(), "circuit open") {
			t.Fatalf("open circuit: %v", err)
		}
	}
	if f.legacy.calls.Load() != before {
		t.Fatalf("open circuit still called the backend %d times", f.legacy.calls.Load()-before)
	}
	// The backend comes back; after the cooldown one probe closes the circuit.
	f.legacy.down.Store(false)
	time.Sleep(250 * time.Millisecond)
	if err := f.legacy.Backend.CreateTable(ctx, table("sales", "t")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.r.GetTable(ctx, "legacy_sales", "t"); err != nil {
		t.Fatalf("probe after cooldown: %v", err)
	}
	if _, err := f.r.GetTable(ctx, "legacy_sales", "t"); err != nil {
		t.Fatalf("closed circuit: %v", err)
	}
}

func TestLocksRouteBack(t *testing.T) {
	f := newFixture(t, Fail)
	for _, db := range []string{"sales", "legacy_sales", "mkt"} {
		own := strings.TrimPrefix(db, "legacy_")
		if db == "mkt" {
			own = "marketing"
		}
		m, _, _ := f.r.resolve(db)
		if err := m.Backend.CreateTable(ctx, table(own, "ice")); err != nil {
			t.Fatal(err)
		}
	}
	tbl := "ice"
	ids := map[string]int64{}
	for _, db := range []string{"sales", "legacy_sales", "mkt"} {
		resp, err := f.r.Lock(ctx, &hm.LockRequest{User: "u", Hostname: "h", Component: []*hm.LockComponent{{
			Type: hm.LockType_EXCLUSIVE, Level: hm.LockLevel_TABLE, Dbname: db, Tablename: &tbl}}})
		if err != nil {
			t.Fatalf("lock %s: %v", db, err)
		}
		if resp.State != hm.LockState_ACQUIRED {
			t.Fatalf("lock %s: %v", db, resp.State)
		}
		ids[db] = resp.Lockid
	}
	shown, err := f.r.ShowLocks(ctx, &hm.ShowLocksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(shown.Locks) != 3 {
		t.Fatalf("show_locks = %d", len(shown.Locks))
	}
	for db, id := range ids {
		if err := f.r.Heartbeat(ctx, id); err != nil {
			t.Fatalf("heartbeat %s: %v", db, err)
		}
		if err := f.r.Unlock(ctx, id); err != nil {
			t.Fatalf("unlock %s: %v", db, err)
		}
	}
	if err := f.r.Unlock(ctx, 12345<<lockIDBits|200); errs.KindOf(err) != errs.KindNotFound {
		t.Fatalf("unknown lock: %v", err)
	}
	_, err = f.r.Lock(ctx, &hm.LockRequest{Component: []*hm.LockComponent{
		{Type: hm.LockType_EXCLUSIVE, Level: hm.LockLevel_DB, Dbname: "sales"},
		{Type: hm.LockType_EXCLUSIVE, Level: hm.LockLevel_DB, Dbname: "mkt"}}})
	if errs.KindOf(err) != errs.KindInvalid {
		t.Fatalf("cross-backend lock: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	s := store(t)
	cases := []struct {
		name    string
		members []*Member
		primary string
		want    string
	}{
		{"no primary", []*Member{{Name: "a", Backend: s}}, "b", "primary"},
		{"duplicate name", []*Member{{Name: "a", Backend: s}, {Name: "a", Backend: s, Prefix: "x_"}}, "a", "twice"},
		{"secondary without prefix", []*Member{{Name: "a", Backend: s}, {Name: "b", Backend: s}}, "a", "prefix"},
		{"mapping clash", []*Member{{Name: "a", Backend: s, Mapping: map[string]string{"x": "y"}}, {Name: "b", Backend: s, Mapping: map[string]string{"x": "z"}}}, "a", "mapped by both"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.members, tc.primary, BreakerConfig{}, quiet(), nil)
			if errs.KindOf(err) != errs.KindInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an invalid error mentioning %q", err, tc.want)
			}
		})
	}
}
