package scan

import (
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/workers/plan"
)

// DefaultBudget is a query's memory budget unless configured otherwise.
const DefaultBudget = 128 << 20

// Budget is one query's memory budget: an Arrow allocator that counts the bytes it hands out
// and refuses to go over its limit, and a plan.Reserver for memory held outside Arrow buffers.
//
// Arrow's allocator interface cannot return errors, so a refused allocation panics with a
// private sentinel; every entry point of this package recovers it (see Recover) and returns
// an errs.Unavailable error instead. Code that allocates from a Budget on another goroutine
// must recover there too, or the process dies.
type Budget struct {
	mem   memory.Allocator
	limit int64
	pool  *Pool
	used  atomic.Int64
	peak  atomic.Int64
}

// Pool is the memory of the whole process that query budgets draw from as they allocate: the
// sum of the budgets may exceed it (most queries use little of theirs), the sum of what they
// hold may not. An allocation the pool cannot grant fails with an errs.ErrBusy error ("worker
// busy"): the query was within its own budget, the worker is full, a retry may succeed.
type Pool struct {
	limit int64
	used  atomic.Int64
}

// NewPool returns a pool of limit bytes.
func NewPool(limit int64) *Pool { return &Pool{limit: limit} }

func (p *Pool) take(n int64) (int64, bool) {
	for {
		cur := p.used.Load()
		if cur+n > p.limit {
			return cur, false
		}
		if p.used.CompareAndSwap(cur, cur+n) {
			return cur + n, true
		}
	}
}

// Used is the bytes granted now; Limit the pool's size.
func (p *Pool) Used() int64  { return p.used.Load() }
func (p *Pool) Limit() int64 { return p.limit }

// In makes b draw from pool (nil: no process-wide limit) and returns b. Call it before b
// allocates anything.
func (b *Budget) In(pool *Pool) *Budget {
	b.pool = pool
	return b
}

// give returns n bytes to the budget and its pool.
func (b *Budget) give(n int64) {
	b.used.Add(-n)
	if b.pool != nil {
		b.pool.used.Add(-n)
	}
}

var _ memory.Allocator = (*Budget)(nil)
var _ plan.Reserver = (*Budget)(nil)

// NewBudget returns a budget of limit bytes (DefaultBudget when limit <= 0) over mem (Go's
// allocator when nil).
func NewBudget(limit int64, mem memory.Allocator) *Budget {
	if limit <= 0 {
		limit = DefaultBudget
	}
	if mem == nil {
		mem = memory.NewGoAllocator()
	}
	return &Budget{mem: mem, limit: limit}
}

// overBudget is the panic value of a refused allocation; busy says the pool refused it.
type overBudget struct {
	limit, need, used int64
	busy              bool
}

func (o *overBudget) err() error {
	if o.busy {
		return errs.Busy("worker busy: its memory (%s) is in use by other queries; retry shortly",
			human(o.limit))
	}
	return errs.Unavailable("query over its memory budget of %s (needed %s more with %s in use)",
		human(o.limit), human(o.need), human(o.used))
}

func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func (b *Budget) take(n int64) *overBudget {
	for {
		cur := b.used.Load()
		if cur+n > b.limit {
			return &overBudget{limit: b.limit, need: n, used: cur}
		}
		if b.used.CompareAndSwap(cur, cur+n) {
			if b.pool != nil {
				if pused, ok := b.pool.take(n); !ok {
					b.used.Add(-n)
					return &overBudget{limit: b.pool.limit, need: n, used: pused, busy: true}
				}
			}
			for {
				p := b.peak.Load()
				if cur+n <= p || b.peak.CompareAndSwap(p, cur+n) {
					return nil
				}
			}
		}
	}
}

func (b *Budget) Allocate(size int) []byte {
	if o := b.take(int64(size)); o != nil {
		panic(o)
	}
	return b.mem.Allocate(size)
}

func (b *Budget) Reallocate(size int, buf []byte) []byte {
	diff := int64(size - len(buf))
	if diff > 0 {
		if o := b.take(diff); o != nil {
			panic(o)
		}
	}
	out := b.mem.Reallocate(size, buf)
	if diff < 0 {
		b.give(-diff)
	}
	return out
}

func (b *Budget) Free(buf []byte) {
	b.mem.Free(buf)
	b.give(int64(len(buf)))
}

// Reserve takes n bytes from the budget for memory held outside Arrow buffers.
func (b *Budget) Reserve(n int64) error {
	if n < 0 {
		return errs.Invalid("reserve of a negative size %d", n)
	}
	if o := b.take(n); o != nil {
		return o.err()
	}
	return nil
}

// Release returns n reserved bytes.
func (b *Budget) Release(n int64) { b.give(n) }

// Used is the bytes in use now; Peak the most ever in use; Limit the budget.
func (b *Budget) Used() int64  { return b.used.Load() }
func (b *Budget) Peak() int64  { return b.peak.Load() }
func (b *Budget) Limit() int64 { return b.limit }

// Recover turns a panic on the way out of an API call into *err: a refused allocation becomes
// the budget's errs.Unavailable error, anything else (a malformed file tripping a decoder) an
// internal error naming the panic. Use it as `defer scan.Recover(&err)`.
func Recover(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if o, ok := r.(*overBudget); ok {
		*err = o.err()
		return
	}
	// The stack stays out of the message: it may reach a client.
	*err = fmt.Errorf("internal error: %v", r)
}
