package node

import (
	"context"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/propolis/propolis/workers/plan"
	"github.com/propolis/propolis/workers/scan"
)

// concatReader reads several files' records in turn, through one Transform.
type concatReader struct {
	ctx    context.Context
	n      *Node
	tr     plan.Transform
	budget *scan.Budget
	files  []scan.ObjectInfo
	parts  []map[string]string
	i      int
	f      *scan.File
	cur    array.RecordReader
	err    error
	refs   int
}

var _ array.RecordReader = (*concatReader)(nil)

func (r *concatReader) Retain() { r.refs++ }

func (r *concatReader) Release() {
	r.refs--
	if r.refs > 0 {
		return
	}
	r.closeCur()
	if c, ok := r.tr.(io.Closer); ok {
		c.Close()
	}
}

func (r *concatReader) closeCur() {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

func (r *concatReader) Schema() *arrow.Schema     { return r.tr.Schema() }
func (r *concatReader) Record() arrow.RecordBatch { return r.RecordBatch() }
func (r *concatReader) Err() error                { return r.err }
func (r *concatReader) RecordBatch() arrow.RecordBatch {
	if r.cur == nil {
		return nil
	}
	return r.cur.RecordBatch()
}

func (r *concatReader) Next() bool {
	for r.err == nil {
		if r.cur != nil {
			if r.cur.Next() {
				return true
			}
			if err := r.cur.Err(); err != nil {
				r.err = err
				return false
			}
			r.closeCur()
		}
		if r.i >= len(r.files) {
			return false
		}
		f, err := scan.Open(r.ctx, r.n.cfg.Storage, r.files[r.i].Location, r.tr, r.budget, scan.Config{Partition: r.parts[r.i]})
		r.i++
		if err != nil {
			r.err = err
			return false
		}
		r.f = f
		if r.cur, r.err = f.Records(r.ctx, nil); r.err != nil {
			return false
		}
	}
	return false
}
