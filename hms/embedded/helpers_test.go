package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"
	"github.com/go-sql-driver/mysql"

	"github.com/propolis/propolis/internal/errs"
)

// opener opens a Store on a fresh, empty catalog; further calls of the same opener in one test
// open more Stores on that same catalog.
type opener func(t *testing.T, cfg Config) *Store

type backendCase struct {
	name string
	// fresh returns an opener bound to a new, empty catalog.
	fresh func(t *testing.T) opener
}

func backends() []backendCase {
	return []backendCase{{"sqlite", freshSQLite}, {"mysql", freshMySQL}}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func warehouseFor(t *testing.T) (uri, dir string) {
	dir = filepath.Join(t.TempDir(), "warehouse")
	return "file://" + dir, dir
}

func freshSQLite(t *testing.T) opener {
	path := filepath.Join(t.TempDir(), "catalog.db")
	wh, _ := warehouseFor(t)
	return func(t *testing.T, cfg Config) *Store {
		cfg.Driver, cfg.DSN = "sqlite", path
		if cfg.Warehouse == "" {
			cfg.Warehouse = wh
		}
		return mustOpen(t, cfg)
	}
}

var mysqlSeq atomic.Int64

// freshMySQL creates a database of its own on the server PROPOLIS_TEST_MYSQL_DSN points at.
func freshMySQL(t *testing.T) opener {
	dsn := os.Getenv("PROPOLIS_TEST_MYSQL_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PROPOLIS_TEST_MYSQL_DSN not set: .ci/run must start MariaDB")
		}
		t.Skip("MariaDB not available: set PROPOLIS_TEST_MYSQL_DSN (make mariadb starts one)")
	}
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("PROPOLIS_TEST_MYSQL_DSN: %v", err)
	}
	name := fmt.Sprintf("propolis_emb_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, mysqlSeq.Add(1))
	admin := *c
	admin.DBName = ""
	db, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		db.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db.Exec("DROP DATABASE IF EXISTS " + name) //nolint:errcheck // best effort
		db.Close()
	})
	c.DBName = name
	own := c.FormatDSN()
	wh, _ := warehouseFor(t)
	return func(t *testing.T, cfg Config) *Store {
		cfg.Driver, cfg.DSN = "mysql", own
		if cfg.Warehouse == "" {
			cfg.Warehouse = wh
		}
		return mustOpen(t, cfg)
	}
}

func mustOpen(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantKind(t *testing.T, err error, k errs.Kind) {
	t.Helper()
	if got := errs.KindOf(err); got != k || (k != errs.KindUnknown && err == nil) {
		t.Fatalf("error kind = %v (%v), want %v", got, err, k)
	}
}

func cols(names ...string) []*hm.FieldSchema {
	var out []*hm.FieldSchema
	for _, n := range names {
		typ := "string"
		if name, ty, ok := strings.Cut(n, ":"); ok {
			n, typ = name, ty
		}
		out = append(out, &hm.FieldSchema{Name: n, Type: typ})
	}
	return out
}

func table(db, name string, partKeys ...string) *hm.Table {
	return &hm.Table{
		DbName: db, TableName: name, Owner: "alice", TableType: "MANAGED_TABLE",
		Sd: &hm.StorageDescriptor{
			Cols:        cols("ID:int", "Name"),
			InputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
			SerdeInfo:   &hm.SerDeInfo{SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
		},
		PartitionKeys: cols(partKeys...),
		Parameters:    map[string]string{"comment": "a table", "spark.sql.sources.provider": "parquet"},
	}
}

func part(vals ...string) *hm.Partition { return &hm.Partition{Values: vals} }

func localDir(t *testing.T, loc string) string {
	t.Helper()
	p, ok := localPath(loc)
	if !ok {
		t.Fatalf("location %q is not local", loc)
	}
	return p
}

func dirExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

func writeFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte("x"), 0o644)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
