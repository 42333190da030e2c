package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/propolis/propolis/config"
)

// prepareStore creates the directory an SQLite store lives in, as serve does, so every command
// that opens the store behaves alike on a fresh data directory (instead of SQLite's "unable to
// open database file").
func prepareStore(cfg *config.Config) error {
	if cfg.Store.Driver != "sqlite" || cfg.Store.DSN == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Store.DSN), 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return nil
}
