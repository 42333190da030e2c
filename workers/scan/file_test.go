package scan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/propolis/propolis/internal/errs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func openFile(t *testing.T, loc string, tr *maskFilter, b *Budget, cfg Config) *File {
	t.Helper()
	f, err := Open(context.Background(), Local{}, loc, tr, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func fullEncode(t *testing.T, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := f.WriteTo(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo says %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

// TestReadAtMatchesSequentialEncode: any byte range of the virtual file equals the same slice
// of one sequential encode, whatever the cut (several output row groups per source row group,
// groups filtered to nothing, one group per file).
func TestReadAtMatchesSequentialEncode(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name       string
		rows, rgs  int64
		opts       Options
		ranges     int
		wantGroups int
	}{
		{"one group", 1000, 1000, Options{}, 100, 1},
		{"source row groups", 20000, 3000, Options{}, 120, 7},
		{"sliced row groups", 20000, 6000, Options{MaxGroupRows: 1000}, 120, 20},
		{"byte-bounded slices", 20000, 20000, Options{TargetGroupBytes: 64 << 10}, 120, 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			loc := writeSource(t, dir, fmt.Sprintf("t%d/part-0.parquet", i), tc.rows, tc.rgs, 0, int64(i))
			b := checked(t, 0)
			cache := NewCache(0, 0)
			f := openFile(t, loc, newMaskFilter(false), b, Config{Key: "k", Cache: cache, Options: tc.opts})
			want := fullEncode(t, f)
			lay, err := f.Layout(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if lay.Size != int64(len(want)) {
				t.Fatalf("layout size %d, encode %d", lay.Size, len(want))
			}
			if tc.wantGroups > 0 && len(lay.Groups) != tc.wantGroups {
				t.Fatalf("%d output row groups, want %d", len(lay.Groups), tc.wantGroups)
			}
			if tc.wantGroups == 0 && len(lay.Groups) < 2 {
				t.Fatalf("byte bound gave %d groups", len(lay.Groups))
			}
			// Half the ranges through a File that caches no row group, so every group is
			// re-encoded alone.
			fresh := openFile(t, loc, newMaskFilter(false), b, Config{Key: "k", Cache: NewCache(0, 1), Options: tc.opts})
			rnd := rand.New(rand.NewSource(7))
			for r := 0; r < tc.ranges; r++ {
				src := f
				if r%2 == 1 {
					src = fresh
				}
				off := rnd.Int63n(lay.Size)
				n := rnd.Int63n(min(lay.Size-off, 64<<10)) + 1
				if r%10 == 0 {
					off = lay.Size - n // tails: footer reads
				}
				p := make([]byte, n)
				got, err := src.ReadAt(context.Background(), p, off)
				if err != nil && !(errors.Is(err, io.EOF) && off+n == lay.Size) {
					t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
				}
				if int64(got) != n || !bytes.Equal(p, want[off:off+n]) {
					t.Fatalf("ReadAt(%d, %d) differs from the sequential encode", off, n)
				}
			}
			// Past the end.
			if n, err := f.ReadAt(context.Background(), make([]byte, 10), lay.Size); n != 0 || err != io.EOF {
				t.Fatalf("read at the end: %d, %v", n, err)
			}
			if n, err := f.ReadAt(context.Background(), make([]byte, 10), lay.Size-4); n != 4 || err != io.EOF {
				t.Fatalf("read over the end: %d, %v", n, err)
			}
			if _, err := f.ReadAt(context.Background(), make([]byte, 10), -1); errs.KindOf(err) != errs.KindInvalid {
				t.Fatalf("negative offset: %v", err)
			}
		})
	}
}

// expectedRows computes the transformed rows straight from the source, as text.
func expectedRows(t *testing.T, loc string, withNote bool) []string {
	t.Helper()
	rdr, err := file.OpenParquetFile(loc, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 4096)
	defer tr.Release()
	mf := newMaskFilter(withNote)
	var out []string
	for tr.Next() {
		rec, err := mf.Apply(context.Background(), memory.DefaultAllocator, tr.RecordBatch(), planPos())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rowsText(rec, true)...)
		rec.Release()
	}
	return out
}

// rowsText renders rows; micros truncates timestamps to microseconds as the output stores them.
func rowsText(rec arrow.RecordBatch, micros bool) []string {
	var out []string
	for i := 0; i < int(rec.NumRows()); i++ {
		var sb strings.Builder
		for c := 0; c < int(rec.NumCols()); c++ {
			col := rec.Column(c)
			if col.IsNull(i) {
				sb.WriteString("NULL|")
				continue
			}
			switch a := col.(type) {
			case *array.Timestamp:
				v := int64(a.Value(i))
				if a.DataType().(*arrow.TimestampType).Unit == arrow.Nanosecond && micros {
					v /= 1000
				}
				fmt.Fprintf(&sb, "%d|", v)
			default:
				sb.WriteString(a.ValueStr(i) + "|")
			}
		}
		out = append(out, sb.String())
	}
	return out
}

// TestVirtualFileReadsBack: arrow-go's own Parquet reader opens the virtual file through
// ReadAt and gets exactly the transformed rows, timestamps as microseconds.
func TestVirtualFileReadsBack(t *testing.T) {
	loc := writeSource(t, t.TempDir(), "part-0.parquet", 20000, 3000, 0, 1)
	b := checked(t, 0)
	f := openFile(t, loc, newMaskFilter(false), b, Config{Key: "k", Cache: NewCache(0, 0), Options: Options{MaxGroupRows: 2000}})
	got := readVirtual(t, f)
	want := expectedRows(t, loc, false)
	if len(got) != len(want) || len(want) < 10000 {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func readVirtual(t *testing.T, f *File) []string {
	t.Helper()
	ctx := context.Background()
	size, err := f.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := file.NewParquetReader(io.NewSectionReader(fileReaderAt{ctx, f}, 0, size))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if cb := pf.MetaData().GetCreatedBy(); cb != CreatedBy {
		t.Errorf("created_by %q", cb)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := fr.Schema()
	if ts := sc.Field(4).Type.(*arrow.TimestampType); ts.Unit != arrow.Microsecond {
		t.Errorf("ts stored as %s, want microseconds", ts)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var out []string
	for rr.Next() {
		out = append(out, rowsText(rr.RecordBatch(), true)...)
	}
	if rr.Err() != nil && rr.Err() != io.EOF {
		t.Fatal(rr.Err())
	}
	return out
}

// TestPyarrowReadsVirtualFile: pyarrow (the reader the compat tests use) reads the virtual
// file's bytes, piped through stdin (nothing on disk), and sees the same rows.
func TestPyarrowReadsVirtualFile(t *testing.T) {
	py := pythonWithPyarrow(t)
	loc := writeSource(t, t.TempDir(), "part-0.parquet", 5000, 2000, 0, 2)
	b := checked(t, 0)
	f := openFile(t, loc, newMaskFilter(false), b, Config{Options: Options{MaxGroupRows: 1500}})
	data := fullEncode(t, f)
	want := expectedRows(t, loc, false)
	script := `
import sys, pyarrow as pa, pyarrow.parquet as pq
t = pq.read_table(pa.BufferReader(sys.stdin.buffer.read()))
print(t.num_rows, t.schema.field("ts").type)
for r in t.to_pylist():
    vals = []
    for k in ["id","email_token","region","amount","ts"]:
        v = r[k]
        if v is None: vals.append("NULL")
        elif k == "ts":
            import calendar
            vals.append(str(calendar.timegm(v.utctimetuple())*1000000 + v.microsecond))
        elif k == "amount": vals.append(repr(v))
        else: vals.append(str(v))
    print("|".join(vals) + "|")
`
	out := runPython(t, py, script, data)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if head := lines[0]; head != fmt.Sprintf("%d timestamp[us, tz=UTC]", len(want)) {
		t.Fatalf("pyarrow: %q, want %d rows of timestamp[us, tz=UTC]", head, len(want))
	}
	for i, w := range want {
		// arrow-go prints floats with %g; normalise both sides through the same float text.
		if g := lines[i+1]; normFloat(g) != normFloat(w) {
			t.Fatalf("row %d: pyarrow %q, want %q", i, g, w)
		}
	}
}

func normFloat(row string) string {
	parts := strings.Split(row, "|")
	if len(parts) > 3 && parts[3] != "NULL" {
		var f float64
		fmt.Sscan(parts[3], &f)
		parts[3] = fmt.Sprint(f)
	}
	return strings.Join(parts, "|")
}

// TestLargerThanBudget: a file several times the query's budget is served range by range
// (each range encodes only the groups it overlaps) and its layout computed, without going over.
func TestLargerThanBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 40 MB source")
	}
	const limit = 16 << 20
	loc := writeSource(t, t.TempDir(), "big.parquet", 200_000, 200_000, 400, 3) // one 53 MB row group
	st, _ := os.Stat(loc)
	if st.Size() < 3*limit {
		t.Fatalf("source is %d bytes, want several times %d", st.Size(), limit)
	}
	b := checked(t, limit)
	opts := Options{TargetGroupBytes: 1 << 20}
	f := openFile(t, loc, newMaskFilter(true), b, Config{Key: "k", Cache: NewCache(0, 4<<20), Options: opts})
	lay, err := f.Layout(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if lay.Size < 3*limit {
		t.Fatalf("virtual file %d bytes, want several times the budget", lay.Size)
	}
	// Serve it in 1 MiB ranges, as an S3 client would, hashing as we go.
	h := sha256.New()
	p := make([]byte, 1<<20)
	for off := int64(0); off < lay.Size; off += int64(len(p)) {
		n, err := f.ReadAt(context.Background(), p, off)
		if err != nil && err != io.EOF {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
		h.Write(p[:n])
	}
	if b.Peak() > limit {
		t.Fatalf("peak %d over the limit %d", b.Peak(), limit)
	}
	t.Logf("source %d MB, virtual file %d MB in %d row groups, budget %d MB, peak %.1f MB",
		st.Size()>>20, lay.Size>>20, len(lay.Groups), limit>>20, float64(b.Peak())/(1<<20))
	// The same bytes as a sequential encode (streamed into the hash, never held).
	h2 := sha256.New()
	if _, err := f.WriteTo(context.Background(), h2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.Sum(nil), h2.Sum(nil)) {
		t.Fatal("ranges differ from the sequential encode")
	}

	// Cut as one 80 MB group (uncompressed), the same file is over the budget: a clear error, no crash.
	b2 := checked(t, limit)
	f2 := openFile(t, loc, newMaskFilter(true), b2, Config{Options: Options{TargetGroupBytes: 1 << 40, MaxGroupRows: 1 << 40}})
	_, err = f2.Layout(context.Background())
	if errs.KindOf(err) != errs.KindUnavailable || !strings.Contains(err.Error(), "query over its memory budget of 16 MiB") {
		t.Fatalf("over budget: %v", err)
	}
	rr, err := f2.Records(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for rr.Next() {
	}
	if errs.KindOf(rr.Err()) != errs.KindUnavailable {
		t.Fatalf("records over budget: %v", rr.Err())
	}
	rr.Release()
}

// TestRecordsStream: the streaming API gives the transformed rows, per row group subset.
func TestRecordsStream(t *testing.T) {
	loc := writeSource(t, t.TempDir(), "part-0.parquet", 10000, 2500, 0, 4)
	b := checked(t, 0)
	f := openFile(t, loc, newMaskFilter(false), b, Config{Options: Options{MaxGroupRows: 1000}})
	if f.NumRowGroups() != 4 {
		t.Fatalf("%d row groups", f.NumRowGroups())
	}
	want := expectedRows(t, loc, false)
	var got []string
	batches := 0
	for _, rgs := range [][]int{{0, 1}, {2}, {3}} {
		rr, err := f.Records(context.Background(), rgs)
		if err != nil {
			t.Fatal(err)
		}
		for rr.Next() {
			batches++
			got = append(got, rowsText(rr.RecordBatch(), true)...)
		}
		if rr.Err() != nil {
			t.Fatal(rr.Err())
		}
		rr.Release()
	}
	if batches != 12 || len(got) != len(want) {
		t.Fatalf("%d batches, %d rows; want 12 batches, %d rows", batches, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: %q want %q", i, got[i], want[i])
		}
	}
	if _, err := f.Records(context.Background(), []int{4}); errs.KindOf(err) != errs.KindInvalid {
		t.Fatalf("bad row group: %v", err)
	}
}

// TestUnstableTransformRefused: a re-encoding that differs from the layout is an error, never
// a spliced file.
func TestUnstableTransformRefused(t *testing.T) {
	loc := writeSource(t, t.TempDir(), "part-0.parquet", 4000, 4000, 0, 5)
	b := checked(t, 0)
	tr := newMaskFilter(false)
	tr.unstable = true
	f := openFile(t, loc, tr, b, Config{Options: Options{MaxGroupRows: 1000}})
	_, err := f.ReadAt(context.Background(), make([]byte, 100), 10)
	if errs.KindOf(err) != errs.KindUnavailable || !strings.Contains(err.Error(), "re-encoded differently") {
		t.Fatalf("unstable transform: %v", err)
	}
}

// TestConcurrentReads: many readers of one cached file get the same bytes (run with -race).
func TestConcurrentReads(t *testing.T) {
	loc := writeSource(t, t.TempDir(), "part-0.parquet", 8000, 2000, 0, 6)
	b := checked(t, 0)
	cache := NewCache(0, 0)
	cfg := Config{Key: "k", Cache: cache, Options: Options{MaxGroupRows: 1000}}
	want := fullEncode(t, openFile(t, loc, newMaskFilter(false), b, cfg))
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			f, err := Open(context.Background(), Local{}, loc, newMaskFilter(false), b, cfg)
			if err != nil {
				errc <- err
				return
			}
			defer f.Close()
			rnd := rand.New(rand.NewSource(int64(w)))
			for i := 0; i < 50; i++ {
				off := rnd.Int63n(int64(len(want)))
				n := min(int64(len(want))-off, rnd.Int63n(32<<10)+1)
				p := make([]byte, n)
				if _, err := f.ReadAt(context.Background(), p, off); err != nil && err != io.EOF {
					errc <- err
					return
				}
				if !bytes.Equal(p, want[off:off+n]) {
					errc <- fmt.Errorf("worker %d: range %d+%d differs", w, off, n)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if cache.GroupBytes() == 0 {
		t.Fatal("nothing cached")
	}
}

// TestLayoutGolden pins the encoding: a change in writer properties or in arrow-go's encoder
// shows here (refresh with -update after checking Spark and Trino still read the output).
func TestLayoutGolden(t *testing.T) {
	loc := writeSource(t, t.TempDir(), "dt=2024-01-01/part-0.parquet", 3000, 1000, 0, 8)
	b := checked(t, 0)
	f := openFile(t, loc, newMaskFilter(false), b, Config{Options: Options{MaxGroupRows: 600}})
	data := fullEncode(t, f)
	lay, err := f.Layout(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "size %d rows %d footer@%d sha256 %x\n", lay.Size, lay.Rows, lay.FooterOffset, sha256.Sum256(data))
	for i, g := range lay.Groups {
		fmt.Fprintf(&sb, "group %d: offset %d size %d rows %d from rg %d rows %d+%d crc %08x\n",
			i, g.Offset, g.Size, g.Rows, g.SourceRowGroup, g.SourceFirstRow, g.SourceRows, g.CRC)
	}
	golden := filepath.Join("testdata", "layout.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if sb.String() != string(want) {
		t.Fatalf("layout changed:\n%s\nwant:\n%s", sb.String(), want)
	}
}

func TestSmallBudgetIsAnErrorNotACrash(t *testing.T) {
	loc := writeSource(t, t.TempDir(), "part-0.parquet", 5000, 5000, 0, 9)
	for _, limit := range []int64{1 << 10, 64 << 10, 256 << 10} {
		// No checked allocator: arrow-go's reader does not release what it had allocated
		// when an allocation panics under it. With Go's allocator that memory is the GC's;
		// the query is over either way.
		b := NewBudget(limit, nil)
		f, err := Open(context.Background(), Local{}, loc, newMaskFilter(false), b, Config{})
		if err == nil {
			_, err = f.ReadAt(context.Background(), make([]byte, 10), 100)
			f.Close()
		}
		if errs.KindOf(err) != errs.KindUnavailable || !strings.Contains(err.Error(), "memory budget") {
			t.Fatalf("limit %d: %v", limit, err)
		}
	}
}
