package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"
	"github.com/go-sql-driver/mysql"

	"github.com/propolis/propolis/hms"
)

// The benchmarks measure the partition reads engines make most (get_partitions_by_names,
// get_partition_names, get_partitions_by_filter) on a table shaped like cmd/propolis-bench's
// fixture: (ds string, region string), 10 regions a day, Parquet storage descriptors. Fixtures
// are loaded once per process and backend and shared by every benchmark; the MySQL half runs
// when PROPOLIS_TEST_MYSQL_DSN is set.
//
//	go test -run '^$' -bench . -benchmem ./hms/embedded/

const benchRegions = 10

var benchSizes = []int{1000, 10000}

type benchFixture struct {
	s     *Store
	names []string // partition names in load order
}

var (
	benchMu       sync.Mutex
	benchFixtures = map[string]*benchFixture{}
	benchCleanups []func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	benchMu.Lock()
	for _, f := range benchCleanups {
		f()
	}
	benchMu.Unlock()
	os.Exit(code)
}

func benchDay(d int) string {
	return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d).Format("2006-01-02")
}

func benchSD(loc string) *hm.StorageDescriptor {
	return &hm.StorageDescriptor{
		Cols: []*hm.FieldSchema{
			{Name: "id", Type: "bigint", Comment: "event id"}, {Name: "user_id", Type: "bigint"},
			{Name: "kind", Type: "string"}, {Name: "amount", Type: "double"},
			{Name: "payload", Type: "string"}, {Name: "ts", Type: "timestamp"},
		},
		Location:     loc,
		InputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
		OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
		SerdeInfo: &hm.SerDeInfo{
			SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
			Parameters:       map[string]string{"serialization.format": "1"},
		},
		Parameters: map[string]string{},
	}
}

// benchOpen opens a Store on a new, empty catalog of the backend, cleaned up at process exit.
func benchOpen(b *testing.B, backend string) *Store {
	b.Helper()
	dir, err := os.MkdirTemp("", "propolis-bench-*")
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{Warehouse: "file://" + filepath.Join(dir, "warehouse")}
	cleanup := func() { os.RemoveAll(dir) }
	switch backend {
	case "sqlite":
		cfg.Driver, cfg.DSN = "sqlite", filepath.Join(dir, "catalog.db")
	case "mysql":
		dsn := os.Getenv("PROPOLIS_TEST_MYSQL_DSN")
		if dsn == "" {
			os.RemoveAll(dir)
			b.Skip("MariaDB not available: set PROPOLIS_TEST_MYSQL_DSN")
		}
		c, err := mysql.ParseDSN(dsn)
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("propolis_bench_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, mysqlSeq.Add(1))
		admin := *c
		admin.DBName = ""
		adb, err := sql.Open("mysql", admin.FormatDSN())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := adb.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
			adb.Close()
			b.Fatal(err)
		}
		prev := cleanup
		cleanup = func() {
			adb.Exec("DROP DATABASE IF EXISTS " + name) //nolint:errcheck // best effort
			adb.Close()
			prev()
		}
		c.DBName = name
		cfg.Driver, cfg.DSN = "mysql", c.FormatDSN()
	}
	s, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cleanup()
		b.Fatal(err)
	}
	benchCleanups = append(benchCleanups, func() { s.Close(); cleanup() })
	return s
}

// benchPartitions returns the shared fixture with n partitions on the backend.
func benchPartitions(b *testing.B, backend string, n int) *benchFixture {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	key := fmt.Sprintf("%s/%d", backend, n)
	if f := benchFixtures[key]; f != nil {
		return f
	}
	ctx := context.Background()
	s := benchOpen(b, backend)
	benchMust(b, s.CreateDatabase(ctx, &hm.Database{Name: "bench"}))
	loc := "s3a://lake/bench.db/events" // not local: loading creates no directories
	benchMust(b, s.CreateTable(ctx, &hm.Table{
		DbName: "bench", TableName: "events", Owner: "bench", TableType: "EXTERNAL_TABLE",
		Parameters: map[string]string{"EXTERNAL": "TRUE", "comment": "benchmark fixture"},
		Sd:         benchSD(loc),
		PartitionKeys: []*hm.FieldSchema{
			{Name: "ds", Type: "string"}, {Name: "region", Type: "string"},
		},
	}))
	f := &benchFixture{s: s}
	const batch = 500
	for i := 0; i < n; i += batch {
		var parts []*hm.Partition
		for j := i; j < min(i+batch, n); j++ {
			ds, region := benchDay(j/benchRegions), fmt.Sprintf("r%02d", j%benchRegions)
			name := "ds=" + ds + "/region=" + region
			f.names = append(f.names, name)
			parts = append(parts, &hm.Partition{
				Values:     []string{ds, region},
				Sd:         benchSD(loc + "/" + name),
				Parameters: map[string]string{"numFiles": "4", "numRows": "250000", "totalSize": "52428800"},
			})
		}
		_, err := s.AddPartitions(ctx, "bench", "events", parts, false)
		benchMust(b, err)
	}
	benchFixtures[key] = f
	return f
}

func benchBackends(b *testing.B, fn func(b *testing.B, f *benchFixture, n int)) {
	for _, backend := range []string{"sqlite", "mysql"} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/parts=%d", backend, n), func(b *testing.B) {
				f := benchPartitions(b, backend, n)
				b.ReportAllocs()
				b.ResetTimer()
				fn(b, f, n)
			})
		}
	}
}

// BenchmarkGetPartitionsByNames asks for 50 names spread over the table, as a planner does
// after pruning.
func BenchmarkGetPartitionsByNames(b *testing.B) {
	benchBackends(b, func(b *testing.B, f *benchFixture, n int) {
		ctx := context.Background()
		var names []string
		for i := 0; i < 50; i++ {
			names = append(names, f.names[(i*n/50+i)%n])
		}
		for b.Loop() {
			ps, err := f.s.GetPartitionsByNames(ctx, "bench", "events", names)
			if err != nil || len(ps) != len(names) {
				b.Fatalf("%d partitions, %v", len(ps), err)
			}
		}
	})
}

func BenchmarkListPartitionNames(b *testing.B) {
	benchBackends(b, func(b *testing.B, f *benchFixture, n int) {
		ctx := context.Background()
		for b.Loop() {
			names, err := f.s.ListPartitionNames(ctx, "bench", "events", hms.PartitionQuery{})
			if err != nil || len(names) != n {
				b.Fatalf("%d names, %v", len(names), err)
			}
		}
	})
}

// BenchmarkListPartitionsByFilter selects the first tenth of the days (10% of the partitions),
// the filter cmd/propolis-bench sends.
func BenchmarkListPartitionsByFilter(b *testing.B) {
	benchBackends(b, func(b *testing.B, f *benchFixture, n int) {
		ctx := context.Background()
		days := n / benchRegions
		q := hms.PartitionQuery{Filter: fmt.Sprintf(`ds >= "%s" and ds < "%s"`, benchDay(0), benchDay(days/10))}
		for b.Loop() {
			ps, err := f.s.ListPartitions(ctx, "bench", "events", q)
			if err != nil || len(ps) != n/10 {
				b.Fatalf("%d partitions, %v", len(ps), err)
			}
		}
	})
}

// BenchmarkListPartitionNamesByFilter is get_partition_names_ps / _by_filter for names only.
func BenchmarkListPartitionNamesByFilter(b *testing.B) {
	benchBackends(b, func(b *testing.B, f *benchFixture, n int) {
		ctx := context.Background()
		q := hms.PartitionQuery{Filter: `region = "r03"`}
		for b.Loop() {
			names, err := f.s.ListPartitionNames(ctx, "bench", "events", q)
			if err != nil || len(names) != n/benchRegions {
				b.Fatalf("%d names, %v", len(names), err)
			}
		}
	})
}

// BenchmarkCreateDropTable is cmd/propolis-bench's write operation: 8 goroutines each creating
// and dropping tables of their own on one Store.
func BenchmarkCreateDropTable(b *testing.B) {
	for _, backend := range []string{"sqlite", "mysql"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			s := benchOpen(b, backend)
			if err := s.CreateDatabase(ctx, &hm.Database{Name: "w"}); err != nil {
				b.Fatal(err)
			}
			var seq atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			b.ReportAllocs()
			b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					name := fmt.Sprintf("t%d", seq.Add(1))
					start := time.Now()
					t := table("w", name)
					t.TableType = "EXTERNAL_TABLE"
					t.Sd.Location = "s3a://lake/w/" + name
					if err := s.CreateTable(ctx, t); err != nil {
						b.Error(err)
						return
					}
					if err := s.DropTable(ctx, "w", name, true); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			b.StopTimer()
			if len(lat) > 0 {
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)*50/100].Microseconds()), "p50-us")
				b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()), "p99-us")
			}
		})
	}
}

func benchMust(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
