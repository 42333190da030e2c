package scan

import (
	"container/list"
	"sync"

	"golang.org/x/sync/singleflight"
)

// Cache holds what a worker reuses across requests for the same virtual file: layouts and
// source metadata (bounded by count) and encoded output row groups (bounded by bytes). It is
// memory only: encoded row groups are policy-applied data and never go to disk. One Cache is
// shared by a worker's queries and is safe for concurrent use.
type Cache struct {
	layouts *lru
	groups  *lru
	// flight makes concurrent requests for one layout or row group wait for one encode.
	flight singleflight.Group
}

// do runs fn once for concurrent callers with the same key (directly without a cache).
func (c *Cache) do(key string, fn func() (any, error)) (any, error) {
	if c == nil {
		return fn()
	}
	v, err, _ := c.flight.Do(key, fn)
	return v, err
}

// Default cache bounds.
const (
	DefaultCacheLayouts    = 4096
	DefaultCacheGroupBytes = 64 << 20
)

// NewCache returns a cache of at most layouts layouts and metadata entries and groupBytes of
// encoded row groups (defaults when <= 0; groupBytes < 0 is not possible: use 1 to disable).
func NewCache(layouts int, groupBytes int64) *Cache {
	if layouts <= 0 {
		layouts = DefaultCacheLayouts
	}
	if groupBytes <= 0 {
		groupBytes = DefaultCacheGroupBytes
	}
	return &Cache{layouts: newLRU(int64(layouts)), groups: newLRU(groupBytes)}
}

// GroupBytes is the size of the encoded row groups held now.
func (c *Cache) GroupBytes() int64 {
	c.groups.mu.Lock()
	defer c.groups.mu.Unlock()
	return c.groups.used
}

type lru struct {
	mu   sync.Mutex
	max  int64
	used int64
	ll   *list.List
	m    map[string]*list.Element
}

type lruEntry struct {
	key  string
	val  any
	cost int64
}

func newLRU(max int64) *lru { return &lru{max: max, ll: list.New(), m: map[string]*list.Element{}} }

func (l *lru) get(key string) (any, bool) {
	if l == nil {
		return nil, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[key]
	if !ok {
		return nil, false
	}
	l.ll.MoveToFront(e)
	return e.Value.(*lruEntry).val, true
}

// put stores val; an entry costing more than the whole cache is not kept.
func (l *lru) put(key string, val any, cost int64) {
	if l == nil || cost > l.max {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.m[key]; ok {
		old := e.Value.(*lruEntry)
		l.used += cost - old.cost
		old.val, old.cost = val, cost
		l.ll.MoveToFront(e)
	} else {
		l.m[key] = l.ll.PushFront(&lruEntry{key: key, val: val, cost: cost})
		l.used += cost
	}
	for l.used > l.max {
		e := l.ll.Back()
		ent := e.Value.(*lruEntry)
		l.ll.Remove(e)
		delete(l.m, ent.key)
		l.used -= ent.cost
	}
}
