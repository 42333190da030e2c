// Command propolis is the Propolis binary: `serve` runs the metastore endpoint, `version`
// prints the build, `config check` validates a configuration file, `config render` prints an
// engine's configuration for Propolis (internal/engines), `doctor` probes an endpoint with the
// calls an engine makes, `migrate plan|apply|verify` moves a metastore into Propolis
// (internal/migrate), `completion` prints a shell completion script. All wiring of config,
// backends, handler, interceptors and listeners happens here and nowhere else.
package main
