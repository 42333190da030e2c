package federation

import (
	"context"
	"strings"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

// This file is what forwarding a method Propolis does not model (hms.Forwarder) needs from the
// router: it cannot go through the typed Backend interface, so it asks the router where a
// database lives and what the routing rules allow, and runs the call through the member's
// circuit breaker like any other.

// Owner returns the backend that owns the exposed database db and the backend's own name for
// it. A name the routing rules hide, or that no route covers, is NotFound. It does not check
// that the database exists: with an unprefixed primary every name has an owner.
func (r *Router) Owner(db string) (backend, ownDB string, err error) {
	m, own, err := r.resolve(db)
	if err != nil {
		return "", "", err
	}
	return m.Name, own, nil
}

// Primary returns the name of the primary backend, where calls that name no database go.
func (r *Router) Primary() string { return r.primary.Name }

// Member returns the backend of the named member, or nil.
func (r *Router) Member(name string) hms.Backend {
	if m := r.member(name); m != nil {
		return m.Backend
	}
	return nil
}

func (r *Router) member(name string) *Member {
	for _, m := range r.members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// CheckForward says whether a call the router cannot read may go verbatim to backend about its
// database ownDB ("" when the call names none). Such a call may name any table and may write,
// so it is refused (Denied) where the member's rules could not be applied: a member that
// filters tables, and, for a call that may write, a member whose write mode does not accept
// writes to ownDB.
func (r *Router) CheckForward(backend, ownDB string, write bool) error {
	m := r.member(backend)
	if m == nil {
		return errs.NotFound("backend %s does not exist", backend)
	}
	if len(m.Tables.Allow) > 0 || len(m.Tables.Deny) > 0 {
		return errs.Denied("backend %s filters tables, which a call Propolis does not model would bypass", m.Name)
	}
	if write {
		return m.checkWrite(strings.ToLower(ownDB))
	}
	return nil
}

// CallMember runs fn against the named member's backend through its circuit breaker, so a
// forwarded call counts towards (and is stopped by) the member's failure rules like any other.
func (r *Router) CallMember(ctx context.Context, backend string, fn func(ctx context.Context, b hms.Backend) error) error {
	m := r.member(backend)
	if m == nil {
		return errs.NotFound("backend %s does not exist", backend)
	}
	return r.call(ctx, m, func(ctx context.Context) error { return fn(ctx, m.Backend) })
}
