package engines

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got ---\n%s--- want ---\n%s", path, got, want)
	}
}

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name, engine string
		target       Target
	}{
		{"hive", "hive", Target{Endpoints: []string{"thrift://propolis:9083"}}},
		{"hive-replicas", "hive", Target{Endpoints: []string{"thrift://p1:9083", "thrift://p2:9083"}}},
		{"spark", "spark", Target{Endpoints: []string{"thrift://propolis:9083"}}},
		{"spark-warehouse", "spark", Target{Endpoints: []string{"thrift://propolis:9083"}, Warehouse: "s3a://lake/warehouse"}},
		{"trino", "trino", Target{Endpoints: []string{"thrift://propolis:9083"}}},
		{"trino-catalog", "trino", Target{Endpoints: []string{"thrift://propolis:9083"}, Catalog: "lake"}},
		{"presto", "presto", Target{Endpoints: []string{"thrift://propolis:9083"}}},
		{"pyiceberg", "pyiceberg", Target{Endpoints: []string{"thrift://propolis:9083"}}},
		{"pyiceberg-warehouse", "pyiceberg", Target{Endpoints: []string{"thrift://propolis:9083"}, Catalog: "prod", Warehouse: "s3://lake/iceberg"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(tc.engine, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("render", tc.name+".golden"), got)
		})
	}
}

func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		engine string
		target Target
	}{
		{"flink", Target{Endpoints: []string{"thrift://h:9083"}}},
		{"hive", Target{}},
		{"hive", Target{Endpoints: []string{"http://h:9083"}}},
		{"hive", Target{Endpoints: []string{"thrift://h"}}},
		{"hive", Target{Endpoints: []string{"thrift://h:99999"}}},
		{"hive", Target{Endpoints: []string{"thrift://h:9083/db"}}},
		{"trino", Target{Endpoints: []string{"thrift://h:9083"}, Catalog: "../etc"}},
	} {
		if out, err := Render(tc.engine, tc.target); err == nil {
			t.Errorf("Render(%q, %+v) = %q, want an error", tc.engine, tc.target, out)
		}
	}
}

func TestParseEndpoints(t *testing.T) {
	got, err := ParseEndpoints(" thrift://a:1, thrift://b:2 ")
	if err != nil || len(got) != 2 || got[0] != "thrift://a:1" || got[1] != "thrift://b:2" {
		t.Fatalf("ParseEndpoints = %v, %v", got, err)
	}
	for _, bad := range []string{"", ",", "a:1", "thrift://a:1,b:2"} {
		if _, err := ParseEndpoints(bad); err == nil {
			t.Errorf("ParseEndpoints(%q) accepted", bad)
		}
	}
}
