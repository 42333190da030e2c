// Command propolis is the Propolis binary: `serve` runs the metastore endpoint, `version`
// prints the build, `config check` validates a configuration file. All wiring of config,
// backends, handler, interceptors and listeners happens here and nowhere else.
package main
