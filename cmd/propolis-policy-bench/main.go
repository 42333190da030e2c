// Command propolis-policy-bench measures what access policy costs: the same metastore calls,
// made as a restricted user, against two Propolis processes in one run, one with policy off and
// one enforcing a generated policy of 10,000 rules, and writes the figures (throughput ratio
// policy on / policy off) into its section of BENCHMARKS.md.
//
// Both servers start with fresh data directories (embedded SQLite). The policy server's policy
// is applied with `propolis policy apply`, as an operator would, and is in force once a write
// by the service principal succeeds (before that, everything is denied). The same fixture is
// loaded into both over Thrift as the service principal: database big with 10,000 tables
// (create_table from parallel connections), database sales with a customers table whose email
// and phone are masked and whose rows are filtered for analysts, and some empty department
// databases the policy's rules name. Then, for each call, with 1 client and with 8, the two
// servers are measured in alternating slices (off, on, on, off, ...), each after an unmeasured
// warm-up, so drift in the machine's load hits both alike.
//
//	make bench
//	go run ./cmd/propolis-policy-bench --propolis-bin ./bin/propolis --out BENCHMARKS.md
//
// It builds nothing: the Makefile builds cmd/propolis first. Only the part of --out between
// <!-- policy-bench:begin --> and <!-- policy-bench:end --> is written (the markers are appended
// when absent); the rest of the file belongs to cmd/propolis-bench.
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
	"sync"
	"syscall"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/benchreport"
)

type options struct {
	propolisBin string
	out         string
	duration    time.Duration
	rounds      int
	warmup      time.Duration
	warmupRound time.Duration
	rules       int
	tables      int
	databases   int
	concurrency int
	loadWorkers int
	ops         string
	keep        bool
	dryRun      bool
}

func main() {
	var o options
	flag.StringVar(&o.propolisBin, "propolis-bin", "", "the built cmd/propolis binary to measure (required)")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "Markdown report whose policy-bench section is written")
	flag.DurationVar(&o.duration, "duration", 4*time.Second, "measured time per operation, per server, per concurrency (split into --rounds alternating slices)")
	flag.IntVar(&o.rounds, "rounds", 4, "slices each measurement is split into, alternating between the two servers")
	flag.DurationVar(&o.warmup, "warmup", 300*time.Millisecond, "unmeasured warm-up before each slice")
	flag.DurationVar(&o.warmupRound, "warmup-round", time.Second, "before any measurement, run every operation this long on each server with --concurrency clients, unmeasured")
	flag.IntVar(&o.rules, "rules", 10000, "rules in the generated policy (grants + denies + masks + row filters)")
	flag.IntVar(&o.tables, "tables", 10000, "tables in database big (the restricted user may see half)")
	flag.IntVar(&o.databases, "databases", 200, "empty department databases (named by the policy's rules) created on each server")
	flag.IntVar(&o.concurrency, "concurrency", 8, "client connections in the concurrent round")
	flag.IntVar(&o.loadWorkers, "load-workers", 8, "connections creating big's tables in parallel")
	flag.StringVar(&o.ops, "ops", "", "comma-separated substrings of the operation names to measure (default: all)")
	flag.BoolVar(&o.keep, "keep", false, "keep the servers' data directories and the policy file (printed at the end)")
	flag.BoolVar(&o.dryRun, "print", false, "print the report section instead of writing --out")
	flag.Parse()
	if o.propolisBin == "" {
		fmt.Fprintln(os.Stderr, "propolis-policy-bench: --propolis-bin is required (make bench builds it)")
		os.Exit(2)
	}
	if o.rounds < 1 || o.tables < 2 || o.rules < 20 || o.concurrency < 1 || o.loadWorkers < 1 {
		fmt.Fprintln(os.Stderr, "propolis-policy-bench: --rounds, --concurrency, --load-workers >= 1, --tables >= 2, --rules >= 20")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "propolis-policy-bench:", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "\033[1m[policy-bench]\033[0m "+format+"\n", args...)
}

// server is one Propolis under test.
type server struct {
	name    string
	cfgPath string
	dataDir string
	addr    string
	startup time.Duration
	load    loadStats
	stop    func()
}

const (
	offConfig = "data_dir: %s\npolicy:\n  enabled: false\n"
	onConfig  = `data_dir: %s
policy:
  enabled: true
  poll_interval: 200ms
  default_profile: trino
  profiles:
    - {name: trino, dialect: trino, trusted: true}
`
)

func run(ctx context.Context, o options) error {
	started := time.Now()
	bin, err := filepath.Abs(o.propolisBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("--propolis-bin: %w", err)
	}
	rep := &report{opts: o, machine: describeMachine(bin)}
	rep.machine.LoadBefore = benchreport.LoadAvg()
	root, err := os.MkdirTemp("", "propolis-policy-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		defer progress("kept %s", root)
	} else {
		defer os.RemoveAll(root)
	}

	rep.policy = genPolicy(o.rules)
	policyPath := filepath.Join(root, "policy.yaml")
	if err := os.WriteFile(policyPath, []byte(rep.policy.yaml), 0o644); err != nil {
		return err
	}
	progress("policy: %d rules (%d grants, %d denies, %d masks, %d row filters), %d bytes: %s",
		rep.policy.rules, rep.policy.grants, rep.policy.denies, rep.policy.masks, rep.policy.filters, rep.policy.bytes, policyPath)

	var servers [2]*server
	for i, s := range []struct{ name, cfg string }{{"policy off", offConfig}, {"policy on", onConfig}} {
		dir := filepath.Join(root, strings.ReplaceAll(s.name, " ", "-"))
		srv, err := startPropolis(ctx, bin, dir, s.name, s.cfg)
		if err != nil {
			return err
		}
		defer srv.stop()
		servers[i] = srv
	}
	rep.servers = servers

	// The policy, applied as an operator does; in force once the service principal can write.
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, bin, "policy", "apply", "--config", servers[1].cfgPath, "-f", policyPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("policy apply: %v\n%s", err, out)
	}
	rep.applyTime = time.Since(t0)
	progress("policy apply: %s (%s)", strings.TrimSpace(lastLine(string(out))), rep.applyTime.Round(time.Millisecond))
	for i, s := range servers {
		d, err := probeWrite(ctx, s.addr, 30*time.Second)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if i == 1 {
			rep.inForce = d + rep.applyTime
			progress("policy on: in force %s after apply started", rep.inForce.Round(time.Millisecond))
		}
	}

	// The same fixture into both, one after the other (so the load times compare).
	for _, s := range servers {
		progress("%s: loading %d tables into %s, %d databases ...", s.name, o.tables, bigDB, o.databases)
		st, err := load(ctx, s.addr, o.tables, o.databases, o.loadWorkers, 50)
		if err != nil {
			return fmt.Errorf("%s: loading: %w", s.name, err)
		}
		s.load = st
		progress("%s: loaded in %s (%.0f create_table/s)", s.name, st.elapsed.Round(time.Millisecond), float64(st.tables)/st.elapsed.Seconds())
	}
	for i, s := range servers {
		if err := check(ctx, s.addr, i == 1, o.tables); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	progress("both servers answer as expected (policy on: Trino view, half of %s hidden)", bigDB)

	ops := selected(operations(o.tables), o.ops)
	if o.warmupRound > 0 {
		progress("warm-up round: every operation for %s with %d clients on each server", o.warmupRound, o.concurrency)
		for _, op := range ops {
			for _, s := range servers {
				if smp := slice(ctx, s.addr, op, o.concurrency, 0, o.warmupRound, 1); smp.Err != "" {
					return fmt.Errorf("%s: %s: %s", s.name, op.name, smp.Err)
				}
			}
		}
	}

	per := o.duration / time.Duration(o.rounds)
	seed := uint64(2)
	for _, op := range ops {
		for _, clients := range dedup(1, o.concurrency) {
			var smp [2]sample
			for r := 0; r < o.rounds; r++ {
				order := []int{0, 1}
				if r%2 == 1 {
					order = []int{1, 0}
				}
				for _, i := range order {
					seed++
					smp[i].Add(slice(ctx, servers[i].addr, op, clients, o.warmup, per*time.Duration(max(op.scale, 1)), seed))
					if err := ctx.Err(); err != nil {
						return err
					}
				}
			}
			res := opResult{op: op, clients: clients}
			for i := range smp {
				res.m[i] = smp[i].Summary()
				if res.m[i].Err != "" {
					return fmt.Errorf("%s: %s, %d clients: %s", servers[i].name, op.name, clients, res.m[i].Err)
				}
			}
			rep.results = append(rep.results, res)
			progress("%-26s %d client(s): off %8s/s p50 %8s p99 %8s | on %8s/s p50 %8s p99 %8s | on/off %.2f",
				op.name, clients, fmtRate(res.m[0].Rate), benchreport.Duration(res.m[0].P50), benchreport.Duration(res.m[0].P99),
				fmtRate(res.m[1].Rate), benchreport.Duration(res.m[1].P50), benchreport.Duration(res.m[1].P99), res.ratio())
		}
	}
	rep.machine.LoadAfter = benchreport.LoadAvg()
	rep.total = time.Since(started)
	if info, err := os.Stat(filepath.Join(servers[1].dataDir, "audit.jsonl")); err == nil {
		rep.auditBytes = info.Size()
	}

	section := rep.markdown()
	if o.dryRun {
		fmt.Print(section)
		return nil
	}
	if err := benchreport.WriteSection(o.out, sectionName, section); err != nil {
		return err
	}
	progress("wrote the policy-bench section of %s (run took %s)", o.out, rep.total.Round(time.Second))
	return nil
}

func dedup(a, b int) []int {
	if a == b {
		return []int{a}
	}
	return []int{a, b}
}

func selected(ops []operation, names string) []operation {
	if names == "" {
		return ops
	}
	var out []operation
	for _, op := range ops {
		for _, n := range strings.Split(names, ",") {
			if n = strings.TrimSpace(n); n != "" && strings.Contains(op.name, n) {
				out = append(out, op)
				break
			}
		}
	}
	return out
}

// probeWrite creates (as the service principal) an empty database until that succeeds: on the
// policy server, writes are denied until a policy is in force.
func probeWrite(ctx context.Context, addr string, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	c, err := dial(addr, servicePrinc, nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var last error
	for time.Since(start) < limit {
		if last = c.CreateDatabase(ctx, &hm.Database{Name: "bench_probe", LocationUri: "file:///nonexistent/propolis-policy-bench/bench_probe"}); last == nil {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("the service principal still cannot write after %s: %v", limit, last)
}

// startPropolis runs `propolis serve` on a free port with a fresh data directory and the
// configuration cfgFormat (with the data directory as its %s), and waits for its ready file.
func startPropolis(ctx context.Context, bin, dir, name, cfgFormat string) (*server, error) {
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "propolis.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(cfgFormat, data)), 0o644); err != nil {
		return nil, err
	}
	ready := filepath.Join(dir, "ready.json")
	logPath := filepath.Join(dir, "propolis.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	cmd := exec.Command(bin, "serve", "--config", cfgPath, "--listen", "127.0.0.1:0", "--admin-listen", "",
		"--data-dir", data, "--ready-file", ready, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			var r struct {
				Thrift string `json:"thrift"`
			}
			if json.Unmarshal(b, &r) == nil && r.Thrift != "" {
				s := &server{name: name, cfgPath: cfgPath, dataDir: data, addr: r.Thrift, startup: time.Since(start), stop: stop}
				progress("%s: pid %d ready after %s on thrift://%s (data: %s)", name, cmd.Process.Pid, s.startup.Round(time.Millisecond), s.addr, data)
				return s, nil
			}
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("%s: propolis serve exited during start-up (%v):\n%s", name, err, b)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("%s: no ready file within 30s:\n%s", name, b)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
