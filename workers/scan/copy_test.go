package scan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/propolis/propolis/workers/plan"
)

// copySchema is the source of the copy tests: flat columns of the kinds a copy must handle
// (plain and dictionary-encoded, NULLs) and of kinds it must not copy (nanosecond timestamps,
// FIXED_LEN_BYTE_ARRAY decimals, a required column served as nullable).
var copySchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "dec", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "req", Type: arrow.PrimitiveTypes.Int32},
}, nil)

func writeCopySource(t testing.TB, dir, name string, codec compress.Compression, rows, rgRows int64, seed int64) string {
	t.Helper()
	p, f := createSource(t, dir, name)
	defer f.Close()
	props := parquet.NewWriterProperties(parquet.WithCompression(codec),
		parquet.WithMaxRowGroupLength(rgRows), parquet.WithVersion(parquet.V2_6),
		parquet.WithDictionaryDefault(true), parquet.WithDictionaryFor("note", false),
		parquet.WithDictionaryFor("id", false), parquet.WithDataPageSize(16<<10))
	fw, err := pqarrow.NewFileWriter(copySchema, f, props, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewSource(seed))
	b := array.NewRecordBuilder(memory.DefaultAllocator, copySchema)
	defer b.Release()
	for i := int64(0); i < rows; i++ {
		nul := func(m int64) bool { return i%m == 3 }
		if nul(19) {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(i)
		}
		if nul(17) {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("user%d@example.com", rnd.Intn(int(rows)+1)))
		}
		if nul(23) {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.StringBuilder).Append(regions[rnd.Intn(len(regions))])
		}
		if nul(11) {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.Float64Builder).Append(float64(rnd.Intn(1_000_000)) / 100)
		}
		if nul(13) {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000_000_000 + i*1_000_001_234))
		}
		if nul(7) {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(rnd.Intn(10_000_000))))
		}
		if nul(5) {
			b.Field(6).AppendNull()
		} else {
			b.Field(6).(*array.StringBuilder).Append(fmt.Sprintf("note %x", rnd.Int63()))
		}
		b.Field(7).(*array.Int32Builder).Append(int32(i % 1000))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	if err := fw.WriteBuffered(rec); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// passMask serves every source column as it is (all nullable), email also as a token.
// Without fast it does not implement plan.Passthrough: the reference (re-encoding) path.
type passMask struct {
	schema   *arrow.Schema
	outs     []string // per output column: the source column, or "" for the email token
	calls    atomic.Int64
	unstable bool // tokens differ on every call
}

func newPassMask(cols ...string) *passMask {
	m := &passMask{}
	var fields []arrow.Field
	for _, c := range cols {
		if c == "email_token" {
			fields = append(fields, arrow.Field{Name: c, Type: arrow.BinaryTypes.String, Nullable: true})
			m.outs = append(m.outs, "")
			continue
		}
		i := copySchema.FieldIndices(c)[0]
		fields = append(fields, arrow.Field{Name: c, Type: copySchema.Field(i).Type, Nullable: true})
		m.outs = append(m.outs, c)
	}
	m.schema = arrow.NewSchema(fields, nil)
	return m
}

func (m *passMask) Columns() []string {
	var cols []string
	for _, f := range copySchema.Fields() {
		cols = append(cols, f.Name)
	}
	return cols
}

func (m *passMask) Schema() *arrow.Schema { return m.schema }

func (m *passMask) Apply(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, pos plan.Pos) (arrow.RecordBatch, error) {
	salt := ""
	if n := m.calls.Add(1); m.unstable {
		salt = fmt.Sprint(n)
	}
	cols := make([]arrow.Array, len(m.outs))
	defer releaseArrays(cols)
	for i, src := range m.outs {
		if src != "" {
			cols[i] = rec.Column(rec.Schema().FieldIndices(src)[0])
			cols[i].Retain()
			continue
		}
		email := rec.Column(1).(*array.String)
		b := array.NewStringBuilder(mem)
		for r := 0; r < email.Len(); r++ {
			if email.IsNull(r) {
				b.AppendNull()
			} else {
				b.Append(token(email.Value(r) + salt))
			}
		}
		cols[i] = b.NewArray()
		b.Release()
	}
	return array.NewRecordBatch(m.schema, cols, rec.NumRows()), nil
}

func releaseArrays(cols []arrow.Array) {
	for _, c := range cols {
		if c != nil {
			c.Release()
		}
	}
}

// fastPassMask is passMask with the fast path; filters makes it declare a row filter.
type fastPassMask struct {
	*passMask
	filters bool
}

func (m fastPassMask) Identity() (bool, map[int]string) {
	ids := map[int]string{}
	for i, s := range m.outs {
		if s != "" {
			ids[i] = s
		}
	}
	return m.filters, ids
}

func (m fastPassMask) Reads(outs []int) []string {
	var r []string
	for _, i := range outs {
		if s := m.outs[i]; s != "" {
			r = append(r, s)
		} else {
			r = append(r, "email")
		}
	}
	return r
}

// decodeAll reads a virtual file back with arrow-go, every value as text.
func decodeAll(t *testing.T, data []byte) []string {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1000}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var out []string
	for rr.Next() {
		out = append(out, rowsText(rr.RecordBatch(), false)...)
	}
	if rr.Err() != nil && rr.Err() != io.EOF {
		t.Fatal(rr.Err())
	}
	return out
}

func footerOf(t *testing.T, data []byte) *metadata.FileMetaData {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	return pf.MetaData()
}

func chunkByName(t *testing.T, md *metadata.FileMetaData, rg int, name string) *metadata.ColumnChunkMetaData {
	t.Helper()
	i := md.Schema.ColumnIndexByName(name)
	if i < 0 {
		t.Fatalf("no column %q", name)
	}
	cc, err := md.RowGroup(rg).ColumnChunk(i)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// TestCopiedColumns: with copied columns the virtual file holds the same values as the
// re-encoding path, ranges are byte-identical to the whole, sizes are stable across Opens,
// copied chunks keep the source's codec and encodings, and what must be re-encoded is.
func TestCopiedColumns(t *testing.T) {
	dir := t.TempDir()
	all := []string{"id", "email_token", "region", "amount", "ts", "dec", "note", "req", "email"}
	cases := []struct {
		name      string
		codec     compress.Compression
		rows, rgs int64
		cols      []string
		filters   bool
		limit     int64
		copies    []string // output columns copied; nil: no copy at all
	}{
		{"snappy", compress.Codecs.Snappy, 9000, 2500, all, false, 0, []string{"id", "region", "amount", "note", "email"}},
		{"zstd", compress.Codecs.Zstd, 9000, 4000, all, false, 0, []string{"id", "region", "amount", "note", "email"}},
		{"uncompressed", compress.Codecs.Uncompressed, 5000, 1000, all, false, 0, []string{"id", "region", "amount", "note", "email"}},
		{"copies only", compress.Codecs.Zstd, 6000, 2000, []string{"region", "id", "note"}, false, 0, []string{"id", "region", "note"}},
		{"row filter", compress.Codecs.Snappy, 3000, 1000, all, true, 0, nil},
		{"re-encoded columns over budget", compress.Codecs.Snappy, 60000, 60000, []string{"id", "email_token"}, false, 2 << 20, nil},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			loc := writeCopySource(t, dir, fmt.Sprintf("s%d.parquet", i), tc.codec, tc.rows, tc.rgs, int64(i))
			b := checked(t, tc.limit)
			slow := newPassMask(tc.cols...)
			ref, err := Open(ctx, Local{}, loc, slow, b, Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			if ref.copy != nil {
				t.Fatal("a Transform without Passthrough copies")
			}
			fast := fastPassMask{passMask: newPassMask(tc.cols...), filters: tc.filters}
			f, err := Open(ctx, Local{}, loc, fast, b, Config{Key: "k", Cache: NewCache(0, 0)})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if tc.copies == nil {
				if f.copy != nil {
					t.Fatalf("copies %v", f.copy.copied)
				}
				return
			}
			if f.copy == nil {
				t.Fatal("nothing copied")
			}
			var got []string
			for n := range f.copy.copied {
				got = append(got, n)
			}
			if !sameSet(got, tc.copies) {
				t.Fatalf("copied %v, want %v", got, tc.copies)
			}

			want := fullEncode(t, ref)
			whole := fullEncode(t, f)
			if bytes.Equal(want, whole) {
				t.Fatal("the copy path gave the re-encoding path's bytes")
			}
			wantRows, gotRows := decodeAll(t, want), decodeAll(t, whole)
			if len(gotRows) != int(tc.rows) || !reflect.DeepEqual(gotRows, wantRows) {
				t.Fatalf("copy path: %d rows, re-encoding path %d; they differ", len(gotRows), len(wantRows))
			}

			// Sizes, footer and CRCs the same on a second Open (another worker) and equal
			// to the whole-file stream.
			lay, err := f.Layout(ctx)
			if err != nil {
				t.Fatal(err)
			}
			g, err := Open(ctx, Local{}, loc, fastPassMask{passMask: newPassMask(tc.cols...)}, b, Config{Key: "k", Cache: NewCache(0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			lay2, err := g.Layout(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if lay.Size != int64(len(whole)) || !reflect.DeepEqual(lay.Groups, lay2.Groups) || !bytes.Equal(lay.Footer, lay2.Footer) || lay.Size != lay2.Size {
				t.Fatal("layouts differ between two Opens or from the stream")
			}
			if len(lay.Groups) != f.meta.NumRowGroups() {
				t.Fatalf("%d groups from %d source row groups", len(lay.Groups), f.meta.NumRowGroups())
			}

			// Random ranges, half through a File that caches no group.
			rnd := rand.New(rand.NewSource(int64(i)))
			for r := 0; r < 150; r++ {
				src := f
				if r%2 == 1 {
					src = g
				}
				off := rnd.Int63n(lay.Size)
				n := rnd.Int63n(min(lay.Size-off, 48<<10)) + 1
				p := make([]byte, n)
				got, err := src.ReadAt(ctx, p, off)
				if err != nil && !(err == io.EOF && off+n == lay.Size) {
					t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
				}
				if int64(got) != n || !bytes.Equal(p, whole[off:off+n]) {
					t.Fatalf("ReadAt(%d, %d) differs from the whole file", off, n)
				}
			}

			// Copied chunks keep the source's codec, encodings, encoding_stats and new-style
			// statistics; the others are re-encoded as the writer does.
			srcMeta := f.meta
			out := footerOf(t, whole)
			if out.GetCreatedBy() != CreatedBy {
				t.Errorf("created_by %q", out.GetCreatedBy())
			}
			for rg := 0; rg < out.NumRowGroups(); rg++ {
				for _, name := range tc.cols {
					oc := chunkByName(t, out, rg, name)
					if oc.HasIndexPage() || oc.BloomFilterOffset() > 0 || oc.GetColumnIndexLocation() != nil || oc.GetOffsetIndexLocation() != nil {
						t.Errorf("%s: page index or bloom filter", name)
					}
					if !f.copy.copied[name] {
						if oc.Compression() != compress.Codecs.Snappy {
							t.Errorf("re-encoded %s is %s", name, oc.Compression())
						}
						continue
					}
					sc := chunkByName(t, srcMeta, rg, name)
					if oc.Compression() != sc.Compression() || oc.TotalCompressedSize() != sc.TotalCompressedSize() ||
						oc.NumValues() != sc.NumValues() || oc.HasDictionaryPage() != sc.HasDictionaryPage() {
						t.Errorf("copied %s: chunk differs from the source's", name)
					}
					if !reflect.DeepEqual(oc.Encodings(), sc.Encodings()) || !reflect.DeepEqual(oc.EncodingStats(), sc.EncodingStats()) || len(sc.EncodingStats()) == 0 {
						t.Errorf("copied %s: encodings %v / %v, source %v / %v", name, oc.Encodings(), oc.EncodingStats(), sc.Encodings(), sc.EncodingStats())
					}
					ost, err1 := oc.Statistics()
					sst, err2 := sc.Statistics()
					if err1 != nil || err2 != nil || ost == nil || sst == nil {
						t.Fatalf("%s: statistics %v %v", name, err1, err2)
					}
					oe, se := ost.Encode()
					se2, _ := sst.Encode()
					_ = se
					if ost.NullCount() != sst.NullCount() || !bytes.Equal(oe.Min, se2.Min) || !bytes.Equal(oe.Max, se2.Max) {
						t.Errorf("copied %s: statistics differ", name)
					}
				}
			}
			if name := "region"; f.copy.copied[name] && !chunkByName(t, out, 0, name).HasDictionaryPage() {
				t.Error("region is not a dictionary-encoded copy")
			}
		})
	}
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return len(a) == len(b)
}

// TestCopiedColumnsNeedNoDecoding: a file whose columns are all copied is laid out and served
// without the Transform ever running, and a range inside a copied chunk of a mixed file
// re-encodes nothing.
func TestCopiedColumnsNeedNoDecoding(t *testing.T) {
	ctx := context.Background()
	loc := writeCopySource(t, t.TempDir(), "s.parquet", compress.Codecs.Snappy, 8000, 2000, 1)
	b := checked(t, 0)
	only := fastPassMask{passMask: newPassMask("region", "id", "note")}
	f, err := Open(ctx, Local{}, loc, only, b, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lay, err := f.Layout(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, lay.Size)
	if _, err := f.ReadAt(ctx, p, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if n := only.calls.Load(); n != 0 {
		t.Fatalf("the Transform ran %d times", n)
	}
	if got := decodeAll(t, p); len(got) != 8000 {
		t.Fatalf("%d rows", len(got))
	}

	mixed := fastPassMask{passMask: newPassMask("id", "email_token", "note")}
	m, err := Open(ctx, Local{}, loc, mixed, b, Config{Key: "k", Cache: NewCache(0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	lay, err = m.Layout(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := mixed.calls.Load()
	served := 0
	for _, g := range lay.Groups {
		for _, pc := range g.pieces {
			if pc.src >= 0 && pc.n > 2 {
				q := make([]byte, pc.n-2)
				if _, err := m.ReadAt(ctx, q, g.Offset+pc.at+1); err != nil {
					t.Fatal(err)
				}
				served++
			}
		}
	}
	if served == 0 || mixed.calls.Load() != before {
		t.Fatalf("%d copied ranges served with %d Transform runs", served, mixed.calls.Load()-before)
	}
}

// TestPyarrowReadsCopiedColumns: pyarrow reads the copy path's file as the re-encoding path's.
func TestPyarrowReadsCopiedColumns(t *testing.T) {
	py := pythonWithPyarrow(t)
	ctx := context.Background()
	cols := []string{"id", "email_token", "region", "amount", "ts", "dec", "note", "req", "email"}
	for i, codec := range []compress.Compression{compress.Codecs.Snappy, compress.Codecs.Zstd, compress.Codecs.Uncompressed} {
		loc := writeCopySource(t, t.TempDir(), "s.parquet", codec, 4000, 1500, int64(i))
		b := checked(t, 0)
		var outs [2]string
		for k, tr := range []plan.Transform{newPassMask(cols...), fastPassMask{passMask: newPassMask(cols...)}} {
			f, err := Open(ctx, Local{}, loc, tr, b, Config{})
			if err != nil {
				t.Fatal(err)
			}
			if (f.copy != nil) != (k == 1) {
				t.Fatalf("transform %d: copy plan %v", k, f.copy)
			}
			outs[k] = runPython(t, py, `
import sys, pyarrow as pa, pyarrow.parquet as pq
t = pq.read_table(pa.BufferReader(sys.stdin.buffer.read()))
print(t.schema)
for r in t.to_pylist(): print(r)
`, fullEncode(t, f))
			f.Close()
		}
		if outs[0] != outs[1] || strings.Count(outs[1], "\n") < 4000 {
			t.Fatalf("%s: pyarrow reads the two paths differently", codec)
		}
	}
}

// TestCopiedColumnsUnstableRefused: a re-encoding of a group's changed columns that differs
// from the layout is refused, as on the re-encoding path.
func TestCopiedColumnsUnstableRefused(t *testing.T) {
	loc := writeCopySource(t, t.TempDir(), "s.parquet", compress.Codecs.Snappy, 3000, 1000, 4)
	b := checked(t, 0)
	m := newPassMask("id", "email_token")
	m.unstable = true
	f, err := Open(context.Background(), Local{}, loc, fastPassMask{passMask: m}, b, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lay, err := f.Layout(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.ReadAt(context.Background(), make([]byte, lay.Groups[1].Size), lay.Groups[1].Offset)
	if err == nil || !strings.Contains(err.Error(), "re-encoded differently") {
		t.Fatalf("unstable transform: %v", err)
	}
}
