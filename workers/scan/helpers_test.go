package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/propolis/propolis/workers/plan"
)

// srcSchema is the test tables' source schema.
var srcSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

var regions = []string{"eu", "us", "apac", "latam"}

// createSource creates dir/name (and its directories) for a test's source file.
func createSource(t testing.TB, dir, name string) (string, *os.File) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, f
}

// writeSource writes rows generated from seed as a Parquet file with row groups of rgRows
// rows; note adds noteLen random bytes per row (to make big files). It returns the path.
func writeSource(t testing.TB, dir, name string, rows, rgRows int64, noteLen int, seed int64) string {
	t.Helper()
	p, f := createSource(t, dir, name)
	defer f.Close()
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(rgRows), parquet.WithVersion(parquet.V2_6))
	fw, err := pqarrow.NewFileWriter(srcSchema, f, props, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewSource(seed))
	const chunk = 8192
	note := make([]byte, noteLen)
	for start := int64(0); start < rows; start += chunk {
		b := array.NewRecordBuilder(memory.DefaultAllocator, srcSchema)
		for i := start; i < min(rows, start+chunk); i++ {
			b.Field(0).(*array.Int64Builder).Append(i)
			if i%17 == 5 {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("user%d@example.com", rnd.Intn(int(rows)+1)))
			}
			if i%23 == 7 {
				b.Field(2).AppendNull()
			} else {
				b.Field(2).(*array.StringBuilder).Append(regions[rnd.Intn(len(regions))])
			}
			if i%11 == 3 {
				b.Field(3).AppendNull()
			} else {
				b.Field(3).(*array.Float64Builder).Append(float64(rnd.Intn(1_000_000)) / 100)
			}
			if i%13 == 1 {
				b.Field(4).AppendNull()
			} else {
				b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000_000_000 + i*1_000_001_234))
			}
			for j := range note {
				note[j] = byte('a' + rnd.Intn(26))
			}
			b.Field(5).(*array.StringBuilder).Append(string(note))
		}
		rec := b.NewRecordBatch()
		if err := fw.WriteBuffered(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		b.Release()
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// maskFilter is the test Transform: it drops rows of region "eu", replaces email with a
// token and passes id, region, amount, ts (and note when withNote) through.
type maskFilter struct {
	withNote bool
	schema   *arrow.Schema
	calls    atomic.Int64 // for the unstable transform
	unstable bool
}

func newMaskFilter(withNote bool) *maskFilter {
	fields := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "email_token", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
	}
	if withNote {
		fields = append(fields, arrow.Field{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true})
	}
	return &maskFilter{withNote: withNote, schema: arrow.NewSchema(fields, nil)}
}

func (m *maskFilter) Columns() []string {
	cols := []string{"ID", "email", "region", "amount", "ts"} // ID: case-insensitive match
	if m.withNote {
		cols = append(cols, "note")
	}
	return cols
}

func (m *maskFilter) Schema() *arrow.Schema { return m.schema }

func token(s string) string {
	h := sha256.Sum256([]byte(s))
	return "tok_" + hex.EncodeToString(h[:6])
}

func (m *maskFilter) Apply(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, pos plan.Pos) (arrow.RecordBatch, error) {
	calls := m.calls.Add(1)
	dropped := false
	b := array.NewRecordBuilder(mem, m.schema)
	defer b.Release()
	id := rec.Column(0).(*array.Int64)
	email := rec.Column(1).(*array.String)
	region := rec.Column(2).(*array.String)
	amount := rec.Column(3).(*array.Float64)
	ts := rec.Column(4).(*array.Timestamp)
	for i := 0; i < int(rec.NumRows()); i++ {
		if region.IsValid(i) && region.Value(i) == "eu" {
			continue
		}
		if m.unstable && calls > 1 && !dropped {
			dropped = true // a different row set on every call but the first
			continue
		}
		b.Field(0).(*array.Int64Builder).Append(id.Value(i))
		if email.IsNull(i) {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(token(email.Value(i)))
		}
		if region.IsNull(i) {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.StringBuilder).Append(region.Value(i))
		}
		if amount.IsNull(i) {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.Float64Builder).Append(amount.Value(i))
		}
		if ts.IsNull(i) {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.TimestampBuilder).Append(ts.Value(i))
		}
		if m.withNote {
			note := rec.Column(5).(*array.String)
			b.Field(5).(*array.StringBuilder).Append(note.Value(i))
		}
	}
	return b.NewRecordBatch(), nil
}

// checked returns a budget over a checked allocator and asserts at cleanup that nothing leaked.
func checked(t *testing.T, limit int64) *Budget {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return NewBudget(limit, mem)
}

// readerAtFunc adapts File.ReadAt to io.ReaderAt for Parquet readers.
type fileReaderAt struct {
	ctx context.Context
	f   *File
}

func (r fileReaderAt) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(r.ctx, p, off) }
