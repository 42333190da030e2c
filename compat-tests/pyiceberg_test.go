package compattests

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TestPyIceberg runs compat-tests/pyiceberg_test.py: PyIceberg's HiveCatalog creates a
// namespace and an Iceberg table, appends (each commit under the metastore lock), reads back,
// reloads from a fresh catalog, races writers; then the metastore's lock calls are checked.
func TestPyIceberg(t *testing.T) {
	py := venvPython(t, "pyiceberg venv", "pyiceberg", "pyarrow", "hive_metastore")
	runPyIceberg(t, py, startPropolis(t))
}

// TestPyIcebergTwoReplicasMySQL runs the same script against two Propolis replicas sharing one
// MariaDB store: the second writer, the second locker and the fresh reads go to the other
// replica, so the lock's mutual exclusion and the commits' atomicity must hold across replicas.
func TestPyIcebergTwoReplicasMySQL(t *testing.T) {
	py := venvPython(t, "pyiceberg venv", "pyiceberg", "pyarrow", "hive_metastore")
	if os.Getenv("PROPOLIS_COMPAT_METASTORE") != "" {
		t.Skip("PROPOLIS_COMPAT_METASTORE is set: no Propolis replicas to start")
	}
	dsn := os.Getenv("PROPOLIS_TEST_MYSQL_DSN")
	if dsn == "" {
		missing(t, "MariaDB (PROPOLIS_TEST_MYSQL_DSN)", "not set")
	}
	cfg := filepath.Join(t.TempDir(), "propolis.yaml")
	storeDSN := freshMySQLDatabase(t, dsn)
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("store:\n  driver: mysql\n  dsn: %q\n", storeDSN)), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startPropolis(t, "--config", cfg)
	b := startPropolis(t, "--config", cfg)
	runPyIceberg(t, py, a, b)
}

func runPyIceberg(t *testing.T, py string, ps ...*Propolis) {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(repoRoot, "compat-tests", "pyiceberg_test.py")
	metrics := func() Calls {
		sum := Calls{}
		for _, p := range ps {
			for m, c := range p.Metrics(t) {
				s := sum[m]
				sum[m] = [2]float64{s[0] + c[0], s[1] + c[1]}
			}
		}
		return sum
	}
	before := metrics()
	ok := false
	defer func() {
		if !ok {
			reportCalls(t, "PyIceberg (failed)", metrics().Sub(before))
		}
	}()
	args := []string{script, "--metastore", ps[0].URI(), "--warehouse", "file://" + filepath.Join(dir, "warehouse")}
	if len(ps) > 1 {
		args = append(args, "--metastore2", ps[1].URI())
	}
	out := runScript(t, 15*time.Minute, []string{"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"}, dir, py, args...)
	ok = true
	d := metrics().Sub(before)
	t.Logf("ENGINE: PyIceberg %s (pyarrow %s), HiveCatalog", markerValue(out, "PYICEBERG_VERSION"), markerValue(out, "PYARROW_VERSION"))
	reportCalls(t, "PyIceberg", d)
	if ps[0].external {
		return
	}
	commits, err := strconv.Atoi(markerValue(out, "COMMITS"))
	if err != nil {
		t.Fatalf("the script printed no COMMITS=N: %v", err)
	}
	// Each data commit takes one lock and releases it; the script's own lock checks add 3 more.
	if got, want := d.OK("lock"), float64(commits+3); got < want {
		t.Errorf("metastore lock calls: %.0f ok, want at least %.0f (%d commits + 3 direct)", got, want, commits)
	}
	if got, want := d.OK("unlock"), d.OK("lock"); got != want {
		t.Errorf("unlock calls %.0f != lock calls %.0f: a lock was left held", got, want)
	}
	if d.OK("check_lock") == 0 {
		t.Errorf("no successful check_lock call: the waiting lock was never checked")
	}
	if got := d.OK("alter_table_with_environment_context") + d.OK("alter_table"); got < float64(commits) {
		t.Errorf("alter_table calls %.0f < %d commits", got, commits)
	}
	t.Logf("%d commits, %.0f lock, %.0f check_lock, %.0f unlock", commits, d.OK("lock"), d.OK("check_lock"), d.OK("unlock"))
}

// freshMySQLDatabase creates an empty database next to the one dsn names, drops it when the
// test ends, and returns dsn pointing at it.
func freshMySQLDatabase(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("PROPOLIS_TEST_MYSQL_DSN %q: %v", dsn, err)
	}
	name := fmt.Sprintf("propolis_compat_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	admin := cfg.Clone()
	admin.DBName = ""
	db, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("CREATE DATABASE `" + name + "`"); err != nil {
		t.Fatalf("create database %s on %s: %v", name, admin.Addr, err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	cfg.ParseTime = true
	return cfg.FormatDSN()
}
