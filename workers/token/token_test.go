package token

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/propolis/propolis/internal/errs"
)

var (
	k1 = Key{ID: "k1", Secret: []byte(strings.Repeat("a", 32))}
	k2 = Key{ID: "k2", Secret: []byte(strings.Repeat("b", 32))}
)

func TestNewSignerRefusesBadKeys(t *testing.T) {
	for name, keys := range map[string][]Key{
		"none":      nil,
		"short":     {{ID: "k", Secret: []byte("short")}},
		"bad id":    {{ID: "a.b", Secret: k1.Secret}},
		"duplicate": {k1, k1},
	} {
		if _, err := NewSigner(keys); errs.KindOf(err) != errs.KindInvalid {
			t.Errorf("%s: got %v, want an invalid-config error", name, err)
		}
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	s, err := NewSigner([]Key{k1, k2})
	if err != nil {
		t.Fatal(err)
	}
	s = s.WithClock(clock)
	claims := Claims{User: "alice", Groups: []string{"analysts"}, DB: "sales", Table: "customers", Version: 7}
	tok, err := s.Issue(claims, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(tok, "/+= ") {
		t.Fatalf("token %q is not path-safe", tok)
	}
	rotated, _ := NewSigner([]Key{k2, k1}) // k2 now signs; k1 tokens still verify
	onlyK2, _ := NewSigner([]Key{k2})
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	dot := strings.Index(tok, ".")
	cases := []struct {
		name   string
		signer *Signer
		tok    string
		at     time.Time
		ok     bool
	}{
		{"valid", s, tok, now, true},
		{"valid after rotation", rotated, tok, now, true},
		{"key retired", onlyK2, tok, now, false},
		{"expired", s, tok, now.Add(time.Hour), false},
		{"tampered claims", s, flip(tok, dot+5), now, false},
		{"tampered signature", s, flip(tok, len(tok)-3), now, false},
		{"key id swapped", s, "k2" + tok[dot:], now, false},
		{"truncated", s, tok[:len(tok)-10], now, false},
		{"empty", s, "", now, false},
		{"garbage", s, "a.b.c", now, false},
		{"huge", s, strings.Repeat("x", MaxLen+1), now, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			at := c.at
			got, err := c.signer.WithClock(func() time.Time { return at }).Verify(c.tok)
			if c.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got.User != "alice" || got.Object() != "sales.customers" || got.Version != 7 || got.Expires != now.Add(time.Hour).Unix() {
					t.Fatalf("claims = %+v", got)
				}
				return
			}
			if err == nil || !errors.Is(err, errs.ErrDenied) {
				t.Fatalf("Verify = %+v, %v; want denied", got, err)
			}
		})
	}
}

func TestCheckTable(t *testing.T) {
	c := Claims{User: "u", DB: "sales", Table: "customers"}
	if err := c.CheckTable("Sales", "CUSTOMERS"); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckTable("sales", "orders"); !errors.Is(err, errs.ErrDenied) {
		t.Fatalf("replay for another table: %v", err)
	}
}
