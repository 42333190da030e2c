package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/propolis/propolis/internal/benchreport"
	"github.com/propolis/propolis/workers/eval"
	"github.com/propolis/propolis/workers/scan"
)

// python is the venv's Python with DuckDB, or the test is skipped (failed under CI=true).
func python(t *testing.T) string {
	t.Helper()
	py := filepath.Join(cacheDir(), "venv", "bin", "python")
	if _, err := duckVersion(context.Background(), py); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("duckdb is needed (make deps): %v", err)
		}
		t.Skipf("duckdb is not installed in %s (make deps installs it): %v", py, err)
	}
	return py
}

// tinyData generates a small data set once per test binary.
func tinyData(t *testing.T) *dataset {
	t.Helper()
	py := python(t)
	ds, err := prepare(context.Background(), dataParams{dir: filepath.Join(t.TempDir(), "data"), files: 2, rowsPerFile: 6144, rowGroupRows: 2048, python: py})
	if err != nil {
		t.Fatal(err)
	}
	// DuckDB cuts row groups at multiples of its 2048-row vectors.
	if ds.rows != 12288 || len(ds.files) != 2 || ds.rowGroups != 6 {
		t.Fatalf("data set: %d rows, %d files, %d row groups", ds.rows, len(ds.files), ds.rowGroups)
	}
	return ds
}

// The program end to end on tiny data: it measures every workload on every side and writes its
// section between the markers, leaving the rest of the file alone.
func TestQuickRun(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "BENCHMARKS.md")
	head := "# Benchmarks\n\nsomeone else's section\n"
	if err := os.WriteFile(out, []byte(head), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", ".", "--quick", "--python", py, "--data-dir", filepath.Join(dir, "data"), "--out", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go run . --quick: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasPrefix(s, head) || !strings.Contains(s, benchreport.Begin(sectionName)) || !strings.HasSuffix(s, benchreport.End(sectionName)+"\n") {
		t.Fatalf("the report is not appended between markers:\n%s", s)
	}
	for _, want := range []string{"(a) projection", "(b) hash mask", "(c) keyed tokenization", "(d) lookup-join row filter",
		"DuckDB 2.", "--quick", "| 40000 |", "### Machine"} {
		if !strings.Contains(s, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	for _, want := range []string{"data: generating 2 files", "worker / DuckDB per core", "wrote the worker-bench section"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the progress lacks %q:\n%s", want, stderr.String())
		}
	}
}

// Every workload through the worker with a checked allocator: no leak on either path, and the
// worker keeps exactly the rows DuckDB keeps.
func TestWorkloadsNoLeak(t *testing.T) {
	ds := tinyData(t)
	py := python(t)
	dk, err := newDuck(py, t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, w := range workloads() {
		for _, p := range []path{pathS3, pathFlight} {
			t.Run(w.key+"/"+p.String(), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				m, err := runWorker(ctx, ds, w, p, mem, 16<<20)
				if err != nil {
					t.Fatal(err)
				}
				d, err := dk.run(ctx, w.duckSQL(ds.paths(), ds.lookupPath()))
				if err != nil {
					t.Fatal(err)
				}
				if m.rowsIn != ds.rows || m.rowsOut != d.rowsOut || m.bytesOut <= 0 || m.cpu <= 0 {
					t.Fatalf("worker: %d rows in, %d out, %d bytes, %s CPU; DuckDB %d rows out", m.rowsIn, m.rowsOut, m.bytesOut, m.cpu, d.rowsOut)
				}
				if w.filter != "" && (m.rowsOut == 0 || m.rowsOut == ds.rows) {
					t.Fatalf("the filter kept %d rows of %d", m.rowsOut, ds.rows)
				}
			})
		}
	}
}

// The hash workload computes what DuckDB's sha256 computes, row for row: the comparison is of
// the same work. Checked on the worker's served Parquet bytes, read back.
func TestHashMatchesDuckDB(t *testing.T) {
	ds := tinyData(t)
	py := python(t)
	ctx := context.Background()
	var w workload
	for _, x := range workloads() {
		if x.key == "hash" {
			w = x
		}
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	env, err := workerEnv(ds)
	if err != nil {
		t.Fatal(err)
	}
	src, err := sourceSchema(mem, ds.files[0].path)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := w.spec(src)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := eval.NewTransform(spec, env)
	if err != nil {
		t.Fatal(err)
	}
	defer closeTransform(tr)
	f, err := scan.Open(ctx, scan.Local{}, ds.files[0].path, tr, scan.NewBudget(16<<20, mem), scan.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = f.WriteTo(ctx, &buf)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()), file.WithReadProps(nil))
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(ctx)
	pf.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	col := tbl.Column(tbl.Schema().FieldIndices("email")[0]).Data().Chunk(0).(*array.String)
	got := []string{col.Value(0), col.Value(1), col.Value(col.Len() - 1)}

	out, err := exec.Command(py, "-c", `import duckdb, sys
for (e,) in duckdb.sql("SELECT email FROM read_parquet('`+ds.files[0].path+`')").fetchall():
    print(e)`).Output()
	if err != nil {
		t.Fatal(err)
	}
	emails := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, e := range []string{emails[0], emails[1], emails[len(emails)-1]} {
		sum := sha256.Sum256([]byte(e))
		if want := hex.EncodeToString(sum[:]); got[i] != want {
			t.Errorf("row %d: worker served %s for sha256(%q) = %s", i, got[i], e, want)
		}
	}
}

// A data set is reused while its manifest and files match, and generated again otherwise.
func TestDataReuse(t *testing.T) {
	py := python(t)
	p := dataParams{dir: filepath.Join(t.TempDir(), "data"), files: 1, rowsPerFile: 4096, rowGroupRows: 2048, python: py}
	ctx := context.Background()
	first, err := prepare(ctx, p)
	if err != nil || first.generated == 0 || first.rowGroups != 2 {
		t.Fatalf("first: %+v, %v", first, err)
	}
	again, err := prepare(ctx, p)
	if err != nil || again.generated != 0 || again.bytes != first.bytes {
		t.Fatalf("reuse: %+v, %v", again, err)
	}
	if err := os.WriteFile(first.files[0].path, []byte("PAR1 truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	redo, err := prepare(ctx, p)
	if err != nil || redo.generated == 0 || redo.bytes != first.bytes {
		t.Fatalf("after damage: %+v, %v", redo, err)
	}
	p.rowsPerFile = 6144
	if other, err := prepare(ctx, p); err != nil || other.generated == 0 || other.rows != 6144 {
		t.Fatalf("other size: %+v, %v", other, err)
	}
	p.minBytes = 1 << 40
	if _, err := prepare(ctx, p); err == nil || !strings.Contains(err.Error(), "under the") {
		t.Fatalf("a data set under --min-bytes was accepted: %v", err)
	}
}

func TestSelectWorkloads(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", []string{"projection", "hash", "tokenize", "lookup"}, true},
		{"hash, lookup", []string{"hash", "lookup"}, true},
		{"hash,nope", nil, false},
	} {
		got, err := selectWorkloads(workloads(), tc.in)
		if (err == nil) != tc.ok {
			t.Fatalf("%q: %v", tc.in, err)
		}
		var keys []string
		for _, w := range got {
			keys = append(keys, w.key)
		}
		if strings.Join(keys, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%q: %v, want %v", tc.in, keys, tc.want)
		}
	}
}
