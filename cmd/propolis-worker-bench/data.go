package main

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
)

//go:embed gen.py
var genPy string

//go:embed duck.py
var duckPy string

// dataVersion changes whenever gen.py's rows change, so a cached data set of another version
// is generated again rather than measured.
const dataVersion = 1

// dataset is the generated table (files of equal row counts) and its lookup table.
type dataset struct {
	dir       string
	files     []dataFile
	rows      int64
	bytes     int64
	rowGroups int
	created   time.Time
	generated time.Duration // zero when reused
}

type dataFile struct {
	path string
	size int64
	rows int64
}

func (d *dataset) lookupPath() string { return filepath.Join(d.dir, "lookup", "user_regions.parquet") }

func (d *dataset) paths() []string {
	out := make([]string, len(d.files))
	for i, f := range d.files {
		out[i] = f.path
	}
	return out
}

// manifest is written last, once every file is in place: it is what makes a directory a
// complete data set.
type manifest struct {
	Version      int       `json:"version"`
	Files        int       `json:"files"`
	RowsPerFile  int64     `json:"rows_per_file"`
	RowGroupRows int64     `json:"row_group_rows"`
	Sizes        []int64   `json:"sizes"`
	Created      time.Time `json:"created"`
}

type dataParams struct {
	dir          string
	files        int
	rowsPerFile  int64
	rowGroupRows int64
	minBytes     int64
	python       string
}

// prepare reuses the data set in p.dir when its manifest matches p and every file is there
// with its recorded size; otherwise it generates it with DuckDB (gen.py), showing progress.
func prepare(ctx context.Context, p dataParams) (*dataset, error) {
	want := manifest{Version: dataVersion, Files: p.files, RowsPerFile: p.rowsPerFile, RowGroupRows: p.rowGroupRows}
	if ds, err := load(p.dir, want); err == nil {
		progress("data: reusing %d files, %s, %d rows in %s (generated %s)", len(ds.files), fmtBytes(ds.bytes), ds.rows, ds.dir, ds.created.Format("2006-01-02 15:04"))
		return ds, ds.check(p.minBytes)
	} else if !os.IsNotExist(err) {
		progress("data: generating again (%v)", err)
	}
	if err := os.MkdirAll(filepath.Join(p.dir, "lookup"), 0o755); err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(p.dir, "manifest.json"))
	script := filepath.Join(p.dir, ".gen.py")
	if err := os.WriteFile(script, []byte(genPy), 0o644); err != nil {
		return nil, err
	}
	defer os.Remove(script)
	est := int64(float64(p.files) * float64(p.rowsPerFile) * 45)
	progress("data: generating %d files of %d rows (about %s) with DuckDB into %s ...", p.files, p.rowsPerFile, fmtBytes(est), p.dir)
	start := time.Now()
	cmd := exec.CommandContext(ctx, p.python, script, p.dir, fmt.Sprint(p.files), fmt.Sprint(p.rowsPerFile), fmt.Sprint(p.rowGroupRows), "2")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", p.python, err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var line struct {
			File    string  `json:"file"`
			Bytes   int64   `json:"bytes"`
			Seconds float64 `json:"seconds"`
			Total   int64   `json:"total"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Bytes > 0 {
			progress("data: %s %s in %.1fs (%s so far, %s)", line.File, fmtBytes(line.Bytes), line.Seconds, fmtBytes(line.Total), time.Since(start).Round(time.Second))
		}
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("generating the data set with DuckDB (%s %s): %w", p.python, script, err)
	}
	want.Created = time.Now().UTC()
	for i := 0; i < p.files; i++ {
		st, err := os.Stat(filepath.Join(p.dir, partName(i)))
		if err != nil {
			return nil, err
		}
		want.Sizes = append(want.Sizes, st.Size())
	}
	b, _ := json.MarshalIndent(want, "", "  ")
	if err := os.WriteFile(filepath.Join(p.dir, "manifest.json"), b, 0o644); err != nil {
		return nil, err
	}
	ds, err := load(p.dir, want)
	if err != nil {
		return nil, err
	}
	ds.generated = time.Since(start)
	progress("data: %d files, %s, %d rows, %d row groups, generated in %s", len(ds.files), fmtBytes(ds.bytes), ds.rows, ds.rowGroups, ds.generated.Round(time.Second))
	return ds, ds.check(p.minBytes)
}

func partName(i int) string { return fmt.Sprintf("part-%03d.parquet", i) }

func (d *dataset) check(minBytes int64) error {
	if d.bytes < minBytes {
		return fmt.Errorf("the data set is %s, under the %s asked for: raise --rows-per-file or --files", fmtBytes(d.bytes), fmtBytes(minBytes))
	}
	return nil
}

// load opens the data set in dir if its manifest is want's (apart from sizes and date) and
// its files are all there, whole; it reads every footer for the row and row group counts.
func load(dir string, want manifest) (*dataset, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.Version != want.Version || m.Files != want.Files || m.RowsPerFile != want.RowsPerFile || m.RowGroupRows != want.RowGroupRows || len(m.Sizes) != m.Files {
		return nil, fmt.Errorf("the cached data set is version %d, %d files of %d rows (groups of %d); want version %d, %d files of %d rows (groups of %d)",
			m.Version, m.Files, m.RowsPerFile, m.RowGroupRows, want.Version, want.Files, want.RowsPerFile, want.RowGroupRows)
	}
	ds := &dataset{dir: dir, created: m.Created}
	for i := 0; i < m.Files; i++ {
		p := filepath.Join(dir, partName(i))
		st, err := os.Stat(p)
		if err != nil || st.Size() != m.Sizes[i] {
			return nil, fmt.Errorf("%s is missing or has changed", p)
		}
		rdr, err := file.OpenParquetFile(p, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		rows, groups := rdr.NumRows(), rdr.NumRowGroups()
		rdr.Close()
		if rows != m.RowsPerFile {
			return nil, fmt.Errorf("%s has %d rows, not %d", p, rows, m.RowsPerFile)
		}
		ds.files = append(ds.files, dataFile{path: p, size: st.Size(), rows: rows})
		ds.rows += rows
		ds.bytes += st.Size()
		ds.rowGroups += groups
	}
	if _, err := os.Stat(ds.lookupPath()); err != nil {
		return nil, fmt.Errorf("the lookup table is missing: %w", err)
	}
	return ds, nil
}

// warm reads every file once, unmeasured, so that both sides read from the page cache.
func (d *dataset) warm() error {
	buf := make([]byte, 1<<20)
	for _, f := range append(d.paths(), d.lookupPath()) {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		for {
			n, err := fh.Read(buf)
			if n == 0 || err != nil {
				break
			}
		}
		fh.Close()
	}
	return nil
}
