package cache

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/embedded"
)

var ctx = context.Background()

func openStore(t testing.TB) *embedded.Store {
	t.Helper()
	dir := t.TempDir()
	s, err := embedded.Open(ctx, embedded.Config{
		Driver: "sqlite", DSN: filepath.Join(dir, "catalog.db"),
		Warehouse: "file://" + filepath.Join(dir, "warehouse"), LockTimeout: time.Minute,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// counting counts the reads that reach the wrapped backend, and the names asked in batches.
type counting struct {
	hms.Backend
	mu    sync.Mutex
	calls map[string]int
	asked [][]string
	delay time.Duration
}

func newCounting(b hms.Backend) *counting { return &counting{Backend: b, calls: map[string]int{}} }

func (c *counting) count(m string, names []string) {
	c.mu.Lock()
	c.calls[m]++
	if names != nil {
		c.asked = append(c.asked, append([]string(nil), names...))
	}
	d := c.delay
	c.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}

func (c *counting) n(m string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[m]
}

func (c *counting) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls, c.asked = map[string]int{}, nil
}

func (c *counting) GetDatabase(ctx context.Context, n string) (*hm.Database, error) {
	c.count("GetDatabase", nil)
	return c.Backend.GetDatabase(ctx, n)
}

func (c *counting) ListDatabases(ctx context.Context) ([]string, error) {
	c.count("ListDatabases", nil)
	return c.Backend.ListDatabases(ctx)
}

func (c *counting) GetTable(ctx context.Context, db, n string) (*hm.Table, error) {
	c.count("GetTable", nil)
	return c.Backend.GetTable(ctx, db, n)
}

func (c *counting) GetTables(ctx context.Context, db string, names []string) ([]*hm.Table, error) {
	c.count("GetTables", names)
	return c.Backend.GetTables(ctx, db, names)
}

func (c *counting) ListTables(ctx context.Context, db string) ([]hms.TableInfo, error) {
	c.count("ListTables", nil)
	return c.Backend.ListTables(ctx, db)
}

func (c *counting) GetPartitionsByNames(ctx context.Context, db, tbl string, names []string) ([]*hm.Partition, error) {
	c.count("GetPartitionsByNames", names)
	return c.Backend.GetPartitionsByNames(ctx, db, tbl, names)
}

func (c *counting) ListPartitions(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]*hm.Partition, error) {
	c.count("ListPartitions", nil)
	return c.Backend.ListPartitions(ctx, db, tbl, q)
}

func (c *counting) ListPartitionNames(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]string, error) {
	c.count("ListPartitionNames", nil)
	return c.Backend.ListPartitionNames(ctx, db, tbl, q)
}

// events lets a test rewrite the notification log the cache sees.
type events struct {
	hms.Backend
	mu      sync.Mutex
	current func(int64, error) (int64, error)
	next    func([]*hm.NotificationEvent, error) ([]*hm.NotificationEvent, error)
}

func (e *events) CurrentEventID(ctx context.Context) (int64, error) {
	id, err := e.Backend.CurrentEventID(ctx)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.current != nil {
		return e.current(id, err)
	}
	return id, err
}

func (e *events) NextEvents(ctx context.Context, last int64, max int) ([]*hm.NotificationEvent, error) {
	evs, err := e.Backend.NextEvents(ctx, last, max)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.next != nil {
		return e.next(evs, err)
	}
	return evs, err
}

// env is a cache over a counting wrapper over an embedded store; the store is also reachable
// directly, as another engine writing to the upstream would.
type env struct {
	store *embedded.Store
	count *counting
	c     *Backend
	reg   *prometheus.Registry
}

// newEnv builds the cache without its poller and positions the event cursor: tests call
// c.poll when they want events applied.
func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	s := openStore(t)
	cnt := newCounting(s)
	reg := prometheus.NewRegistry()
	c := newBackend(cnt, cfg, nil, reg)
	if c.poll(ctx) != modeEvents {
		t.Fatal("cache did not reach event mode")
	}
	return &env{store: s, count: cnt, c: c, reg: reg}
}

func col(name, typ string) *hm.FieldSchema { return &hm.FieldSchema{Name: name, Type: typ} }

func sd(cols ...*hm.FieldSchema) *hm.StorageDescriptor {
	return &hm.StorageDescriptor{
		Cols:         cols,
		InputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
		OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
		SerdeInfo:    &hm.SerDeInfo{SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", Parameters: map[string]string{}},
	}
}

func table(db, name string) *hm.Table {
	return &hm.Table{
		DbName: db, TableName: name, Owner: "alice", TableType: "MANAGED_TABLE",
		Sd:            sd(col("id", "bigint"), col("amount", "double")),
		PartitionKeys: []*hm.FieldSchema{col("region", "string"), col("day", "int")},
		Parameters:    map[string]string{"comment": "sales facts"},
	}
}

func part(db, tbl string, vals ...string) *hm.Partition {
	return &hm.Partition{DbName: db, TableName: tbl, Values: vals, Sd: sd()}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seed creates db "sales" with table "orders" and partitions region=eu|us/day=1..n.
func seed(t testing.TB, b hms.Backend, n int) {
	t.Helper()
	must(t, b.CreateDatabase(ctx, &hm.Database{Name: "sales"}))
	must(t, b.CreateTable(ctx, table("sales", "orders")))
	var ps []*hm.Partition
	for _, r := range []string{"eu", "us"} {
		for d := 1; d <= n; d++ {
			ps = append(ps, part("sales", "orders", r, fmt.Sprint(d)))
		}
	}
	_, err := b.AddPartitions(ctx, "sales", "orders", ps, false)
	must(t, err)
}

func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			total += value(m)
		}
	}
	return total
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}
