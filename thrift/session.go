package thrift

import (
	"context"
	"sync"
)

// Session is one client connection. It lives as long as the connection and is reachable from
// every call's context, so identity established once (set_ugi, later SASL) applies to every
// call that follows on that connection.
type Session struct {
	ID         uint64
	RemoteAddr string
	LocalAddr  string
	Transport  string // "buffered" or "framed"

	mu     sync.Mutex
	user   string
	groups []string
	source string
	conf   map[string]string // per-connection settings (Hive's setMetaConf)
}

// Identity is who the caller is, and how we know.
type Identity struct {
	User   string
	Groups []string
	// Source says how the identity was established: "set_ugi", "sasl", or "" when the caller
	// has not identified itself.
	Source string
}

// Identity returns a copy of the caller's identity.
func (s *Session) Identity() Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Identity{User: s.user, Groups: append([]string(nil), s.groups...), Source: s.source}
}

// SetIdentity records who the caller is for the rest of the connection.
func (s *Session) SetIdentity(id Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.groups, s.source = id.User, append([]string(nil), id.Groups...), id.Source
}

type sessionKey struct{}

// WithSession returns ctx carrying s.
func WithSession(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// SessionFrom returns the session of the connection the call came in on, or nil outside a
// connection (tests, internal calls).
func SessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey{}).(*Session)
	return s
}

// SetConf records a setting for the rest of the connection.
func (s *Session) SetConf(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conf == nil {
		s.conf = map[string]string{}
	}
	s.conf[key] = value
}

// Conf returns a setting made on this connection.
func (s *Session) Conf(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.conf[key]
	return v, ok
}
