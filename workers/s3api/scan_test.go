package s3api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/workers/plan"
	"github.com/propolis/propolis/workers/scan"
)

// upper is a Transform that upper-cases the one string column "s".
type upper struct{}

func (upper) Columns() []string { return []string{"s"} }
func (upper) Schema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
}
func (u upper) Apply(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, pos plan.Pos) (arrow.RecordBatch, error) {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	in := rec.Column(0).(*array.String)
	for i := 0; i < in.Len(); i++ {
		b.Append(strings.ToUpper(in.Value(i)))
	}
	a := b.NewArray()
	defer a.Release()
	return array.NewRecordBatch(u.Schema(), []arrow.Array{a}, int64(a.Len())), nil
}

// scanCatalog serves every source file under dir as bucket "wh", key = file name.
type scanCatalog struct {
	dir   string
	cache *scan.Cache
}

func (c scanCatalog) List(ctx context.Context, bucket, prefix string) ([]ObjectInfo, error) {
	return nil, errs.Unsupported("not needed here")
}

func (c scanCatalog) Open(ctx context.Context, bucket, key string) (Object, error) {
	f, err := scan.Open(ctx, scan.Local{}, filepath.Join(c.dir, key), upper{}, scan.NewBudget(0, nil),
		scan.Config{Key: "v1", Cache: c.cache, Options: scan.Options{MaxGroupRows: 500}})
	if err != nil {
		return nil, err
	}
	lay, err := f.Layout(ctx)
	if err != nil {
		f.Close()
		return nil, err
	}
	return scanObject{f, ObjectInfo{Key: key, Size: lay.Size, LastModified: lay.Source.ModTime, ETag: fmt.Sprintf("%x-%d", lay.FooterOffset, lay.Size)}}, nil
}

type scanObject struct {
	*scan.File
	info ObjectInfo
}

func (o scanObject) Info() ObjectInfo { return o.info }

// s3ReaderAt reads an object with ranged GETs, as an engine's Parquet reader does.
type s3ReaderAt struct {
	c   *s3.Client
	key string
	n   *int
}

func (r s3ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	*r.n++
	out, err := r.c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("wh"), Key: aws.String(r.key),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1))})
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	return io.ReadFull(out.Body, p)
}

// TestServesVirtualParquet: a virtual file from workers/scan, read through this endpoint with
// ranged GETs by arrow-go's Parquet reader, has the transformed rows.
func TestServesVirtualParquet(t *testing.T) {
	dir := t.TempDir()
	schema := upper{}.Schema()
	f, err := os.Create(filepath.Join(dir, "part-0.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, f, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewStringBuilder(memory.DefaultAllocator)
	for i := 0; i < 2000; i++ {
		b.Append(fmt.Sprintf("row-%d", i))
	}
	a := b.NewArray()
	rec := array.NewRecordBatch(schema, []arrow.Array{a}, int64(a.Len()))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f.Close()

	srv := httptestServer(t, New(scanCatalog{dir: dir, cache: scan.NewCache(0, 0)}, Options{}))
	c := client(t, srv, true)
	h, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("wh"), Key: aws.String("part-0.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	size := aws.ToInt64(h.ContentLength)
	gets := 0
	pf, err := pqarrowOpen(io.NewSectionReader(s3ReaderAt{c, "part-0.parquet", &gets}, 0, size))
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := pf.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if tbl.NumRows() != 2000 || pf.ParquetReader().NumRowGroups() != 4 {
		t.Fatalf("%d rows in %d row groups", tbl.NumRows(), pf.ParquetReader().NumRowGroups())
	}
	chunks := tbl.Column(0).Data().Chunks()
	col := chunks[len(chunks)-1].(*array.String)
	if got := col.Value(col.Len() - 1); got != "ROW-1999" {
		t.Fatalf("last row %q", got)
	}
	// The whole object in one GET is the same bytes.
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("wh"), Key: aws.String("part-0.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := io.ReadAll(out.Body)
	out.Body.Close()
	part := make([]byte, 100)
	s3ReaderAt{c, "part-0.parquet", &gets}.ReadAt(part, size-100)
	if int64(len(whole)) != size || !bytes.Equal(whole[size-100:], part) {
		t.Fatalf("whole GET %d bytes of %d", len(whole), size)
	}
	t.Logf("virtual file %d bytes read with %d ranged GETs", size, gets)
}

func pqarrowOpen(r io.ReaderAt) (*pqarrow.FileReader, error) {
	pf, err := file.NewParquetReader(r.(*io.SectionReader))
	if err != nil {
		return nil, err
	}
	return pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
}

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
