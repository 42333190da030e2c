package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/propolis/propolis/config"
)

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "work with configuration files",
		Subcommands: []*cli.Command{{
			Name:      "check",
			Usage:     "validate a configuration file and print it with defaults applied",
			ArgsUsage: "FILE",
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return fmt.Errorf("config check: give exactly one file")
				}
				cfg, err := config.Load(c.Args().First())
				if err != nil {
					return err
				}
				out, err := yaml.Marshal(cfg)
				if err != nil {
					return err
				}
				fmt.Fprint(c.App.Writer, string(out))
				return nil
			},
		}, renderCommand()},
	}
}
