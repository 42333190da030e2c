package scan

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/propolis/propolis/workers/plan"
)

func planPos() plan.Pos { return plan.Pos{} }

// pythonWithPyarrow finds the compat tests' Python venv with pyarrow; it skips the test when
// absent (fails when CI=true).
func pythonWithPyarrow(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("PROPOLIS_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "propolis")
	}
	py := filepath.Join(cache, "venv", "bin", "python")
	if err := exec.Command(py, "-c", "import pyarrow").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pyarrow not importable from %s (compat-tests/setup.sh installs it): %v", py, err)
		}
		t.Skipf("pyarrow not importable from %s (run compat-tests/setup.sh): %v", py, err)
	}
	return py
}

func runPython(t *testing.T, py, script string, stdin []byte) string {
	t.Helper()
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("python: %v\n%s", err, errb.String())
	}
	return out.String()
}
