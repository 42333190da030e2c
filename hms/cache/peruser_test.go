package cache

import (
	"context"
	"testing"

	pthrift "github.com/propolis/propolis/thrift"
)

func as(user string) context.Context {
	s := &pthrift.Session{}
	s.SetIdentity(pthrift.Identity{User: user, Source: "set_ugi"})
	return pthrift.WithSession(ctx, s)
}

func TestPerUser(t *testing.T) {
	for _, tc := range []struct {
		name    string
		perUser bool
		calls   int // backend calls for alice, bob, alice
	}{{"shared", false, 1}, {"per user", true, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{PerUser: tc.perUser})
			seed(t, e.store, 1)
			for _, u := range []string{"alice", "bob", "alice"} {
				_, err := e.c.GetTable(as(u), "sales", "orders")
				must(t, err)
			}
			if n := e.count.n("GetTable"); n != tc.calls {
				t.Fatalf("%d backend calls, want %d", n, tc.calls)
			}
			// a write drops every user's entries
			must(t, e.c.DropTable(ctx, "sales", "orders", false))
			for _, u := range []string{"alice", "bob"} {
				if _, err := e.c.GetTable(as(u), "sales", "orders"); err == nil {
					t.Fatalf("%s still sees the dropped table", u)
				}
			}
		})
	}
}
