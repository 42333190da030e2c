package cache

import (
	"errors"
	"sync"
)

var errPanicked = errors.New("cache: backend call panicked")

// flight collapses concurrent misses for one key into one backend call (what
// golang.org/x/sync/singleflight does; twenty lines here spare the module a dependency).
type flight struct {
	mu    sync.Mutex
	calls map[string]*call
}

type call struct {
	done chan struct{}
	val  any
	err  error
}

// do runs fn once for all callers that ask for key while it runs; shared reports whether the
// result came from another caller's call.
func (f *flight) do(key string, fn func() (any, error)) (val any, err error, shared bool) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*call{}
	}
	if c, ok := f.calls[key]; ok {
		f.mu.Unlock()
		<-c.done
		return c.val, c.err, true
	}
	c := &call{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
		close(c.done)
	}()
	c.err = errPanicked // what followers see if fn panics
	c.val, c.err = fn()
	return c.val, c.err, false
}
