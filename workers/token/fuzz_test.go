package token

import (
	"strings"
	"testing"
	"time"

	"github.com/propolis/propolis/internal/errs"
)

// FuzzVerify: the first segment of every S3 key a worker serves is a token, so any string must
// verify or be denied, never panic; and only a token the signer issued verifies.
func FuzzVerify(f *testing.F) {
	s, err := NewSigner([]Key{{ID: "k1", Secret: []byte(strings.Repeat("s", 32))}})
	if err != nil {
		f.Fatal(err)
	}
	good, err := s.Issue(Claims{User: "alice", DB: "sales", Table: "orders", Version: 3, Parts: "dt=2024-01-01"}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{good, good[:len(good)-2] + "AA", "k1..", "..", "k1.e30.", "x", strings.Repeat("k1.", 2000)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(tok)
		if err != nil {
			if errs.KindOf(err) != errs.KindDenied {
				t.Fatalf("Verify(%q): kind %v", tok, errs.KindOf(err))
			}
			return
		}
		if c.User == "" || c.DB == "" || c.Table == "" {
			t.Fatalf("Verify(%q) accepted claims %+v", tok, c)
		}
	})
}
