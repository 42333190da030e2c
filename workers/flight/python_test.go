package flight

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// venvPython is the compat-tests venv's python when it has pyarrow.flight; the test is
// skipped otherwise, except in CI (CI=true), where `make test` has run compat-tests/setup.sh,
// which installs it, so its absence fails the test.
func venvPython(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	cache := os.Getenv("PROPOLIS_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			missing("no home directory for the compat-tests venv (pyarrow.flight): %v", err)
		}
		cache = filepath.Join(home, ".cache", "propolis")
	}
	py := filepath.Join(cache, "venv", "bin", "python")
	if out, err := exec.Command(py, "-c", "import pyarrow.flight").CombinedOutput(); err != nil {
		missing("no pyarrow.flight in %s (compat-tests/setup.sh installs it): %v %s", py, err, out)
	}
	return py
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n got %s\nwant %s", path, got, want)
	}
}

// TestPyarrowClient runs compat-tests/flight_client.py against a 3-worker fleet.
func TestPyarrowClient(t *testing.T) {
	py := venvPython(t)
	script, err := filepath.Abs(filepath.Join("..", "..", "compat-tests", "flight_client.py"))
	if err != nil {
		t.Fatal(err)
	}
	asserted := startFleet(t, 3, nil)
	basic := startFleet(t, 3, func(c *Config) {
		c.TrustAssertedIdentity = false
		c.Authenticator = passwords{"alice": "pw"}
		c.BearerKey = []byte("0123456789abcdef0123456789abcdef")
	})
	cases := []struct {
		name   string
		f      *fleet
		args   []string
		golden string // stdout; "" when the run must fail
		stderr string // a substring of stderr on failure
	}{
		{"table as alice", asserted, []string{"--user", "alice", "--groups", "analysts", "--table", "sales.customers"}, "customers.jsonl", ""},
		{"worker token", asserted, []string{"--cmd", "tok-alice-customers.sig"}, "customers.jsonl", ""},
		{"basic auth", basic, []string{"--user", "alice", "--password", "pw", "--table", "sales.customers"}, "customers.jsonl", ""},
		{"info", asserted, []string{"--user", "alice", "--table", "sales.orders", "--info"}, "orders_info.json", ""},
		{"detokenize", asserted, []string{"--user", "steward", "--detokenize", "--table", "sales.customers", "--key", "k1", "--values", `["tok_7", null]`}, "detokenize.json", ""},
		{"no user", asserted, []string{"--table", "sales.customers"}, "", "FlightUnauthenticatedError"},
		{"token of another user", asserted, []string{"--user", "mallory", "--cmd", "tok-alice-customers.sig"}, "", "FlightUnauthorizedError"},
		{"wrong password", basic, []string{"--user", "alice", "--password", "nope", "--table", "sales.customers"}, "", "FlightUnauthenticatedError"},
		{"detokenize denied", asserted, []string{"--user", "alice", "--detokenize", "--table", "sales.customers", "--key", "k1", "--values", `["tok_7"]`}, "", "FlightUnauthorizedError"},
		{"hidden table", asserted, []string{"--user", "alice", "--table", "acl.secret"}, "", "table acl.secret not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{script, "--location", tc.f.locs[0]}, tc.args...)
			cmd := exec.Command(py, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("flight_client.py hung; stderr: %s", stderr.String())
			}
			if tc.golden == "" {
				if err == nil || !strings.Contains(stderr.String(), tc.stderr) {
					t.Errorf("want a failure mentioning %q; err %v, stderr %s", tc.stderr, err, stderr.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			out := stdout.Bytes()
			if tc.name == "info" {
				out = renameWorkers(out, tc.f.locs)
			}
			golden(t, tc.golden, out)
		})
	}
}

// renameWorkers names locations worker0, worker1, ... in order of first appearance: which
// worker the round-robin starts on depends on earlier calls, the spreading does not.
func renameWorkers(out []byte, locs []string) []byte {
	type at struct {
		loc string
		pos int
	}
	var seen []at
	for _, l := range locs {
		if i := bytes.Index(out, []byte(l)); i >= 0 {
			seen = append(seen, at{l, i})
		}
	}
	sort.Slice(seen, func(i, j int) bool { return seen[i].pos < seen[j].pos })
	for i, s := range seen {
		out = bytes.ReplaceAll(out, []byte(s.loc), []byte(fmt.Sprintf("grpc://worker%d", i)))
	}
	return out
}
