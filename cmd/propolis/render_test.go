package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// run runs the built binary and returns its stdout, stderr and exit status.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("propolis %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// The command prints exactly the engine's golden file (internal/engines owns the goldens).
func TestConfigRender(t *testing.T) {
	for _, engine := range []string{"hive", "spark", "trino", "presto", "pyiceberg"} {
		out, stderr, code := run(t, "config", "render", "--engine", engine, "--endpoint", "thrift://propolis:9083")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", engine, code, stderr)
		}
		want, err := os.ReadFile(filepath.Join("..", "..", "internal", "engines", "testdata", "render", engine+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		if out != string(want) {
			t.Errorf("%s:\n%s\nwant\n%s", engine, out, want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"config", "render"}, `"engine"`},
		{[]string{"config", "render", "--engine", "flink"}, "unknown engine"},
		{[]string{"config", "render", "--engine", "hive", "--endpoint", "propolis:9083"}, "thrift://host:port"},
		{[]string{"config", "render", "--engine", "hive", "--no-such-flag"}, "no-such-flag"},
		{[]string{"config", "render", "--engine", "hive", "extra"}, "unexpected argument"},
	} {
		_, stderr, code := run(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("propolis %v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, stderr, tc.want)
		}
	}
}

func TestCompletion(t *testing.T) {
	out, _, code := run(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "complete -o bashdefault -o default -F _propolis_complete propolis") {
		t.Fatalf("completion bash: exit %d\n%s", code, out)
	}
	// What the script asks for: the subcommands of config.
	out, _, code = run(t, "config", "--generate-bash-completion")
	if code != 0 || !strings.Contains(out, "render") || !strings.Contains(out, "check") {
		t.Fatalf("config --generate-bash-completion: exit %d\n%s", code, out)
	}
	if _, _, code := run(t, "completion", "fish"); code != 2 {
		t.Fatalf("completion fish: exit %d, want 2", code)
	}
}
