package eval

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/workers/plan"
)

// LookupSource reads the tables that x IN (SELECT ...) filters look up: the named columns of
// every row of db.table. The worker reads them as itself, not as the caller: a lookup table is
// policy data.
type LookupSource interface {
	Lookup(ctx context.Context, mem memory.Allocator, db, table string, columns []string) (array.RecordReader, error)
}

// entryOverhead approximates what a Go map spends per entry besides the key bytes; it is what
// a build side reserves per value, so the budget covers the hash set and not only its keys.
const entryOverhead = 64

// lookup is the build side of one InSelect: the set of selected values (after the WHERE),
// converted to the type of the probed expression. It is built once, by the first batch that
// needs it, and its memory is reserved through the query budget when the allocator is a
// plan.Reserver.
type lookup struct {
	db, table, col string
	where          string // canonical text of the WHERE, re-parsed and checked once the table's types are known
	as             expr.Type
	src            LookupSource
	env            Env // for the WHERE: the caller, without lookups (a WHERE has none)

	mu       sync.Mutex
	done     bool
	err      error
	set      map[string]struct{}
	hasNull  bool
	reserver plan.Reserver
	reserved int64
}

type inSelectNode struct {
	x   node
	not bool
	l   *lookup
}

func (c *compiler) inSelect(e *expr.InSelect) (node, error) {
	if c.env.Lookups == nil {
		return nil, errs.Unavailable("eval: %s.%s: no lookup source configured", e.DB, e.Table)
	}
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	as := x.typ()
	if as.Kind == expr.Null {
		as = expr.TString
	}
	if as.Kind == expr.Char || as.Kind == expr.Varchar {
		as = expr.TString
	}
	l := &lookup{db: e.DB, table: e.Table, col: e.Col, as: as, src: c.env.Lookups, env: c.env}
	l.env.Lookups = nil
	if e.Where != nil {
		l.where = e.Where.String()
	}
	c.lookups = append(c.lookups, l)
	return &inSelectNode{x: x, not: e.Not, l: l}, nil
}

func (n *inSelectNode) typ() expr.Type { return expr.TBoolean }

// eval: TRUE when x is in the set; FALSE when it is not and the set holds no NULL (or the set
// is empty); NULL otherwise. NOT IN negates, keeping NULL.
func (n *inSelectNode) eval(c *evalCtx) (arrow.Array, error) {
	if err := n.l.build(c.ctx, c.mem); err != nil {
		return nil, err
	}
	xa, err := evalAs(c, n.x, n.l.as)
	if err != nil {
		return nil, err
	}
	defer xa.Release()
	out := array.NewBooleanBuilder(c.mem)
	defer out.Release()
	out.Reserve(c.n)
	set, hasNull := n.l.set, n.l.hasNull
	empty := len(set) == 0 && !hasNull
	var buf []byte
	for i := 0; i < c.n; i++ {
		switch {
		case empty:
			out.UnsafeAppend(n.not)
		case xa.IsNull(i):
			out.UnsafeAppendBoolToBitmap(false)
		default:
			var found bool
			if s, ok := xa.(*array.String); ok {
				_, found = set[s.Value(i)]
			} else {
				buf = keyAt(xa, i, buf[:0])
				_, found = set[string(buf)]
			}
			switch {
			case found:
				out.UnsafeAppend(!n.not)
			case hasNull:
				out.UnsafeAppendBoolToBitmap(false)
			default:
				out.UnsafeAppend(n.not)
			}
		}
	}
	return out.NewArray(), nil
}

// keyAt appends the set key of row i: the bytes of its canonical value.
func keyAt(a arrow.Array, i int, buf []byte) []byte {
	switch a := a.(type) {
	case *array.String:
		return append(buf, a.Value(i)...)
	case *array.Binary:
		return append(buf, a.Value(i)...)
	case *array.Boolean:
		if a.Value(i) {
			return append(buf, 1)
		}
		return append(buf, 0)
	case *array.Int8:
		return binary.BigEndian.AppendUint64(buf, uint64(a.Value(i)))
	case *array.Int16:
		return binary.BigEndian.AppendUint64(buf, uint64(a.Value(i)))
	case *array.Int32:
		return binary.BigEndian.AppendUint64(buf, uint64(a.Value(i)))
	case *array.Int64:
		return binary.BigEndian.AppendUint64(buf, uint64(a.Value(i)))
	case *array.Date32:
		return binary.BigEndian.AppendUint64(buf, uint64(a.Value(i)))
	case *array.Timestamp:
		return binary.BigEndian.AppendUint64(buf, uint64(a.Value(i)))
	case *array.Float32:
		return floatKey(buf, float64(a.Value(i)))
	case *array.Float64:
		return floatKey(buf, a.Value(i))
	case *array.Decimal128:
		v := a.Value(i)
		buf = binary.BigEndian.AppendUint64(buf, uint64(v.HighBits()))
		return binary.BigEndian.AppendUint64(buf, v.LowBits())
	}
	return buf
}

// floatKey makes equal values equal keys: -0.0 is 0.0 and every NaN is one NaN.
func floatKey(buf []byte, f float64) []byte {
	switch {
	case f == 0:
		f = 0
	case math.IsNaN(f):
		f = math.NaN()
	}
	return binary.BigEndian.AppendUint64(buf, math.Float64bits(f))
}

const reserveChunk = 1 << 20

// build reads the lookup table once; later calls return the first outcome.
func (l *lookup) build(ctx context.Context, mem memory.Allocator) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return l.err
	}
	l.done = true
	l.reserver, _ = mem.(plan.Reserver)
	l.err = l.read(ctx, mem)
	if l.err != nil {
		l.releaseLocked()
	}
	return l.err
}

func (l *lookup) reserve(n int64) error {
	if l.reserver == nil {
		l.reserved += n
		return nil
	}
	if err := l.reserver.Reserve(n); err != nil {
		return err
	}
	l.reserved += n
	return nil
}

func (l *lookup) read(ctx context.Context, mem memory.Allocator) error {
	var where expr.Expr
	cols := []string{l.col}
	if l.where != "" {
		var err error
		if where, err = expr.Parse(l.where); err != nil {
			return err
		}
		for _, c := range expr.Columns(where) {
			if c != l.col {
				cols = append(cols, c)
			}
		}
	}
	rr, err := l.src.Lookup(ctx, mem, l.db, l.table, cols)
	if err != nil {
		return errs.Unavailable("eval: lookup %s.%s: %w", l.db, l.table, err)
	}
	defer rr.Release()
	schema := rr.Schema()
	types := map[string]string{}
	for _, f := range schema.Fields() {
		t, err := hiveOf(f.Type)
		if err != nil {
			return errs.Unsupported("eval: lookup %s.%s column %q: %w", l.db, l.table, f.Name, err)
		}
		types[f.Name] = t.String()
	}
	sel := expr.Expr(&expr.Cast{X: &expr.Column{Name: l.col}, To: l.as})
	if _, err := expr.Check(sel, types); err != nil {
		return errs.Invalid("eval: lookup %s.%s: %w", l.db, l.table, err)
	}
	selProg, err := Compile(sel, schema, l.env)
	if err != nil {
		return err
	}
	defer selProg.Close()
	var whereProg *Program
	if where != nil {
		t, err := expr.Check(where, types)
		if err != nil {
			return errs.Invalid("eval: lookup %s.%s WHERE: %w", l.db, l.table, err)
		}
		if t.Kind != expr.Boolean && t.Kind != expr.Null {
			return errs.Invalid("eval: lookup %s.%s WHERE is %s, not boolean", l.db, l.table, t)
		}
		if whereProg, err = Compile(where, schema, l.env); err != nil {
			return err
		}
		defer whereProg.Close()
	}
	l.set = map[string]struct{}{}
	var pending int64
	var buf []byte
	pos := plan.Pos{File: l.db + "." + l.table}
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := rr.RecordBatch()
		vals, err := selProg.Eval(ctx, mem, rec, pos)
		if err != nil {
			return err
		}
		var keep *array.Boolean
		if whereProg != nil {
			w, err := whereProg.Eval(ctx, mem, rec, pos)
			if err != nil {
				vals.Release()
				return err
			}
			if b, ok := w.(*array.Boolean); ok {
				keep = b
			} else {
				// A WHERE of type NULL keeps nothing.
				w.Release()
				vals.Release()
				continue
			}
		}
		for i := 0; i < vals.Len(); i++ {
			if keep != nil && (keep.IsNull(i) || !keep.Value(i)) {
				continue
			}
			if vals.IsNull(i) {
				l.hasNull = true
				continue
			}
			buf = keyAt(vals, i, buf[:0])
			if _, dup := l.set[string(buf)]; dup {
				continue
			}
			pending += int64(len(buf)) + entryOverhead
			if pending >= reserveChunk {
				if err := l.reserve(pending); err != nil {
					vals.Release()
					if keep != nil {
						keep.Release()
					}
					return fmt.Errorf("eval: lookup %s.%s does not fit the query's memory budget: %w", l.db, l.table, err)
				}
				pending = 0
			}
			l.set[string(buf)] = struct{}{}
		}
		vals.Release()
		if keep != nil {
			keep.Release()
		}
	}
	if err := rr.Err(); err != nil {
		return errs.Unavailable("eval: lookup %s.%s: %w", l.db, l.table, err)
	}
	if pending > 0 {
		if err := l.reserve(pending); err != nil {
			return fmt.Errorf("eval: lookup %s.%s does not fit the query's memory budget: %w", l.db, l.table, err)
		}
	}
	return nil
}

func (l *lookup) releaseLocked() {
	if l.reserver != nil && l.reserved > 0 {
		l.reserver.Release(l.reserved)
	}
	l.reserved = 0
	l.set = nil
}

func (l *lookup) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releaseLocked()
	l.done, l.err = true, errs.Invalid("eval: lookup %s.%s used after Close", l.db, l.table)
}
