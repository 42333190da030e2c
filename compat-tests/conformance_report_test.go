package compattests

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The gate's own logic (exclusions, results, counts), without a JVM.
func TestConformanceExclusions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ex.txt")
	if err := os.WriteFile(path, []byte(`# comment
*      TestA#one      why one
4.0.1  TestB          the whole class
3.1.3,4.0.1 TestC#two why two
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ex, err := readExclusions(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		version, key string
		want         bool
	}{
		{"3.1.3", "TestA#one", true},
		{"4.0.1", "TestA#one", true},
		{"3.1.3", "TestA#other", false},
		{"4.0.1", "TestB#anything", true},
		{"3.1.3", "TestB#anything", false},
		{"3.1.3", "TestC#two", true},
		{"9.9.9", "TestC#two", false},
	} {
		if got := ex.Has(c.version, c.key); got != c.want {
			t.Errorf("Has(%s, %s) = %v, want %v", c.version, c.key, got, c.want)
		}
	}
	if got := ex.For("4.0.1"); len(got) != 3 || got[1] != "TestB" {
		t.Errorf("For(4.0.1) = %q", got)
	}
	if e := ex[0]; e.Reason != "why one" {
		t.Errorf("reason %q", e.Reason)
	}
	bad := filepath.Join(t.TempDir(), "bad.txt")
	_ = os.WriteFile(bad, []byte("* TestA#one\n"), 0o644)
	if _, err := readExclusions(bad); err == nil {
		t.Error("a line without a reason was accepted")
	}
}

func TestConformanceSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.tsv")
	rows := "TestA\tone\tpass\t5\t\t\t\n" +
		"TestA\ttwo\tfail\t5\tjava.lang.AssertionError\tboom\tTestA.java:10\n" +
		"TestA\tthree\terror\t5\torg.apache.thrift.TApplicationException\tUnknown function x\t\n" +
		"TestB\tfour\tskip\t0\t\t\t\n" +
		"TestB\tfive\texcluded\t0\t\t\t\n"
	if err := os.WriteFile(path, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := readResults(path)
	if err != nil {
		t.Fatal(err)
	}
	rep := summarize("x", res, map[string]time.Duration{"TestA": time.Second}, 2*time.Second)
	want := classReport{Name: "total", Run: 4, Pass: 1, Fail: 1, Error: 1, Skip: 1, Excluded: 1, Wall: 2 * time.Second}
	if rep.Total != want {
		t.Errorf("total %+v, want %+v", rep.Total, want)
	}
	if len(rep.Classes) != 2 || rep.Classes[0].Name != "TestA" || rep.Classes[0].Run != 3 || rep.Classes[1].Excluded != 1 {
		t.Errorf("classes %+v %+v", *rep.Classes[0], *rep.Classes[1])
	}
	if got := rep.Failures(); got != "- `TestA#three` error: TApplicationException: Unknown function x\n- `TestA#two` fail (TestA.java:10): AssertionError: boom\n" {
		t.Errorf("failures:\n%s", got)
	}
	if c := rep.causes(); len(c) != 2 {
		t.Errorf("causes %+v", c)
	}
	if err := os.WriteFile(path, []byte("TestA\tone\tpass\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readResults(path); err == nil {
		t.Error("a short line was accepted")
	}
}
