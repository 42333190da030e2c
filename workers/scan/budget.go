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
	used  atomic.Int64
	peak  atomic.Int64
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

// overBudget is the panic value of a refused allocation.
type overBudget struct{ limit, need, used int64 }

func (o *overBudget) err() error {
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
		b.used.Add(diff)
	}
	return out
}

func (b *Budget) Free(buf []byte) {
	b.mem.Free(buf)
	b.used.Add(-int64(len(buf)))
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
func (b *Budget) Release(n int64) { b.used.Add(-n) }

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
