package scan

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/workers/plan"
)

// Copied columns. When a Transform keeps every row (plan.Passthrough) and serves some source
// columns unchanged, those columns' chunks (dictionary and data pages, compressed as they are)
// are copied from the source instead of being decoded and re-encoded: encoding unchanged
// columns was most of a worker's time. Only the other columns are decoded, transformed and
// encoded. A chunk cannot be split, so each output row group is then exactly one source row
// group, and the footer is assembled here from the source's chunk metadata (moved to the new
// offsets) and the re-encoded chunks' metadata.
//
// The copied bytes are never hashed: they are the source's own bytes, read from the version
// of the object the File opened (its size, modification time and ETag are in the File's key,
// and S3 reads are conditional on the ETag). A Group's CRC covers its re-encoded bytes, which
// are the ones a non-deterministic Transform could change.

// copyPlan is how a file with copied columns is assembled.
type copyPlan struct {
	leaves []int           // per output leaf column: the source leaf it copies, or -1 (re-encoded)
	paths  [][]string      // per output leaf column: its path in the output schema
	enc    *arrow.Schema   // the re-encoded output columns (nil: none)
	encIdx []int           // their indexes in the output schema
	skip   []bool          // per Transform column: not decoded (only copied outputs read it)
	copied map[string]bool // output columns copied, by name
}

// piece is a run of bytes of an output row group: copied from the source, or a part of the
// group's re-encoded bytes.
type piece struct {
	at, n int64 // within the group
	src   int64 // >= 0: where the bytes are in the source; -1: re-encoded, at enc
	enc   int64
}

// CopyMetrics is implemented by Metrics that count the bytes copied from source files
// without being re-encoded.
type CopyMetrics interface {
	CopiedBytes(n int64)
}

// planCopy decides, from the source's metadata alone (so every worker decides alike), whether
// the file is served with copied columns. It returns nil (re-encode everything) unless that is
// certainly correct and fits the budget.
func (f *File) planCopy(manifest *pqarrow.SchemaManifest) *copyPlan {
	pt, ok := f.tr.(plan.Passthrough)
	if !ok {
		return nil
	}
	filters, ids := pt.Identity()
	if filters || len(ids) == 0 || f.meta.IsSetEncryptionAlgorithm() || f.meta.NumRowGroups() == 0 {
		return nil
	}
	props, aprops := f.writerProps()
	out, err := pqarrow.ToParquet(f.tr.Schema(), props, aprops)
	if err != nil {
		return nil
	}
	cols := f.tr.Columns()
	nOut := f.tr.Schema().NumFields()
	if out.Root().NumFields() != nOut {
		return nil
	}
	p := &copyPlan{copied: map[string]bool{}}
	copied := make([]bool, nOut)
	for i := 0; i < nOut; i++ {
		n := leafCount(out.Root().Field(i))
		first := len(p.leaves)
		for c := 0; c < n; c++ {
			p.leaves = append(p.leaves, -1)
			p.paths = append(p.paths, out.Column(first+c).ColumnPath())
		}
		if name, ok := ids[i]; ok && n == 1 {
			if leaf := f.copyable(manifest, cols, name, out.Column(first)); leaf >= 0 {
				p.leaves[first] = leaf
				copied[i] = true
				p.copied[f.tr.Schema().Field(i).Name] = true
			}
		}
	}
	if len(p.copied) == 0 || len(p.leaves) != out.NumColumns() {
		return nil
	}
	var encFields []arrow.Field
	for i := 0; i < nOut; i++ {
		if !copied[i] {
			p.encIdx = append(p.encIdx, i)
			encFields = append(encFields, f.tr.Schema().Field(i))
		}
	}
	if len(encFields) > 0 {
		p.enc = arrow.NewSchema(encFields, nil)
	}
	reads := map[string]bool{}
	if len(p.encIdx) > 0 {
		for _, r := range pt.Reads(p.encIdx) {
			reads[r] = true
		}
	}
	// Decoded leaves: those of the columns the re-encoded outputs read.
	decoded := map[int]bool{}
	p.skip = make([]bool, len(cols))
	for k, c := range cols {
		p.skip[k] = !reads[c]
		if !p.skip[k] && f.fields[k] >= 0 {
			walkLeaves(&manifest.Fields[f.fields[k]], decoded)
		}
	}
	// Copied pages must lie between the leading magic and the footer.
	size := f.src.Info().Size - 8 - int64(f.meta.Size())
	for rg := 0; rg < f.meta.NumRowGroups(); rg++ {
		md := f.meta.RowGroup(rg)
		// A row group is one output group here, not cut in slices: its re-encoded columns
		// are held whole, which must leave room in the budget (as cut's readHint does).
		var ubytes int64
		for c := range decoded {
			cc, err := md.ColumnChunk(c)
			if err != nil {
				return nil
			}
			ubytes += cc.TotalUncompressedSize()
		}
		if ubytes > f.budget.Limit()/4 {
			return nil
		}
		for _, leaf := range p.leaves {
			if leaf < 0 {
				continue
			}
			cc, err := md.ColumnChunk(leaf)
			if err != nil || cc.CryptoMetadata() != nil || cc.FilePath() != "" || cc.NumValues() != md.NumRows() {
				return nil
			}
			start, n, ok := chunkSpan(cc.DictionaryPageOffset(), cc.HasDictionaryPage(), cc.DataPageOffset(), cc.TotalCompressedSize())
			if !ok || cc.HasIndexPage() || start < int64(len(magic)) || start+n > size {
				return nil
			}
		}
	}
	return p
}

// copyable returns the source leaf of Transform column name when its chunks can be served as
// output column out: a flat column whose Parquet type is exactly the one the writer would give
// out (so nanosecond timestamps, which the writer stores as microseconds, and decimals the
// writer stores as integers are re-encoded). -1 when not.
func (f *File) copyable(manifest *pqarrow.SchemaManifest, cols []string, name string, out *schema.Column) int {
	k := -1
	for i, c := range cols {
		if c == name {
			k = i
			break
		}
	}
	if k < 0 || f.fields[k] < 0 {
		return -1
	}
	sf := manifest.Fields[f.fields[k]]
	if len(sf.Children) != 0 || sf.ColIndex < 0 {
		return -1
	}
	src := f.meta.Schema.Column(sf.ColIndex)
	if src.MaxRepetitionLevel() != 0 || len(src.ColumnPath()) != 1 || !sameColumn(src, out) {
		return -1
	}
	return sf.ColIndex
}

func sameColumn(a, b *schema.Column) bool {
	if a.PhysicalType() != b.PhysicalType() || a.ConvertedType() != b.ConvertedType() ||
		// Readers leave the length of other types unset (0) or -1: it only means something
		// for fixed-length byte arrays.
		a.PhysicalType() == parquet.Types.FixedLenByteArray && a.TypeLength() != b.TypeLength() ||
		a.MaxDefinitionLevel() != b.MaxDefinitionLevel() ||
		a.MaxRepetitionLevel() != b.MaxRepetitionLevel() ||
		a.SchemaNode().RepetitionType() != b.SchemaNode().RepetitionType() {
		return false
	}
	la, lb := a.LogicalType(), b.LogicalType()
	if la == nil || lb == nil || !la.Equals(lb) {
		return false
	}
	pa, ok1 := a.SchemaNode().(*schema.PrimitiveNode)
	pb, ok2 := b.SchemaNode().(*schema.PrimitiveNode)
	return ok1 && ok2 && pa.DecimalMetadata() == pb.DecimalMetadata()
}

func leafCount(n schema.Node) int {
	g, ok := n.(*schema.GroupNode)
	if !ok {
		return 1
	}
	total := 0
	for i := 0; i < g.NumFields(); i++ {
		total += leafCount(g.Field(i))
	}
	return total
}

func walkLeaves(sf *pqarrow.SchemaField, into map[int]bool) {
	if sf.ColIndex >= 0 && len(sf.Children) == 0 {
		into[sf.ColIndex] = true
	}
	for i := range sf.Children {
		walkLeaves(&sf.Children[i], into)
	}
}

// chunkSpan is where a column chunk's pages lie: from its dictionary page (if any) for its
// total compressed size.
func chunkSpan(dict int64, hasDict bool, data, size int64) (start, n int64, ok bool) {
	start = data
	if hasDict && dict > 0 {
		if dict > data {
			return 0, 0, false
		}
		start = dict
	}
	return start, size, size > 0 && start > 0
}

// subGroup is the re-encoded columns of one source row group: their chunks' bytes end to end,
// and the metadata of the one-row-group file they were written as.
type subGroup struct {
	blob []byte
	meta *metadata.FileMetaData
}

// encodeSub decodes the columns the re-encoded outputs need from source row group rg, applies
// the Transform and encodes the re-encoded outputs as one row group. It goes through the
// row group in the same slices as the re-encoding path (so the Transform sees the same
// batches and positions, and only a slice is decoded at a time) and buffers the encoded
// columns, whose size planCopy bounded.
func (f *File) encodeSub(ctx context.Context, rg int) (sub *subGroup, err error) {
	p := f.copy
	rows := f.meta.RowGroup(rg).NumRows()
	sink := &bufSink{buf: memory.NewResizableBuffer(f.budget)}
	defer sink.buf.Release()
	fw, err := f.newWriterFor(p.enc, sink)
	if err != nil {
		return nil, errs.Invalid("output schema cannot be written as Parquet: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			fw.Close()
		}
	}()
	var r *rgReader
	defer func() {
		if r != nil {
			r.release()
		}
	}()
	var kept int64
	for _, s := range f.slices {
		if s.rg != rg {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, errs.Unavailable("scan of %s: %w", f.location, err)
		}
		if r == nil {
			if r, err = f.openRowGroup(ctx, s, p.skip); err != nil {
				return nil, err
			}
		}
		out, err := f.batch(ctx, r, s)
		if err != nil {
			return nil, err
		}
		if out == nil || out.NumRows() != s.n {
			if out != nil {
				out.Release()
			}
			return nil, errs.Invalid("virtual file of %s: the policy transform dropped rows though it declares it filters none", f.location)
		}
		cols := make([]arrow.Array, len(p.encIdx))
		for k, i := range p.encIdx {
			cols[k] = out.Column(i)
		}
		proj := array.NewRecordBatch(p.enc, cols, s.n)
		out.Release()
		t0 := time.Now()
		err = fw.WriteBuffered(proj)
		f.metrics.StageTime(StageEncode, time.Since(t0))
		proj.Release()
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", f.location, err)
		}
		kept += s.n
	}
	if kept != rows {
		return nil, fmt.Errorf("encoding %s row group %d: %d rows of %d", f.location, rg, kept, rows)
	}
	closed = true
	t0 := time.Now()
	if err := fw.Close(); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", f.location, err)
	}
	f.metrics.StageTime(StageEncode, time.Since(t0))
	meta, err := fw.FileMetadata()
	if err != nil {
		return nil, err
	}
	if meta.NumRowGroups() != 1 || meta.RowGroup(0).NumRows() != rows || len(meta.RowGroups[0].Columns) != len(p.leaves)-countCopied(p) {
		return nil, fmt.Errorf("encoding %s row group %d: unexpected layout of the re-encoded columns", f.location, rg)
	}
	data := sink.buf.Bytes()[:sink.n]
	var blob []byte
	for _, cc := range meta.RowGroups[0].Columns {
		md := cc.MetaData
		start, n, ok := chunkSpan(md.GetDictionaryPageOffset(), md.IsSetDictionaryPageOffset(), md.DataPageOffset, md.TotalCompressedSize)
		if !ok || start+n > int64(len(data)) {
			return nil, fmt.Errorf("encoding %s row group %d: a column's bytes are not where its metadata says", f.location, rg)
		}
		blob = append(blob, data[start:start+n]...)
	}
	return &subGroup{blob: blob, meta: meta}, nil
}

func countCopied(p *copyPlan) int {
	n := 0
	for _, l := range p.leaves {
		if l >= 0 {
			n++
		}
	}
	return n
}

// footerTemplate is the footer the writer gives the output schema with no row groups (schema,
// key-value metadata, column orders, created_by): the copy path fills in its row groups.
func (f *File) footerTemplate() (*metadata.FileMetaData, error) {
	fw, err := f.newWriter(io.Discard)
	if err != nil {
		return nil, errs.Invalid("output schema cannot be written as Parquet: %w", err)
	}
	if err := fw.Close(); err != nil {
		return nil, err
	}
	return fw.FileMetadata()
}

// appendRowGroup starts a new output row group in dst, shaped after source row group rg.
func appendRowGroup(dst, src *metadata.FileMetaData, rg int, ordinal int16) {
	r := *src.RowGroups[rg]
	r.Columns = r.Columns[:0:0]
	r.SortingColumns = nil
	r.TotalByteSize = 0
	r.FileOffset = nil
	var total int64
	r.TotalCompressedSize = &total
	r.Ordinal = &ordinal
	dst.RowGroups = append(dst.RowGroups, &r)
}

// appendChunk adds to dst's last row group the metadata of column col of src's row group rg,
// its pages moved to start. A copied chunk keeps its encodings and encoding_stats as they are
// (parquet-mr decides from them whether a chunk is all dictionary-encoded and can be pruned
// by its dictionary) but only the new-style statistics: with our created_by parquet-mr would
// trust the legacy min/max of binary columns, which old writers got wrong. path renames it.
func appendChunk(dst, src *metadata.FileMetaData, rg, col int, start int64, path []string, copied bool) (int64, error) {
	// The output declares the type-defined sort order for every column (as the writer does):
	// a source's min/max under another order (or none) would be read wrongly.
	minMax := col < len(src.ColumnOrders) && src.ColumnOrders[col] != nil && src.ColumnOrders[col].TYPE_ORDER != nil
	in := src.RowGroups[rg].Columns[col]
	if in.MetaData == nil {
		return 0, errs.Invalid("column chunk without metadata")
	}
	c := *in
	md := *in.MetaData
	from, n, ok := chunkSpan(md.GetDictionaryPageOffset(), md.IsSetDictionaryPageOffset(), md.DataPageOffset, md.TotalCompressedSize)
	if !ok {
		return 0, errs.Invalid("column chunk with bad offsets")
	}
	delta := start - from
	md.DataPageOffset += delta
	if md.DictionaryPageOffset != nil {
		v := *md.DictionaryPageOffset + delta
		md.DictionaryPageOffset = &v
	}
	md.IndexPageOffset = nil
	md.BloomFilterOffset, md.BloomFilterLength = nil, nil
	md.Encodings = append(md.Encodings[:0:0], md.Encodings...)
	md.EncodingStats = append(md.EncodingStats[:0:0], md.EncodingStats...)
	if copied {
		md.PathInSchema = append([]string(nil), path...)
		md.KeyValueMetadata = nil
		md.SizeStatistics = nil
		md.GeospatialStatistics = nil
		if md.Statistics != nil {
			st := *md.Statistics
			st.Max, st.Min, st.DistinctCount = nil, nil, nil
			st.IsMaxValueExact, st.IsMinValueExact, st.NanCount = nil, nil, nil
			if !minMax {
				st.MinValue, st.MaxValue = nil, nil
			}
			md.Statistics = &st
		}
	} else {
		// arrow-go lists encoding_stats from a map: order them so the footer is the same
		// on every encode.
		es := md.EncodingStats
		sort.SliceStable(es, func(a, b int) bool {
			if es[a].PageType != es[b].PageType {
				return es[a].PageType < es[b].PageType
			}
			return es[a].Encoding < es[b].Encoding
		})
	}
	c.MetaData = &md
	c.FilePath = nil
	c.FileOffset = start
	c.OffsetIndexOffset, c.OffsetIndexLength = nil, nil
	c.ColumnIndexOffset, c.ColumnIndexLength = nil, nil
	r := dst.RowGroups[len(dst.RowGroups)-1]
	if len(r.Columns) == 0 {
		v := start
		r.FileOffset = &v
	}
	r.Columns = append(r.Columns, &c)
	r.TotalByteSize += md.TotalUncompressedSize
	*r.TotalCompressedSize += md.TotalCompressedSize
	return n, nil
}

// countSink counts what it forwards to w (nil: discards).
type countSink struct {
	w   io.Writer
	pos int64
}

func (s *countSink) Write(p []byte) (int, error) {
	if s.w != nil {
		if _, err := s.w.Write(p); err != nil {
			return 0, err
		}
	}
	s.pos += int64(len(p))
	return len(p), nil
}

// encodeCopy is encode for a file with copied columns: it writes the whole file to w (nil:
// nowhere; then copied chunks are not even read) and returns its layout. Row groups whose
// columns are all copied need no decoding at all.
func (f *File) encodeCopy(ctx context.Context, w io.Writer) (*Layout, error) {
	p := f.copy
	sink := &countSink{w: w}
	if _, err := sink.Write(magic); err != nil {
		return nil, err
	}
	tmpl, err := f.footerTemplate()
	if err != nil {
		return nil, err
	}
	lay := &Layout{Source: f.src.Info()}
	var buf *memory.Buffer
	defer func() {
		if buf != nil {
			buf.Release()
		}
	}()
	for rg := 0; rg < f.meta.NumRowGroups(); rg++ {
		if err := ctx.Err(); err != nil {
			return nil, errs.Unavailable("scan of %s: %w", f.location, err)
		}
		rows := f.meta.RowGroup(rg).NumRows()
		if rows == 0 {
			continue // as the re-encoding path, which gives an empty row group no output group
		}
		var sub *subGroup
		if p.enc != nil {
			if sub, err = f.encodeSub(ctx, rg); err != nil {
				return nil, err
			}
		}
		g := Group{Offset: sink.pos, Rows: rows, SourceRowGroup: rg, SourceRows: rows}
		appendRowGroup(tmpl, f.meta, rg, int16(len(lay.Groups)))
		var e int
		var encAt int64
		for j, leaf := range p.leaves {
			at := sink.pos
			if leaf >= 0 {
				n, err := appendChunk(tmpl, f.meta, rg, leaf, at, p.paths[j], true)
				if err != nil {
					return nil, f.sourceErr(err)
				}
				src := f.srcStart(rg, leaf)
				g.pieces = append(g.pieces, piece{at: at - g.Offset, n: n, src: src})
				if w != nil {
					if buf == nil {
						buf = memory.NewResizableBuffer(f.budget)
						buf.Resize(copyChunk)
					}
					if err := f.copySource(sink, buf.Bytes(), src, n); err != nil {
						return nil, err
					}
				} else {
					sink.pos += n
				}
				continue
			}
			n, err := appendChunk(tmpl, sub.meta, 0, e, at, nil, false)
			if err != nil {
				return nil, err
			}
			if encAt+n > int64(len(sub.blob)) {
				return nil, fmt.Errorf("encoding %s row group %d: re-encoded columns overrun", f.location, rg)
			}
			g.pieces = append(g.pieces, piece{at: at - g.Offset, n: n, src: -1, enc: encAt})
			if _, err := sink.Write(sub.blob[encAt : encAt+n]); err != nil {
				return nil, err
			}
			encAt += n
			e++
		}
		if sub != nil {
			if encAt != int64(len(sub.blob)) {
				return nil, fmt.Errorf("encoding %s row group %d: re-encoded columns left over", f.location, rg)
			}
			g.CRC = crc32.Checksum(sub.blob, castagnoli)
		}
		g.Size = sink.pos - g.Offset
		lay.Groups = append(lay.Groups, g)
		lay.Rows += rows
	}
	tmpl.NumRows = lay.Rows
	var footer bytes.Buffer
	if _, err := tmpl.WriteTo(&footer, nil); err != nil {
		return nil, fmt.Errorf("encoding %s: footer: %w", f.location, err)
	}
	footer.Write(binary.LittleEndian.AppendUint32(nil, uint32(footer.Len())))
	footer.Write(magic)
	lay.FooterOffset = sink.pos
	lay.Footer = footer.Bytes()
	if _, err := sink.Write(lay.Footer); err != nil {
		return nil, err
	}
	lay.Size = sink.pos
	return lay, nil
}

// copyChunk is how much of a copied chunk is held at once when streaming a whole file.
const copyChunk = 256 << 10

// srcStart is where source chunk (rg, leaf) starts.
func (f *File) srcStart(rg, leaf int) int64 {
	md := f.meta.RowGroups[rg].Columns[leaf].MetaData
	start, _, _ := chunkSpan(md.GetDictionaryPageOffset(), md.IsSetDictionaryPageOffset(), md.DataPageOffset, md.TotalCompressedSize)
	return start
}

// copySource writes the source's bytes [from, from+n) to w through buf.
func (f *File) copySource(w io.Writer, buf []byte, from, n int64) error {
	r := f.readerAt()
	for n > 0 {
		b := buf[:min(int64(len(buf)), n)]
		if err := f.readSource(r, b, from); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		from += int64(len(b))
		n -= int64(len(b))
	}
	return nil
}

func (f *File) readSource(r io.ReaderAt, p []byte, off int64) error {
	got, err := r.ReadAt(p, off)
	if got == len(p) {
		err = nil
	} else if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return f.sourceErr(fmt.Errorf("reading a copied column chunk: %w", err))
	}
	if m, ok := f.metrics.(CopyMetrics); ok {
		m.CopiedBytes(int64(len(p)))
	}
	return nil
}

// readCopyGroup fills the part of p (the range [off, end) of the file) that group k covers:
// copied bytes straight from the source, re-encoded ones from the group's encoding.
func (f *File) readCopyGroup(ctx context.Context, lay *Layout, k int, p []byte, off, end int64) error {
	g := lay.Groups[k]
	var enc []byte
	r := f.readerAt()
	for _, pc := range g.pieces {
		at := g.Offset + pc.at
		lo, hi := max(off, at), min(end, at+pc.n)
		if lo >= hi {
			continue
		}
		if pc.src >= 0 {
			if err := f.readSource(r, p[lo-off:hi-off], pc.src+lo-at); err != nil {
				return err
			}
			continue
		}
		if enc == nil {
			var err error
			if enc, err = f.group(ctx, lay, k); err != nil {
				return err
			}
		}
		copy(p[lo-off:hi-off], enc[pc.enc+lo-at:pc.enc+hi-at])
	}
	return nil
}

// encodeCopyGroup re-encodes the re-encoded columns of output row group k and checks them
// against the layout.
func (f *File) encodeCopyGroup(ctx context.Context, lay *Layout, k int) ([]byte, error) {
	g := lay.Groups[k]
	sub, err := f.encodeSub(ctx, g.SourceRowGroup)
	if err != nil {
		return nil, err
	}
	var want int64
	for _, pc := range g.pieces {
		if pc.src < 0 {
			want += pc.n
		}
	}
	if int64(len(sub.blob)) != want || crc32.Checksum(sub.blob, castagnoli) != g.CRC {
		return nil, f.unstable(k, fmt.Sprintf("%d re-encoded bytes where the layout has %d", len(sub.blob), want))
	}
	return sub.blob, nil
}

// copyKey marks a File's cache key when it is served with copied columns, so that a layout
// is never shared between the two ways of encoding a file.
func (p *copyPlan) key() string {
	if p == nil {
		return ""
	}
	names := make([]string, 0, len(p.copied))
	for n := range p.copied {
		names = append(names, n)
	}
	sort.Strings(names)
	return "\x00copy:" + strings.Join(names, ",")
}
