package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/time/rate"

	"github.com/propolis/propolis/hms/upstream"
	"github.com/propolis/propolis/internal/engines"
	"github.com/propolis/propolis/internal/migrate"
)

func migrateCommand() *cli.Command {
	source := &cli.StringFlag{Name: "from", Usage: "the source Hive Metastore, thrift://host:port (required)", EnvVars: []string{"PROPOLIS_MIGRATE_FROM"}}
	target := &cli.StringFlag{Name: "to", Value: "thrift://127.0.0.1:9083", Usage: "the Propolis endpoint to copy into, thrift://host:port", EnvVars: []string{"PROPOLIS_ENDPOINT"}}
	common := func(extra ...cli.Flag) []cli.Flag {
		return append([]cli.Flag{
			source,
			&cli.StringSliceFlag{Name: "database", Aliases: []string{"d"}, Usage: "source database to include, a name or a glob (repeatable; default: all)"},
			&cli.StringSliceFlag{Name: "location-map", Aliases: []string{"m"}, Usage: "translate locations: FROM=TO prefix, e.g. hdfs://nn/warehouse=s3a://lake/warehouse (repeatable; longest prefix wins)"},
			&cli.StringSliceFlag{Name: "database-map", Usage: "copy a database under another name in Propolis: SOURCE=TARGET (repeatable; view texts follow; apply and verify)"},
			&cli.IntFlag{Name: "concurrency", Value: 4, Usage: "tables worked on at once"},
			&cli.Float64Flag{Name: "rate", Usage: "at most this many calls per second to the source (0: no limit)"},
			&cli.IntFlag{Name: "batch-size", Value: 500, Usage: "partitions read or written per call"},
			&cli.DurationFlag{Name: "call-timeout", Value: 5 * time.Minute, Usage: "bound on each metastore call"},
			&cli.BoolFlag{Name: "no-progress", Usage: "no progress bar (there is none when stderr is not a terminal)"},
		}, extra...)
	}
	return &cli.Command{
		Name:  "migrate",
		Usage: "move a Hive Metastore's metadata into Propolis: plan, apply, verify",
		Description: `A migration in three steps, each safe to repeat:

   propolis migrate plan   --from thrift://old-hms:9083                       # what is there, what needs attention
   propolis migrate apply  --from thrift://old-hms:9083 --to thrift://propolis:9083 \
                           --location-map hdfs://nn/warehouse=s3a://lake/warehouse   # dry run: prints what it would do
   propolis migrate apply  ... --execute                                        # copies; Ctrl-C or kill, then run again to resume
   propolis migrate verify --from thrift://old-hms:9083 --to thrift://propolis:9083 --location-map ...

Databases not worth copying can be served from the old metastore instead (zero copy): plan
prints the federation stanza for propolis.yaml.`,
		Subcommands: []*cli.Command{
			{
				Name:  "plan",
				Usage: "report what a metastore holds and what needs attention before migrating it",
				Description: `Lists databases, tables by type and format, partition counts, views and what they read,
ACID tables, locations grouped by file system and prefix (with their translation when
--location-map is given), owners, statistics and functions, then everything that needs
attention, and the federation stanza that serves the source from Propolis without copying.

Examples:
   propolis migrate plan --from thrift://old-hms:9083
   propolis migrate plan --from thrift://old-hms:9083 -d 'sales*' -m hdfs://nn/warehouse=s3a://lake/warehouse -o markdown > plan.md`,
				Flags:        common(outputFlag("table", "table", "json", "markdown")),
				OnUsageError: onUsageError,
				Action:       migratePlan,
			},
			{
				Name:  "apply",
				Usage: "copy a metastore's metadata into Propolis (a dry run unless --execute)",
				Description: `Without --execute, prints every change it would make and writes nothing. With --execute it
copies databases, functions, tables, views, partitions and table column statistics, translating
locations; it can be interrupted at any point and run again: the checkpoint is kept in the
target (propolis.migrate.* parameters), finished tables are skipped, the rest is compared and
completed, nothing is duplicated. Run again later, it copies what changed on the source since
(by comparison). ACID tables and materialized views are skipped and listed with the reason.
The report (JSON) is saved to --report.

Exit status: 0 done, 1 failed or interrupted (run again to resume), 2 usage error.

Examples:
   propolis migrate apply --from thrift://old-hms:9083 --to thrift://propolis:9083 -m hdfs://nn/wh=s3a://lake/wh
   propolis migrate apply --from thrift://old-hms:9083 --to thrift://propolis:9083 -m hdfs://nn/wh=s3a://lake/wh --execute --rate 200`,
				Flags: common(target,
					&cli.BoolFlag{Name: "execute", Usage: "write to the target (without it: a dry run)"},
					&cli.StringFlag{Name: "report", Value: "propolis-migrate-report.json", Usage: `save the report (JSON) to this file ("" to not save it)`},
					outputFlag("table", "table", "json")),
				OnUsageError: onUsageError,
				Action:       migrateApply,
			},
			{
				Name:  "verify",
				Usage: "compare source and target object by object; exit 1 on any difference",
				Description: `Compares databases, functions, tables (schema, storage, parameters, view texts), table column
statistics and every partition, after location translation. Lists each difference.

Exit status: 0 identical, 1 a difference (or a failure), 2 usage error.

Examples:
   propolis migrate verify --from thrift://old-hms:9083 --to thrift://propolis:9083 -m hdfs://nn/wh=s3a://lake/wh`,
				Flags:        common(target, outputFlag("table", "table", "json")),
				OnUsageError: onUsageError,
				Action:       migrateVerify,
			},
		},
	}
}

// migrateSetup is what every migrate subcommand needs: the configuration, the source (rate
// limited) and, for apply and verify, the target.
type migrateSetup struct {
	cfg     migrate.Config
	srcAddr string
	src     *upstream.Client
	dst     *upstream.Client
	source  migrate.Source
	target  migrate.Target // dst, renamed with --database-map
	output  string
	bar     *progress
}

func (s *migrateSetup) Close() {
	s.bar.finish()
	if s.src != nil {
		s.src.Close()
	}
	if s.dst != nil {
		s.dst.Close()
	}
}

func setupMigrate(c *cli.Context, withTarget bool, outputs ...string) (*migrateSetup, error) {
	name := c.Command.FullName()
	if c.NArg() > 0 {
		return nil, usageError("%s: unexpected argument %q", name, c.Args().First())
	}
	output, err := outputArg(c, outputs...)
	if err != nil {
		return nil, err
	}
	if c.String("from") == "" {
		return nil, usageError("%s: --from is required: the source metastore, thrift://host:port", name)
	}
	srcAddr, err := engines.Address(c.String("from"))
	if err != nil {
		return nil, usageError("%s: --from: %v", name, err)
	}
	var maps []migrate.Mapping
	for _, s := range c.StringSlice("location-map") {
		m, err := migrate.ParseMapping(s)
		if err != nil {
			return nil, usageError("%s: %v", name, err)
		}
		maps = append(maps, m)
	}
	lm, err := migrate.NewLocationMap(maps)
	if err != nil {
		return nil, usageError("%s: %v", name, err)
	}
	dbMap := migrate.DatabaseMap{}
	for _, m := range c.StringSlice("database-map") {
		if err := dbMap.Parse(m); err != nil {
			return nil, usageError("%s: %v", name, err)
		}
	}
	if c.Int("concurrency") < 1 || c.Int("batch-size") < 1 || c.Float64("rate") < 0 {
		return nil, usageError("%s: --concurrency and --batch-size must be at least 1, --rate at least 0", name)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := &migrateSetup{srcAddr: srcAddr, output: output, cfg: migrate.Config{
		Source: c.String("from"), Databases: c.StringSlice("database"), Locations: lm,
		Concurrency: c.Int("concurrency"), BatchSize: c.Int("batch-size"), Log: log,
	}}
	conns := c.Int("concurrency") + 1
	s.src, err = upstream.New(upstream.Config{Name: "source", Address: srcAddr, CallTimeout: c.Duration("call-timeout"),
		MaxConns: conns, HealthInterval: -1}, log)
	if err != nil {
		return nil, usageError("%s: %v", name, err)
	}
	var lim *rate.Limiter
	if r := c.Float64("rate"); r > 0 {
		lim = rate.NewLimiter(rate.Limit(r), 1)
	}
	s.source = migrate.Limit(s.src, lim)
	if withTarget {
		dstAddr, err := engines.Address(c.String("to"))
		if err != nil {
			s.src.Close()
			return nil, usageError("%s: --to: %v", name, err)
		}
		s.dst, err = upstream.New(upstream.Config{Name: "target", Address: dstAddr, CallTimeout: c.Duration("call-timeout"),
			MaxConns: conns, HealthInterval: -1}, log)
		if err != nil {
			s.src.Close()
			return nil, usageError("%s: %v", name, err)
		}
		s.target = migrate.Rename(s.dst, dbMap)
	}
	s.bar = newProgress(c.App.ErrWriter, !c.Bool("no-progress"))
	s.cfg.Progress = s.bar
	return s, nil
}

// signalContext is cancelled by Ctrl-C or SIGTERM, so an interrupted apply stops between
// calls and leaves its checkpoint for the next run.
func signalContext(c *cli.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
}

func migratePlan(c *cli.Context) error {
	s, err := setupMigrate(c, false, "table", "json", "markdown")
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, stop := signalContext(c)
	defer stop()
	plan, err := migrate.PlanSource(ctx, s.source, s.cfg, s.srcAddr)
	s.bar.finish()
	if err != nil {
		return cli.Exit("propolis migrate plan: "+err.Error(), 1)
	}
	w := c.App.Writer
	switch s.output {
	case "json":
		return writeJSON(w, plan)
	case "markdown":
		printPlanMarkdown(w, plan)
	default:
		printPlanTable(w, plan)
	}
	return nil
}

func migrateApply(c *cli.Context) error {
	s, err := setupMigrate(c, true, "table", "json")
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, stop := signalContext(c)
	defer stop()
	s.cfg.Execute = c.Bool("execute")
	w := c.App.Writer
	if s.output == "table" && !s.cfg.Execute {
		fmt.Fprintln(w, "dry run: nothing is written (add --execute to apply)")
		s.cfg.OnAction = func(a migrate.Action) { // called one at a time
			s.bar.clear()
			fmt.Fprintln(w, formatAction(a))
		}
	}
	rep, err := migrate.Apply(ctx, s.source, s.target, s.cfg)
	s.bar.finish()
	if path := c.String("report"); path != "" {
		if werr := saveJSON(path, rep); werr != nil {
			fmt.Fprintf(c.App.ErrWriter, "propolis migrate apply: saving the report: %v\n", werr)
		}
	}
	if s.output == "json" {
		writeJSON(w, rep)
	} else {
		printApplyReport(w, rep, c.String("report"))
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return cli.Exit("propolis migrate apply: interrupted; run the same command again to resume", 1)
		}
		return cli.Exit("propolis migrate apply: "+err.Error()+" (run the same command again to resume)", 1)
	}
	return nil
}

func migrateVerify(c *cli.Context) error {
	s, err := setupMigrate(c, true, "table", "json")
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, stop := signalContext(c)
	defer stop()
	rep, err := migrate.Verify(ctx, s.source, s.target, s.cfg)
	s.bar.finish()
	w := c.App.Writer
	if s.output == "json" {
		writeJSON(w, rep)
	} else {
		for _, d := range rep.Differences {
			fmt.Fprintf(w, "DIFF  %s: %s\n", d.Object, d.Detail)
		}
		for _, p := range rep.Skipped {
			fmt.Fprintf(w, "SKIP  %s: %s\n", p.Object, p.Reason)
		}
		fmt.Fprintf(w, "compared %d databases, %d tables, %d partitions, %d functions: %d differences\n",
			rep.Databases, rep.Tables, rep.Partitions, rep.Functions, len(rep.Differences))
	}
	if err != nil {
		return cli.Exit("propolis migrate verify: "+err.Error(), 1)
	}
	if len(rep.Differences) > 0 {
		return cli.Exit("", 1)
	}
	return nil
}

func formatAction(a migrate.Action) string {
	s := fmt.Sprintf("%-18s %s", a.Op, a.Object)
	if a.Count > 0 {
		s += fmt.Sprintf(" (%d)", a.Count)
	}
	if a.Detail != "" {
		s += "  " + a.Detail
	}
	return s
}

func printApplyReport(w io.Writer, r *migrate.Report, reportPath string) {
	verb := "applied"
	if r.DryRun {
		verb = "would apply (dry run)"
	}
	ops := make([]string, 0, len(r.Ops))
	for op, n := range r.Ops {
		ops = append(ops, fmt.Sprintf("%s %d", op, n))
	}
	sort.Strings(ops)
	fmt.Fprintf(w, "%s: %d databases, %d tables (%d already complete in an earlier run, %d unchanged), %d partitions compared\n",
		verb, r.Databases, r.Tables, r.Resumed, r.Unchanged, r.Partitions)
	fmt.Fprintf(w, "partitions: %d added, %d altered, %d dropped; operations: %s\n",
		r.PartitionsAdded, r.PartitionsAltered, r.PartitionsDropped, strings.Join(ops, ", "))
	for _, p := range r.Skipped {
		fmt.Fprintf(w, "SKIPPED       %s: %s\n", p.Object, p.Reason)
	}
	for _, p := range r.Untranslated {
		fmt.Fprintf(w, "UNTRANSLATED  %s: %s\n", p.Object, p.Reason)
	}
	if !r.Finished.IsZero() {
		fmt.Fprintf(w, "took %s", r.Finished.Sub(r.Started).Round(time.Millisecond))
		if reportPath != "" {
			fmt.Fprintf(w, "; report saved to %s", reportPath)
		}
		fmt.Fprintln(w)
	}
}

func printPlanTable(w io.Writer, p *migrate.Plan) {
	fmt.Fprintf(w, "source %s: %d databases, %d tables, %d partitions, %d functions, %d tables with statistics\n\n",
		p.Source, len(p.Databases), p.Tables, p.Partitions, p.Functions, p.WithStatistics)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATABASE\tTABLES\tVIEWS\tPARTITIONS\tACID\tFUNCTIONS\tOWNER\tLOCATION")
	for _, d := range p.Databases {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", d.Name, d.Tables, d.Views, d.Partitions, d.ACID, d.Functions, d.Owner, d.Location)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nby type: %s\nby format: %s\nowners: %s\n", counts(p.ByType), counts(p.ByFormat), counts(p.Owners))
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOCATION PREFIX\tTABLES\tPARTITIONS\tTRANSLATED TO")
	for _, l := range p.Locations {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", l.Prefix, l.Tables, l.Partitions, orDash(l.Target))
	}
	tw.Flush()
	if len(p.Views) > 0 {
		fmt.Fprintln(w, "\nviews:")
		for _, v := range p.Views {
			fmt.Fprintf(w, "  %s -> %s\n", v.View, orDash(strings.Join(v.References, ", ")))
		}
	}
	fmt.Fprintf(w, "\nneeds attention (%d):\n", len(p.Attention))
	for _, a := range p.Attention {
		fmt.Fprintf(w, "  %s: %s\n", a.Object, a.Reason)
	}
	fmt.Fprintf(w, "\nto serve these databases from the source instead of copying them (zero copy), in propolis.yaml:\n%s", p.Federation)
}

func printPlanMarkdown(w io.Writer, p *migrate.Plan) {
	fmt.Fprintf(w, "# Migration plan for %s\n\n%d databases, %d tables, %d partitions, %d functions, %d tables with statistics (taken %s).\n\n",
		p.Source, len(p.Databases), p.Tables, p.Partitions, p.Functions, p.WithStatistics, p.Taken.Format(time.RFC3339))
	fmt.Fprintln(w, "| database | tables | views | partitions | ACID | functions | owner | location |\n|---|---:|---:|---:|---:|---:|---|---|")
	for _, d := range p.Databases {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %s | %s |\n", d.Name, d.Tables, d.Views, d.Partitions, d.ACID, d.Functions, d.Owner, d.Location)
	}
	fmt.Fprintf(w, "\n- by type: %s\n- by format: %s\n- owners: %s\n\n", counts(p.ByType), counts(p.ByFormat), counts(p.Owners))
	fmt.Fprintln(w, "| location prefix | tables | partitions | translated to |\n|---|---:|---:|---|")
	for _, l := range p.Locations {
		fmt.Fprintf(w, "| %s | %d | %d | %s |\n", l.Prefix, l.Tables, l.Partitions, orDash(l.Target))
	}
	if len(p.Views) > 0 {
		fmt.Fprint(w, "\n## Views\n\n")
		for _, v := range p.Views {
			fmt.Fprintf(w, "- `%s` reads %s\n", v.View, orDash(strings.Join(v.References, ", ")))
		}
	}
	fmt.Fprintf(w, "\n## Needs attention (%d)\n\n", len(p.Attention))
	for _, a := range p.Attention {
		fmt.Fprintf(w, "- **%s**: %s\n", a.Object, a.Reason)
	}
	fmt.Fprintf(w, "\n## Federate instead (zero copy)\n\n```yaml\n%s```\n", p.Federation)
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", orDash(k), m[k])
	}
	return orDash(strings.Join(parts, ", "))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// saveJSON writes atomically, so an interrupted run never leaves half a report.
func saveJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// progress is the bar of objects (tables and partitions) done out of those found so far,
// drawn only on a terminal.
type progress struct {
	mu                 sync.Mutex
	bar                *progressbar.ProgressBar
	tables, tablesDone int64
	parts, partsDone   int64
	finished           bool
}

func newProgress(w io.Writer, want bool) *progress {
	p := &progress{}
	f, ok := w.(*os.File)
	if !want || !ok || !(isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		return p
	}
	p.bar = progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("scanning"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("objects"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionFullWidth(),
		progressbar.OptionClearOnFinish(),
	)
	return p
}

func (p *progress) Found(tables, partitions int64) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tables += tables
	p.parts += partitions
	p.bar.ChangeMax64(p.tables + p.parts)
	p.describe()
}

func (p *progress) Done(tables, partitions int64) {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tablesDone += tables
	p.partsDone += partitions
	p.describe()
	p.bar.Add64(tables + partitions)
}

func (p *progress) describe() {
	p.bar.Describe(fmt.Sprintf("tables %d/%d, partitions %d/%d", p.tablesDone, p.tables, p.partsDone, p.parts))
}

// clear erases the bar before a line is printed under it.
func (p *progress) clear() {
	if p.bar != nil {
		p.bar.Clear()
	}
}

func (p *progress) finish() {
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.finished {
		p.finished = true
		p.bar.Finish()
	}
}
