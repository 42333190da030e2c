package compattests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/compat-tests/hms/hmstest"
)

// TestMigrateFromRealHive migrates a real Apache Hive 4.0.1 metastore into Propolis with
// `propolis migrate`: plan; apply, killed with SIGKILL part-way; apply again to completion
// (resumed from the checkpoint in Propolis); verify clean; a change on the source; apply
// (incremental); verify clean. Locations are translated with --location-map.
//
// The fixture is filled through the metastore API: PROPOLIS_MIGRATE_TABLES tables (default
// 120: external Parquet partitioned, ORC, text, views) and PROPOLIS_MIGRATE_PARTITIONS
// partitions (default 4000) spread over the partitioned tables. The full proof is
// PROPOLIS_MIGRATE_TABLES=1000 PROPOLIS_MIGRATE_PARTITIONS=100000.
func TestMigrateFromRealHive(t *testing.T) {
	ctx := context.Background()
	nTables := envInt("PROPOLIS_MIGRATE_TABLES", 120)
	nParts := envInt("PROPOLIS_MIGRATE_PARTITIONS", 4000)
	hmsDir := t.TempDir()
	hmsAddr := hmstest.Start(t, hmsDir)
	src := dialHMS(t, hmsAddr)
	old := "file://" + filepath.Join(hmsDir, "old-warehouse")
	lake := "file://" + filepath.Join(hmsDir, "lake")

	start := time.Now()
	want := seedMigration(t, ctx, src, old, nTables, nParts)
	t.Logf("source filled through the metastore API in %s: %d tables, %d partitions", time.Since(start).Round(time.Millisecond), nTables, nParts)

	// doctor, against the real metastore: Trino's calls all answer; Spark 3.5's Hive 2.3 client
	// needs get_table, which Hive 4 removed, so that line fails with a fix.
	out, _ := runPropolis(t, 0, "doctor", "--engine", "trino", "--endpoint", "thrift://"+hmsAddr, "--table", "mig_0."+want.partitioned)
	t.Logf("doctor --engine trino against Hive %s: %s", hmstest.Version(), lastLine(out))
	out, _ = runPropolis(t, 1, "doctor", "--engine", "spark", "--endpoint", "thrift://"+hmsAddr, "--table", "mig_0."+want.partitioned)
	if !strings.Contains(out, "FAIL  get_table ") || !strings.Contains(out, "UNKNOWN_METHOD") || !strings.Contains(out, "fix: ") {
		t.Errorf("doctor --engine spark against Hive 4 should fail get_table with a fix:\n%s", out)
	}

	p := startPropolis(t)
	from, to := "--from=thrift://"+hmsAddr, "--to="+p.URI()
	mapping := "--location-map=" + old + "=" + lake
	dbs := []string{"-d", "mig_*"}

	// plan
	out, _ = runPropolis(t, 0, append([]string{"migrate", "plan", from, mapping, "--output", "json"}, dbs...)...)
	var plan struct {
		Tables     int
		Partitions int64
		ByType     map[string]int `json:"by_type"`
		Locations  []struct {
			Prefix, Target string
			Tables         int
			Partitions     int64
		}
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("plan output: %v\n%s", err, out)
	}
	if plan.Tables != nTables || plan.Partitions != int64(nParts) || plan.ByType["VIRTUAL_VIEW"] != want.views {
		t.Fatalf("plan: %d tables, %d partitions, %d views; want %d, %d, %d", plan.Tables, plan.Partitions, plan.ByType["VIRTUAL_VIEW"], nTables, nParts, want.views)
	}
	for _, l := range plan.Locations {
		if !strings.HasPrefix(l.Target, lake) {
			t.Errorf("plan: location group %s not translated: %+v", l.Prefix, l)
		}
	}

	// dry run: writes nothing
	out, _ = runPropolis(t, 0, append([]string{"migrate", "apply", from, to, mapping, "--report="}, dbs...)...)
	if !strings.Contains(out, "dry run") || !strings.Contains(out, "create-table") {
		t.Fatalf("dry run output:\n%s", tail(out, 20))
	}
	dst := dialHMS(t, p.Thrift)
	if got, _ := dst.GetAllDatabases(ctx); len(got) != 1 {
		t.Fatalf("a dry run wrote to the target: databases %v", got)
	}

	// apply --execute, killed part-way (slowed by --rate so the kill lands mid-run)
	report := filepath.Join(t.TempDir(), "report.json")
	apply := append([]string{"migrate", "apply", from, to, mapping, "--execute", "--report=" + report}, dbs...)
	cmd := exec.Command(propolisBin, append(apply, "--rate=150", "--concurrency=2")...)
	var killedOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &killedOut, &killedOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	delay := time.Duration(1500+rand.IntN(3000)) * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Logf("the apply to be killed finished within %s (%v): the kill tests nothing this time", delay, err)
	case <-time.After(delay):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Logf("apply killed with SIGKILL after %s", delay)
	}
	tables, _ := dst.GetAllTables(ctx, "mig_0")
	t.Logf("after the kill: mig_0 has %d tables in Propolis", len(tables))

	// apply again: resumes and completes
	start = time.Now()
	out, _, rss := runPropolisRSS(t, 0, append(apply, "--output=json")...)
	var rep struct {
		Tables          int64
		Resumed         int64 `json:"resumed_tables"`
		PartitionsAdded int64 `json:"partitions_added"`
		Skipped         []struct{ Object, Reason string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("apply output: %v\n%s", err, out)
	}
	took := time.Since(start)
	t.Logf("resumed apply in %s: %d tables (%d completed before the kill), %d partitions added (%.0f partitions/s); peak RSS %d MiB",
		took.Round(time.Millisecond), rep.Tables, rep.Resumed, rep.PartitionsAdded, float64(rep.PartitionsAdded)/took.Seconds(), rss>>20)
	if _, err := os.Stat(report); err != nil {
		t.Errorf("report not saved: %v", err)
	}

	// verify: clean
	start = time.Now()
	out, _, rss = runPropolisRSS(t, 0, append([]string{"migrate", "verify", from, to, mapping}, dbs...)...)
	t.Logf("verify in %s (peak RSS %d MiB): %s", time.Since(start).Round(time.Millisecond), rss>>20, lastLine(out))

	// The copy is what the source holds, with translated locations. Fresh connections: Propolis
	// closes idle ones, and a large fixture's apply and verify outlast its idle timeout.
	dst, src = dialHMS(t, p.Thrift), dialHMS(t, hmsAddr)
	tbl, err := getTable(ctx, dst, "mig_0", want.partitioned)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tbl.Sd.Location, lake+"/") {
		t.Errorf("table location not translated: %s", tbl.Sd.Location)
	}
	names, err := dst.GetPartitionNames(ctx, "mig_0", want.partitioned, -1)
	if err != nil || len(names) != want.partsOf[want.partitioned] {
		t.Errorf("partitions of mig_0.%s in Propolis: %d (%v), want %d", want.partitioned, len(names), err, want.partsOf[want.partitioned])
	}

	// A change on the source: partitions added and dropped, a table altered.
	st, err := getTable(ctx, src, "mig_0", want.partitioned)
	if err != nil {
		t.Fatal(err)
	}
	var extra []*hm.Partition
	for i := 0; i < 25; i++ {
		extra = append(extra, partitionOf(st, fmt.Sprintf("new-%02d", i)))
	}
	if _, err := src.AddPartitions(ctx, extra); err != nil {
		t.Fatal(err)
	}
	srcNames, _ := src.GetPartitionNames(ctx, "mig_0", want.partitioned, 1)
	if _, err := src.DropPartitionByName(ctx, "mig_0", want.partitioned, srcNames[0], false); err != nil {
		t.Fatal(err)
	}
	st.Parameters["comment"] = "changed after the first migration"
	if err := src.AlterTable(ctx, "mig_0", st.TableName, st); err != nil {
		t.Fatal(err)
	}
	out, _ = runPropolis(t, 1, append([]string{"migrate", "verify", from, to, mapping}, dbs...)...)
	if n := strings.Count(out, "DIFF "); n < 27 {
		t.Errorf("verify after 27 source changes reported %d differences:\n%s", n, tail(out, 10))
	}
	out, _ = runPropolis(t, 0, append(apply, "--output=json")...)
	rep.PartitionsAdded = 0
	json.Unmarshal([]byte(out), &rep)
	if rep.PartitionsAdded != 25 {
		t.Errorf("incremental apply added %d partitions, want 25", rep.PartitionsAdded)
	}
	out, _ = runPropolis(t, 0, append([]string{"migrate", "verify", from, to, mapping}, dbs...)...)
	t.Logf("verify after the incremental apply: %s", lastLine(out))
}

type migrationFixture struct {
	views       int
	partitioned string         // a partitioned table in mig_0
	partsOf     map[string]int // partitions per table of mig_0
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func partitionOf(t *hm.Table, day string) *hm.Partition {
	sd := *t.Sd
	sd.Location = t.Sd.Location + "/day=" + day
	return &hm.Partition{DbName: t.DbName, TableName: t.TableName, Values: []string{day}, Sd: &sd,
		Parameters: map[string]string{"numRows": "10"}}
}

// seedMigration fills the source: 3 databases; per database, a quarter of its tables are
// partitioned Parquet, a quarter ORC, a quarter text, a quarter views.
func seedMigration(t *testing.T, ctx context.Context, c *hm.ThriftHiveMetastoreClient, root string, nTables, nParts int) migrationFixture {
	t.Helper()
	f := migrationFixture{partsOf: map[string]int{}}
	const nDB = 3
	for d := 0; d < nDB; d++ {
		db := fmt.Sprintf("mig_%d", d)
		if err := c.CreateDatabase(ctx, &hm.Database{Name: db, LocationUri: root + "/" + db + ".db", Description: "migration fixture",
			Parameters: map[string]string{"owner.team": fmt.Sprint("team", d)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.CreateFunction(ctx, &hm.Function{DbName: "mig_0", FunctionName: "tax", ClassName: "com.example.Tax", OwnerName: "etl",
		OwnerType: hm.PrincipalType_USER, FunctionType: hm.FunctionType_JAVA}); err != nil {
		t.Fatal(err)
	}
	var partitioned []*hm.Table
	for i := 0; i < nTables; i++ {
		db := fmt.Sprintf("mig_%d", i%nDB)
		name := fmt.Sprintf("t%04d", i)
		loc := root + "/" + db + ".db/" + name
		cols := []*hm.FieldSchema{{Name: "id", Type: "bigint"}, {Name: "name", Type: "string"}, {Name: "amount", Type: "double"}}
		var tbl *hm.Table
		switch i % 4 {
		case 0:
			tbl = parquetTable(db, name, loc, cols)
			tbl.PartitionKeys = []*hm.FieldSchema{{Name: "day", Type: "string"}}
		case 1:
			tbl = parquetTable(db, name, loc, cols)
			tbl.Sd.InputFormat = "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat"
			tbl.Sd.OutputFormat = "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat"
			tbl.Sd.SerdeInfo.SerializationLib = "org.apache.hadoop.hive.ql.io.orc.OrcSerde"
		case 2:
			tbl = parquetTable(db, name, loc, cols)
			tbl.Sd.InputFormat = "org.apache.hadoop.mapred.TextInputFormat"
			tbl.Sd.OutputFormat = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
			tbl.Sd.SerdeInfo.SerializationLib = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
			tbl.Sd.SerdeInfo.Parameters = map[string]string{"field.delim": ",", "serialization.format": ","}
		case 3:
			base := fmt.Sprintf("t%04d", i-3)
			tbl = &hm.Table{DbName: db, TableName: name, Owner: "analyst", TableType: "VIRTUAL_VIEW",
				ViewOriginalText: "SELECT id, name FROM " + base,
				ViewExpandedText: fmt.Sprintf("SELECT `%s`.`id`, `%s`.`name` FROM `%s`.`%s`", base, base, db, base),
				Sd:               &hm.StorageDescriptor{Cols: cols[:2], SerdeInfo: &hm.SerDeInfo{}}, Parameters: map[string]string{}}
			f.views++
		}
		if err := c.CreateTable(ctx, tbl); err != nil {
			t.Fatalf("create %s.%s: %v", db, name, err)
		}
		if len(tbl.PartitionKeys) > 0 {
			partitioned = append(partitioned, tbl)
			if f.partitioned == "" && db == "mig_0" {
				f.partitioned = name
			}
		}
	}
	// Partitions, spread evenly, added 1000 per call.
	var batch []*hm.Partition
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if _, err := c.AddPartitions(ctx, batch); err != nil {
			t.Fatalf("add_partitions: %v", err)
		}
		batch = batch[:0]
	}
	for ti, tbl := range partitioned {
		n := nParts / len(partitioned)
		if ti < nParts%len(partitioned) {
			n++
		}
		for j := 0; j < n; j++ {
			batch = append(batch, partitionOf(tbl, fmt.Sprintf("2024-%05d", j)))
			if len(batch) == 1000 {
				flush()
			}
		}
		flush()
		if tbl.DbName == "mig_0" {
			f.partsOf[tbl.TableName] = n
		}
	}
	return f
}

// runPropolis runs the binary and checks its exit status.
func runPropolis(t *testing.T, wantCode int, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, _ = runPropolisRSS(t, wantCode, args...)
	return stdout, stderr
}

// runPropolisRSS is runPropolis that also returns the process's peak resident memory, in bytes.
func runPropolisRSS(t *testing.T, wantCode int, args ...string) (stdout, stderr string, maxRSS int64) {
	t.Helper()
	cmd := exec.Command(propolisBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != wantCode {
		t.Fatalf("propolis %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, tail(o.String(), 30), tail(e.String(), 30))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		maxRSS = ru.Maxrss << 10 // KiB on Linux
	}
	return o.String(), e.String(), maxRSS
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
