// Command propolis-bench measures Propolis against a real Apache Hive Metastore, side by side, in
// one run, and writes the figures as ratios to BENCHMARKS.md.
//
// It starts both servers with fresh data directories (Propolis from --propolis-bin with its
// embedded SQLite catalog; the Hive standalone metastore with embedded Derby through
// compat-tests/hms/hms.sh), loads the same fixture into each over Thrift (a database, a table
// partitioned by two keys, N partitions, table column statistics), then measures each metastore
// call with one client connection and with several concurrent ones.
//
// Then, in the same run, the federation section: the same HMS measured directly and through two
// more Propolis processes that federate it as a backend (prefix up_), one with the metadata
// cache disabled and one with it enabled (federation.go).
//
//	make bench
//	go run ./cmd/propolis-bench --propolis-bin ./bin/propolis --out BENCHMARKS.md
//
// It builds nothing: the Makefile builds cmd/propolis first. The real metastore must have been
// installed with `compat-tests/hms/hms.sh setup`.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/propolis/propolis/compat-tests/hms/hmstest"
	"github.com/propolis/propolis/internal/benchreport"
)

type options struct {
	propolisBin string
	out         string
	duration    time.Duration
	warmup      time.Duration
	warmupRound time.Duration
	partitions  int
	concurrency int
	batch       int
	keep        bool
	onlyProp    bool
	ops         string

	federation  bool
	fedOnly     bool
	fedDuration time.Duration
	fedRounds   int
	fedWarmup   time.Duration
	fedRound    time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.propolisBin, "propolis-bin", "", "the built cmd/propolis binary to measure (required)")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "Markdown report to write")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per operation, per server, per concurrency")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each measurement")
	flag.DurationVar(&o.warmupRound, "warmup-round", 5*time.Second, "before any measurement, run every operation this long on each server, unmeasured (lets the HMS's JIT compile its hot paths)")
	flag.IntVar(&o.partitions, "partitions", 1000, "partitions in the fixture table")
	flag.IntVar(&o.concurrency, "concurrency", 8, "concurrent client connections in the concurrent round")
	flag.IntVar(&o.batch, "batch", 100, "partitions per add_partitions call while loading")
	flag.BoolVar(&o.onlyProp, "propolis-only", false, "measure Propolis alone (inner loop while tuning it): prints figures, writes no report")
	flag.StringVar(&o.ops, "ops", "", "comma-separated operation names to measure (default: all)")
	flag.BoolVar(&o.federation, "federation", true, "also measure the HMS through a federating Propolis (cache off and on) against the HMS directly")
	flag.BoolVar(&o.fedOnly, "federation-only", false, "measure only the federation section (inner loop while investigating it): prints figures, writes no report")
	flag.DurationVar(&o.fedDuration, "fed-duration", 4500*time.Millisecond, "measured time per operation, per path, per concurrency in the federation section (split into --fed-rounds slices)")
	flag.IntVar(&o.fedRounds, "fed-rounds", 3, "slices each federation measurement is split into, alternating between the paths")
	flag.DurationVar(&o.fedWarmup, "fed-warmup", 500*time.Millisecond, "unmeasured warm-up before each slice of a federation measurement")
	flag.DurationVar(&o.fedRound, "fed-warmup-round", 3*time.Second, "before the federation measurements, run each of its operations this long through each federating Propolis, unmeasured (fills the cache, warms the pools)")
	flag.BoolVar(&o.keep, "keep", false, "keep the servers' data directories (printed at the end)")
	flag.Parse()
	if o.propolisBin == "" {
		fmt.Fprintln(os.Stderr, "propolis-bench: --propolis-bin is required (make bench builds it)")
		os.Exit(2)
	}
	if o.fedOnly {
		o.federation = true
		if o.onlyProp {
			fmt.Fprintln(os.Stderr, "propolis-bench: --federation-only needs the Hive Metastore; drop --propolis-only")
			os.Exit(2)
		}
	}
	if o.partitions < 100 {
		fmt.Fprintln(os.Stderr, "propolis-bench: --partitions must be at least 100")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "propolis-bench:", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "\033[1m[bench]\033[0m "+format+"\n", args...)
}

// server is one metastore under test.
type server struct {
	name    string // "Propolis" or "Hive Metastore"
	lake    string // file:// root for the fixture's locations
	version string
	addr    string
	startup time.Duration
	load    loadStats
	stop    func()
}

func run(ctx context.Context, o options) error {
	bin, err := filepath.Abs(o.propolisBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("--propolis-bin: %w", err)
	}
	if ok, why := hmstest.Installed(); !ok && !o.onlyProp {
		return fmt.Errorf("the real Hive Metastore is not installed (%s): run compat-tests/hms/hms.sh setup", why)
	}
	loadBefore := benchreport.LoadAvg()
	tmp, err := os.MkdirTemp("", "propolis-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		defer progress("data directories kept under %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	prop, err := startPropolis(ctx, bin, filepath.Join(tmp, "propolis"), "Propolis")
	if err != nil {
		return err
	}
	prop.lake = "file://" + filepath.Join(tmp, "propolis", "lake")
	defer prop.stop()
	servers := []*server{prop}
	if !o.onlyProp {
		hms, err := startHMS(filepath.Join(tmp, "hms"))
		if err != nil {
			return err
		}
		defer hms.stop()
		hms.lake = "file://" + filepath.Join(tmp, "hms", "lake")
		servers = append(servers, hms)
	}

	fx := newFixture(o.partitions)
	for _, s := range servers {
		progress("%s: loading the fixture (%d partitions in batches of %d, column statistics)", s.name, o.partitions, o.batch)
		fx.lake = s.lake
		s.load, err = fx.load(ctx, s.addr, o.batch)
		if err != nil {
			return fmt.Errorf("%s: loading the fixture: %w", s.name, err)
		}
		progress("%s: loaded in %s (add_partitions %.0f partitions/s)", s.name, s.load.total.Round(time.Millisecond), s.load.partitionsPerSec())
		if err := fx.check(ctx, s.addr); err != nil {
			return fmt.Errorf("%s: the fixture does not read back as loaded: %w", s.name, err)
		}
	}

	if o.warmupRound > 0 && !o.fedOnly {
		for _, s := range servers {
			fx.lake = s.lake
			progress("%s: warm-up round, every operation for %s with %d clients (not measured)", s.name, o.warmupRound, o.concurrency)
			for _, op := range selected(fx.operations(), o.ops) {
				if m := measure(ctx, s.addr, op, o.concurrency, 0, o.warmupRound); m.Err != "" {
					progress("%s: warm-up of %s failed: %s", s.name, op.name, m.Err)
				}
			}
		}
	}

	var results []opResult
	for _, op := range selected(fx.operations(), o.ops) {
		if o.fedOnly {
			break
		}
		for _, c := range []int{1, o.concurrency} {
			r := opResult{op: op.name, detail: op.detail, clients: c}
			for i, s := range servers {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				fx.lake = s.lake
				m := measure(ctx, s.addr, op, c, o.warmup, o.duration)
				r.m[i] = m
				if m.Err != "" {
					progress("%-14s %-28s c=%d  ERROR after %d ops: %s", s.name, op.name, c, m.Ops, m.Err)
				} else {
					progress("%-14s %-28s c=%d  %9.0f ops/s  p50 %-9s p99 %s", s.name, op.name, c, m.OpsPerSec(), benchreport.Duration(m.P50), benchreport.Duration(m.P99))
				}
			}
			if len(servers) == 2 && r.m[0].Err == "" && r.m[1].Err == "" {
				progress("%-14s %-28s c=%d  Propolis/HMS = %.2fx", "ratio", op.name, c, r.ratio())
			}
			results = append(results, r)
		}
	}

	// The federation section: the same HMS, now also behind two more Propolis processes.
	var fed *fedReport
	if o.federation && len(servers) == 2 {
		fx.lake = servers[1].lake
		fed, err = runFederation(ctx, o, bin, filepath.Join(tmp, "federation"), servers[1], fx)
		if err != nil {
			return fmt.Errorf("federation: %w", err)
		}
	}

	if len(servers) < 2 {
		progress("--propolis-only: no report written")
		return nil
	}
	if o.fedOnly {
		progress("--federation-only: no report written")
		return nil
	}
	rep := report{opts: o, servers: servers, results: results, fed: fed, machine: describeMachine(bin)}
	rep.machine.LoadBefore, rep.machine.LoadAfter = loadBefore, benchreport.LoadAvg()
	if err := os.WriteFile(o.out, []byte(rep.markdown()+keptSections(o.out)), 0o644); err != nil {
		return err
	}
	progress("wrote %s", o.out)
	return nil
}

// startPropolis runs `propolis serve` on a free port with a fresh embedded catalog and waits for
// its ready file. extra are more serve flags (--config).
func startPropolis(ctx context.Context, bin, dir, name string, extra ...string) (*server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ready := filepath.Join(dir, "ready.json")
	logPath := filepath.Join(dir, "propolis.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	args := append([]string{"serve"}, extra...)
	args = append(args, "--listen", "127.0.0.1:0", "--admin-listen", "",
		"--data-dir", filepath.Join(dir, "data"), "--ready-file", ready, "--log-level", "warn")
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	progress("%s: starting %s %s (data: %s)", name, bin, strings.Join(args[:len(extra)+1], " "), dir)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			var r struct {
				Thrift string `json:"thrift"`
			}
			if json.Unmarshal(b, &r) == nil && r.Thrift != "" {
				s := &server{name: name, addr: r.Thrift, startup: time.Since(start), stop: stop}
				s.version = propolisVersion(bin)
				progress("%s (%s): ready after %s on thrift://%s", name, s.version, s.startup.Round(time.Millisecond), s.addr)
				return s, nil
			}
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("propolis serve exited during start-up (%v):\n%s", err, tail(string(b), 30))
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("propolis serve wrote no ready file within 30s:\n%s", tail(string(b), 30))
		}
	}
}

func propolisVersion(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "(unknown version)"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

func startHMS(dir string) (*server, error) {
	progress("Hive Metastore: starting Apache Hive %s standalone metastore via hms.sh (embedded Derby)", hmstest.Version())
	start := time.Now()
	addr, err := hmstest.StartAny(dir, os.Stderr)
	if err != nil {
		return nil, err
	}
	s := &server{name: "Hive Metastore", version: hmstest.Version(), addr: addr, startup: time.Since(start)}
	s.stop = func() {
		if err := hmstest.StopServer(dir, nil); err != nil {
			progress("stopping the Hive Metastore: %v", err)
		}
	}
	return s, nil
}

// selected keeps the operations named in the comma-separated list (all when it is empty).
func selected(ops []operation, names string) []operation {
	if names == "" {
		var out []operation
		for _, op := range ops {
			if !op.optional {
				out = append(out, op)
			}
		}
		return out
	}
	var out []operation
	for _, op := range ops {
		for _, n := range strings.Split(names, ",") {
			if strings.TrimSpace(n) == op.name {
				out = append(out, op)
			}
		}
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// keptSections returns the sections other programs own at the end of the report (from the
// first "<!-- ...:begin -->" marker on), so rewriting the report keeps them.
func keptSections(path string) string {
	old, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	i := strings.Index(string(old), benchreport.Begin("policy-bench"))
	if i < 0 {
		return ""
	}
	return "\n" + string(old[i:])
}
