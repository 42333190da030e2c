package cache

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/hivename"
	pthrift "github.com/propolis/propolis/thrift"
)

// Config tunes one cache. The zero value is a working cache with the defaults.
type Config struct {
	// Name labels the metrics (backend="...") and the log lines: the backend's name.
	Name string
	// MaxBytes bounds the cached objects by their serialized (Thrift binary) size; default
	// 256 MiB. The Go heap they occupy is a small multiple of that.
	MaxBytes int64
	// TTL is the longest an entry lives, a safety net behind event invalidation (and the only
	// bound on staleness for backends without a notification log); default 5m.
	TTL time.Duration
	// PollInterval is how often the notification log is read; default 2s. It bounds how long
	// a write made by someone else (an engine talking to the upstream directly) stays unseen.
	PollInterval time.Duration
	// PerUser keys every entry by the caller's identity too. Needed when the backend
	// impersonates the end user and the upstream authorizes reads itself: otherwise one
	// user's cached answer would be served to another.
	PerUser bool
	// Disabled makes the cache a pass-through: no entries, no poller.
	Disabled bool
}

const (
	DefaultMaxBytes     = 256 << 20
	DefaultTTL          = 5 * time.Minute
	DefaultPollInterval = 2 * time.Second
	eventBatch          = 1000
)

// Backend is the caching decorator. Methods not listed in the package comment pass through.
type Backend struct {
	next   hms.Backend
	cfg    Config
	log    *slog.Logger
	store  *store
	flight flight
	m      *metrics

	// mode says whether fills may be stored: not before the event cursor is known (a value
	// read before it could miss the event that changes it).
	mode atomic.Int32

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	// poller state, touched only by the poller goroutine (and tests calling poll directly
	// before the poller runs, or with no poller)
	last        int64
	haveCursor  bool
	pollFailing bool
}

const (
	modeStarting int32 = iota // cursor unknown: serve, do not store
	modeEvents                // invalidation by events, TTL as a safety net
	modeTTL                   // the backend has no notification log: TTL and own writes only
)

var _ hms.Backend = (*Backend)(nil)

// New wraps next. Unless cfg.Disabled, it starts the notification-log poller: Close stops it.
// reg may be nil.
func New(next hms.Backend, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Backend {
	b := newBackend(next, cfg, log, reg)
	if !b.cfg.Disabled {
		go b.run()
	} else {
		close(b.done)
	}
	return b
}

// newBackend is New without the poller; tests drive poll themselves.
func newBackend(next hms.Backend, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Backend {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Backend{
		next:  next,
		cfg:   cfg,
		log:   log.With("component", "cache"),
		store: newStore(cfg.MaxBytes, cfg.TTL),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	b.m = newMetrics(cfg.Name, reg, b.store)
	b.store.onEvict = func(n int) { b.m.evictions.Add(float64(n)) }
	b.store.onDrop = func(reason string, n int) {
		if n > 0 {
			b.m.invalidations.WithLabelValues(reason).Add(float64(n))
		}
	}
	return b
}

// Close stops the poller and waits for it. It does not close the wrapped backend.
// Unwrap returns the backend behind the cache (the forwarder looks through it for a backend
// that can pass raw calls on).
func (b *Backend) Unwrap() hms.Backend { return b.next }

func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		if !b.cfg.Disabled {
			close(b.stop)
		}
	})
	<-b.done
	return nil
}

// --- keys ---

// Keys start with a kind and hold lower-cased names separated by NUL, which no name contains.
func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func tableKey(db, tbl string) string { return "t\x00" + db + "\x00" + tbl }
func databaseKey(db string) string   { return "d\x00" + db }
func tablesKey(db string) string     { return "T\x00" + db }

const databasesKey = "D"

func partKey(db, tbl string, values []string) string {
	return "p\x00" + db + "\x00" + tbl + "\x00" + strings.Join(values, "\x00")
}

func queryKey(kind, db, tbl string, q hms.PartitionQuery) string {
	var sb strings.Builder
	sb.WriteString(kind)
	sb.WriteByte(0)
	sb.WriteString(db)
	sb.WriteByte(0)
	sb.WriteString(tbl)
	sb.WriteByte(0)
	sb.WriteString(strconv.Itoa(max(q.Max, 0)))
	sb.WriteByte(0)
	sb.WriteString(q.Filter)
	for _, v := range q.Values {
		sb.WriteByte(0)
		sb.WriteString(strconv.Quote(v)) // "" and absent differ
	}
	return sb.String()
}

// userPrefix separates users' key spaces when PerUser is set.
func (b *Backend) userPrefix(ctx context.Context) string {
	if !b.cfg.PerUser {
		return ""
	}
	s := pthrift.SessionFrom(ctx)
	if s == nil {
		return "u\x00\x00"
	}
	return "u\x00" + s.Identity().User + "\x00"
}

// --- the read path ---

// lookup is one cached read: a hit hands out a copy; a miss asks next once for all concurrent
// callers of the key, stores the answer (never an error) and hands out copies.
func lookup[T any](b *Backend, ctx context.Context, kind, key string, sc scope, listing bool,
	fetch func(context.Context) (T, error), size func(T) int64, cp func(T) T) (T, error) {
	if b.cfg.Disabled {
		return fetch(ctx)
	}
	key = b.userPrefix(ctx) + key
	if v, ok := b.store.get(key); ok {
		b.m.hit(kind)
		return cp(v.(T)), nil
	}
	b.m.miss(kind)
	gen := b.store.generation()
	v, err, shared := b.flight.do(key+"\x00#"+strconv.FormatUint(gen, 10), func() (any, error) {
		v, err := fetch(ctx)
		if err == nil && b.mode.Load() != modeStarting {
			b.store.put(key, sc, listing, v, size(v), gen)
		}
		return v, err
	})
	if err != nil {
		if shared && isCtxErr(err) && ctx.Err() == nil {
			// The caller whose call we shared gave up; that is no answer for us.
			return fetch(ctx)
		}
		var zero T
		return zero, err
	}
	return cp(v.(T)), nil
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func copyStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}

func (b *Backend) GetDatabase(ctx context.Context, name string) (*hm.Database, error) {
	db := norm(name)
	return lookup(b, ctx, "database", databaseKey(db), scope{db: db}, false,
		func(ctx context.Context) (*hm.Database, error) { return b.next.GetDatabase(ctx, name) },
		func(d *hm.Database) int64 { return thriftSize(d) }, deepCopy[hm.Database])
}

func (b *Backend) ListDatabases(ctx context.Context) ([]string, error) {
	return lookup(b, ctx, "databases", databasesKey, scope{}, false, b.next.ListDatabases, sizeStrings, copyStrings)
}

func (b *Backend) GetTable(ctx context.Context, db, name string) (*hm.Table, error) {
	d, t := norm(db), norm(name)
	return lookup(b, ctx, "table", tableKey(d, t), scope{d, t}, false,
		func(ctx context.Context) (*hm.Table, error) { return b.next.GetTable(ctx, db, name) },
		func(t *hm.Table) int64 { return thriftSize(t) }, deepCopy[hm.Table])
}

func (b *Backend) ListTables(ctx context.Context, db string) ([]hms.TableInfo, error) {
	d := norm(db)
	return lookup(b, ctx, "tables", tablesKey(d), scope{db: d}, true,
		func(ctx context.Context) ([]hms.TableInfo, error) { return b.next.ListTables(ctx, db) },
		func(ts []hms.TableInfo) int64 {
			n := int64(5)
			for _, t := range ts {
				n += int64(32 + len(t.Name) + len(t.Type) + len(t.Comment) + len(t.Owner))
			}
			return n
		},
		func(ts []hms.TableInfo) []hms.TableInfo {
			if ts == nil {
				return nil
			}
			return append([]hms.TableInfo(nil), ts...)
		})
}

func (b *Backend) ListPartitionNames(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]string, error) {
	d, t := norm(db), norm(tbl)
	return lookup(b, ctx, "partition_names", queryKey("n", d, t, q), scope{d, t}, false,
		func(ctx context.Context) ([]string, error) { return b.next.ListPartitionNames(ctx, db, tbl, q) },
		sizeStrings, copyStrings)
}

func (b *Backend) ListPartitions(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]*hm.Partition, error) {
	d, t := norm(db), norm(tbl)
	return lookup(b, ctx, "partitions", queryKey("l", d, t, q), scope{d, t}, false,
		func(ctx context.Context) ([]*hm.Partition, error) { return b.next.ListPartitions(ctx, db, tbl, q) },
		sizeParts, copyParts)
}

func sizeParts(ps []*hm.Partition) int64 {
	n := int64(5)
	for _, p := range ps {
		n += thriftSize(p)
	}
	return n
}

func copyParts(ps []*hm.Partition) []*hm.Partition {
	if ps == nil {
		return nil
	}
	out := make([]*hm.Partition, len(ps))
	for i, p := range ps {
		out[i] = deepCopy(p)
	}
	return out
}

// GetTables serves what it holds and asks next only for the rest, in one call. Batches are
// not collapsed with concurrent ones (their name sets rarely coincide); the per-table entries
// they fill are shared with GetTable.
func (b *Backend) GetTables(ctx context.Context, db string, names []string) ([]*hm.Table, error) {
	if b.cfg.Disabled || len(names) == 0 {
		return b.next.GetTables(ctx, db, names)
	}
	d, prefix := norm(db), b.userPrefix(ctx)
	found := make(map[string]*hm.Table, len(names))
	var missing []string
	for _, n := range names {
		t := norm(n)
		if _, dup := found[t]; dup {
			continue
		}
		if v, ok := b.store.get(prefix + tableKey(d, t)); ok {
			b.m.hit("table")
			found[t] = v.(*hm.Table)
			continue
		}
		b.m.miss("table")
		found[t] = nil
		missing = append(missing, n)
	}
	if len(missing) > 0 {
		gen := b.store.generation()
		got, err := b.next.GetTables(ctx, db, missing)
		if err != nil {
			return nil, err
		}
		storing := b.mode.Load() != modeStarting
		for _, tb := range got {
			t := norm(tb.TableName)
			if _, asked := found[t]; !asked {
				return b.next.GetTables(ctx, db, names)
			}
			found[t] = tb
			if storing {
				b.store.put(prefix+tableKey(d, t), scope{d, t}, false, tb, thriftSize(tb), gen)
			}
		}
	}
	out := make([]*hm.Table, 0, len(names))
	for _, n := range names { // one per name asked, repeats included, as backends answer
		if tb := found[norm(n)]; tb != nil {
			out = append(out, deepCopy(tb))
		}
	}
	return out, nil
}

// GetPartitionsByNames serves the partitions it holds and asks next only for the others, in
// one call, keeping the order asked. Names are keyed by their parsed values, so two spellings
// of one partition share an entry. Absent partitions are not remembered.
func (b *Backend) GetPartitionsByNames(ctx context.Context, db, tbl string, names []string) ([]*hm.Partition, error) {
	if b.cfg.Disabled || len(names) == 0 {
		return b.next.GetPartitionsByNames(ctx, db, tbl, names)
	}
	d, t, prefix := norm(db), norm(tbl), b.userPrefix(ctx)
	keys := make([]string, len(names))
	found := make(map[string]*hm.Partition, len(names))
	var missing []string
	for i, n := range names {
		vals, err := parsePartName(n)
		if err != nil { // let the backend phrase the error
			return b.next.GetPartitionsByNames(ctx, db, tbl, names)
		}
		k := prefix + partKey(d, t, vals)
		keys[i] = k
		if _, dup := found[k]; dup {
			continue
		}
		if v, ok := b.store.get(k); ok {
			b.m.hit("partition")
			found[k] = v.(*hm.Partition)
			continue
		}
		b.m.miss("partition")
		found[k] = nil
		missing = append(missing, n)
	}
	if len(missing) > 0 {
		gen := b.store.generation()
		got, err := b.next.GetPartitionsByNames(ctx, db, tbl, missing)
		if err != nil {
			return nil, err
		}
		storing := b.mode.Load() != modeStarting
		for _, p := range got {
			k := prefix + partKey(d, t, p.Values)
			if _, asked := found[k]; !asked {
				// Spelled differently from what we asked: we cannot place it, so the
				// backend answers the whole call (and nothing is stored under a guess).
				return b.next.GetPartitionsByNames(ctx, db, tbl, names)
			}
			found[k] = p
			if storing {
				b.store.put(k, scope{d, t}, false, p, thriftSize(p), gen)
			}
		}
	}
	out := make([]*hm.Partition, 0, len(names))
	for _, k := range keys {
		if p := found[k]; p != nil {
			out = append(out, deepCopy(p))
		}
	}
	return out, nil
}

func parsePartName(name string) ([]string, error) {
	_, vals, err := hivename.ParsePartName(name)
	return vals, err
}
