package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Commands that open the store create a data directory that does not exist yet, as serve does.
func TestPolicyCreatesDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet")
	out, stderr, code := run(t, "policy", "apply", "--data-dir", dir, "-f", "../../policy/testdata/good/sales.yaml")
	if code != 0 || !strings.Contains(out, "policy version 1 in force") {
		t.Fatalf("policy apply on a fresh data dir: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "catalog.db")); err != nil {
		t.Fatal(err)
	}
}
