package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/propolis/propolis/internal/engines"
)

// usageError makes a command exit with status 2 and the message, as for a flag it cannot parse.
func usageError(format string, args ...any) error {
	return cli.Exit("propolis: "+fmt.Sprintf(format, args...), 2)
}

// onUsageError gives a command's flag errors exit status 2.
func onUsageError(c *cli.Context, err error, _ bool) error {
	return cli.Exit(fmt.Sprintf("propolis %s: %v (see --help)", c.Command.FullName(), err), 2)
}

func engineFlag(usage string) *cli.StringFlag {
	// Checked by the action (engineArg), not Required: a missing flag is a usage error (exit 2).
	return &cli.StringFlag{Name: "engine", Aliases: []string{"e"},
		Usage: usage + " (required): " + strings.Join(engines.Names, ", ")}
}

func endpointFlag(usage string) *cli.StringFlag {
	return &cli.StringFlag{Name: "endpoint", Value: "thrift://127.0.0.1:9083", EnvVars: []string{"PROPOLIS_ENDPOINT"},
		Usage: usage}
}

func renderCommand() *cli.Command {
	return &cli.Command{
		Name:  "render",
		Usage: "print the exact configuration that points an engine at Propolis",
		Description: `Prints what goes into the engine's own configuration file: a hive-site.xml property,
spark-defaults.conf lines, a Trino or PrestoDB catalog .properties file, or a PyIceberg catalog
(~/.pyiceberg.yaml). The first line, a comment, names the file.

Examples:
   propolis config render --engine trino --endpoint thrift://propolis:9083 > etc/catalog/hive.properties
   propolis config render --engine spark --endpoint thrift://p1:9083,thrift://p2:9083 >> $SPARK_HOME/conf/spark-defaults.conf
   propolis config render --engine pyiceberg --catalog prod --warehouse s3://lake/iceberg`,
		Flags: []cli.Flag{
			engineFlag("engine to configure"),
			endpointFlag("Propolis's Thrift endpoint, thrift://host:port (a comma-separated list for replicas)"),
			&cli.StringFlag{Name: "catalog", Usage: `Trino/Presto catalog file name (default "hive") or PyIceberg catalog name (default "propolis")`},
			&cli.StringFlag{Name: "warehouse", Usage: "default location of new databases (Spark's spark.sql.warehouse.dir, PyIceberg's warehouse)"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("config render: unexpected argument %q", c.Args().First())
			}
			engine, err := engineArg(c, engines.Names)
			if err != nil {
				return err
			}
			eps, err := engines.ParseEndpoints(c.String("endpoint"))
			if err != nil {
				return usageError("config render: %v", err)
			}
			out, err := engines.Render(engine, engines.Target{Endpoints: eps, Catalog: c.String("catalog"), Warehouse: c.String("warehouse")})
			if err != nil {
				return usageError("config render: %v", err)
			}
			fmt.Fprint(c.App.Writer, out)
			return nil
		},
	}
}

// engineArg returns the --engine flag, one of allowed, or a usage error.
func engineArg(c *cli.Context, allowed []string) (string, error) {
	engine := c.String("engine")
	if engine == "" {
		return "", usageError("%s: flag \"engine\" is required: one of %s", c.Command.FullName(), strings.Join(allowed, ", "))
	}
	if !slices.Contains(allowed, engine) {
		return "", usageError("%s: unknown engine %q: want one of %s", c.Command.FullName(), engine, strings.Join(allowed, ", "))
	}
	return engine, nil
}
