// Package config owns Propolis's one configuration file: its schema, its defaults, and the
// checks that run before anything starts.
//
// Loading is strict on purpose. A misspelt key silently ignored is a setting the operator
// believes is in force and is not, so unknown keys are errors, as are values of the wrong
// type. Every problem in the file is reported at once (errors.Join), each prefixed with the
// file name and the field's path, so one edit fixes them all:
//
//	config.yaml: thrift.max_message_bytes: must be > 0
//	config.yaml: store.dsn: required when store.driver is "mysql"
//
// Durations are Go duration strings ("10m", "90s"). Sizes are either an integer number of bytes
// or a string with a unit: "100MiB", "1 GiB", "512KiB" (binary) or "100MB" (decimal).
//
// A key that is present with no value (`listen:`) keeps its default; an explicit empty string
// is a value (for admin.listen it disables the admin server).
//
// Paths derived from data_dir (the warehouse, the SQLite file) are worked out by
// ApplyDefaults, which the command line calls again after flags override fields, so
// `--data-dir` moves everything that was not set explicitly.
package config
