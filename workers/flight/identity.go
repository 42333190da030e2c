package flight

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
	"unicode"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Headers a trusted client uses to assert who it acts for (like the metastore's set_ugi).
const (
	HeaderUser   = "x-propolis-user"
	HeaderGroups = "x-propolis-groups"
)

const (
	authHeader   = "authorization"
	maxUserLen   = 256
	maxGroups    = 256
	bearerPrefix = "bearer "
	basicPrefix  = "basic "
)

// errNoUser is returned by calls that need to know who asks.
var errNoUser = status.Error(codes.Unauthenticated,
	"no user: send the "+HeaderUser+" header (to a worker that trusts asserted identities) or authenticate with the basic-auth Handshake")

// identity resolves the caller of a call from its metadata. A call carries at most one kind
// of credential; an asserted identity the server does not trust is refused rather than
// ignored, so a misconfigured client learns why instead of reading as somebody else.
func (s *Server) identity(ctx context.Context) (Caller, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if auth := md.Get(authHeader); len(auth) > 0 {
		v := strings.TrimSpace(auth[0])
		if len(v) < len(bearerPrefix) || !strings.EqualFold(v[:len(bearerPrefix)], bearerPrefix) {
			return Caller{}, status.Error(codes.Unauthenticated, "the authorization header must carry the bearer token the Handshake returned")
		}
		if len(md.Get(HeaderUser)) > 0 {
			return Caller{}, status.Error(codes.Unauthenticated, "a call carries a bearer token or "+HeaderUser+", not both")
		}
		return s.verifyBearer(strings.TrimSpace(v[len(bearerPrefix):]))
	}
	users := md.Get(HeaderUser)
	if len(users) == 0 {
		if len(md.Get(HeaderGroups)) > 0 {
			return Caller{}, status.Error(codes.Unauthenticated, HeaderGroups+" without "+HeaderUser)
		}
		return Caller{}, nil
	}
	if !s.cfg.TrustAssertedIdentity {
		return Caller{}, status.Error(codes.Unauthenticated, "this worker does not trust asserted identities ("+HeaderUser+"); authenticate with the Handshake")
	}
	if len(users) > 1 {
		return Caller{}, status.Error(codes.Unauthenticated, "more than one "+HeaderUser+" header")
	}
	c := Caller{User: strings.TrimSpace(users[0])}
	for _, g := range md.Get(HeaderGroups) {
		for _, g := range strings.Split(g, ",") {
			if g = strings.TrimSpace(g); g != "" {
				c.Groups = append(c.Groups, g)
			}
		}
	}
	if err := checkCaller(c); err != nil {
		return Caller{}, err
	}
	return c, nil
}

func checkCaller(c Caller) error {
	bad := func(n string) bool {
		return n == "" || len(n) > maxUserLen || strings.ContainsFunc(n, unicode.IsControl)
	}
	if bad(c.User) {
		return status.Errorf(codes.Unauthenticated, "bad user name: 1 to %d printable characters", maxUserLen)
	}
	if len(c.Groups) > maxGroups {
		return status.Errorf(codes.Unauthenticated, "more than %d groups", maxGroups)
	}
	for _, g := range c.Groups {
		if bad(g) {
			return status.Errorf(codes.Unauthenticated, "bad group name: 1 to %d printable characters", maxUserLen)
		}
	}
	return nil
}

// bearerClaims is what a bearer token carries. Tokens are signed with the fleet's shared key,
// so any worker accepts a token another worker issued and none keeps session state.
type bearerClaims struct {
	User    string   `json:"u"`
	Groups  []string `json:"g,omitempty"`
	Expires int64    `json:"exp"`
}

var b64 = base64.RawURLEncoding

func (s *Server) issueBearer(c Caller) (string, error) {
	payload, err := json.Marshal(bearerClaims{User: c.User, Groups: c.Groups, Expires: s.now().Add(s.cfg.BearerTTL).Unix()})
	if err != nil {
		return "", err
	}
	p := b64.EncodeToString(payload)
	return p + "." + b64.EncodeToString(s.sign(p)), nil
}

func (s *Server) sign(p string) []byte {
	m := hmac.New(sha256.New, s.cfg.BearerKey)
	m.Write([]byte("propolis-flight-bearer\x00"))
	m.Write([]byte(p))
	return m.Sum(nil)
}

func (s *Server) verifyBearer(tok string) (Caller, error) {
	refuse := status.Error(codes.Unauthenticated, "invalid or expired bearer token: authenticate again with the Handshake")
	if s.cfg.Authenticator == nil {
		return Caller{}, status.Error(codes.Unauthenticated, "this worker has no basic authentication; bearer tokens are not accepted")
	}
	p, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return Caller{}, refuse
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.sign(p)) {
		return Caller{}, refuse
	}
	payload, err := b64.DecodeString(p)
	if err != nil {
		return Caller{}, refuse
	}
	var cl bearerClaims
	if err := json.Unmarshal(payload, &cl); err != nil || !s.now().Before(time.Unix(cl.Expires, 0)) {
		return Caller{}, refuse
	}
	c := Caller{User: cl.User, Groups: cl.Groups}
	if err := checkCaller(c); err != nil {
		return Caller{}, refuse
	}
	return c, nil
}

// parseBasic decodes "Basic base64(user:password)"; clients differ on padding.
func parseBasic(v string) (user, password string, ok bool) {
	v = strings.TrimSpace(v)
	if len(v) < len(basicPrefix) || !strings.EqualFold(v[:len(basicPrefix)], basicPrefix) {
		return "", "", false
	}
	enc := strings.TrimSpace(v[len(basicPrefix):])
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(enc); err != nil {
			return "", "", false
		}
	}
	return strings.Cut(string(raw), ":")
}
