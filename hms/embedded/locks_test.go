package embedded

import (
	"context"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

func lockReq(comps ...*hm.LockComponent) *hm.LockRequest {
	return &hm.LockRequest{Component: comps, User: "alice", Hostname: "h1", AgentInfo: "test"}
}

func dbLock(typ hm.LockType, db string) *hm.LockComponent {
	return &hm.LockComponent{Type: typ, Level: hm.LockLevel_DB, Dbname: db}
}

func tblLock(typ hm.LockType, db, tbl string) *hm.LockComponent {
	return &hm.LockComponent{Type: typ, Level: hm.LockLevel_TABLE, Dbname: db, Tablename: &tbl}
}

func partLock(typ hm.LockType, db, tbl, part string) *hm.LockComponent {
	return &hm.LockComponent{Type: typ, Level: hm.LockLevel_PARTITION, Dbname: db, Tablename: &tbl, Partitionname: &part}
}

const (
	excl  = hm.LockType_EXCLUSIVE
	read  = hm.LockType_SHARED_READ
	write = hm.LockType_SHARED_WRITE
	exclW = hm.LockType_EXCL_WRITE
)

func testLocks(t *testing.T, s *Store) {
	ctx := context.Background()
	lock := func(t *testing.T, req *hm.LockRequest) *hm.LockResponse {
		t.Helper()
		r, err := s.Lock(ctx, req)
		must(t, err)
		return r
	}

	// Compatibility: a first lock held, a second requested on an overlapping resource.
	for _, tc := range []struct {
		name        string
		held, asked *hm.LockComponent
		want        hm.LockState
	}{
		{"excl vs excl", tblLock(excl, "db", "t"), tblLock(excl, "db", "t"), hm.LockState_WAITING},
		{"read vs read", tblLock(read, "db", "t"), tblLock(read, "db", "t"), hm.LockState_ACQUIRED},
		{"read vs write", tblLock(read, "db", "t"), tblLock(write, "db", "t"), hm.LockState_ACQUIRED},
		{"write vs write", tblLock(write, "db", "t"), tblLock(write, "db", "t"), hm.LockState_WAITING},
		{"write vs excl_write", tblLock(write, "db", "t"), tblLock(exclW, "db", "t"), hm.LockState_WAITING},
		{"excl_write vs read", tblLock(exclW, "db", "t"), tblLock(read, "db", "t"), hm.LockState_ACQUIRED},
		{"read vs excl", tblLock(read, "db", "t"), tblLock(excl, "db", "t"), hm.LockState_WAITING},
		{"other table", tblLock(excl, "db", "t"), tblLock(excl, "db", "u"), hm.LockState_ACQUIRED},
		{"other db", dbLock(excl, "db"), dbLock(excl, "db2"), hm.LockState_ACQUIRED},
		{"db over table", dbLock(excl, "db"), tblLock(read, "DB", "t"), hm.LockState_WAITING},
		{"table over db", tblLock(write, "db", "t"), dbLock(excl, "db"), hm.LockState_WAITING},
		{"table over partition", tblLock(excl, "db", "t"), partLock(read, "db", "t", "dt=1"), hm.LockState_WAITING},
		{"other partitions", partLock(excl, "db", "t", "dt=1"), partLock(excl, "db", "t", "dt=2"), hm.LockState_ACQUIRED},
		{"same partition", partLock(write, "db", "t", "dt=1"), partLock(excl, "db", "t", "dt=1"), hm.LockState_WAITING},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := lock(t, lockReq(tc.held))
			if first.State != hm.LockState_ACQUIRED {
				t.Fatalf("first lock %v", first.State)
			}
			second := lock(t, lockReq(tc.asked))
			if second.State != tc.want {
				t.Fatalf("second lock = %v, want %v", second.State, tc.want)
			}
			must(t, s.Unlock(ctx, first.Lockid))
			if tc.want == hm.LockState_WAITING {
				r, err := s.CheckLock(ctx, second.Lockid)
				must(t, err)
				if r.State != hm.LockState_ACQUIRED {
					t.Fatalf("after unlock: %v", r.State)
				}
			}
			must(t, s.Unlock(ctx, second.Lockid))
		})
	}

	t.Run("queue", func(t *testing.T) {
		a := lock(t, lockReq(tblLock(read, "db", "q")))
		b := lock(t, lockReq(tblLock(excl, "db", "q")))
		// A reader compatible with the holder still queues behind the waiting writer.
		c := lock(t, lockReq(tblLock(read, "db", "q")))
		if b.State != hm.LockState_WAITING || c.State != hm.LockState_WAITING {
			t.Fatalf("b %v c %v, want both waiting", b.State, c.State)
		}
		must(t, s.Unlock(ctx, a.Lockid))
		if r, _ := s.CheckLock(ctx, c.Lockid); r.State != hm.LockState_WAITING {
			t.Fatalf("c jumped the queue")
		}
		if r, _ := s.CheckLock(ctx, b.Lockid); r.State != hm.LockState_ACQUIRED {
			t.Fatalf("b not acquired")
		}
		must(t, s.Unlock(ctx, b.Lockid))
		if r, _ := s.CheckLock(ctx, c.Lockid); r.State != hm.LockState_ACQUIRED {
			t.Fatalf("c not acquired")
		}
		must(t, s.Unlock(ctx, c.Lockid))
	})

	t.Run("multi component", func(t *testing.T) {
		a := lock(t, lockReq(tblLock(read, "db", "m1"), tblLock(write, "db", "m2"), partLock(read, "db", "m3", "p=1")))
		if a.State != hm.LockState_ACQUIRED {
			t.Fatal(a.State)
		}
		sl, err := s.ShowLocks(ctx, &hm.ShowLocksRequest{Dbname: strp("db"), Tablename: strp("m2")})
		must(t, err)
		if len(sl.Locks) != 1 || sl.Locks[0].Lockid != a.Lockid || sl.Locks[0].Type != write ||
			sl.Locks[0].State != hm.LockState_ACQUIRED || sl.Locks[0].User != "alice" || sl.Locks[0].GetAcquiredat() == 0 {
			t.Fatalf("ShowLocks = %+v", sl.Locks)
		}
		all, err := s.ShowLocks(ctx, &hm.ShowLocksRequest{})
		must(t, err)
		if len(all.Locks) != 3 {
			t.Fatalf("ShowLocks all = %d", len(all.Locks))
		}
		must(t, s.Heartbeat(ctx, a.Lockid))
		must(t, s.Unlock(ctx, a.Lockid))
	})

	t.Run("errors", func(t *testing.T) {
		wantKind(t, s.Unlock(ctx, 99999), errs.KindNotFound)
		wantKind(t, s.Heartbeat(ctx, 99999), errs.KindNotFound)
		_, err := s.CheckLock(ctx, 99999)
		wantKind(t, err, errs.KindNotFound)
		for _, req := range []*hm.LockRequest{
			nil, lockReq(), lockReq(dbLock(excl, "")), lockReq(&hm.LockComponent{Type: excl, Level: hm.LockLevel_TABLE, Dbname: "db"}),
			lockReq(&hm.LockComponent{Type: 42, Level: hm.LockLevel_DB, Dbname: "db"}),
		} {
			_, err := s.Lock(ctx, req)
			wantKind(t, err, errs.KindInvalid)
		}
	})
}

func strp(s string) *string { return &s }

func TestLockExpiry(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.fresh(t)(t, Config{LockTimeout: time.Hour})
			now := time.Now()
			s.now = func() time.Time { return now }
			a, err := s.Lock(ctx, lockReq(tblLock(excl, "db", "t")))
			must(t, err)
			kept, err := s.Lock(ctx, lockReq(tblLock(excl, "db", "kept")))
			must(t, err)
			w, err := s.Lock(ctx, lockReq(tblLock(excl, "db", "t")))
			must(t, err)
			if w.State != hm.LockState_WAITING {
				t.Fatal(w.State)
			}
			now = now.Add(40 * time.Minute)
			must(t, s.Heartbeat(ctx, kept.Lockid))
			r, err := s.CheckLock(ctx, w.Lockid) // heartbeats w too
			must(t, err)
			if r.State != hm.LockState_WAITING {
				t.Fatal("acquired before the holder expired")
			}
			now = now.Add(30 * time.Minute) // a: 70 minutes silent; kept and w: 30
			r, err = s.CheckLock(ctx, w.Lockid)
			must(t, err)
			if r.State != hm.LockState_ACQUIRED {
				t.Fatalf("after expiry: %v", r.State)
			}
			wantKind(t, s.Unlock(ctx, a.Lockid), errs.KindNotFound)
			must(t, s.Unlock(ctx, kept.Lockid))
		})
	}
}

// TestLockExpiryRealTime uses the wall clock and a short timeout, as a deployment would.
func TestLockExpiryRealTime(t *testing.T) {
	ctx := context.Background()
	s := freshSQLite(t)(t, Config{LockTimeout: 300 * time.Millisecond})
	a, err := s.Lock(ctx, lockReq(dbLock(excl, "db")))
	must(t, err)
	w, err := s.Lock(ctx, lockReq(tblLock(read, "db", "t")))
	must(t, err)
	if w.State != hm.LockState_WAITING {
		t.Fatal(w.State)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := s.CheckLock(ctx, w.Lockid)
		must(t, err)
		if r.State == hm.LockState_ACQUIRED {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("expired lock never released")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err = s.CheckLock(ctx, a.Lockid)
	wantKind(t, err, errs.KindNotFound)
}
