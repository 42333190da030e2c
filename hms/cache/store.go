package cache

import (
	"container/list"
	"sync"
	"time"
)

// entryOverhead approximates what an entry costs beyond its value's serialized bytes: the key,
// the list element, the index slots. Counting it keeps a cache of many tiny entries (partition
// name lists, small databases) honest against MaxBytes.
const entryOverhead = 160

// scope is what an entry belongs to, for invalidation: a table (db and tbl set), a database
// (tbl empty), or the whole catalog (both empty: the database listing).
type scope struct{ db, tbl string }

type entry struct {
	key     string
	scope   scope
	listing bool // a table listing of scope.db: renames elsewhere can change it
	val     any  // immutable once stored: readers get deep copies
	size    int64
	expires time.Time
	elem    *list.Element
}

// store is a byte-bounded LRU with indexes by database and table, so an invalidation touches
// only the entries it names. One mutex guards it all: every critical section is a few map and
// list operations; the deep copies a hit hands out are made outside it.
//
// gen counts invalidations. A fill remembers gen from before it asked the backend and is
// dropped if anything was invalidated meanwhile: otherwise a read racing a write could store
// the value from before the write after the write's invalidation, and keep it until the next
// event or the TTL.
type store struct {
	mu       sync.Mutex
	max      int64
	ttl      time.Duration
	now      func() time.Time
	used     int64
	gen      uint64
	lru      *list.List // front: most recently used
	items    map[string]*entry
	byDB     map[string]map[*entry]struct{} // every entry of a database, tables' included
	byTable  map[scope]map[*entry]struct{}
	listings map[string]map[*entry]struct{} // table listings, by database
	global   map[*entry]struct{}            // the database listing(s)
	onEvict  func(n int)
	onDrop   func(reason string, n int)
}

func newStore(max int64, ttl time.Duration) *store {
	return &store{
		max: max, ttl: ttl, now: time.Now,
		lru:      list.New(),
		items:    map[string]*entry{},
		byDB:     map[string]map[*entry]struct{}{},
		byTable:  map[scope]map[*entry]struct{}{},
		listings: map[string]map[*entry]struct{}{},
		global:   map[*entry]struct{}{},
		onEvict:  func(int) {},
		onDrop:   func(string, int) {},
	}
}

func (s *store) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// get returns the stored value, or false when absent or expired.
func (s *store) get(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[key]
	if !ok {
		return nil, false
	}
	if !s.now().Before(e.expires) {
		s.remove(e)
		s.onDrop("ttl", 1)
		return nil, false
	}
	s.lru.MoveToFront(e.elem)
	return e.val, true
}

// put stores val unless an invalidation happened since gen, or val alone exceeds the bound.
func (s *store) put(key string, sc scope, listing bool, val any, size int64, gen uint64) bool {
	size += int64(len(key)) + entryOverhead
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen || size > s.max {
		return false
	}
	if old, ok := s.items[key]; ok {
		s.remove(old)
	}
	evicted := 0
	for s.used+size > s.max {
		s.remove(s.lru.Back().Value.(*entry))
		evicted++
	}
	if evicted > 0 {
		s.onEvict(evicted)
	}
	e := &entry{key: key, scope: sc, listing: listing, val: val, size: size, expires: s.now().Add(s.ttl)}
	e.elem = s.lru.PushFront(e)
	s.items[key] = e
	s.used += size
	if sc.db != "" {
		addTo(s.byDB, sc.db, e)
		if sc.tbl != "" {
			addTo(s.byTable, sc, e)
		}
	}
	if listing {
		addTo(s.listings, sc.db, e)
	}
	if sc == (scope{}) {
		s.global[e] = struct{}{}
	}
	return true
}

func addTo[K comparable](m map[K]map[*entry]struct{}, k K, e *entry) {
	set := m[k]
	if set == nil {
		set = map[*entry]struct{}{}
		m[k] = set
	}
	set[e] = struct{}{}
}

func delFrom[K comparable](m map[K]map[*entry]struct{}, k K, e *entry) {
	if set := m[k]; set != nil {
		delete(set, e)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

func (s *store) remove(e *entry) {
	s.lru.Remove(e.elem)
	delete(s.items, e.key)
	s.used -= e.size
	if e.scope.db != "" {
		delFrom(s.byDB, e.scope.db, e)
		if e.scope.tbl != "" {
			delFrom(s.byTable, e.scope, e)
		}
	}
	if e.listing {
		delFrom(s.listings, e.scope.db, e)
	}
	if e.scope == (scope{}) {
		delete(s.global, e)
	}
}

// dropTable removes everything cached about one table (the table, its partitions and partition
// listings) and, when the table's existence or listing row may have changed, the table
// listing of its database; allListings extends that to every database (a rename may move the
// table to another one).
func (s *store) dropTable(reason string, db, tbl string, listing, allListings bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	n := 0
	for e := range s.byTable[scope{db, tbl}] {
		s.remove(e)
		n++
	}
	switch {
	case allListings:
		for _, set := range s.listings {
			for e := range set {
				s.remove(e)
				n++
			}
		}
	case listing:
		for e := range s.listings[db] { // one per user with PerUser
			s.remove(e)
			n++
		}
	}
	s.onDrop(reason, n)
}

// dropDB removes everything cached about one database, its tables included, and the list of
// databases.
func (s *store) dropDB(reason, db string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	n := 0
	for e := range s.byDB[db] {
		s.remove(e)
		n++
	}
	for e := range s.global {
		s.remove(e)
		n++
	}
	s.onDrop(reason, n)
}

func (s *store) dropAll(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	n := len(s.items)
	s.lru.Init()
	s.items = map[string]*entry{}
	s.byDB = map[string]map[*entry]struct{}{}
	s.byTable = map[scope]map[*entry]struct{}{}
	s.listings = map[string]map[*entry]struct{}{}
	s.global = map[*entry]struct{}{}
	s.used = 0
	s.onDrop(reason, n)
}

func (s *store) stats() (bytes int64, entries int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used, len(s.items)
}
