package scan

import (
	"context"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/propolis/propolis/internal/errs"
)

// Records streams the transformed batches of the given source row groups (all when nil), one
// batch per output row group, allocated from the File's budget. An over-budget query ends the
// stream with an errs.Unavailable Err, never a panic. Release the reader before closing the
// File.
func (f *File) Records(ctx context.Context, rowGroups []int) (array.RecordReader, error) {
	want := map[int]bool{}
	for _, rg := range rowGroups {
		if rg < 0 || rg >= f.meta.NumRowGroups() {
			return nil, errs.Invalid("source %s has no row group %d (it has %d)", f.location, rg, f.meta.NumRowGroups())
		}
		want[rg] = true
	}
	r := &recordReader{f: f, ctx: ctx, curRG: -1}
	for _, s := range f.slices {
		if rowGroups == nil || want[s.rg] {
			r.slices = append(r.slices, s)
		}
	}
	r.refs.Store(1)
	return r, nil
}

type recordReader struct {
	f      *File
	ctx    context.Context
	slices []slice
	next   int
	cur    arrow.RecordBatch
	rg     *rgReader
	curRG  int
	err    error
	refs   atomic.Int64
}

func (r *recordReader) Retain() { r.refs.Add(1) }

func (r *recordReader) Release() {
	if r.refs.Add(-1) == 0 {
		r.reset()
		r.closeRG()
	}
}

func (r *recordReader) reset() {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
}

func (r *recordReader) closeRG() {
	if r.rg != nil {
		r.rg.release()
		r.rg = nil
	}
}

func (r *recordReader) Schema() *arrow.Schema          { return r.f.tr.Schema() }
func (r *recordReader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *recordReader) Record() arrow.RecordBatch      { return r.cur }
func (r *recordReader) Err() error                     { return r.err }

func (r *recordReader) Next() bool {
	r.reset()
	if r.err != nil {
		return false
	}
	ok, err := r.advance()
	if err != nil {
		r.err = err
		r.closeRG()
		return false
	}
	return ok
}

func (r *recordReader) advance() (ok bool, err error) {
	defer Recover(&err)
	for r.next < len(r.slices) {
		if err := r.ctx.Err(); err != nil {
			return false, errs.Unavailable("scan of %s: %w", r.f.location, err)
		}
		s := r.slices[r.next]
		r.next++
		if s.rg != r.curRG {
			r.closeRG()
			if r.rg, err = r.f.openRowGroup(r.ctx, s, nil); err != nil {
				return false, err
			}
			r.curRG = s.rg
		}
		out, err := r.f.batch(r.ctx, r.rg, s)
		if err != nil {
			return false, err
		}
		if out != nil {
			r.cur = out
			return true, nil
		}
	}
	r.closeRG()
	return false, nil
}
