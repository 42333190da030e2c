package upstream

import (
	"context"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
	pthrift "github.com/propolis/propolis/thrift"
)

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// blackhole accepts connections and never answers, like a metastore stuck in a GC pause.
func blackhole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestUnavailable: an upstream that cannot answer is Unavailable naming the backend, within
// the call's deadline, and never NotFound, whatever the call.
func TestUnavailable(t *testing.T) {
	dead, hole := closedPort(t), blackhole(t)
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	cases := []struct {
		name    string
		cfg     Config
		ctx     context.Context
		within  time.Duration
		message string
	}{
		{"connection refused", Config{Address: dead, CallTimeout: 2 * time.Second}, bg, 2 * time.Second, "connect"},
		{"no answer within CallTimeout", Config{Address: hole, CallTimeout: 300 * time.Millisecond}, bg, time.Second, "deadline"},
		{"no answer within the caller's deadline", Config{Address: hole, CallTimeout: time.Minute}, short, 2 * time.Second, "deadline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.cfg)
			calls := map[string]func() error{
				"get_table":     func() error { _, err := c.GetTable(tc.ctx, "db", "t"); return err },
				"get_database":  func() error { _, err := c.GetDatabase(tc.ctx, "db"); return err },
				"get_partition": func() error { _, err := c.GetPartition(tc.ctx, "db", "t", []string{"1"}); return err },
				"list_tables":   func() error { _, err := c.ListTables(tc.ctx, "db"); return err },
				"drop_table":    func() error { return c.DropTable(tc.ctx, "db", "t", false) },
				"check_lock":    func() error { _, err := c.CheckLock(tc.ctx, 1); return err },
				"add_partitions": func() error {
					_, err := c.AddPartitions(tc.ctx, "db", "t", []*hm.Partition{{Values: []string{"1"}}}, true)
					return err
				},
				"partition_names":  func() error { _, err := c.ListPartitionNames(tc.ctx, "db", "t", hms.PartitionQuery{}); return err },
				"get_function":     func() error { _, err := c.GetFunction(tc.ctx, "db", "f"); return err },
				"current_event_id": func() error { _, err := c.CurrentEventID(tc.ctx); return err },
			}
			for name, call := range calls {
				if tc.ctx != bg && tc.ctx.Err() != nil {
					break // the shared short deadline is spent: one call proved it
				}
				start := time.Now()
				err := call()
				took := time.Since(start)
				if errs.KindOf(err) != errs.KindUnavailable {
					t.Fatalf("%s: kind %v (%v), want unavailable", name, errs.KindOf(err), err)
				}
				if took > tc.within {
					t.Errorf("%s: took %v, want within %v", name, took, tc.within)
				}
				msg := err.Error()
				if !strings.Contains(msg, `backend "legacy" (`+tc.cfg.Address+`) unavailable`) || !strings.Contains(msg, tc.message) {
					t.Errorf("%s: message %q, want the backend, its address and %q", name, msg, tc.message)
				}
			}
		})
	}
}

// TestPoolBounded: MaxConns bounds the connections; a call that cannot get one within its
// deadline is Unavailable, and the pool reuses connections rather than dialling per call.
func TestPoolBounded(t *testing.T) {
	t.Run("busy", func(t *testing.T) {
		c := newClient(t, Config{Address: blackhole(t), MaxConns: 1, CallTimeout: 2 * time.Second})
		done := make(chan error)
		go func() { _, err := c.GetDatabase(bg, "db"); done <- err }()
		time.Sleep(100 * time.Millisecond) // the first call holds the only connection
		ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
		defer cancel()
		_, err := c.GetDatabase(ctx, "db")
		if errs.KindOf(err) != errs.KindUnavailable || !strings.Contains(err.Error(), "busy") {
			t.Fatalf("second call: %v, want unavailable, all connections busy", err)
		}
		if err := <-done; errs.KindOf(err) != errs.KindUnavailable {
			t.Fatalf("first call: %v", err)
		}
	})
	t.Run("reuse", func(t *testing.T) {
		p := startPeer(t, nil)
		c := newClient(t, Config{Address: p.addr, MaxConns: 3})
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 25; j++ {
					if _, err := c.ListDatabases(bg); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if d := c.dials.Load(); d > 3 {
			t.Errorf("200 calls from 8 goroutines dialled %d connections, want at most MaxConns=3", d)
		}
		if peak := c.peakOpen.Load(); peak > 3 {
			t.Errorf("%d connections open at once, want at most MaxConns=3", peak)
		}
		c.mu.Lock()
		open, idle := c.open, len(c.idle)
		c.mu.Unlock()
		if open > 3 || idle > 3 || open != idle {
			t.Errorf("after the calls: %d open, %d idle", open, idle)
		}
	})
}

// TestUpstreamRestart: the upstream dies in the middle of use and comes back on the same
// address; the pool drops the dead connections and recovers without any restart on our side.
func TestUpstreamRestart(t *testing.T) {
	p := startPeer(t, nil)
	c := newClient(t, Config{Address: p.addr, MaxConns: 4, CallTimeout: 2 * time.Second, HealthInterval: -1})
	if err := c.CreateDatabase(bg, &hm.Database{Name: "kept", LocationUri: p.warehouse + "/kept.db"}); err != nil {
		t.Fatal(err)
	}
	// Fill the pool with idle connections.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.ListDatabases(bg) }()
	}
	wg.Wait()

	p.kill()
	for i := 0; i < 3; i++ {
		_, err := c.GetDatabase(bg, "kept")
		if errs.KindOf(err) != errs.KindUnavailable {
			t.Fatalf("while down: kind %v (%v), want unavailable", errs.KindOf(err), err)
		}
	}
	p.restart()
	for i := 0; i < 10; i++ {
		if _, err := c.GetDatabase(bg, "kept"); err != nil {
			t.Fatalf("call %d after restart: %v", i, err)
		}
	}
}

// TestHealthCheck: idle connections the upstream closed are dropped by the health check
// before a call meets them.
func TestHealthCheck(t *testing.T) {
	p := startPeer(t, nil)
	c := newClient(t, Config{Address: p.addr, MaxConns: 2, HealthInterval: 50 * time.Millisecond})
	if err := c.Ping(bg); err != nil {
		t.Fatal(err)
	}
	p.kill()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		idle := len(c.idle)
		c.mu.Unlock()
		if idle == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dead idle connections still pooled", idle)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.restart()
	if err := c.Ping(bg); err != nil {
		t.Fatal(err)
	}
}

// TestImpersonation: with Impersonate, each connection gets set_ugi with the session's user
// before its first call for that user, once (Hive refuses a second set_ugi on a connection),
// and a connection bound to one user never serves another.
func TestImpersonation(t *testing.T) {
	setUGI, getDB := &recorder{}, &recorder{}
	p := startPeer(t, func(proc athrift.TProcessor) {
		m := proc.ProcessorMap()
		setUGI.next, getDB.next = m["set_ugi"], m["get_database"]
		proc.AddToProcessorMap("set_ugi", setUGI)
		proc.AddToProcessorMap("get_database", getDB)
	})
	c := newClient(t, Config{Address: p.addr, MaxConns: 2, IdleConns: 2, Impersonate: true})
	as := func(user string, groups ...string) context.Context {
		if user == "" {
			return bg
		}
		s := &pthrift.Session{}
		s.SetIdentity(pthrift.Identity{User: user, Groups: groups, Source: "sasl"})
		return pthrift.WithSession(bg, s)
	}
	for _, user := range []string{"alice", "alice", "bob", "", "alice", "bob", "carol", ""} {
		if _, err := c.GetDatabase(as(user, "analysts"), "default"); err != nil {
			t.Fatalf("as %q: %v", user, err)
		}
		got := getDB.calls()
		if last := got[len(got)-1]; last.user != user {
			t.Fatalf("get_database for %q ran on a connection of user %q", user, last.user)
		}
	}
	perSession := map[uint64]int{}
	var users []string
	for _, sc := range setUGI.calls() {
		perSession[sc.session]++
		users = append(users, sc.user)
	}
	for s, n := range perSession {
		if n != 1 {
			t.Errorf("session %d got set_ugi %d times", s, n)
		}
	}
	// The second alice call reuses alice's connection; the anonymous call evicts alice's (least
	// recently used) rather than borrow bob's; alice then binds the anonymous one.
	if want := []string{"alice", "bob", "alice", "carol"}; !reflect.DeepEqual(users, want) {
		t.Errorf("set_ugi calls %v, want %v", users, want)
	}

	t.Run("off", func(t *testing.T) {
		before := len(setUGI.calls())
		c := newClient(t, Config{Address: p.addr})
		if _, err := c.GetDatabase(as("alice"), "default"); err != nil {
			t.Fatal(err)
		}
		if n := len(setUGI.calls()); n != before {
			t.Errorf("set_ugi called without Impersonate")
		}
	})
}

// TestArgumentsUntouched: the client never modifies what it is given, even where the upstream
// needs a field changed (partitions naming another table, statistics without an engine).
func TestArgumentsUntouched(t *testing.T) {
	p := startPeer(t, nil)
	c := newClient(t, Config{Address: p.addr})
	root := p.warehouse
	if err := c.CreateDatabase(bg, &hm.Database{Name: "d", LocationUri: root + "/d.db"}); err != nil {
		t.Fatal(err)
	}
	tbl := salesTable("d", "t", root+"/d.db/t")
	if err := c.CreateTable(bg, tbl); err != nil {
		t.Fatal(err)
	}
	part := partition("", "", root+"/d.db/t", "us", "1") // no db/table: the client fills them in a copy
	before := *part
	if _, err := c.AddPartitions(bg, "d", "t", []*hm.Partition{part}, false); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*part, before) {
		t.Errorf("AddPartitions modified its argument: %+v", part)
	}
	st := longStats("d", "t", "", "id", 5)
	if err := c.UpdateColumnStatistics(bg, st); err != nil {
		t.Fatal(err)
	}
	if st.Engine != nil {
		t.Errorf("UpdateColumnStatistics set Engine on its argument")
	}
}

// TestErrorKinds: each Hive exception the upstream may answer becomes its kind, with the
// upstream's message; MetaException keeps its message and names the backend.
func TestErrorKinds(t *testing.T) {
	c := &Client{cfg: Config{Name: "legacy", Address: "x:1"}}
	cases := []struct {
		err  error
		kind errs.Kind
		msg  string
	}{
		{&hm.NoSuchObjectException{Message: "no t"}, errs.KindNotFound, "no t"},
		{&hm.UnknownDBException{Message: "no db"}, errs.KindNotFound, "no db"},
		{&hm.UnknownTableException{Message: "no tbl"}, errs.KindNotFound, "no tbl"},
		{&hm.NoSuchLockException{Message: "no lock"}, errs.KindNotFound, "no lock"},
		{&hm.NoSuchTxnException{Message: "no txn"}, errs.KindNotFound, "no txn"},
		{&hm.AlreadyExistsException{Message: "dup"}, errs.KindExists, "dup"},
		{&hm.InvalidObjectException{Message: "bad"}, errs.KindInvalid, "bad"},
		{&hm.InvalidInputException{Message: "bad input"}, errs.KindInvalid, "bad input"},
		{&hm.InvalidPartitionException{Message: "bad part"}, errs.KindInvalid, "bad part"},
		{&hm.InvalidOperationException{Message: "not empty"}, errs.KindConflict, "not empty"},
		{&hm.TxnAbortedException{Message: "aborted"}, errs.KindConflict, "aborted"},
		{&hm.MetaException{Message: "disk full"}, errs.KindUnknown, `backend "legacy": disk full`},
		{athrift.NewTApplicationException(athrift.INTERNAL_ERROR, "NPE"), errs.KindUnknown, `backend "legacy": get_table failed: NPE`},
	}
	for _, tc := range cases {
		got := c.translate("get_table", tc.err)
		if errs.KindOf(got) != tc.kind || got.Error() != tc.msg {
			t.Errorf("%T: kind %v %q, want %v %q", tc.err, errs.KindOf(got), got.Error(), tc.kind, tc.msg)
		}
		if !keepConn(tc.err) {
			t.Errorf("%T: connection dropped after a complete answer", tc.err)
		}
	}
	for _, typ := range []int32{athrift.WRONG_METHOD_NAME, athrift.BAD_SEQUENCE_ID, athrift.INVALID_MESSAGE_TYPE_EXCEPTION} {
		if keepConn(athrift.NewTApplicationException(typ, "x")) {
			t.Errorf("type %d: connection kept after the client lost step", typ)
		}
	}
}

// TestHealthCheckKeepsLiveConnections: a healthy idle connection survives many health checks
// (an expired deadline from its last call must not count as a failure).
func TestHealthCheckKeepsLiveConnections(t *testing.T) {
	p := startPeer(t, nil)
	c := newClient(t, Config{Address: p.addr, MaxConns: 2, HealthInterval: 20 * time.Millisecond, CallTimeout: 50 * time.Millisecond})
	if err := c.Ping(bg); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	first := c.idle[0]
	c.mu.Unlock()
	time.Sleep(300 * time.Millisecond) // the call's deadline expired; ~15 checks ran
	// A check holds the connection out of the idle list for a moment: look until it is back.
	for i := 0; i < 200; i++ {
		c.mu.Lock()
		idle := append([]*conn(nil), c.idle...)
		c.mu.Unlock()
		if len(idle) == 1 {
			if idle[0] != first {
				t.Fatal("a live idle connection was dropped by the health check and replaced")
			}
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("a live idle connection was dropped by the health check")
}
