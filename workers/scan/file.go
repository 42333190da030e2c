package scan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/workers/plan"
)

// CreatedBy is the fixed created_by of every output file. It parses as "<app> version <v>", so
// parquet-mr trusts the binary column statistics.
const CreatedBy = "propolis-worker version 1.0.0 (build deterministic)"

// Options fix how a virtual file is cut into row groups. They are part of its identity: the
// same source, Transform and Options always give the same bytes.
type Options struct {
	// TargetGroupBytes bounds an output row group by the uncompressed size of the source
	// columns read (default 16 MiB): a source row group is cut into equal slices under it.
	TargetGroupBytes int64
	// MaxGroupRows bounds an output row group by rows (default 131072).
	MaxGroupRows int64
}

// Defaults of Options.
const (
	DefaultTargetGroupBytes = 16 << 20
	DefaultMaxGroupRows     = 1 << 17
)

func (o Options) withDefaults() Options {
	if o.TargetGroupBytes <= 0 {
		o.TargetGroupBytes = DefaultTargetGroupBytes
	}
	if o.MaxGroupRows <= 0 {
		o.MaxGroupRows = DefaultMaxGroupRows
	}
	return o
}

// Config is what a File shares with the rest of the worker.
type Config struct {
	// Key identifies the Transform (user, table, policy version): two Files with the same Key,
	// source file and Options must produce the same bytes. Required when Cache is set.
	Key     string
	Cache   *Cache  // nil: nothing is cached
	Metrics Metrics // nil: none
	Options Options
	// Partition overrides the partition values given to the Transform; nil derives them from
	// the location's key=value directories.
	Partition map[string]string
}

// File is the virtual output Parquet file of one source file: the source's rows through a
// Transform, re-encoded deterministically. It is safe for concurrent use; Close it when done
// (after releasing any record reader it returned).
type File struct {
	src      Reader
	tr       plan.Transform
	budget   *Budget
	cfg      Config
	key      string
	meta     *metadata.FileMetaData
	fields   []int           // the source's top-level field index of each Transform column; -1: absent
	absent   []arrow.Field   // per Transform column: the all-NULL field of a column the file lacks
	dict     map[string]bool // output columns written with a dictionary (see dictionaries)
	leaves   map[int]bool
	slices   []slice
	copy     *copyPlan     // nil: every column is re-encoded
	srcField []arrow.Field // per Transform column: its field in the source (when present)
	metrics  Metrics
	location string
}

// slice is the rows of one source row group that become one output row group.
type slice struct {
	rg       int
	first    int64 // within the row group
	n        int64
	rgFirst  int64 // the row group's first row within the file
	readHint bool  // read column chunks through a small buffer (large chunks)
}

// Layout is where everything lies in a virtual file. Computed by one streaming pass that keeps
// no data, it makes sizes and ranges exact before any range is encoded.
type Layout struct {
	Size         int64
	Rows         int64
	Groups       []Group
	FooterOffset int64
	Footer       []byte // the bytes [FooterOffset, Size): the Thrift footer, its length, "PAR1"
	Source       ObjectInfo
}

// Group is one output row group and the source rows it comes from.
type Group struct {
	Offset, Size   int64
	Rows           int64
	SourceRowGroup int
	SourceFirstRow int64 // within the source row group
	SourceRows     int64
	CRC            uint32  // of the group's re-encoded bytes, so a re-encoding that differs is refused
	pieces         []piece // with copied columns: where each column chunk's bytes come from
}

// Open opens the source file and prepares its virtual output file. Allocations are made from
// budget; an over-budget query returns an errs.Unavailable error.
func Open(ctx context.Context, storage Storage, location string, tr plan.Transform, budget *Budget, cfg Config) (f *File, err error) {
	defer Recover(&err)
	if tr == nil || budget == nil {
		return nil, errs.Invalid("scan: a Transform and a Budget are required")
	}
	if cfg.Cache != nil && cfg.Key == "" {
		return nil, errs.Invalid("scan: a cached file needs a Key identifying its Transform")
	}
	cfg.Options = cfg.Options.withDefaults()
	if cfg.Metrics == nil {
		cfg.Metrics = nopMetrics{}
	}
	if cfg.Partition == nil {
		cfg.Partition = PartitionValues(location)
	}
	src, err := storage.Open(ctx, location)
	if err != nil {
		return nil, err
	}
	f = &File{src: src, tr: tr, budget: budget, cfg: cfg, metrics: cfg.Metrics, location: location}
	info := src.Info()
	f.key = fmt.Sprintf("%s\x00%s\x00%d\x00%d\x00%s\x00%d\x00%d", cfg.Key, location, info.Size,
		info.ModTime.UnixNano(), info.ETag, cfg.Options.TargetGroupBytes, cfg.Options.MaxGroupRows)
	if err := f.loadMeta(ctx); err != nil {
		src.Close()
		return nil, err
	}
	return f, nil
}

// Close closes the source file.
func (f *File) Close() error { return f.src.Close() }

// NumRowGroups is the number of row groups of the source file (for splitting a file's
// streaming reads across workers).
func (f *File) NumRowGroups() int { return f.meta.NumRowGroups() }

// Schema is the schema of the output.
func (f *File) Schema() *arrow.Schema { return f.tr.Schema() }

func (f *File) loadMeta(ctx context.Context) error {
	mkey := "meta\x00" + f.key
	if m, ok := f.cfg.Cache.layoutsLRU().get(mkey); ok {
		f.meta = m.(*metadata.FileMetaData)
	} else {
		rdr, err := file.NewParquetReader(f.readerAt(), file.WithReadProps(parquet.NewReaderProperties(f.budget)))
		if err != nil {
			return f.sourceErr(err)
		}
		f.meta = rdr.MetaData()
		rdr.Close()
		f.cfg.Cache.layoutsLRU().put(mkey, f.meta, 1)
	}
	manifest, err := pqarrow.NewSchemaManifest(f.meta.Schema, f.meta.KeyValueMetadata(), &pqarrow.ArrowReadProperties{})
	if err != nil {
		return errs.Invalid("source %s: unsupported schema: %w", f.location, err)
	}
	byName := map[string]int{}
	byFold := map[string][]int{}
	for i, fld := range manifest.Fields {
		byName[fld.Field.Name] = i
		k := strings.ToLower(fld.Field.Name)
		byFold[k] = append(byFold[k], i)
	}
	typer, _ := f.tr.(plan.SourceTyper)
	for _, c := range f.tr.Columns() {
		i, ok := byName[c]
		if !ok {
			// Hive column names are case-insensitive; files keep the writer's case.
			cands := byFold[strings.ToLower(c)]
			switch {
			case len(cands) == 1:
				i = cands[0]
			case len(cands) == 0 && typer != nil:
				// A column added to the table after this file was written reads NULL.
				t, known := typer.SourceType(c)
				if !known {
					return errs.Invalid("source %s has no column %q", f.location, c)
				}
				f.fields = append(f.fields, -1)
				f.absent = append(f.absent, arrow.Field{Name: c, Type: t, Nullable: true})
				f.srcField = append(f.srcField, f.absent[len(f.absent)-1])
				continue
			default:
				return errs.Invalid("source %s has no column %q (or more than one differing only in case)", f.location, c)
			}
		}
		f.fields = append(f.fields, i)
		f.absent = append(f.absent, arrow.Field{})
		f.srcField = append(f.srcField, *manifest.Fields[i].Field)
	}
	f.leaves = map[int]bool{}
	var walk func(sf *pqarrow.SchemaField)
	walk = func(sf *pqarrow.SchemaField) {
		if sf.ColIndex >= 0 && len(sf.Children) == 0 {
			f.leaves[sf.ColIndex] = true
		}
		for i := range sf.Children {
			walk(&sf.Children[i])
		}
	}
	for _, i := range f.fields {
		if i >= 0 {
			walk(&manifest.Fields[i])
		}
	}
	f.slices = f.cut()
	f.dict = f.dictionaries()
	f.copy = f.planCopy(manifest)
	f.key += f.copy.key()
	return nil
}

// dictionaries decides which output columns get dictionary encoding, from the source's
// metadata alone so every worker and every re-encoding decides alike: an output column named
// like a source column the writer dictionary-encoded in every row group (a low-cardinality
// column, or a mask of one keeps its cardinality at most), and partition keys (constant per
// file). Others are written plain: a dictionary of unique values (ids, emails, their tokens)
// is built, overflows and is thrown away in every row group, which was a third of the
// encoding time.
func (f *File) dictionaries() map[string]bool {
	src := map[string]bool{}
	schema := f.meta.Schema
	for j := 0; j < schema.NumColumns(); j++ {
		col := schema.Column(j)
		if len(col.ColumnPath()) != 1 {
			continue
		}
		all := f.meta.NumRowGroups() > 0
		for rg := 0; rg < f.meta.NumRowGroups() && all; rg++ {
			cc, err := f.meta.RowGroup(rg).ColumnChunk(j)
			all = err == nil && cc.HasDictionaryPage()
		}
		src[strings.ToLower(col.Name())] = all
	}
	out := map[string]bool{}
	for _, fld := range f.tr.Schema().Fields() {
		name := strings.ToLower(fld.Name)
		_, part := f.cfg.Partition[name]
		if src[name] || part {
			out[fld.Name] = true
		}
	}
	return out
}

// cut splits every source row group into equal slices under the Options' bounds. It depends
// only on the source's metadata, so every worker cuts a file the same way.
func (f *File) cut() []slice {
	var out []slice
	var first int64
	for rg := 0; rg < f.meta.NumRowGroups(); rg++ {
		md := f.meta.RowGroup(rg)
		rows := md.NumRows()
		var ubytes, cbytes int64
		for c := range f.leaves {
			if cc, err := md.ColumnChunk(c); err == nil {
				ubytes += cc.TotalUncompressedSize()
				cbytes += cc.TotalCompressedSize()
			}
		}
		n := max(1, ceilDiv(rows, f.cfg.Options.MaxGroupRows), ceilDiv(ubytes, f.cfg.Options.TargetGroupBytes))
		per := max(1, ceilDiv(rows, n))
		hint := cbytes > f.budget.Limit()/4
		for s := int64(0); s < rows; s += per {
			out = append(out, slice{rg: rg, first: s, n: min(per, rows-s), rgFirst: first, readHint: hint})
		}
		first += rows
	}
	return out
}

func ceilDiv(a, b int64) int64 {
	if b <= 0 {
		return 1
	}
	return (a + b - 1) / b
}

func (c *Cache) layoutsLRU() *lru {
	if c == nil {
		return nil
	}
	return c.layouts
}

func (c *Cache) groupsLRU() *lru {
	if c == nil {
		return nil
	}
	return c.groups
}

func (f *File) sourceErr(err error) error {
	if errs.KindOf(err) != errs.KindUnknown {
		return err
	}
	return errs.Invalid("source %s is not a readable Parquet file: %w", f.location, err)
}

// readerAt adapts the source to what parquet's reader wants, counting bytes read.
func (f *File) readerAt() parquet.ReaderAtSeeker {
	return &countingReader{r: f.src, size: f.src.Info().Size, m: f.metrics}
}

type countingReader struct {
	r    Reader
	size int64
	pos  int64
	m    Metrics
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.m.SourceBytes(int64(n))
	return n, err
}

func (c *countingReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += c.pos
	case io.SeekEnd:
		off += c.size
	default:
		return 0, errs.Invalid("seek: bad whence %d", whence)
	}
	if off < 0 {
		return 0, errs.Invalid("seek: negative position")
	}
	c.pos = off
	return off, nil
}

// rgReader reads slices of one source row group.
type rgReader struct {
	readers []*pqarrow.ColumnReader
	schema  *arrow.Schema
	pf      *file.Reader
	next    int64 // the row the readers are at, within the row group
}

// openRowGroup opens the readers of slice s's row group; Transform columns marked in skip
// (may be nil) are not read but given as all NULL.
func (f *File) openRowGroup(ctx context.Context, s slice, skip []bool) (*rgReader, error) {
	props := parquet.NewReaderProperties(f.budget)
	if s.readHint {
		// Column chunks too large to hold whole are read through a small window.
		props.BufferedStreamEnabled = true
		props.BufferSize = 256 << 10
	}
	pf, err := file.NewParquetReader(f.readerAt(), file.WithReadProps(props), file.WithMetadata(f.meta))
	if err != nil {
		return nil, f.sourceErr(err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{Parallel: false}, f.budget)
	if err != nil {
		pf.Close()
		return nil, f.sourceErr(err)
	}
	r := &rgReader{pf: pf}
	fields := make([]arrow.Field, 0, len(f.fields))
	for k, fi := range f.fields {
		if fi < 0 || skip != nil && skip[k] {
			r.readers = append(r.readers, nil)
			fields = append(fields, f.srcField[k])
			continue
		}
		cr, err := fr.GetFieldReader(ctx, fi, f.leaves, []int{s.rg})
		if err != nil {
			r.release()
			return nil, f.sourceErr(err)
		}
		r.readers = append(r.readers, cr)
		fields = append(fields, *cr.Field())
	}
	r.schema = arrow.NewSchema(fields, nil)
	return r, nil
}

func (r *rgReader) release() {
	for _, cr := range r.readers {
		if cr != nil {
			cr.Release()
		}
	}
	r.readers = nil
	r.pf.Close()
}

// read returns rows [first, first+n) of the row group.
func (r *rgReader) read(mem memory.Allocator, first, n int64) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, 0, len(r.readers))
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for k, cr := range r.readers {
		if cr == nil {
			cols = append(cols, array.MakeArrayOfNull(mem, r.schema.Field(k).Type, int(n)))
			continue
		}
		if first != r.next {
			if err := cr.SeekToRow(first); err != nil {
				return nil, err
			}
		}
		ch, err := cr.NextBatch(n)
		if err != nil {
			return nil, err
		}
		var a arrow.Array
		switch len(ch.Chunks()) {
		case 0:
			a = array.MakeArrayOfNull(mem, ch.DataType(), 0)
		case 1:
			a = ch.Chunk(0)
			a.Retain()
		default:
			a, err = array.Concatenate(ch.Chunks(), mem)
		}
		ch.Release()
		if err != nil {
			return nil, err
		}
		cols = append(cols, a)
		if int64(a.Len()) != n {
			return nil, fmt.Errorf("read %d rows where %d were expected", a.Len(), n)
		}
	}
	r.next = first + n
	return array.NewRecordBatch(r.schema, cols, n), nil
}

// batch reads one slice and applies the Transform. A nil batch means no rows survived.
func (f *File) batch(ctx context.Context, r *rgReader, s slice) (arrow.RecordBatch, error) {
	t0 := time.Now()
	in, err := r.read(f.budget, s.first, s.n)
	if err != nil {
		return nil, f.sourceErr(err)
	}
	defer in.Release()
	t1 := time.Now()
	f.metrics.StageTime(StageRead, t1.Sub(t0))
	pos := plan.Pos{File: f.location, RowGroup: s.rg, FirstRow: s.rgFirst + s.first, Partition: f.cfg.Partition}
	out, err := f.tr.Apply(ctx, f.budget, in, pos)
	f.metrics.StageTime(StageTransform, time.Since(t1))
	if err != nil {
		return nil, err
	}
	f.metrics.Batch(s.n, out.NumRows())
	if !out.Schema().Equal(f.tr.Schema()) {
		out.Release()
		return nil, fmt.Errorf("transform returned schema %s, declared %s", out.Schema(), f.tr.Schema())
	}
	if out.NumRows() == 0 {
		out.Release()
		return nil, nil
	}
	return out, nil
}

func (f *File) newWriter(w io.Writer) (*pqarrow.FileWriter, error) {
	return f.newWriterFor(f.tr.Schema(), w)
}

// newWriterFor is a writer of sc (the output schema or some of its columns) with the fixed
// properties of every output file.
func (f *File) newWriterFor(sc *arrow.Schema, w io.Writer) (*pqarrow.FileWriter, error) {
	props, aprops := f.writerProps()
	return pqarrow.NewFileWriter(sc, w, props, aprops)
}

func (f *File) writerProps() (*parquet.WriterProperties, pqarrow.ArrowWriterProperties) {
	opts := []parquet.WriterProperty{
		parquet.WithAllocator(f.budget),
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithDictionaryDefault(false),
		// Decimals of up to 18 digits as INT32/INT64 (the Parquet spec's preferred form, read
		// by Spark and Trino): cheaper to encode than FIXED_LEN_BYTE_ARRAY.
		parquet.WithStoreDecimalAsInteger(true),
		parquet.WithStats(true),
		parquet.WithCreatedBy(CreatedBy),
		parquet.WithVersion(parquet.V2_6),
		parquet.WithDataPageVersion(parquet.DataPageV1),
		parquet.WithPageIndexEnabled(false),
		parquet.WithMaxRowGroupLength(math.MaxInt64),
	}
	for name := range f.dict {
		opts = append(opts, parquet.WithDictionaryFor(name, true))
	}
	props := parquet.NewWriterProperties(opts...)
	aprops := pqarrow.NewArrowWriterProperties(
		pqarrow.WithAllocator(f.budget),
		// Spark and Trino read INT64 microsecond timestamps; nanoseconds are truncated.
		pqarrow.WithCoerceTimestamps(arrow.Microsecond),
		pqarrow.WithTruncatedTimestamps(true),
	)
	return props, aprops
}

// layoutSink follows a sequential encode: it forwards bytes to w (nil: discards them), hashes
// each row group and keeps the footer.
type layoutSink struct {
	w      io.Writer
	pos    int64
	crc    uint32
	tail   bool
	footer []byte
}

func (s *layoutSink) Write(p []byte) (int, error) {
	if s.w != nil {
		if _, err := s.w.Write(p); err != nil {
			return 0, err
		}
	}
	s.pos += int64(len(p))
	if s.tail {
		s.footer = append(s.footer, p...)
	} else {
		s.crc = crc32.Update(s.crc, castagnoli, p)
	}
	return len(p), nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encode runs the whole file sequentially through one writer into w (nil: nowhere) and
// returns its layout.
func (f *File) encode(ctx context.Context, w io.Writer) (*Layout, error) {
	sink := &layoutSink{w: w}
	fw, err := f.newWriter(sink)
	if err != nil {
		return nil, errs.Invalid("output schema cannot be written as Parquet: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			fw.Close()
		}
	}()
	lay := &Layout{Source: f.src.Info()}
	var cur *rgReader
	defer func() {
		if cur != nil {
			cur.release()
		}
	}()
	curRG := -1
	for _, s := range f.slices {
		if err := ctx.Err(); err != nil {
			return nil, errs.Unavailable("scan of %s: %w", f.location, err)
		}
		if s.rg != curRG {
			if cur != nil {
				cur.release()
				cur = nil
			}
			if cur, err = f.openRowGroup(ctx, s, nil); err != nil {
				return nil, err
			}
			curRG = s.rg
		}
		out, err := f.batch(ctx, cur, s)
		if err != nil {
			return nil, err
		}
		if out == nil {
			continue
		}
		start := sink.pos
		sink.crc = 0
		t0 := time.Now()
		err = fw.Write(out)
		f.metrics.StageTime(StageEncode, time.Since(t0))
		rows := out.NumRows()
		out.Release()
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", f.location, err)
		}
		lay.Groups = append(lay.Groups, Group{Offset: start, Size: sink.pos - start, Rows: rows,
			SourceRowGroup: s.rg, SourceFirstRow: s.first, SourceRows: s.n, CRC: sink.crc})
		lay.Rows += rows
	}
	lay.FooterOffset = sink.pos
	sink.tail = true
	closed = true
	if err := fw.Close(); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", f.location, err)
	}
	lay.Size = sink.pos
	lay.Footer = sink.footer
	return lay, nil
}

// WriteTo writes the whole virtual file to w in one sequential pass (what ReadAt serves in
// pieces).
func (f *File) WriteTo(ctx context.Context, w io.Writer) (n int64, err error) {
	defer Recover(&err)
	var lay *Layout
	if f.copy != nil {
		lay, err = f.encodeCopy(ctx, w)
	} else {
		lay, err = f.encode(ctx, w)
	}
	if err != nil {
		return 0, err
	}
	f.metrics.ServedBytes(lay.Size)
	return lay.Size, nil
}

// Layout returns the file's layout, from the cache or by one streaming pass over the source.
func (f *File) Layout(ctx context.Context) (lay *Layout, err error) {
	defer Recover(&err)
	lkey := "layout\x00" + f.key
	if l, ok := f.cfg.Cache.layoutsLRU().get(lkey); ok {
		return l.(*Layout), nil
	}
	v, err := f.cfg.Cache.do(lkey, func() (v any, err error) {
		defer Recover(&err)
		var l *Layout
		if f.copy != nil {
			l, err = f.encodeCopy(ctx, nil)
		} else {
			l, err = f.encode(ctx, nil)
		}
		if err != nil {
			return nil, err
		}
		f.cfg.Cache.layoutsLRU().put(lkey, l, 1)
		return l, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Layout), nil
}

// Size is the exact size of the virtual file.
func (f *File) Size(ctx context.Context) (int64, error) {
	lay, err := f.Layout(ctx)
	if err != nil {
		return 0, err
	}
	return lay.Size, nil
}

var magic = []byte("PAR1")

// ReadAt fills p with the virtual file's bytes from off, as io.ReaderAt does (io.EOF when the
// range passes the end). Only the output row groups the range overlaps are encoded.
func (f *File) ReadAt(ctx context.Context, p []byte, off int64) (n int, err error) {
	defer Recover(&err)
	if off < 0 {
		return 0, errs.Invalid("read at negative offset %d", off)
	}
	lay, err := f.Layout(ctx)
	if err != nil {
		return 0, err
	}
	if off >= lay.Size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), lay.Size)
	put := func(data []byte, at int64) { // copies the part of data (placed at at) in range
		lo, hi := max(off, at), min(end, at+int64(len(data)))
		if lo < hi {
			copy(p[lo-off:hi-off], data[lo-at:hi-at])
		}
	}
	put(magic, 0)
	k := sort.Search(len(lay.Groups), func(i int) bool { return lay.Groups[i].Offset+lay.Groups[i].Size > off })
	for ; k < len(lay.Groups) && lay.Groups[k].Offset < end; k++ {
		if f.copy != nil {
			if err := f.readCopyGroup(ctx, lay, k, p, off, end); err != nil {
				return 0, err
			}
			continue
		}
		data, err := f.group(ctx, lay, k)
		if err != nil {
			return 0, err
		}
		put(data, lay.Groups[k].Offset)
	}
	put(lay.Footer, lay.FooterOffset)
	n = int(end - off)
	f.metrics.ServedBytes(int64(n))
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// group returns the bytes of output row group k, from the cache or encoded alone and moved to
// its offset.
func (f *File) group(ctx context.Context, lay *Layout, k int) ([]byte, error) {
	gkey := fmt.Sprintf("group\x00%s\x00%d", f.key, k)
	if b, ok := f.cfg.Cache.groupsLRU().get(gkey); ok {
		return b.([]byte), nil
	}
	v, err := f.cfg.Cache.do(gkey, func() (v any, err error) {
		defer Recover(&err)
		var b []byte
		if f.copy != nil {
			b, err = f.encodeCopyGroup(ctx, lay, k)
		} else {
			b, err = f.encodeGroup(ctx, lay, k)
		}
		if err != nil {
			return nil, err
		}
		f.cfg.Cache.groupsLRU().put(gkey, b, int64(len(b)))
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// bufSink is a writer over a budgeted buffer, so the encoded bytes count against the query.
type bufSink struct {
	buf *memory.Buffer
	n   int
}

func (s *bufSink) Write(p []byte) (int, error) {
	if need := s.n + len(p); need > s.buf.Cap() {
		s.buf.Reserve(max(need, 2*s.buf.Cap(), 64<<10))
	}
	s.buf.ResizeNoShrink(s.n + len(p))
	copy(s.buf.Bytes()[s.n:], p)
	s.n += len(p)
	return len(p), nil
}

func (f *File) encodeGroup(ctx context.Context, lay *Layout, k int) ([]byte, error) {
	g := lay.Groups[k]
	s := slice{rg: g.SourceRowGroup, first: g.SourceFirstRow, n: g.SourceRows}
	for _, fs := range f.slices {
		if fs.rg == s.rg && fs.first == s.first {
			s = fs
			break
		}
	}
	r, err := f.openRowGroup(ctx, s, nil)
	if err != nil {
		return nil, err
	}
	r.next = 0
	out, err := f.batch(ctx, r, s)
	r.release()
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, f.unstable(k, "no rows")
	}
	defer out.Release()

	sink := &bufSink{buf: memory.NewResizableBuffer(f.budget)}
	defer sink.buf.Release()
	t0 := time.Now()
	fw, err := f.newWriter(sink)
	if err != nil {
		return nil, err
	}
	if err := fw.Write(out); err != nil {
		fw.Close()
		return nil, fmt.Errorf("encoding %s: %w", f.location, err)
	}
	if err := fw.Close(); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", f.location, err)
	}
	f.metrics.StageTime(StageEncode, time.Since(t0))
	meta, err := fw.FileMetadata()
	if err != nil {
		return nil, err
	}
	b, err := relocate(sink.buf.Bytes()[:sink.n], meta, g.Offset)
	if err != nil {
		return nil, fmt.Errorf("encoding %s row group %d: %w", f.location, k, err)
	}
	if int64(len(b)) != g.Size || crc32.Checksum(b, castagnoli) != g.CRC {
		return nil, f.unstable(k, fmt.Sprintf("%d bytes where the layout has %d", len(b), g.Size))
	}
	return b, nil
}

// unstable reports a re-encoding that does not match the layout: the source changed, or the
// Transform is not deterministic. Serving it would splice two different files.
func (f *File) unstable(k int, what string) error {
	return errs.Unavailable("virtual file of %s: row group %d re-encoded differently (%s): the source changed or the policy is not deterministic", f.location, k, what)
}

// relocate takes a file of one row group and returns that row group's bytes as they are when
// the group starts at base.
func relocate(data []byte, meta *metadata.FileMetaData, base int64) ([]byte, error) {
	if len(data) < 12 || meta.NumRowGroups() != 1 {
		return nil, errors.New("single row group file expected")
	}
	footerLen := int64(binary.LittleEndian.Uint32(data[len(data)-8:]))
	rgEnd := int64(len(data)) - 8 - footerLen
	rg := meta.RowGroup(0)
	starts := make([]int64, rg.NumColumns()+1)
	ends := make([]int64, rg.NumColumns())
	for c := 0; c < rg.NumColumns(); c++ {
		cc, err := rg.ColumnChunk(c)
		if err != nil {
			return nil, err
		}
		starts[c] = cc.DataPageOffset()
		if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 {
			starts[c] = cc.DictionaryPageOffset()
		}
		ends[c] = starts[c] + cc.TotalCompressedSize()
	}
	starts[len(starts)-1] = rgEnd
	if starts[0] != 4 {
		return nil, fmt.Errorf("row group starts at %d, not after the magic", starts[0])
	}
	out := make([]byte, 0, rgEnd-4+int64(8*len(ends)))
	for c := range ends {
		if ends[c] > starts[c+1] || starts[c+1] > rgEnd {
			return nil, fmt.Errorf("column %d's bytes are not where its metadata says", c)
		}
		delta := base + int64(len(out)) - starts[c]
		out = append(out, data[starts[c]:ends[c]]...)
		if ends[c] == starts[c+1] {
			continue // arrow-go v18.8 writes no inline metadata (its stream is never flushed)
		}
		meta, used, err := shiftColumnChunk(data[ends[c]:starts[c+1]], delta)
		if err != nil {
			return nil, err
		}
		if int64(used) != starts[c+1]-ends[c] {
			return nil, fmt.Errorf("column %d: %d bytes between chunks, metadata took %d", c, starts[c+1]-ends[c], used)
		}
		out = append(out, meta...)
	}
	return out, nil
}
