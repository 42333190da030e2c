// Command propolis-migrate-bench measures `propolis migrate` against a real Apache Hive
// Metastore and writes its section of BENCHMARKS.md: the throughput of apply (objects and
// partitions per second) and verify, their peak memory, next to the time the source metastore
// itself takes to list the same partitions.
//
// It starts the Hive standalone metastore (compat-tests/hms/hms.sh, embedded Derby) and a
// Propolis (--propolis-bin, embedded SQLite), fills the metastore over Thrift with --tables
// tables (a quarter partitioned Parquet, the rest ORC, text and views) and --partitions
// partitions, then runs, as separate processes so each one's peak RSS is its own:
//
//  1. the listing baseline: one client reads every partition from the metastore
//     (get_partition_names, then get_partitions_by_names 500 at a time), as apply must;
//
//  2. propolis migrate apply --execute (concurrency 4, batches of 500);
//
//  3. propolis migrate verify.
//
//     make bench
//     go run ./cmd/propolis-migrate-bench --propolis-bin ./bin/propolis --out BENCHMARKS.md
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/compat-tests/hms/hmstest"
	"github.com/propolis/propolis/internal/benchreport"
)

func main() {
	bin := flag.String("propolis-bin", "", "the built cmd/propolis binary (required)")
	out := flag.String("out", "BENCHMARKS.md", "Markdown report whose migrate-bench section to rewrite")
	tables := flag.Int("tables", 1000, "tables in the fixture")
	partitions := flag.Int("partitions", 100000, "partitions in the fixture, spread over the partitioned quarter of the tables")
	concurrency := flag.Int("concurrency", 4, "migrate --concurrency")
	keep := flag.Bool("keep", false, "keep the data directories")
	flag.Parse()
	if *bin == "" {
		fatal("--propolis-bin is required (make bench builds it)")
	}
	abs, err := filepath.Abs(*bin)
	if err != nil {
		fatal(err.Error())
	}
	if ok, why := hmstest.Installed(); !ok {
		fatal("the real Hive Metastore is not installed (" + why + "): run compat-tests/hms/hms.sh setup")
	}
	m := benchreport.DescribeMachine()
	m.LoadBefore = benchreport.LoadAvg()
	dir, err := os.MkdirTemp("", "propolis-migrate-bench-")
	if err != nil {
		fatal(err.Error())
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	r, err := run(abs, dir, *tables, *partitions, *concurrency)
	if err != nil {
		fatal(err.Error())
	}
	m.LoadAfter = benchreport.LoadAvg()
	if err := benchreport.WriteSection(*out, "migrate-bench", r.markdown(m)); err != nil {
		fatal(err.Error())
	}
	progress("wrote the migrate-bench section of %s", *out)
}

type result struct {
	tables, partitions, concurrency int
	hive                            string
	fill, list                      time.Duration
	apply, verify                   proc
}

type proc struct {
	took   time.Duration
	maxRSS int64
}

func run(bin, dir string, nTables, nParts, conc int) (*result, error) {
	ctx := context.Background()
	hmsDir := filepath.Join(dir, "hms")
	addr, err := hmstest.StartAny(hmsDir, os.Stderr)
	if err != nil {
		return nil, err
	}
	defer hmstest.StopServer(hmsDir, nil)
	r := &result{tables: nTables, partitions: nParts, concurrency: conc, hive: hmstest.Version()}
	c, closeFn, err := dial(addr)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	start := time.Now()
	partitioned, err := fill(ctx, c, "file://"+filepath.Join(dir, "old"), nTables, nParts)
	if err != nil {
		return nil, err
	}
	r.fill = time.Since(start)
	progress("filled the metastore in %s: %d tables, %d partitions", r.fill.Round(time.Millisecond), nTables, nParts)

	start = time.Now()
	n := 0
	for _, t := range partitioned {
		names, err := c.GetPartitionNames(ctx, t[0], t[1], -1)
		if err != nil {
			return nil, err
		}
		for i := 0; i < len(names); i += 500 {
			ps, err := c.GetPartitionsByNames(ctx, t[0], t[1], names[i:min(i+500, len(names))])
			if err != nil {
				return nil, err
			}
			n += len(ps)
		}
	}
	r.list = time.Since(start)
	if n != nParts {
		return nil, fmt.Errorf("listing read %d partitions, want %d", n, nParts)
	}
	progress("the metastore lists its %d partitions in %s", n, r.list.Round(time.Millisecond))

	target, stop, err := serve(bin, filepath.Join(dir, "propolis"))
	if err != nil {
		return nil, err
	}
	defer stop()
	args := []string{"--from=thrift://" + addr, "--to=thrift://" + target, "-d", "bench_*",
		"--location-map=file://" + filepath.Join(dir, "old") + "=file://" + filepath.Join(dir, "lake"),
		fmt.Sprintf("--concurrency=%d", conc), "--no-progress"}
	if r.apply, err = timed(bin, append([]string{"migrate", "apply", "--execute", "--report="}, args...)...); err != nil {
		return nil, err
	}
	progress("apply: %s, peak RSS %d MiB", r.apply.took.Round(time.Millisecond), r.apply.maxRSS>>20)
	if r.verify, err = timed(bin, append([]string{"migrate", "verify"}, args...)...); err != nil {
		return nil, err
	}
	progress("verify: %s, peak RSS %d MiB", r.verify.took.Round(time.Millisecond), r.verify.maxRSS>>20)
	return r, nil
}

func timed(bin string, args ...string) (proc, error) {
	start := time.Now()
	cmd := exec.Command(bin, args...)
	outb, err := cmd.CombinedOutput()
	p := proc{took: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		p.maxRSS = ru.Maxrss << 10
	}
	if err != nil {
		return p, fmt.Errorf("propolis %s: %v\n%s", strings.Join(args[:2], " "), err, outb)
	}
	return p, nil
}

func serve(bin, dir string) (addr string, stop func(), err error) {
	ready := filepath.Join(dir, "ready.json")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "propolis.log"))
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "", "--data-dir", filepath.Join(dir, "data"),
		"--ready-file", ready, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait(); logf.Close() }
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(ready); err == nil {
			var a map[string]string
			if json.Unmarshal(b, &a) == nil && a["thrift"] != "" {
				return a["thrift"], stop, nil
			}
		}
	}
	stop()
	return "", nil, fmt.Errorf("propolis did not start (log in %s)", dir)
}

func dial(addr string) (*hm.ThriftHiveMetastoreClient, func(), error) {
	conf := &thrift.TConfiguration{ConnectTimeout: 10 * time.Second, SocketTimeout: 10 * time.Minute}
	tr := thrift.NewTBufferedTransport(thrift.NewTSocketConf(addr, conf), 1<<16)
	if err := tr.Open(); err != nil {
		return nil, nil, err
	}
	p := thrift.NewTBinaryProtocolConf(tr, conf)
	return hm.NewThriftHiveMetastoreClient(thrift.NewTStandardClient(p, p)), func() { tr.Close() }, nil
}

// fill creates 4 databases; of their tables a quarter are partitioned Parquet, a quarter ORC,
// a quarter text and a quarter views. It returns the partitioned tables as {db, table}.
func fill(ctx context.Context, c *hm.ThriftHiveMetastoreClient, root string, nTables, nParts int) ([][2]string, error) {
	const nDB = 4
	for d := 0; d < nDB; d++ {
		db := fmt.Sprintf("bench_%d", d)
		if err := c.CreateDatabase(ctx, &hm.Database{Name: db, LocationUri: root + "/" + db + ".db"}); err != nil {
			return nil, err
		}
	}
	cols := []*hm.FieldSchema{{Name: "id", Type: "bigint"}, {Name: "name", Type: "string"}, {Name: "amount", Type: "double"}}
	formats := [][3]string{
		{"org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat", "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat", "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
		{"org.apache.hadoop.hive.ql.io.orc.OrcInputFormat", "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat", "org.apache.hadoop.hive.ql.io.orc.OrcSerde"},
		{"org.apache.hadoop.mapred.TextInputFormat", "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat", "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"},
	}
	var partitioned []*hm.Table
	for i := 0; i < nTables; i++ {
		db, name := fmt.Sprintf("bench_%d", i%nDB), fmt.Sprintf("t%05d", i)
		var t *hm.Table
		if i%4 == 3 {
			base := fmt.Sprintf("t%05d", i-3)
			t = &hm.Table{DbName: db, TableName: name, Owner: "bench", TableType: "VIRTUAL_VIEW",
				ViewOriginalText: "SELECT id FROM " + base, ViewExpandedText: fmt.Sprintf("SELECT `%s`.`id` FROM `%s`.`%s`", base, db, base),
				Sd: &hm.StorageDescriptor{Cols: cols[:1], SerdeInfo: &hm.SerDeInfo{}}, Parameters: map[string]string{}}
		} else {
			f := formats[i%4]
			t = &hm.Table{DbName: db, TableName: name, Owner: "bench", TableType: "EXTERNAL_TABLE", Parameters: map[string]string{"EXTERNAL": "TRUE"},
				Sd: &hm.StorageDescriptor{Cols: cols, Location: root + "/" + db + ".db/" + name, InputFormat: f[0], OutputFormat: f[1],
					SerdeInfo: &hm.SerDeInfo{SerializationLib: f[2], Parameters: map[string]string{"serialization.format": "1"}}}}
			if i%4 == 0 {
				t.PartitionKeys = []*hm.FieldSchema{{Name: "day", Type: "string"}}
				partitioned = append(partitioned, t)
			}
		}
		if err := c.CreateTable(ctx, t); err != nil {
			return nil, fmt.Errorf("create %s.%s: %w", db, name, err)
		}
	}
	var out [][2]string
	for ti, t := range partitioned {
		n := nParts / len(partitioned)
		if ti < nParts%len(partitioned) {
			n++
		}
		for j := 0; j < n; j += 1000 {
			var batch []*hm.Partition
			for k := j; k < min(j+1000, n); k++ {
				sd := *t.Sd
				day := fmt.Sprintf("2024-%05d", k)
				sd.Location = t.Sd.Location + "/day=" + day
				batch = append(batch, &hm.Partition{DbName: t.DbName, TableName: t.TableName, Values: []string{day}, Sd: &sd,
					Parameters: map[string]string{"numRows": "10"}})
			}
			if _, err := c.AddPartitions(ctx, batch); err != nil {
				return nil, err
			}
		}
		out = append(out, [2]string{t.DbName, t.TableName})
	}
	return out, nil
}

func (r *result) markdown(m benchreport.Machine) string {
	var b strings.Builder
	objects := float64(r.tables + r.partitions)
	fmt.Fprintf(&b, "## Migration: propolis migrate from a real Hive Metastore\n\n")
	fmt.Fprintf(&b, "`make bench` (cmd/propolis-migrate-bench): a real Apache Hive %s standalone metastore (Derby) holding %d tables "+
		"(a quarter partitioned Parquet, the rest ORC, text and views) and %d partitions, migrated into a Propolis (SQLite) "+
		"with `propolis migrate apply --execute --concurrency %d` (batches of 500, locations translated), then compared with "+
		"`propolis migrate verify`. Each is its own process; peak RSS is that process's.\n\n", r.hive, r.tables, r.partitions, r.concurrency)
	fmt.Fprintf(&b, "| step | time | objects/s | partitions/s | peak RSS |\n|---|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| the metastore lists every partition (names, then by names, 500 a call; one client) | %s | | %.0f | |\n",
		r.list.Round(time.Millisecond), float64(r.partitions)/r.list.Seconds())
	fmt.Fprintf(&b, "| `migrate apply --execute` (read from the metastore, write to Propolis) | %s | %.0f | %.0f | %d MiB |\n",
		r.apply.took.Round(time.Millisecond), objects/r.apply.took.Seconds(), float64(r.partitions)/r.apply.took.Seconds(), r.apply.maxRSS>>20)
	fmt.Fprintf(&b, "| `migrate verify` (read both, compare) | %s | %.0f | %.0f | %d MiB |\n\n",
		r.verify.took.Round(time.Millisecond), objects/r.verify.took.Seconds(), float64(r.partitions)/r.verify.took.Seconds(), r.verify.maxRSS>>20)
	fmt.Fprintf(&b, "Apply takes %.1f times as long as the metastore takes to list the same partitions. Filling the metastore "+
		"through its API took %s.\n\n", r.apply.took.Seconds()/r.list.Seconds(), r.fill.Round(time.Second))
	busy := ""
	if m.Busy() {
		busy = " (the machine was busy: figures are pessimistic)"
	}
	fmt.Fprintf(&b, "Machine: %s, %s cores, %s, %s, %s, commit %s; load average %s before, %s after%s.\n\n",
		m.CPU, m.Cores, m.Memory, m.Kernel, m.GoVersion, m.Commit, m.LoadBefore, m.LoadAfter, busy)
	return b.String()
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[migrate-bench] "+format+"\n", args...)
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "propolis-migrate-bench:", msg)
	os.Exit(1)
}
