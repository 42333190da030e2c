package flight

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestBasicAuth(t *testing.T) {
	var skew atomic.Int64 // seconds added to the servers' clock
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load()) * time.Second) }
	f := startFleet(t, 2, func(c *Config) {
		c.TrustAssertedIdentity = false
		c.Authenticator = passwords{"carol": "s3cret"}
		c.BearerKey = []byte("0123456789abcdef0123456789abcdef")
		c.BearerTTL = time.Minute
		c.Now = now
	})
	c0, c1 := dial(t, f.addrs[0]), dial(t, f.addrs[1])
	bg := context.Background()

	ctx, err := c0.AuthenticateBasicToken(bg, "carol", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	// The bearer one worker issued is good on every worker of the fleet.
	info, err := c1.GetFlightInfo(ctx, pathDesc("sales", "customers"))
	if err != nil {
		t.Fatal(err)
	}
	if rows, _ := f.readAll(ctx, t, info); len(rows) != 24 {
		t.Errorf("%d rows", len(rows))
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	bearer := md.Get("authorization")[0]

	for _, tc := range []struct {
		name string
		auth string
	}{
		{"tampered", bearer[:len(bearer)-2] + "AA"},
		{"payload swapped", "Bearer " + swapPayload(bearer)},
		{"not a token", "Bearer nonsense"},
	} {
		_, err := c0.GetFlightInfo(metadata.AppendToOutgoingContext(bg, "authorization", tc.auth), pathDesc("sales", "customers"))
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: %v, want Unauthenticated", tc.name, err)
		}
	}
	if _, err := c0.AuthenticateBasicToken(bg, "carol", "wrong"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := c0.AuthenticateBasicToken(bg, "nobody", "s3cret"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("unknown user: %v", err)
	}
	hs, err := c0.Handshake(bg)
	if err == nil {
		_, err = hs.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("Handshake without credentials: %v", err)
	}
	// A bearer and an asserted identity together are refused, not merged.
	both := metadata.AppendToOutgoingContext(ctx, HeaderUser, "admin")
	if _, err := c0.GetFlightInfo(both, pathDesc("acl", "secret")); status.Code(err) != codes.Unauthenticated {
		t.Errorf("bearer plus asserted user: %v", err)
	}
	skew.Store(61)
	if _, err := c0.GetFlightInfo(ctx, pathDesc("sales", "customers")); status.Code(err) != codes.Unauthenticated {
		t.Errorf("expired bearer: %v", err)
	}
}

// swapPayload keeps the signature of bearer but claims to be admin.
func swapPayload(bearer string) string {
	_, sig, _ := strings.Cut(strings.TrimPrefix(bearer, "Bearer "), ".")
	return b64.EncodeToString([]byte(`{"u":"admin","exp":99999999999}`)) + "." + sig
}

func TestParseBasic(t *testing.T) {
	for _, tc := range []struct {
		in, user, pw string
		ok           bool
	}{
		{"Basic Y2Fyb2w6czNjcmV0", "carol", "s3cret", true},
		{"basic Y2Fyb2w6czNjcmV0", "carol", "s3cret", true},
		{"Basic YTpiOmM=", "a", "b:c", true},
		{"Basic YTpiOmM", "a", "b:c", true},
		{"Basic !!!", "", "", false},
		{"Basic Y2Fyb2w=", "", "", false},
		{"Bearer x", "", "", false},
	} {
		u, p, ok := parseBasic(tc.in)
		if ok != tc.ok || (ok && (u != tc.user || p != tc.pw)) {
			t.Errorf("parseBasic(%q) = %q, %q, %v", tc.in, u, p, ok)
		}
	}
}

func TestParseDescriptor(t *testing.T) {
	path := func(p ...string) *flight.FlightDescriptor {
		return &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: p}
	}
	for _, tc := range []struct {
		name string
		d    *flight.FlightDescriptor
		want target
		ok   bool
	}{
		{"path", path("db", "t"), target{DB: "db", Table: "t"}, true},
		{"path case", path("DB", "T"), target{DB: "db", Table: "t"}, true},
		{"path short", path("t"), target{}, false},
		{"path long", path("c", "db", "t"), target{}, false},
		{"path empty", path("db", ""), target{}, false},
		{"path dot", path("db", "a.b"), target{}, false},
		{"path slash", path("db", "../t"), target{}, false},
		{"path long name", path("db", strings.Repeat("t", 300)), target{}, false},
		{"json", cmdDesc(`{"table":"db.t"}`), target{DB: "db", Table: "t"}, true},
		{"json no dot", cmdDesc(`{"table":"t"}`), target{}, false},
		{"json two dots", cmdDesc(`{"table":"a.b.c"}`), target{}, false},
		{"json token", cmdDesc(`{"token":"abc.def"}`), target{Token: "abc.def"}, true},
		{"json both", cmdDesc(`{"table":"db.t","token":"x"}`), target{}, false},
		{"json unknown field", cmdDesc(`{"table":"db.t","user":"admin"}`), target{}, false},
		{"json empty", cmdDesc(`{}`), target{}, false},
		{"json broken", cmdDesc(`{"table":`), target{}, false},
		{"json trailing", cmdDesc(`{"table":"db.t"} x`), target{}, false},
		{"token", cmdDesc("eyJhbGc.eyJ1.c2ln"), target{Token: "eyJhbGc.eyJ1.c2ln"}, true},
		{"token spaces", cmdDesc("  abc\n"), target{Token: "abc"}, true},
		{"token inner space", cmdDesc("ab c"), target{}, false},
		{"token binary", cmdDesc("ab\x00c"), target{}, false},
		{"token huge", cmdDesc(strings.Repeat("a", maxTokenLen+1)), target{}, false},
		{"empty cmd", cmdDesc(" "), target{}, false},
		{"nil", nil, target{}, false},
		{"unknown type", &flight.FlightDescriptor{Type: flight.DescriptorUNKNOWN}, target{}, false},
	} {
		got, err := parseDescriptor(tc.d)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: %+v, %v", tc.name, got, err)
		}
	}
}
