package cache

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

// reads are the cached calls, each with the backend method it must spare on a hit.
var reads = []struct {
	name, method string
	call         func(b hms.Backend) (any, error)
}{
	{"get database", "GetDatabase", func(b hms.Backend) (any, error) { return b.GetDatabase(ctx, "sales") }},
	{"list databases", "ListDatabases", func(b hms.Backend) (any, error) { return b.ListDatabases(ctx) }},
	{"get table", "GetTable", func(b hms.Backend) (any, error) { return b.GetTable(ctx, "sales", "orders") }},
	{"get table mixed case", "GetTable", func(b hms.Backend) (any, error) { return b.GetTable(ctx, "Sales", "ORDERS") }},
	{"get tables", "GetTables", func(b hms.Backend) (any, error) { return b.GetTables(ctx, "sales", []string{"orders", "Orders"}) }},
	{"list tables", "ListTables", func(b hms.Backend) (any, error) { return b.ListTables(ctx, "sales") }},
	{"partition names", "ListPartitionNames", func(b hms.Backend) (any, error) {
		return b.ListPartitionNames(ctx, "sales", "orders", hms.PartitionQuery{})
	}},
	{"partition names by filter", "ListPartitionNames", func(b hms.Backend) (any, error) {
		return b.ListPartitionNames(ctx, "sales", "orders", hms.PartitionQuery{Filter: "region = 'eu'", Max: 2})
	}},
	{"partitions", "ListPartitions", func(b hms.Backend) (any, error) {
		return b.ListPartitions(ctx, "sales", "orders", hms.PartitionQuery{Values: []string{"us"}})
	}},
	{"partitions by names", "GetPartitionsByNames", func(b hms.Backend) (any, error) {
		return b.GetPartitionsByNames(ctx, "sales", "orders", []string{"region=us/day=2", "region=eu/day=1", "region=us/day=2"})
	}},
}

func TestReadsAreCached(t *testing.T) {
	e := newEnv(t, Config{Name: "t"})
	seed(t, e.store, 3)
	for _, r := range reads {
		t.Run(r.name, func(t *testing.T) {
			want, err := r.call(e.store)
			must(t, err)
			e.count.reset()
			first, err := r.call(e.c)
			must(t, err)
			second, err := r.call(e.c)
			must(t, err)
			if !reflect.DeepEqual(first, want) || !reflect.DeepEqual(second, want) {
				t.Fatalf("through the cache:\n%v\n%v\nwant %v", first, second, want)
			}
			if got := e.count.n(r.method); got > 1 {
				t.Fatalf("%s reached the backend %d times, want at most 1", r.method, got)
			}
		})
	}
	if hits := metricValue(t, e.reg, "propolis_cache_hits_total", map[string]string{"backend": "t"}); hits < float64(len(reads)) {
		t.Errorf("hits = %v, want >= %d", hits, len(reads))
	}
}

// TestWritesThroughAreVisibleAtOnce: no poll happens in this test, so only the write path's own
// invalidation can make the change visible.
func TestWritesThroughAreVisibleAtOnce(t *testing.T) {
	cases := []struct {
		name  string
		write func(b hms.Backend) error
		read  func(b hms.Backend) (any, error)
	}{
		{"alter table", func(b hms.Backend) error {
			tb := table("sales", "orders")
			tb.Parameters["comment"] = "changed"
			return b.AlterTable(ctx, "sales", "orders", tb, false)
		}, func(b hms.Backend) (any, error) { return b.GetTable(ctx, "sales", "orders") }},
		{"create table, listed", func(b hms.Backend) error { return b.CreateTable(ctx, table("sales", "returns")) },
			func(b hms.Backend) (any, error) { return b.ListTables(ctx, "sales") }},
		{"rename table", func(b hms.Backend) error {
			tb := table("sales", "orders2")
			return b.AlterTable(ctx, "sales", "orders", tb, false)
		}, func(b hms.Backend) (any, error) {
			l, err := b.ListTables(ctx, "sales")
			if err != nil {
				return nil, err
			}
			_, err = b.GetTable(ctx, "sales", "orders")
			return fmt.Sprint(l, errs.KindOf(err)), nil
		}},
		{"drop table", func(b hms.Backend) error { return b.DropTable(ctx, "sales", "orders", false) },
			func(b hms.Backend) (any, error) {
				_, err := b.GetTable(ctx, "sales", "orders")
				return errs.KindOf(err), nil
			}},
		{"add partition", func(b hms.Backend) error {
			_, err := b.AddPartitions(ctx, "sales", "orders", []*hm.Partition{part("sales", "orders", "eu", "9")}, false)
			return err
		}, func(b hms.Backend) (any, error) {
			return b.ListPartitionNames(ctx, "sales", "orders", hms.PartitionQuery{})
		}},
		{"alter partition", func(b hms.Backend) error {
			p := part("sales", "orders", "eu", "1")
			p.Parameters = map[string]string{"k": "v"}
			return b.AlterPartitions(ctx, "sales", "orders", []*hm.Partition{p})
		}, func(b hms.Backend) (any, error) {
			return b.GetPartitionsByNames(ctx, "sales", "orders", []string{"region=eu/day=1"})
		}},
		{"drop partition", func(b hms.Backend) error {
			_, err := b.DropPartition(ctx, "sales", "orders", []string{"eu", "1"}, false)
			return err
		}, func(b hms.Backend) (any, error) {
			return b.ListPartitions(ctx, "sales", "orders", hms.PartitionQuery{})
		}},
		{"create database", func(b hms.Backend) error { return b.CreateDatabase(ctx, &hm.Database{Name: "hr"}) },
			func(b hms.Backend) (any, error) { return b.ListDatabases(ctx) }},
		{"alter database", func(b hms.Backend) error {
			return b.AlterDatabase(ctx, "sales", &hm.Database{Name: "sales", Description: "new"})
		}, func(b hms.Backend) (any, error) { return b.GetDatabase(ctx, "sales") }},
		{"drop database cascade", func(b hms.Backend) error { return b.DropDatabase(ctx, "sales", false, true) },
			func(b hms.Backend) (any, error) {
				_, err := b.GetTable(ctx, "sales", "orders")
				l, _ := b.ListDatabases(ctx)
				return fmt.Sprint(errs.KindOf(err), l), nil
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			seed(t, e.store, 2)
			for _, r := range reads { // fill the cache
				r.call(e.c)
			}
			if _, err := tc.read(e.c); err != nil {
				t.Fatal(err)
			}
			must(t, tc.write(e.c))
			got, err := tc.read(e.c)
			must(t, err)
			want, err := tc.read(e.store)
			must(t, err)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("after the write, through the cache:\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// TestWritesElsewhereAfterPoll: writes straight to the store, as an engine talking to the
// upstream directly would make, are seen once the poller has read their events.
func TestWritesElsewhereAfterPoll(t *testing.T) {
	cases := []struct {
		name  string
		write func(b hms.Backend) error
		read  func(b hms.Backend) (any, error)
	}{
		{"alter table", func(b hms.Backend) error {
			tb := table("sales", "orders")
			tb.Owner = "bob"
			return b.AlterTable(ctx, "sales", "orders", tb, false)
		}, func(b hms.Backend) (any, error) { return b.GetTable(ctx, "sales", "orders") }},
		{"rename table across databases", func(b hms.Backend) error {
			return b.AlterTable(ctx, "sales", "orders", table("archive", "orders_2020"), false)
		}, func(b hms.Backend) (any, error) {
			l, err := b.ListTables(ctx, "archive")
			return fmt.Sprint(l), err
		}},
		{"add partitions", func(b hms.Backend) error {
			_, err := b.AddPartitions(ctx, "sales", "orders", []*hm.Partition{part("sales", "orders", "us", "7")}, false)
			return err
		}, func(b hms.Backend) (any, error) {
			return b.ListPartitions(ctx, "sales", "orders", hms.PartitionQuery{Values: []string{"us"}})
		}},
		{"alter partition", func(b hms.Backend) error {
			p := part("sales", "orders", "us", "2")
			p.Parameters = map[string]string{"numRows": "10"}
			return b.AlterPartitions(ctx, "sales", "orders", []*hm.Partition{p})
		}, func(b hms.Backend) (any, error) {
			return b.GetPartitionsByNames(ctx, "sales", "orders", []string{"region=us/day=2", "region=eu/day=1", "region=us/day=2"})
		}},
		{"drop table", func(b hms.Backend) error { return b.DropTable(ctx, "sales", "orders", false) },
			func(b hms.Backend) (any, error) {
				t, err := b.GetTables(ctx, "sales", []string{"orders"})
				return len(t), err
			}},
		{"create database", func(b hms.Backend) error { return b.CreateDatabase(ctx, &hm.Database{Name: "hr"}) },
			func(b hms.Backend) (any, error) { return b.ListDatabases(ctx) }},
		{"drop database", func(b hms.Backend) error { return b.DropDatabase(ctx, "sales", false, true) },
			func(b hms.Backend) (any, error) {
				_, err := b.GetDatabase(ctx, "sales")
				return errs.KindOf(err), nil
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			seed(t, e.store, 2)
			must(t, e.store.CreateDatabase(ctx, &hm.Database{Name: "archive"}))
			e.c.poll(ctx) // the seed's events
			for _, r := range reads {
				r.call(e.c)
			}
			before, err := tc.read(e.c)
			must(t, err)
			must(t, tc.write(e.store))
			want, err := tc.read(e.store)
			must(t, err)
			if reflect.DeepEqual(before, want) {
				t.Fatal("the write changes nothing the read sees: a useless case")
			}
			if got, _ := tc.read(e.c); !reflect.DeepEqual(got, before) {
				t.Fatalf("changed before any poll (was the read cached?): %v", got)
			}
			e.c.poll(ctx)
			got, err := tc.read(e.c)
			must(t, err)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("after the poll, through the cache:\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// TestErrorsAreNotCached: Hive clients check a table is absent, create it, then read it.
func TestErrorsAreNotCached(t *testing.T) {
	e := newEnv(t, Config{})
	must(t, e.store.CreateDatabase(ctx, &hm.Database{Name: "sales"}))
	if _, err := e.c.GetTable(ctx, "sales", "orders"); errs.KindOf(err) != errs.KindNotFound {
		t.Fatalf("missing table: %v", err)
	}
	if _, err := e.c.ListPartitionNames(ctx, "sales", "orders", hms.PartitionQuery{}); errs.KindOf(err) != errs.KindNotFound {
		t.Fatalf("partitions of a missing table: %v", err)
	}
	must(t, e.store.CreateTable(ctx, table("sales", "orders"))) // elsewhere, and no poll
	if _, err := e.c.GetTable(ctx, "sales", "orders"); err != nil {
		t.Fatalf("a NotFound stuck: %v", err)
	}
	if _, err := e.c.ListPartitionNames(ctx, "sales", "orders", hms.PartitionQuery{}); err != nil {
		t.Fatalf("a NotFound stuck: %v", err)
	}
	// absent partitions are not remembered either
	if ps, _ := e.c.GetPartitionsByNames(ctx, "sales", "orders", []string{"region=eu/day=1"}); len(ps) != 0 {
		t.Fatal(ps)
	}
	_, err := e.store.AddPartitions(ctx, "sales", "orders", []*hm.Partition{part("sales", "orders", "eu", "1")}, false)
	must(t, err)
	if ps, _ := e.c.GetPartitionsByNames(ctx, "sales", "orders", []string{"region=eu/day=1"}); len(ps) != 1 {
		t.Fatalf("absent partition remembered: %v", ps)
	}
}

func TestReturnedObjectsArePrivate(t *testing.T) {
	e := newEnv(t, Config{})
	seed(t, e.store, 2)
	mutate := []struct {
		name string
		do   func(t *testing.T, b hms.Backend)
	}{
		{"table", func(t *testing.T, b hms.Backend) {
			tb, err := b.GetTable(ctx, "sales", "orders")
			must(t, err)
			tb.TableName, tb.Sd.Location = "hacked", "s3://elsewhere"
			tb.Sd.Cols[0].Name = "hacked"
			tb.Parameters["comment"] = "hacked"
		}},
		{"tables", func(t *testing.T, b hms.Backend) {
			ts, err := b.GetTables(ctx, "sales", []string{"orders"})
			must(t, err)
			ts[0].Sd.SerdeInfo.Parameters["x"] = "hacked"
		}},
		{"partitions", func(t *testing.T, b hms.Backend) {
			ps, err := b.ListPartitions(ctx, "sales", "orders", hms.PartitionQuery{})
			must(t, err)
			ps[0].Values[0] = "hacked"
			ps[1] = nil
		}},
		{"partitions by names", func(t *testing.T, b hms.Backend) {
			ps, err := b.GetPartitionsByNames(ctx, "sales", "orders", []string{"region=eu/day=1"})
			must(t, err)
			ps[0].Sd.Location = "hacked"
		}},
		{"names", func(t *testing.T, b hms.Backend) {
			ns, err := b.ListPartitionNames(ctx, "sales", "orders", hms.PartitionQuery{})
			must(t, err)
			ns[0] = "hacked"
			ds, err := b.ListDatabases(ctx)
			must(t, err)
			ds[0] = "hacked"
			db, err := b.GetDatabase(ctx, "sales")
			must(t, err)
			db.LocationUri = "hacked"
		}},
	}
	for _, m := range mutate {
		t.Run(m.name, func(t *testing.T) {
			m.do(t, e.c) // a miss: the caller's copy
			m.do(t, e.c) // a hit: the caller's copy too
			for _, r := range reads {
				got, err := r.call(e.c)
				must(t, err)
				want, err := r.call(e.store)
				must(t, err)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: a caller's change leaked into the cache:\n%v\nwant\n%v", r.name, got, want)
				}
			}
		})
	}
}

// TestPartitionsByNamesFetchOnlyMisses: a batch asks the backend only for what is not cached,
// and answers in the order asked.
func TestPartitionsByNamesFetchOnlyMisses(t *testing.T) {
	e := newEnv(t, Config{})
	seed(t, e.store, 4)
	_, err := e.c.GetPartitionsByNames(ctx, "sales", "orders", []string{"region=eu/day=2", "region=us/day=3"})
	must(t, err)
	e.count.reset()
	asked := []string{"region=us/day=4", "region=us/day=3", "region=zz/day=1", "region=eu/day=2", "region=eu/day=1"}
	got, err := e.c.GetPartitionsByNames(ctx, "sales", "orders", asked)
	must(t, err)
	var vals []string
	for _, p := range got {
		vals = append(vals, strings.Join(p.Values, "/"))
	}
	if want := "us/4 us/3 eu/2 eu/1"; strings.Join(vals, " ") != want {
		t.Errorf("order = %v, want %s", vals, want)
	}
	if fmt.Sprint(e.count.asked) != "[[region=us/day=4 region=zz/day=1 region=eu/day=1]]" {
		t.Errorf("backend asked for %v", e.count.asked)
	}
	// and tables alike
	must(t, e.store.CreateTable(ctx, table("sales", "returns")))
	_, err = e.c.GetTable(ctx, "sales", "orders")
	must(t, err)
	e.count.reset()
	ts, err := e.c.GetTables(ctx, "sales", []string{"returns", "nope", "orders"})
	must(t, err)
	if len(ts) != 2 || ts[0].TableName != "returns" || ts[1].TableName != "orders" {
		t.Errorf("tables = %v", ts)
	}
	if fmt.Sprint(e.count.asked) != "[[returns nope]]" {
		t.Errorf("backend asked for %v", e.count.asked)
	}
}

func TestMemoryBound(t *testing.T) {
	const max = 64 << 10
	e := newEnv(t, Config{Name: "small", MaxBytes: max})
	seed(t, e.store, 200) // 400 partitions of ~400 bytes each: more than the bound
	var names []string
	ns, err := e.store.ListPartitionNames(ctx, "sales", "orders", hms.PartitionQuery{})
	must(t, err)
	for _, n := range ns {
		names = append(names, n)
		_, err := e.c.GetPartitionsByNames(ctx, "sales", "orders", []string{n})
		must(t, err)
		if used, _ := e.c.store.stats(); used > max {
			t.Fatalf("%d bytes in use, bound %d", used, max)
		}
	}
	if ev := metricValue(t, e.reg, "propolis_cache_evictions_total", map[string]string{"backend": "small"}); ev == 0 {
		t.Fatal("no evictions")
	}
	if b := metricValue(t, e.reg, "propolis_cache_bytes", nil); b <= max/2 || b > max {
		t.Errorf("bytes gauge %v, want close to %d", b, max)
	}
	// LRU: the most recent names are still cached, the first ones are gone.
	e.count.reset()
	_, err = e.c.GetPartitionsByNames(ctx, "sales", "orders", names[len(names)-5:])
	must(t, err)
	if e.count.n("GetPartitionsByNames") != 0 {
		t.Error("recent entries were evicted")
	}
	_, err = e.c.GetPartitionsByNames(ctx, "sales", "orders", names[:1])
	must(t, err)
	if e.count.n("GetPartitionsByNames") != 1 {
		t.Error("the oldest entry survived")
	}
	// An object larger than the whole bound is served, not stored.
	e.count.reset()
	for range 2 {
		ps, err := e.c.ListPartitions(ctx, "sales", "orders", hms.PartitionQuery{})
		must(t, err)
		if len(ps) != 400 {
			t.Fatal(len(ps))
		}
	}
	if e.count.n("ListPartitions") != 2 {
		t.Error("an oversized listing was cached")
	}
}

func TestGapDropsEverything(t *testing.T) {
	cases := []struct {
		name    string
		current func(int64, error) (int64, error)
		next    func([]*hm.NotificationEvent, error) ([]*hm.NotificationEvent, error)
	}{
		{"events purged: next id beyond last+1", nil, func(evs []*hm.NotificationEvent, err error) ([]*hm.NotificationEvent, error) {
			// the event that changed nothing we hold, but arriving after a hole
			for _, e := range evs {
				e.EventId += 100
				e.EventType, e.DbName, e.TableName = "CREATE_FUNCTION", ptr("other"), nil
			}
			return evs, err
		}},
		{"events purged: nothing left", nil, func([]*hm.NotificationEvent, error) ([]*hm.NotificationEvent, error) {
			return nil, nil
		}},
		{"event id went backwards", func(int64, error) (int64, error) { return 1, nil }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			ev := &events{Backend: s}
			reg := newCounting(ev)
			c := newBackend(reg, Config{Name: "gap"}, nil, nil)
			seed(t, s, 2)
			c.poll(ctx)
			for _, r := range reads {
				r.call(c)
			}
			if _, n := c.store.stats(); n < len(reads)-1 {
				t.Fatalf("only %d entries cached", n)
			}
			ev.mu.Lock()
			ev.current, ev.next = tc.current, tc.next
			ev.mu.Unlock()
			// a write elsewhere to another database: on its own it would touch nothing cached
			must(t, s.CreateDatabase(ctx, &hm.Database{Name: "other"}))
			c.poll(ctx)
			if used, n := c.store.stats(); n != 0 || used != 0 {
				t.Fatalf("%d entries (%d bytes) survived the gap", n, used)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestFillRacingAWrite: a read that fetched before a write and stores after it must not
// put the old value back.
func TestFillRacingAWrite(t *testing.T) {
	e := newEnv(t, Config{})
	seed(t, e.store, 1)
	gen := e.c.store.generation()
	old, err := e.store.GetTable(ctx, "sales", "orders")
	must(t, err)
	tb := table("sales", "orders")
	tb.Owner = "bob"
	must(t, e.c.AlterTable(ctx, "sales", "orders", tb, false))
	if e.c.store.put(tableKey("sales", "orders"), scope{"sales", "orders"}, false, old, 100, gen) {
		t.Fatal("a fill older than an invalidation was stored")
	}
}

func TestSingleflight(t *testing.T) {
	e := newEnv(t, Config{})
	seed(t, e.store, 1)
	e.count.delay = 50 * time.Millisecond
	e.count.reset()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			tb, err := e.c.GetTable(ctx, "sales", "orders")
			if err != nil || tb.TableName != "orders" {
				t.Error(tb, err)
			}
		})
	}
	wg.Wait()
	if n := e.count.n("GetTable"); n != 1 {
		t.Errorf("20 concurrent misses made %d backend calls", n)
	}
}

func TestTTL(t *testing.T) {
	e := newEnv(t, Config{TTL: time.Minute})
	seed(t, e.store, 1)
	now := time.Now()
	e.c.store.mu.Lock()
	e.c.store.now = func() time.Time { return now }
	e.c.store.mu.Unlock()
	for range 2 {
		_, err := e.c.GetTable(ctx, "sales", "orders")
		must(t, err)
	}
	if e.count.n("GetTable") != 1 {
		t.Fatal("not cached")
	}
	e.c.store.mu.Lock()
	now = now.Add(time.Minute)
	e.c.store.mu.Unlock()
	_, err := e.c.GetTable(ctx, "sales", "orders")
	must(t, err)
	if e.count.n("GetTable") != 2 {
		t.Fatal("an expired entry was served")
	}
}

// unsupportedEvents is a backend without a notification log.
type unsupportedEvents struct{ hms.Backend }

func (unsupportedEvents) CurrentEventID(context.Context) (int64, error) {
	return 0, errs.Unsupported("no notification log")
}

func TestNoEventLogFallsBackToTTL(t *testing.T) {
	s := openStore(t)
	seed(t, s, 1)
	cnt := newCounting(unsupportedEvents{s})
	before := runtime.NumGoroutine()
	c := New(cnt, Config{PollInterval: time.Millisecond}, nil, nil)
	waitFor(t, func() bool { return c.mode.Load() == modeTTL })
	for range 3 {
		_, err := c.GetTable(ctx, "sales", "orders")
		must(t, err)
	}
	if cnt.n("GetTable") != 1 {
		t.Error("TTL mode does not cache")
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before }) // the poller gave up for good
	must(t, c.Close())
}

func TestNothingStoredBeforeTheCursor(t *testing.T) {
	s := openStore(t)
	seed(t, s, 1)
	cnt := newCounting(s)
	c := newBackend(cnt, Config{}, nil, nil) // no poll yet
	for range 2 {
		_, err := c.GetTable(ctx, "sales", "orders")
		must(t, err)
	}
	if cnt.n("GetTable") != 2 {
		t.Error("stored a value read before the event cursor was known")
	}
}

// TestPollerInBackground: the real poller, end to end; Close stops it and leaves no goroutine.
func TestPollerInBackground(t *testing.T) {
	s := openStore(t)
	seed(t, s, 1)
	before := runtime.NumGoroutine()
	c := New(s, Config{PollInterval: 10 * time.Millisecond}, nil, nil)
	waitFor(t, func() bool { return c.mode.Load() == modeEvents })
	tb, err := c.GetTable(ctx, "sales", "orders")
	must(t, err)
	if tb.Owner != "alice" {
		t.Fatal(tb.Owner)
	}
	tb.Owner = "carol"
	must(t, s.AlterTable(ctx, "sales", "orders", tb, false))
	waitFor(t, func() bool {
		tb, err := c.GetTable(ctx, "sales", "orders")
		return err == nil && tb.Owner == "carol"
	})
	must(t, c.Close())
	must(t, c.Close()) // twice is fine
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
	// closed: still a working pass-through with its entries, just no longer invalidated by events
	if _, err := c.GetTable(ctx, "sales", "orders"); err != nil {
		t.Fatal(err)
	}
}

func TestDisabled(t *testing.T) {
	s := openStore(t)
	seed(t, s, 1)
	cnt := newCounting(s)
	before := runtime.NumGoroutine()
	c := New(cnt, Config{Disabled: true}, nil, nil)
	for _, r := range reads {
		for range 2 {
			r.call(c)
		}
	}
	for _, r := range reads {
		if cnt.n(r.method) < 2 {
			t.Errorf("%s cached while disabled", r.method)
		}
	}
	if runtime.NumGoroutine() > before {
		t.Error("a disabled cache started a goroutine")
	}
	must(t, c.Close())
}

// TestPerUser keeps users apart.
func TestConcurrentReadsAndWrites(t *testing.T) {
	e := newEnv(t, Config{MaxBytes: 32 << 10})
	seed(t, e.store, 5)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, r := range reads {
					if _, err := r.call(e.c); err != nil && !errors.Is(err, errs.ErrNotFound) {
						t.Error(r.name, err)
					}
				}
				_ = i
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			e.c.poll(ctx)
		}
	})
	for i := range 20 {
		tb := table("sales", "orders")
		tb.Owner = fmt.Sprint("owner", i)
		must(t, e.c.AlterTable(ctx, "sales", "orders", tb, false))
		got, err := e.c.GetTable(ctx, "sales", "orders")
		must(t, err)
		if got.Owner != tb.Owner {
			t.Fatalf("read after write: owner %s, want %s", got.Owner, tb.Owner)
		}
		_, err = e.store.AddPartitions(ctx, "sales", "orders", []*hm.Partition{part("sales", "orders", "x", fmt.Sprint(i))}, false)
		must(t, err)
	}
	close(stop)
	wg.Wait()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
