package hms_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/propolis/propolis/compat-tests/hms/hmstest"
	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/embedded"
	"github.com/propolis/propolis/hms/federation"
	"github.com/propolis/propolis/hms/upstream"
	"github.com/propolis/propolis/internal/errs"
	pthrift "github.com/propolis/propolis/thrift"
)

var _ hms.ForwardRouter = (*federation.Router)(nil)
var _ hms.RawCaller = (*upstream.Client)(nil)

// rawBackend is a backend that can forward: a catalog for the router's lookups plus a CallRaw
// that records what reached it and answers with an empty result.
type rawBackend struct {
	hms.Backend

	mu    sync.Mutex
	calls []rawCall
}

type rawCall struct {
	method string
	args   *pthrift.Struct
}

func (b *rawBackend) CallRaw(ctx context.Context, method string, args *pthrift.Struct) (*pthrift.Struct, athrift.TMessageType, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, rawCall{method, args})
	return &pthrift.Struct{}, athrift.REPLY, nil
}

func (b *rawBackend) take() []rawCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.calls
	b.calls = nil
	return c
}

// store opens an embedded catalog holding dbs.
func store(t *testing.T, dbs ...string) hms.Backend {
	t.Helper()
	dir := t.TempDir()
	wh := "file://" + filepath.Join(dir, "warehouse")
	s, err := embedded.Open(context.Background(), embedded.Config{
		Driver: "sqlite", DSN: filepath.Join(dir, "catalog.db"), Warehouse: wh, LockTimeout: time.Minute,
	}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, db := range dbs {
		if err := s.CreateDatabase(context.Background(), &hm.Database{Name: db}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// generic turns a gohive arguments struct into the generic form the dispatcher hands over.
func generic(t *testing.T, s athrift.TStruct) *pthrift.Struct {
	t.Helper()
	buf := athrift.NewTMemoryBuffer()
	if err := s.Write(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		t.Fatal(err)
	}
	g, err := pthrift.ReadStruct(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil), pthrift.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// typed reads a generic struct back into a gohive one.
func typed[T athrift.TStruct](t *testing.T, g *pthrift.Struct, into T) T {
	t.Helper()
	buf := athrift.NewTMemoryBuffer()
	if err := g.Write(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		t.Fatal(err)
	}
	if err := into.Read(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		t.Fatal(err)
	}
	return into
}

// TestForwarderRouting: which backend a call goes to, what database name it carries there, and
// every way forwarding is refused. The members are catalogs with a CallRaw that records.
func TestForwarderRouting(t *testing.T) {
	up := &rawBackend{Backend: store(t, "sales", "nosuch_elsewhere")}
	fin := &rawBackend{Backend: store(t, "fin")}
	ro := &rawBackend{Backend: store(t, "reports")}
	filtered := &rawBackend{Backend: store(t, "x")}
	rawPrimary := &rawBackend{Backend: store(t, "main", "hive")}
	members := func(primary hms.Backend) []*federation.Member {
		return []*federation.Member{
			{Name: "main", Backend: primary, Databases: federation.Patterns{Deny: []string{"secret*"}}},
			{Name: "up", Backend: up, Prefix: "up_", Write: federation.ReadWrite},
			{Name: "fin", Backend: fin, Mapping: map[string]string{"finance": "fin"}, Write: federation.ReadWrite},
			{Name: "ro", Backend: ro, Prefix: "ro_"},
			{Name: "filtered", Backend: filtered, Prefix: "flt_", Tables: federation.Patterns{Deny: []string{"*.hidden"}}},
		}
	}
	embeddedRouter, err := federation.New(members(store(t, "local")), "main", federation.BreakerConfig{}, quietLog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rawRouter, err := federation.New(members(rawPrimary), "main", federation.BreakerConfig{}, quietLog(), nil)
	if err != nil {
		t.Fatal(err)
	}

	pv := func(db, tbl string) athrift.TStruct {
		return &hm.ThriftHiveMetastoreGetPartitionValuesArgs{Request: &hm.PartitionValuesRequest{DbName: db, TblName: tbl, PartitionKeys: []*hm.FieldSchema{}}}
	}
	ext := func(db string) athrift.TStruct {
		return &hm.ThriftHiveMetastoreGetTablesExtArgs{Req: &hm.GetTablesExtRequest{Catalog: "hive", Database: db, TableNamePattern: "*", RequestedFields: 1}}
	}
	byFilter := func(db string) athrift.TStruct {
		return &hm.ThriftHiveMetastoreGetTableNamesByFilterArgs{Dbname: db, Filter: "hive_filter_field_params__x = \"1\"", MaxTables: -1}
	}
	type want struct {
		backend *rawBackend
		db      string // the database name the backend got
		kind    errs.Kind
		msg     string
	}
	deniesExt := func(method string) error {
		if method == "get_tables_ext" {
			return errs.Denied("policy: %s returns table metadata", method)
		}
		return nil
	}
	tests := []struct {
		name   string
		router *federation.Router
		deny   func(string) error
		method string
		args   athrift.TStruct
		want   want
	}{
		{"prefixed database, rewritten", embeddedRouter, nil, "get_partition_values", pv("up_sales", "orders"), want{backend: up, db: "sales"}},
		{"the database wins over a table named like another", embeddedRouter, nil, "get_partition_values", pv("up_sales", "local"), want{backend: up, db: "sales"}},
		{"catalog field first, then the database", embeddedRouter, nil, "get_tables_ext", ext("up_sales"), want{backend: up, db: "sales"}},
		{"catalog-qualified name keeps its form", embeddedRouter, nil, "get_table_names_by_filter", byFilter("@hive#up_sales"), want{backend: up, db: "@hive#sales"}},
		{"explicit mapping", embeddedRouter, nil, "get_table_names_by_filter", byFilter("FINANCE"), want{backend: fin, db: "fin"}},
		{"read on a read-only member", embeddedRouter, nil, "get_partition_values", pv("ro_reports", "t"), want{backend: ro, db: "reports"}},
		{"write on a read-only member", embeddedRouter, nil, "truncate_table", &hm.ThriftHiveMetastoreTruncateTableArgs{DbName: "ro_reports", TableName: "t"}, want{kind: errs.KindDenied, msg: "read-only"}},
		{"member filtering tables", embeddedRouter, nil, "get_partition_values", pv("flt_x", "t"), want{kind: errs.KindDenied, msg: "filters tables"}},
		{"embedded member cannot forward", embeddedRouter, nil, "get_partition_values", pv("local", "t"), want{kind: errs.KindUnsupported, msg: "Propolis does not implement get_partition_values (backend main"}},
		{"no database: the primary, which cannot forward", embeddedRouter, nil, "get_open_txns", &hm.ThriftHiveMetastoreGetOpenTxnsArgs{}, want{kind: errs.KindUnsupported, msg: "Propolis does not implement get_open_txns (backend main"}},
		{"no database: the primary", rawRouter, nil, "get_open_txns", &hm.ThriftHiveMetastoreGetOpenTxnsArgs{}, want{backend: rawPrimary}},
		{"primary database as is", rawRouter, nil, "get_partition_values", pv("main", "t"), want{backend: rawPrimary, db: "main"}},
		{"missing database the primary would serve as is", rawRouter, nil, "get_partition_values", pv("nothere", "t"), want{backend: rawPrimary, db: "nothere"}},
		{"missing database of a prefixed member", rawRouter, nil, "get_partition_values", pv("up_nothere", "t"), want{kind: errs.KindUnsupported, msg: "names no database"}},
		{"database the rules hide", rawRouter, nil, "get_partition_values", pv("secret_db", "t"), want{kind: errs.KindUnsupported, msg: "names no database"}},
		{"the member's own name, shadowed by its prefix", rawRouter, nil, "get_partition_values", pv("nosuch_elsewhere", "t"), want{backend: rawPrimary, db: "nosuch_elsewhere"}},
		{"pattern and no database", rawRouter, nil, "get_tables_ext", &hm.ThriftHiveMetastoreGetTablesExtArgs{Req: &hm.GetTablesExtRequest{Catalog: "cat2", Database: "x*", TableNamePattern: "*"}}, want{kind: errs.KindUnsupported, msg: "names no database"}},
		{"catalog name tried last", rawRouter, nil, "get_tables_ext", ext("up_sales"), want{backend: up, db: "sales"}},
		{"a database named like the catalog", rawRouter, nil, "get_partition_values", pv("hive", "t"), want{backend: rawPrimary, db: "hive"}},
		{"never forwarded", rawRouter, nil, "get_delegation_token", &hm.ThriftHiveMetastoreGetDelegationTokenArgs{TokenOwner: "alice", RenewerKerberosPrincipalName: "up_sales"}, want{kind: errs.KindUnsupported, msg: "never forwarded"}},
		{"denied by policy", embeddedRouter, deniesExt, "get_tables_ext", ext("up_sales"), want{kind: errs.KindDenied, msg: "get_tables_ext is not forwarded to a backend: refused by policy: policy: get_tables_ext returns table metadata"}},
		{"policy lets others through", embeddedRouter, deniesExt, "get_partition_values", pv("up_sales", "t"), want{backend: up, db: "sales"}},
	}
	all := []*rawBackend{up, fin, ro, filtered, rawPrimary}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := hms.NewForwarder(hms.ForwarderConfig{Deny: tt.deny, Registerer: prometheus.NewRegistry(), Log: quietLog()})
			args := generic(t, tt.args)
			_, _, err := f.Call(context.Background(), tt.router, tt.method, args)
			for _, b := range all {
				calls := b.take()
				if b != tt.want.backend {
					if len(calls) > 0 {
						t.Errorf("a backend that should not have been called got %d calls", len(calls))
					}
					continue
				}
				if len(calls) != 1 || calls[0].method != tt.method {
					t.Fatalf("backend got %+v, want one %s", calls, tt.method)
				}
				if tt.want.db == "" {
					continue
				}
				if got := calls[0].args.StringFields(1); !containsString(got, tt.want.db) {
					t.Errorf("backend got strings %v, want %q among them", strs(got), tt.want.db)
				}
			}
			if tt.want.backend != nil {
				if err != nil {
					t.Fatalf("forward: %v", err)
				}
				return
			}
			if err == nil || errs.KindOf(err) != tt.want.kind || !strings.Contains(err.Error(), tt.want.msg) {
				t.Fatalf("got %v (kind %v), want kind %v containing %q", err, errs.KindOf(err), tt.want.kind, tt.want.msg)
			}
		})
	}
}

func strs(fs []pthrift.StringField) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Value.Str())
	}
	return out
}

func containsString(fs []pthrift.StringField, s string) bool {
	for _, v := range strs(fs) {
		if v == s {
			return true
		}
	}
	return false
}

// counting counts the raw calls that reach an upstream.
type counting struct {
	*upstream.Client
	mu sync.Mutex
	n  map[string]int
}

func (c *counting) CallRaw(ctx context.Context, method string, args *pthrift.Struct) (*pthrift.Struct, athrift.TMessageType, error) {
	c.mu.Lock()
	c.n[method]++
	c.mu.Unlock()
	return c.Client.CallRaw(ctx, method, args)
}

func (c *counting) count(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[method]
}

// TestForwardRealMetastore: a real Hive metastore behind the router with a prefix, and an
// engine's client calling, under the exposed names, methods Propolis does not model.
func TestForwardRealMetastore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real Hive metastore")
	}
	dir := t.TempDir()
	addr := hmstest.Start(t, dir)
	uc, err := upstream.New(upstream.Config{Name: "legacy", Address: addr, CallTimeout: 30 * time.Second, MaxConns: 4}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	legacy := &counting{Client: uc, n: map[string]int{}}

	// The upstream's own data, made directly through its client.
	ctx := context.Background()
	ext := "file://" + filepath.Join(dir, "ext")
	if err := uc.CreateDatabase(ctx, &hm.Database{Name: "sales", LocationUri: ext + "/sales.db"}); err != nil {
		t.Fatal(err)
	}
	orders := salesTable("sales", "orders")
	orders.TableType = "EXTERNAL_TABLE"
	orders.Parameters["EXTERNAL"] = "TRUE"
	orders.Sd.Location = ext + "/sales.db/orders"
	if err := uc.CreateTable(ctx, orders); err != nil {
		t.Fatal(err)
	}
	var parts []*hm.Partition
	for _, v := range [][]string{{"eu", "1"}, {"us", "1"}, {"eu", "2"}} {
		p := part("sales", "orders", v...)
		p.Sd = parquetSD(ext+"/sales.db/orders/region="+v[0]+"/day="+v[1], orders.Sd.Cols...)
		parts = append(parts, p)
	}
	if _, err := uc.AddPartitions(ctx, "sales", "orders", parts, false); err != nil {
		t.Fatal(err)
	}

	local := store(t, "local")
	router, err := federation.New([]*federation.Member{
		{Name: "embedded", Backend: local},
		{Name: "legacy", Backend: legacy, Prefix: "legacy_"},
	}, "embedded", federation.BreakerConfig{}, quietLog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	fwd := hms.NewForwarder(hms.ForwarderConfig{
		Deny: func(method string) error {
			if method == "get_runtime_stats" {
				return errs.Denied("runtime statistics are not forwarded while policies are enforced")
			}
			return nil
		},
		Registerer: reg,
		Log:        quietLog(),
	})
	h := hms.NewHandler(router, hms.HandlerConfig{Version: "test", Warehouse: "file://" + dir}, quietLog())
	metrics := hms.NewMetrics(reg)
	srv := pthrift.NewServer(pthrift.Config{}, hms.NewForwardingProcessor(h, fwd, quietLog(), metrics.Interceptor()), quietLog(), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx, ln)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	c := dial(t, ln.Addr().String(), false)

	t.Run("forwarded with the exposed name; the upstream's exception, relayed", func(t *testing.T) {
		_, err := c.GetSchemaAllVersions(ctx, &hm.ISchemaName{CatName: "hive", DbName: "legacy_sales", SchemaName: "nosuch"})
		var nso *hm.NoSuchObjectException
		if !errors.As(err, &nso) {
			t.Fatalf("got %T %v, want the metastore's own exception", err, err)
		}
		// The upstream saw its own name for the database.
		if !strings.Contains(nso.Message, "dbName:sales") {
			t.Fatalf("upstream answered %q, want it to name its database sales", nso.Message)
		}
	})
	t.Run("embedded database: unknown method, as before", func(t *testing.T) {
		_, err := c.GetSchemaAllVersions(ctx, &hm.ISchemaName{CatName: "hive", DbName: "local", SchemaName: "s"})
		var app athrift.TApplicationException
		if !errors.As(err, &app) || app.TypeId() != athrift.UNKNOWN_METHOD {
			t.Fatalf("got %T %v, want UNKNOWN_METHOD", err, err)
		}
	})
	t.Run("denied by the policy hook", func(t *testing.T) {
		before := legacy.count("get_runtime_stats")
		_, err := c.GetRuntimeStats(ctx, &hm.GetRuntimeStatsRequest{MaxWeight: 1, MaxCreateTime: 1})
		var app athrift.TApplicationException
		if !errors.As(err, &app) || app.TypeId() != athrift.INTERNAL_ERROR ||
			!strings.Contains(app.Error(), "get_runtime_stats is not forwarded to a backend: refused by policy: runtime statistics are not forwarded") {
			t.Fatalf("got %T %v, want INTERNAL_ERROR saying why", err, err)
		}
		if n := legacy.count("get_runtime_stats"); n != before {
			t.Fatalf("the upstream was called %d times", n-before)
		}
	})
	t.Run("newer than both: the upstream's UNKNOWN_METHOD, relayed", func(t *testing.T) {
		// A method neither our bindings nor Hive 4.0.1 know, as a newer client would send it.
		args := &pthrift.Struct{Fields: []pthrift.Field{{ID: 1, Value: pthrift.Value{Type: athrift.STRUCT, Struct: &pthrift.Struct{
			Fields: []pthrift.Field{{ID: 1, Value: pthrift.Value{Type: athrift.STRING, Bytes: []byte("legacy_sales")}}},
		}}}}}
		_, err := c.Client_().Call(ctx, "get_tables_future", args, &pthrift.Struct{})
		var app athrift.TApplicationException
		if !errors.As(err, &app) || app.TypeId() != athrift.UNKNOWN_METHOD || !strings.Contains(app.Error(), "get_tables_future") {
			t.Fatalf("got %T %v, want the upstream's UNKNOWN_METHOD", err, err)
		}
		if n := legacy.count("get_tables_future"); n != 1 {
			t.Fatalf("the upstream got %d calls, want 1", n)
		}
	})
	t.Run("the connection carries on", func(t *testing.T) {
		dbs, err := c.GetAllDatabases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(dbs, ",") != "default,legacy_default,legacy_sales,local" {
			t.Fatalf("databases %q", dbs)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		want := map[string]float64{
			"get_schema_all_versions/legacy/ok":            1, // the relayed exception is a reply too
			"get_schema_all_versions/embedded/unsupported": 1,
			"get_runtime_stats//denied":                    1,
			"other/legacy/application_exception":           1, // names not in the IDL are not labels
		}
		got := forwardedCounts(t, reg)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
			}
		}
	})
}

func forwardedCounts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "propolis_forwarded_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			out[l["method"]+"/"+l["backend"]+"/"+l["outcome"]] = m.GetCounter().GetValue()
		}
	}
	return out
}
