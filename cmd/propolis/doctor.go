package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/propolis/propolis/internal/engines"
)

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check, from an engine's side, that an endpoint answers every call that engine makes",
		Description: `Connects to the endpoint as the engine's metastore client would and makes the calls that
engine makes (read from Spark's Hive 2.3.9 client, Trino's ThriftHiveMetastoreClient, Hive 4's
HiveMetaStoreClient, PyIceberg's HiveCatalog), including the fallbacks each engine has. One line
per call: PASS, FAIL with a fix, or SKIP with the reason. Calls are read-only, except the
PyIceberg lock probe, which takes and releases a lock on the probed table.

The probed table is --table, or the first table of --database (a partitioned one when there is
one among the first 20); partition calls need a partitioned table.

Exit status: 0 every call passed, 1 a call failed, 2 usage error.

Examples:
   propolis doctor --engine spark --endpoint thrift://propolis:9083
   propolis doctor --engine trino --endpoint thrift://propolis:9083 --table sales.orders
   propolis doctor --engine pyiceberg --output json`,
		Flags: []cli.Flag{
			engineFlag("engine whose calls to make"),
			endpointFlag("the metastore endpoint the engine uses, thrift://host:port"),
			&cli.StringFlag{Name: "database", Aliases: []string{"d"}, Value: "default", Usage: "database to probe"},
			&cli.StringFlag{Name: "table", Aliases: []string{"t"}, Usage: "table to probe, TABLE or DB.TABLE (default: the database's first)"},
			&cli.StringFlag{Name: "user", Value: "propolis-doctor", Usage: "user name sent with set_ugi"},
			&cli.BoolFlag{Name: "framed", Usage: "use the framed transport (hive.metastore.thrift.framed.transport.enabled)"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "bound on each call"},
			outputFlag("text", "text", "json"),
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("doctor: unexpected argument %q", c.Args().First())
			}
			engine, err := engineArg(c, engines.DoctorEngines)
			if err != nil {
				return err
			}
			output, err := outputArg(c, "text", "json")
			if err != nil {
				return err
			}
			endpoint := c.String("endpoint")
			addr, err := engines.Address(endpoint)
			if err != nil {
				return usageError("doctor: %v", err)
			}
			db, table := c.String("database"), c.String("table")
			if d, t, ok := strings.Cut(table, "."); ok {
				db, table = d, t
			}
			results, err := engines.Check(c.Context, engine, addr, engines.CheckOptions{
				Database: db, Table: table, User: c.String("user"), Framed: c.Bool("framed"), Timeout: c.Duration("timeout"),
			})
			if err != nil {
				return usageError("doctor: %v", err)
			}
			prof, _ := engines.Profiles(engine)
			failed := printDoctor(c, output, prof.Description, endpoint, results)
			if failed > 0 {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}

// printDoctor writes the report and returns how many calls failed.
func printDoctor(c *cli.Context, output, engine, endpoint string, results []engines.Result) int {
	counts := map[engines.Status]int{}
	for _, r := range results {
		counts[r.Status]++
	}
	w := c.App.Writer
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			Engine   string           `json:"engine"`
			Endpoint string           `json:"endpoint"`
			Results  []engines.Result `json:"results"`
			Passed   int              `json:"passed"`
			Failed   int              `json:"failed"`
			Skipped  int              `json:"skipped"`
		}{engine, endpoint, results, counts[engines.Pass], counts[engines.Fail], counts[engines.Skip]})
		return counts[engines.Fail]
	}
	fmt.Fprintf(w, "%s against %s\n", engine, endpoint)
	width := 0
	for _, r := range results {
		width = max(width, len(r.Call))
	}
	for _, r := range results {
		fmt.Fprintf(w, "%s  %-*s  %s", r.Status, width, r.Call, r.Purpose)
		if r.Detail != "" {
			fmt.Fprintf(w, ": %s", r.Detail)
		}
		fmt.Fprintln(w)
		if r.Fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", r.Fix)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", counts[engines.Pass], counts[engines.Fail], counts[engines.Skip])
	return counts[engines.Fail]
}

// outputFlag is the one --output flag of every reporting command.
func outputFlag(def string, allowed ...string) *cli.StringFlag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: def, Usage: "report format: " + strings.Join(allowed, ", ")}
}

func outputArg(c *cli.Context, allowed ...string) (string, error) {
	o := c.String("output")
	for _, a := range allowed {
		if o == a {
			return o, nil
		}
	}
	return "", usageError("%s: unknown --output %q: want one of %s", c.Command.FullName(), o, strings.Join(allowed, ", "))
}
