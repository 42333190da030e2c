package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy"
)

type opener func(t *testing.T) *Store

func sqliteOpener(t *testing.T) opener {
	path := filepath.Join(t.TempDir(), "catalog.db")
	return func(t *testing.T) *Store {
		s, err := Open(context.Background(), "sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

var mysqlSeq atomic.Int64

func mysqlOpener(t *testing.T) opener {
	dsn := os.Getenv("PROPOLIS_TEST_MYSQL_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PROPOLIS_TEST_MYSQL_DSN not set: .ci/run must start MariaDB")
		}
		t.Skip("MariaDB not available: set PROPOLIS_TEST_MYSQL_DSN (make mariadb starts one)")
	}
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("PROPOLIS_TEST_MYSQL_DSN: %v", err)
	}
	name := fmt.Sprintf("propolis_pol_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, mysqlSeq.Add(1))
	admin := *c
	admin.DBName = ""
	db, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		db.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db.Exec("DROP DATABASE IF EXISTS " + name) //nolint:errcheck // best effort
		db.Close()
	})
	c.DBName = name
	own := c.FormatDSN()
	return func(t *testing.T) *Store {
		s, err := Open(context.Background(), "mysql", own)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func backends(t *testing.T, fn func(t *testing.T, open opener)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, sqliteOpener(t)) })
	t.Run("mysql", func(t *testing.T) { fn(t, mysqlOpener(t)) })
}

const (
	v1 = "grants:\n  - {to: [\"*\"], privileges: [select], on: \"public.*\"}\n"
	v2 = "grants:\n  - {to: [\"*\"], privileges: [select], on: \"sales.*\"}\n"
)

func TestApplyLatestGet(t *testing.T) {
	backends(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		s := open(t)
		if _, _, err := s.Latest(ctx); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("Latest on empty store: %v, want not found", err)
		}
		if _, err := s.Apply(ctx, []byte("grants: [{to: [bob], privileges: [select], on: x.*}]"), "ann"); !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("Apply of an invalid policy: %v, want invalid", err)
		}
		if _, _, err := s.Latest(ctx); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("an invalid policy was stored: %v", err)
		}
		for i, c := range []struct {
			body string
			want int64
		}{{v1, 1}, {v2, 2}, {v2, 2}, {v1, 3}} {
			v, err := s.Apply(ctx, []byte(c.body), "ann")
			if err != nil || v != c.want {
				t.Fatalf("Apply #%d: %d, %v; want %d", i, v, err, c.want)
			}
		}
		v, body, err := s.Latest(ctx)
		if err != nil || v != 3 || string(body) != v1 {
			t.Fatalf("Latest: %d %q %v", v, body, err)
		}
		g, err := s.Get(ctx, 2)
		if err != nil || string(g.Body) != v2 || g.Author != "ann" || time.Since(g.AppliedAt) > time.Minute {
			t.Fatalf("Get(2): %+v %v", g, err)
		}
		if _, err := s.Get(ctx, 9); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("Get(9): %v", err)
		}
		h, err := s.History(ctx, 2)
		if err != nil || len(h) != 2 || h[0].Version != 3 || h[1].Version != 2 {
			t.Fatalf("History: %+v %v", h, err)
		}
		p, err := s.Load(ctx)
		if err != nil || p.Version() != 3 || !p.TableVisible(policy.Principal{User: "x"}, "public", "t") {
			t.Fatalf("Load: %v %v", p, err)
		}
		// A second handle (another replica) sees the same history.
		s2 := open(t)
		if v, _, err := s2.Latest(ctx); err != nil || v != 3 {
			t.Fatalf("second handle: %d %v", v, err)
		}
	})
}

func TestConcurrentApply(t *testing.T) {
	backends(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		a, b := open(t), open(t)
		var wg sync.WaitGroup
		versions := make(chan int64, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				s := a
				if i%2 == 1 {
					s = b
				}
				body := fmt.Sprintf("grants:\n  - {to: [\"user:u%d\"], privileges: [select], on: \"db.*\"}\n", i)
				v, err := s.Apply(ctx, []byte(body), "bot")
				if err != nil {
					t.Error(err)
					return
				}
				versions <- v
			}(i)
		}
		wg.Wait()
		close(versions)
		seen := map[int64]bool{}
		for v := range versions {
			if seen[v] {
				t.Errorf("version %d handed out twice", v)
			}
			seen[v] = true
		}
		if v, _, err := a.Latest(ctx); err != nil || v != 20 {
			t.Errorf("Latest after 20 applies: %d %v", v, err)
		}
	})
}

// TestWatch: reloads on a new version, keeps the policy in force when a stored body stops
// parsing, and reports nil (deny all) when nothing usable was ever loaded.
func TestWatch(t *testing.T) {
	backends(t, func(t *testing.T, open opener) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := open(t)
		got := make(chan *policy.Policy, 10)
		done := make(chan struct{})
		go func() {
			s.Watch(ctx, 10*time.Millisecond, func(p *policy.Policy) { got <- p })
			close(done)
		}()
		next := func() *policy.Policy {
			t.Helper()
			select {
			case p := <-got:
				return p
			case <-time.After(5 * time.Second):
				t.Fatal("Watch did not call back")
				return nil
			}
		}
		if p := next(); p != nil {
			t.Fatalf("empty store: %v, want nil (deny all)", p)
		}
		if _, err := s.Apply(ctx, []byte(v1), "ann"); err != nil {
			t.Fatal(err)
		}
		if p := next(); p == nil || p.Version() != 1 {
			t.Fatalf("after apply: %v", p)
		}
		// A body that no longer parses (written behind Apply's back): ignored.
		if _, err := s.db.ExecContext(ctx, `INSERT INTO propolis_policies (version, body, author, applied_at) VALUES (2, 'bogus: [', 'x', 0)`); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		select {
		case p := <-got:
			t.Fatalf("unparsable version delivered: %v", p)
		default:
		}
		if _, err := s.Apply(ctx, []byte(v2), "ann"); err != nil {
			t.Fatal(err)
		}
		if p := next(); p == nil || p.Version() != 3 || !p.TableVisible(policy.Principal{User: "x"}, "sales", "t") {
			t.Fatalf("after second apply: %v", p)
		}
		cancel()
		<-done
	})
}

func TestWatchBrokenOnly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := sqliteOpener(t)(t)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO propolis_policies (version, body, author, applied_at) VALUES (1, 'grants: 3', 'x', 0)`); err != nil {
		t.Fatal(err)
	}
	got := make(chan *policy.Policy, 10)
	go s.Watch(ctx, 10*time.Millisecond, func(p *policy.Policy) { got <- p })
	if p := <-got; p != nil {
		t.Fatalf("broken only version: %v, want nil", p)
	}
	time.Sleep(50 * time.Millisecond)
	if len(got) != 0 {
		t.Fatal("nil delivered more than once")
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ driver, dsn string }{{"oracle", "x"}, {"sqlite", ""}, {"mysql", "::bad"}} {
		if _, err := Open(ctx, c.driver, c.dsn); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Open(%s, %q): %v, want invalid", c.driver, c.dsn, err)
		}
	}
}
