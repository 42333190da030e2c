// Command propolis-worker-bench measures the Arrow workers' pipeline per core next to DuckDB
// doing the same work on the same files, in one run, and writes the figures (throughput ratio
// worker / DuckDB) into its section of BENCHMARKS.md.
//
// The data set is generated once with DuckDB into ~/.cache/propolis/bench/worker (at least
// 1 GB of snappy Parquet: 8 files of 3.2 million rows of id, name, email, phone, region,
// amount, ts, in row groups of 262,144 rows, and a small lookup table of (user, region)), and
// reused while its manifest matches. Four workloads run on it: (a) every column passed through,
// (b) email hashed (the policy's hash mask), (c) email tokenized with a secret key, (d) rows
// filtered by a lookup join on the user's regions. The worker side runs in this process with
// GOMAXPROCS=1: the policy compiled by workers/eval into a Transform, each file opened by
// workers/scan and its virtual Parquet file written whole to io.Discard (what the S3 endpoint
// serves), and, as an extra row, its batches read through File.Records (what Flight streams).
// DuckDB runs with SET threads=1 in a fresh process per run, reading the files, computing the
// same columns and writing Parquet to /dev/null. Runs alternate between the sides, and each
// figure is the best of --runs by CPU time, with the spread; runs after the first stop once
// --max-time (10 minutes) would be exceeded.
//
//	make bench
//	go run ./cmd/propolis-worker-bench --out BENCHMARKS.md
//	go run ./cmd/propolis-worker-bench --quick --print   # tiny data, in a temporary directory
//
// Only the part of --out between <!-- worker-bench:begin --> and <!-- worker-bench:end --> is
// written (the markers are appended when absent).
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/propolis/propolis/workers/scan"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/propolis/propolis/internal/benchreport"
)

type options struct {
	out          string
	dataDir      string
	python       string
	files        int
	rowsPerFile  int64
	rowGroupRows int64
	minBytes     int64
	runs         int
	maxTime      time.Duration
	budget       int64
	workloads    string
	flight       bool
	quick        bool
	dryRun       bool
	cpuProfile   string
}

func cacheDir() string {
	if d := os.Getenv("PROPOLIS_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "propolis-cache")
	}
	return filepath.Join(home, ".cache", "propolis")
}

func main() {
	var o options
	cache := cacheDir()
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "Markdown report whose worker-bench section is written")
	flag.StringVar(&o.dataDir, "data-dir", "", "where the generated Parquet files live (default "+filepath.Join(cache, "bench", "worker")+"; with --quick, a temporary directory)")
	flag.StringVar(&o.python, "python", filepath.Join(cache, "venv", "bin", "python"), "the Python that imports duckdb (make deps installs it)")
	flag.IntVar(&o.files, "files", 8, "Parquet files in the data set")
	flag.Int64Var(&o.rowsPerFile, "rows-per-file", 3_200_000, "rows per file")
	flag.Int64Var(&o.rowGroupRows, "row-group-rows", 262_144, "rows per row group of the generated files")
	flag.Int64Var(&o.minBytes, "min-bytes", 1_000_000_000, "refuse to measure a data set smaller than this")
	flag.IntVar(&o.runs, "runs", 2, "runs per workload and side; the best (by CPU time) is reported, with the spread")
	flag.DurationVar(&o.maxTime, "max-time", 10*time.Minute, "after the first run of everything, run again only while the whole bench fits in this")
	flag.Int64Var(&o.budget, "budget", 128<<20, "the worker's per-query memory budget, bytes")
	flag.StringVar(&o.workloads, "workloads", "", "comma-separated workloads to run: projection, hash, tokenize, lookup (default: all)")
	flag.BoolVar(&o.flight, "flight", true, "also measure the worker's Flight path (File.Records, no Parquet encoding)")
	flag.BoolVar(&o.quick, "quick", false, "tiny data (2 files of 20,000 rows) in a temporary directory unless --data-dir: proves the program works, measures nothing")
	flag.BoolVar(&o.dryRun, "print", false, "print the report section instead of writing --out")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the worker side's runs to this file")
	flag.Parse()
	if o.quick {
		o.files, o.rowsPerFile, o.rowGroupRows, o.minBytes = 2, 20_000, 5_000, 0
	}
	if o.files < 1 || o.rowsPerFile < 1 || o.rowGroupRows < 1 || o.runs < 1 || o.budget < 1<<20 {
		fmt.Fprintln(os.Stderr, "propolis-worker-bench: --files, --rows-per-file, --row-group-rows, --runs >= 1, --budget >= 1 MiB")
		os.Exit(2)
	}
	// As `propolis worker` does: the worker's snappy is the fast encoder.
	if err := scan.UseFastSnappy(); err != nil {
		fmt.Fprintln(os.Stderr, "propolis-worker-bench:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "propolis-worker-bench:", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "\033[1m[worker-bench]\033[0m "+format+"\n", args...)
}

// side is one of the compared implementations.
type side int

const (
	sideWorker side = iota // the worker, S3 path
	sideDuck
	sideFlight // the worker, Flight path
	nSides
)

var sideNames = [nSides]string{"worker (S3: Parquet out)", "DuckDB (Parquet out)", "worker (Flight: Arrow out)"}

// result is one workload's runs on every side.
type result struct {
	w       workload
	sql     string
	samples [nSides][]measurement
	cut     bool // fewer runs than --runs, for --max-time
}

// best is the run with the least CPU time; spread is (worst - best) / best.
func (r *result) best(s side) (measurement, float64, bool) {
	ms := r.samples[s]
	if len(ms) == 0 {
		return measurement{}, 0, false
	}
	b, worst := ms[0], ms[0]
	for _, m := range ms[1:] {
		if m.cpu < b.cpu {
			b = m
		}
		if m.cpu > worst.cpu {
			worst = m
		}
	}
	return b, float64(worst.cpu-b.cpu) / float64(max(b.cpu, 1)), true
}

func run(ctx context.Context, o options) error {
	started := time.Now()
	ws, err := selectWorkloads(workloads(), o.workloads)
	if err != nil {
		return err
	}
	version, err := duckVersion(ctx, o.python)
	if err != nil {
		return err
	}
	// One core for the worker side: its goroutines and its garbage collector share it.
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	rep := &report{opts: o, machine: benchreport.DescribeMachine(), duckVersion: version, args: os.Args[1:]}
	rep.machine.LoadBefore = benchreport.LoadAvg()

	tmp, err := os.MkdirTemp("", "propolis-worker-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dir := o.dataDir
	switch {
	case dir != "":
	case o.quick:
		dir = filepath.Join(tmp, "data")
	default:
		dir = filepath.Join(cacheDir(), "bench", "worker")
	}
	ds, err := prepare(ctx, dataParams{dir: dir, files: o.files, rowsPerFile: o.rowsPerFile, rowGroupRows: o.rowGroupRows, minBytes: o.minBytes, python: o.python})
	if err != nil {
		return err
	}
	rep.data = ds
	if err := ds.warm(); err != nil {
		return err
	}
	dk, err := newDuck(o.python, tmp, 1)
	if err != nil {
		return err
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	sides := []side{sideWorker, sideDuck}
	if o.flight {
		sides = append(sides, sideFlight)
	}
	mem := memory.NewGoAllocator()
	progress("measuring %d workloads × %d sides × %d runs over %s (%d rows) on one core each", len(ws), len(sides), o.runs, fmtBytes(ds.bytes), ds.rows)
	results := make([]*result, len(ws))
	took := make([]time.Duration, len(ws)) // each workload's last round
	for i, w := range ws {
		results[i] = &result{w: w, sql: w.duckSQL(ds.paths(), ds.lookupPath())}
	}
	// Rounds over every workload: the first is always run whole; a later one runs a workload
	// again only while its last round fits in what is left of --max-time. Within a round the
	// sides alternate (worker, DuckDB, Flight, then the reverse), so drift in the machine's
	// load hits every side alike.
	for r := 0; r < o.runs; r++ {
		order := slices.Clone(sides)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for i, res := range results {
			if r > 0 && time.Since(started)+took[i] > o.maxTime {
				if !res.cut {
					progress("%-28s no run %d: its last round took %s and %s of --max-time %s is left", res.w.name, r+1,
						took[i].Round(time.Second), max(0, o.maxTime-time.Since(started)).Round(time.Second), o.maxTime)
				}
				res.cut = true
				continue
			}
			t0 := time.Now()
			for _, s := range order {
				m, err := measure(ctx, s, ds, res.w, res.sql, dk, mem, o.budget)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", res.w.name, sideNames[s], err)
				}
				res.samples[s] = append(res.samples[s], m)
				progress("%-28s %-27s run %d/%d: %s CPU, %s wall, %s rows/s/core, %s MB/s/core, %d rows out",
					res.w.name, sideNames[s], r+1, o.runs, fmtDur(m.cpu), fmtDur(m.wall),
					fmtRate(rate(ds.rows, m.cpu)), fmtMB(rate(ds.bytes, m.cpu)/1e6), m.rowsOut)
			}
			took[i] = time.Since(t0)
			if err := res.check(ds); err != nil {
				return err
			}
			wb, _, _ := res.best(sideWorker)
			db, _, _ := res.best(sideDuck)
			progress("%-28s worker / DuckDB per core: %.2f (best of %d)", res.w.name, ratio(db.cpu, wb.cpu), len(res.samples[sideWorker]))
		}
	}
	rep.results = results
	rep.machine.LoadAfter = benchreport.LoadAvg()
	rep.total = time.Since(started)

	section := rep.markdown()
	if o.dryRun {
		fmt.Print(section)
		return nil
	}
	if err := benchreport.WriteSection(o.out, sectionName, section); err != nil {
		return err
	}
	progress("wrote the worker-bench section of %s (run took %s)", o.out, rep.total.Round(time.Second))
	return nil
}

func measure(ctx context.Context, s side, ds *dataset, w workload, sql string, dk *duck, mem memory.Allocator, budget int64) (measurement, error) {
	if err := ctx.Err(); err != nil {
		return measurement{}, err
	}
	switch s {
	case sideDuck:
		return dk.run(ctx, sql)
	case sideFlight:
		runtime.GC()
		return runWorker(ctx, ds, w, pathFlight, mem, budget)
	default:
		runtime.GC()
		return runWorker(ctx, ds, w, pathS3, mem, budget)
	}
}

// check refuses figures of sides that did not do the same work: every run of every side must
// keep the same rows, and the worker must have read every row.
func (r *result) check(ds *dataset) error {
	want := int64(-1)
	for s, ms := range r.samples {
		for _, m := range ms {
			if s != int(sideDuck) && m.rowsIn != ds.rows {
				return fmt.Errorf("%s: %s read %d rows of %d", r.w.name, sideNames[s], m.rowsIn, ds.rows)
			}
			if want < 0 {
				want = m.rowsOut
			}
			if m.rowsOut != want {
				return fmt.Errorf("%s: %s returned %d rows where another run returned %d: the sides do not do the same work", r.w.name, sideNames[s], m.rowsOut, want)
			}
		}
	}
	if r.w.filter == "" && want != ds.rows {
		return fmt.Errorf("%s: %d rows out of %d with no filter", r.w.name, want, ds.rows)
	}
	if r.w.filter != "" && (want <= 0 || want >= ds.rows) {
		return fmt.Errorf("%s: the filter kept %d rows of %d: it should keep some and drop some", r.w.name, want, ds.rows)
	}
	return nil
}

// rate is n per second of d.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// ratio is the worker's throughput over DuckDB's for the same work: DuckDB's time over the
// worker's.
func ratio(duckCPU, workerCPU time.Duration) float64 {
	if workerCPU <= 0 {
		return 0
	}
	return float64(duckCPU) / float64(workerCPU)
}
