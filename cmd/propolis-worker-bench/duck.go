package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// duck runs statements in DuckDB, one fresh Python process per run, so that no run inherits
// another's caches but the operating system's page cache (which the worker shares too).
type duck struct {
	python  string
	script  string
	threads int
}

func newDuck(python, dir string, threads int) (*duck, error) {
	script := filepath.Join(dir, "duck.py")
	if err := os.WriteFile(script, []byte(duckPy), 0o644); err != nil {
		return nil, err
	}
	return &duck{python: python, script: script, threads: threads}, nil
}

// version is DuckDB's version, or an error naming what to install.
func duckVersion(ctx context.Context, python string) (string, error) {
	out, err := exec.CommandContext(ctx, python, "-c", "import duckdb; print(duckdb.__version__)").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("DuckDB is not importable by %s (make deps installs it into ~/.cache/propolis/venv): %v\n%s", python, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func (d *duck) run(ctx context.Context, sql string) (measurement, error) {
	var out, errb strings.Builder
	cmd := exec.CommandContext(ctx, d.python, d.script, fmt.Sprint(d.threads), sql)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return measurement{}, fmt.Errorf("duckdb: %v\n%s", err, errb.String())
	}
	var r struct {
		Rows     int64   `json:"rows"`
		Wall     float64 `json:"wall"`
		CPU      float64 `json:"cpu"`
		Version  string  `json:"version"`
		MaxRSSKB int64   `json:"maxrss_kb"`
	}
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		return measurement{}, fmt.Errorf("duckdb: unreadable answer %q: %v", out.String(), err)
	}
	return measurement{
		wall: time.Duration(r.Wall * float64(time.Second)), cpu: time.Duration(r.CPU * float64(time.Second)),
		rowsOut: r.Rows, duckVersion: r.Version, duckMaxRSSKiB: r.MaxRSSKB,
	}, nil
}
