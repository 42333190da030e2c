package main

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/workers/eval"
	"github.com/propolis/propolis/workers/plan"
	"github.com/propolis/propolis/workers/scan"
)

// path is how the worker's output leaves it.
type path int

const (
	pathS3     path = iota // File.WriteTo: the whole virtual Parquet file, as the S3 endpoint serves it
	pathFlight             // File.Records: the batches, as Arrow Flight's DoGet streams them
)

func (p path) String() string {
	if p == pathFlight {
		return "Flight (Records)"
	}
	return "S3 (WriteTo)"
}

// measurement is one run of one workload on one side.
type measurement struct {
	wall, cpu     time.Duration
	rowsIn        int64
	rowsOut       int64
	bytesOut      int64
	peak          int64 // the worker's budget peak; DuckDB's max RSS
	stage         [3]time.Duration
	duckVersion   string
	duckMaxRSSKiB int64
}

// stageMetrics adds up what the scan reports, per run.
type stageMetrics struct {
	read, transform, encode atomic.Int64
	in, out                 atomic.Int64
}

func (m *stageMetrics) SourceBytes(int64)   {}
func (m *stageMetrics) ServedBytes(int64)   {}
func (m *stageMetrics) Batch(in, out int64) { m.in.Add(in); m.out.Add(out) }
func (m *stageMetrics) StageTime(s scan.Stage, d time.Duration) {
	switch s {
	case scan.StageRead:
		m.read.Add(int64(d))
	case scan.StageTransform:
		m.transform.Add(int64(d))
	case scan.StageEncode:
		m.encode.Add(int64(d))
	}
}

// cpuTime is the CPU time (user + system) of this process so far: every goroutine and the
// garbage collector, which with GOMAXPROCS=1 share one core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// workerEnv is what the compiled policy may use: the caller, the key tokenize names and the
// lookup table read from the data set.
func workerEnv(ds *dataset) (eval.Env, error) {
	keys, err := eval.NewStaticKeyring([]eval.KeySpec{{ID: tokenKey, Version: 1, Secret: []byte(tokenSecret)}})
	if err != nil {
		return eval.Env{}, err
	}
	return eval.Env{User: benchUser, Keys: keys, DefaultKey: tokenKey,
		NoiseSecret: []byte("propolis-worker-bench noise"), Lookups: &fileLookups{path: ds.lookupPath()}}, nil
}

// sourceSchema is the Arrow schema of the data set's files, as the scanner reads them.
func sourceSchema(mem memory.Allocator, location string) (*arrow.Schema, error) {
	rdr, err := file.OpenParquetFile(location, false, file.WithReadProps(nil))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", location, err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		return nil, err
	}
	return fr.Schema()
}

// runWorker runs w over every file of ds through one Transform and one budget, on the calling
// goroutine, and measures it. The Transform is compiled inside the measured time, as the
// worker compiles it per query (the lookup's build side included).
func runWorker(ctx context.Context, ds *dataset, w workload, p path, mem memory.Allocator, budgetBytes int64) (m measurement, err error) {
	env, err := workerEnv(ds)
	if err != nil {
		return m, err
	}
	src, err := sourceSchema(mem, ds.files[0].path)
	if err != nil {
		return m, err
	}
	spec, err := w.spec(src)
	if err != nil {
		return m, err
	}
	budget := scan.NewBudget(budgetBytes, mem)
	sm := &stageMetrics{}
	w0, c0 := time.Now(), cpuTime()
	tr, err := eval.NewTransform(spec, env)
	if err != nil {
		return m, err
	}
	defer closeTransform(tr)
	for _, f := range ds.files {
		n, err := scanFile(ctx, f.path, tr, budget, sm, p)
		if err != nil {
			return m, fmt.Errorf("%s, %s: %w", w.name, f.path, err)
		}
		m.bytesOut += n
	}
	m.wall, m.cpu = time.Since(w0), cpuTime()-c0
	m.rowsIn, m.rowsOut, m.peak = sm.in.Load(), sm.out.Load(), budget.Peak()
	m.stage = [3]time.Duration{time.Duration(sm.read.Load()), time.Duration(sm.transform.Load()), time.Duration(sm.encode.Load())}
	return m, nil
}

func closeTransform(tr plan.Transform) {
	if c, ok := tr.(io.Closer); ok {
		c.Close()
	}
}

// scanFile is one source file through the worker: the virtual file written whole, or its
// batches read (their buffers' bytes counted as the output).
func scanFile(ctx context.Context, location string, tr plan.Transform, budget *scan.Budget, sm *stageMetrics, p path) (int64, error) {
	f, err := scan.Open(ctx, scan.Local{}, location, tr, budget, scan.Config{Metrics: sm})
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if p == pathS3 {
		return f.WriteTo(ctx, io.Discard)
	}
	rr, err := f.Records(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer rr.Release()
	var n int64
	for rr.Next() {
		for _, c := range rr.RecordBatch().Columns() {
			n += arrayBytes(c.Data())
		}
	}
	return n, rr.Err()
}

func arrayBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += arrayBytes(c)
	}
	return n
}

// fileLookups serves the lookup table from the data set's lookup file, read through the
// scanner like any source (as the worker reads lookup tables: raw, as itself).
type fileLookups struct{ path string }

func (l *fileLookups) Lookup(ctx context.Context, mem memory.Allocator, db, table string, columns []string) (array.RecordReader, error) {
	if db != lookupDB || table != lookupTable {
		return nil, errs.NotFound("lookup table %s.%s", db, table)
	}
	src, err := sourceSchema(mem, l.path)
	if err != nil {
		return nil, err
	}
	spec := eval.TransformSpec{Source: src}
	for _, c := range columns {
		spec.Columns = append(spec.Columns, eval.OutputColumn{Name: c, Type: "string", Source: c})
	}
	tr, err := eval.NewTransform(spec, eval.Env{})
	if err != nil {
		return nil, err
	}
	budget, ok := mem.(*scan.Budget)
	if !ok {
		budget = scan.NewBudget(0, mem)
	}
	f, err := scan.Open(ctx, scan.Local{}, l.path, tr, budget, scan.Config{})
	if err != nil {
		closeTransform(tr)
		return nil, err
	}
	rr, err := f.Records(ctx, nil)
	if err != nil {
		f.Close()
		closeTransform(tr)
		return nil, err
	}
	cr := &closingReader{RecordReader: rr, close: func() { f.Close(); closeTransform(tr) }}
	cr.refs.Store(1)
	return cr, nil
}

// closingReader closes the lookup file once the last reference is released.
type closingReader struct {
	array.RecordReader
	refs  atomic.Int64
	close func()
}

func (r *closingReader) Retain() { r.refs.Add(1); r.RecordReader.Retain() }

func (r *closingReader) Release() {
	r.RecordReader.Release()
	if r.refs.Add(-1) == 0 {
		r.close()
	}
}
