package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/propolis/propolis/internal/errs"
)

// Claims is what a token grants. Names are as the caller sees them through the metastore
// (after federation mapping), lower-case.
type Claims struct {
	User    string   `json:"u"`
	Groups  []string `json:"g,omitempty"`
	Profile string   `json:"p,omitempty"`
	DB      string   `json:"d"`
	Table   string   `json:"t"`
	Version int64    `json:"v"` // policy version the decision came from
	// Parts is the partition set: "" for every partition of the table the caller may read, or
	// one partition name (k1=v1/k2=v2) for a token scoped to that partition.
	Parts   string `json:"ps,omitempty"`
	Issued  int64  `json:"iat"`
	Expires int64  `json:"exp"`
}

// Object is the table the claims are about, as db.table.
func (c Claims) Object() string { return c.DB + "." + c.Table }

// Key is one signing key.
type Key struct {
	ID     string
	Secret []byte
}

// MinSecret is the shortest secret accepted: 256 bits.
const MinSecret = 32

var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Signer signs and verifies tokens. The first key signs; every key verifies.
type Signer struct {
	keys []Key
	now  func() time.Time
}

// NewSigner builds a Signer from at least one key.
func NewSigner(keys []Key) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errs.Invalid("worker tokens: no signing key")
	}
	seen := map[string]bool{}
	out := make([]Key, 0, len(keys))
	for _, k := range keys {
		switch {
		case !keyID.MatchString(k.ID):
			return nil, errs.Invalid("worker tokens: key id %q must be 1-32 letters, digits, - or _", k.ID)
		case seen[k.ID]:
			return nil, errs.Invalid("worker tokens: key id %q is used twice", k.ID)
		case len(k.Secret) < MinSecret:
			return nil, errs.Invalid("worker tokens: key %q is %d bytes; at least %d are needed", k.ID, len(k.Secret), MinSecret)
		}
		seen[k.ID] = true
		out = append(out, Key{ID: k.ID, Secret: slices.Clone(k.Secret)})
	}
	return &Signer{keys: out, now: time.Now}, nil
}

// WithClock returns a copy of s that reads time from now (tests).
func (s *Signer) WithClock(now func() time.Time) *Signer {
	c := *s
	c.now = now
	return &c
}

var b64 = base64.RawURLEncoding

// Issue signs c, valid for ttl from now. The token is URL- and S3-key-safe:
// <key id>.<base64url claims>.<base64url signature>.
func (s *Signer) Issue(c Claims, ttl time.Duration) (string, error) {
	if c.User == "" || c.DB == "" || c.Table == "" {
		return "", errs.Invalid("worker token needs a user, a database and a table")
	}
	if ttl <= 0 {
		return "", errs.Invalid("worker token lifetime must be positive, not %s", ttl)
	}
	now := s.now()
	c.Issued = now.Unix()
	c.Expires = now.Add(ttl).Unix()
	body, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encoding worker token: %w", err)
	}
	k := s.keys[0]
	payload := k.ID + "." + b64.EncodeToString(body)
	return payload + "." + b64.EncodeToString(sign(k.Secret, payload)), nil
}

func sign(secret []byte, payload string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// MaxLen bounds what Verify looks at, so a hostile request cannot make it hash megabytes.
const MaxLen = 4096

// Verify checks tok's signature and lifetime and returns its claims. Every failure is
// errs.Denied with a reason that names no secret.
func (s *Signer) Verify(tok string) (Claims, error) {
	var c Claims
	if tok == "" {
		return c, errs.Denied("no worker token")
	}
	if len(tok) > MaxLen {
		return c, errs.Denied("worker token is %d bytes, more than %d", len(tok), MaxLen)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, errs.Denied("malformed worker token")
	}
	idx := slices.IndexFunc(s.keys, func(k Key) bool { return k.ID == parts[0] })
	if idx < 0 {
		return c, errs.Denied("worker token signed with unknown key %q", parts[0])
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, sign(s.keys[idx].Secret, parts[0]+"."+parts[1])) {
		return c, errs.Denied("worker token signature does not match")
	}
	body, err := b64.DecodeString(parts[1])
	if err != nil {
		return c, errs.Denied("malformed worker token claims")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Claims{}, errs.Denied("malformed worker token claims: %v", err)
	}
	now := s.now().Unix()
	switch {
	case c.User == "" || c.DB == "" || c.Table == "":
		return Claims{}, errs.Denied("worker token names no user or table")
	case now >= c.Expires:
		return Claims{}, errs.Denied("worker token for %s expired at %s; read the table's metadata again for a new one", c.Object(), time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	case c.Issued > now+60:
		return Claims{}, errs.Denied("worker token issued in the future")
	}
	return c, nil
}

// CheckTable refuses claims that are not about db.table (a token replayed for another table).
func (c Claims) CheckTable(db, table string) error {
	if !strings.EqualFold(c.DB, db) || !strings.EqualFold(c.Table, table) {
		return errs.Denied("worker token is for %s, not %s.%s", c.Object(), strings.ToLower(db), strings.ToLower(table))
	}
	return nil
}
