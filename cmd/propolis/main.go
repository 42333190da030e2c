package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise the module
// version or VCS revision from the build info is used.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "dev-" + s.Value[:12]
		}
	}
	return "dev"
}

func main() {
	app := &cli.App{
		Name:  "propolis",
		Usage: "a Hive Metastore-compatible federation and policy layer",
		// Exit status: 0 ok, 1 failure, 2 usage (commands return cli.Exit(..., 2) for bad flags).
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			serveCommand(),
			configCommand(),
			policyCommand(),
			workerCommand(),
			doctorCommand(),
			migrateCommand(),
			completionCommand(),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					fmt.Fprintf(c.App.Writer, "propolis %s\n", buildVersion())
					return nil
				},
			},
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "propolis:", err)
		os.Exit(1)
	}
}
