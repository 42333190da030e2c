package compattests

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestPyIceberg runs compat-tests/pyiceberg_test.py: PyIceberg's HiveCatalog creates a
// namespace and an Iceberg table, appends (each commit under the metastore lock), reads back,
// reloads from a fresh catalog, races writers; then the metastore's lock calls are checked.
func TestPyIceberg(t *testing.T) {
	py := venvPython(t, "pyiceberg venv", "pyiceberg", "pyarrow", "hive_metastore")
	p := startPropolis(t)
	dir := t.TempDir()
	script := filepath.Join(repoRoot, "compat-tests", "pyiceberg_test.py")
	before := p.Metrics(t)
	ok := false
	defer func() {
		if !ok {
			reportCalls(t, "PyIceberg (failed)", p.Metrics(t).Sub(before))
		}
	}()
	out := runScript(t, 15*time.Minute, []string{"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"}, dir, py, script,
		"--metastore", p.URI(), "--warehouse", "file://"+filepath.Join(dir, "warehouse"))
	ok = true
	d := p.Metrics(t).Sub(before)
	t.Logf("ENGINE: PyIceberg %s (pyarrow %s), HiveCatalog", markerValue(out, "PYICEBERG_VERSION"), markerValue(out, "PYARROW_VERSION"))
	reportCalls(t, "PyIceberg", d)
	if p.external {
		return
	}
	commits, err := strconv.Atoi(markerValue(out, "COMMITS"))
	if err != nil {
		t.Fatalf("the script printed no COMMITS=N: %v", err)
	}
	// Each data commit takes one lock and releases it; the script's own lock checks add 3 more.
	if got, want := d.OK("lock"), float64(commits+3); got < want {
		t.Errorf("metastore lock calls: %.0f ok, want at least %.0f (%d commits + 3 direct)", got, want, commits)
	}
	if got, want := d.OK("unlock"), d.OK("lock"); got != want {
		t.Errorf("unlock calls %.0f != lock calls %.0f: a lock was left held", got, want)
	}
	if d.OK("check_lock") == 0 {
		t.Errorf("no successful check_lock call: the waiting lock was never checked")
	}
	if got := d.OK("alter_table_with_environment_context") + d.OK("alter_table"); got < float64(commits) {
		t.Errorf("alter_table calls %.0f < %d commits", got, commits)
	}
	t.Logf("%d commits, %.0f lock, %.0f check_lock, %.0f unlock", commits, d.OK("lock"), d.OK("check_lock"), d.OK("unlock"))
}
