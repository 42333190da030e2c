package main

import (
	"strings"
	"testing"
)

// Usage errors exit 2 and say what is wrong; an unreachable source exits 1.
func TestMigrateUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "plan"}, "--from is required"},
		{[]string{"migrate", "plan", "--from", "old:9083"}, "thrift://host:port"},
		{[]string{"migrate", "plan", "--from", "thrift://old:9083", "--output", "yaml"}, "unknown --output"},
		{[]string{"migrate", "apply", "--from", "thrift://old:9083", "--location-map", "hdfs://nn/wh"}, "FROM=TO"},
		{[]string{"migrate", "apply", "--from", "thrift://old:9083", "-m", "hdfs://a=s3a://x", "-m", "hdfs://a/=s3a://y"}, "mapped twice"},
		{[]string{"migrate", "verify", "--from", "thrift://old:9083", "--concurrency", "0"}, "--concurrency"},
		{[]string{"migrate", "verify", "--from", "thrift://old:9083", "--to", "propolis"}, "--to"},
		{[]string{"migrate", "apply", "--from", "thrift://old:9083", "--bogus"}, "bogus"},
		{[]string{"migrate", "apply", "--from", "thrift://old:9083", "--database-map", "sales"}, "SOURCE=TARGET"},
	} {
		_, stderr, code := run(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("propolis %v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, stderr, tc.want)
		}
	}
	// Nothing listens there: a failure (1), not a usage error, and no progress bar off a terminal.
	_, stderr, code := run(t, "migrate", "plan", "--from", "thrift://127.0.0.1:1", "--call-timeout", "2s")
	if code != 1 || !strings.Contains(stderr, "source") {
		t.Errorf("unreachable source: exit %d, stderr %q", code, stderr)
	}
	out, _, code := run(t, "migrate", "--help")
	if code != 0 || !strings.Contains(out, "propolis migrate plan") || !strings.Contains(out, "--execute") {
		t.Errorf("migrate --help: exit %d\n%s", code, out)
	}
}
