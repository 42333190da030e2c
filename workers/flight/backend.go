package flight

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Caller is who a call is made for. The zero Caller is an anonymous call.
type Caller struct {
	User   string
	Groups []string
}

// Anonymous reports whether the call named no user.
func (c Caller) Anonymous() bool { return c.User == "" }

// Work is one unit of a table's rows that a single DoGet streams.
type Work struct {
	// Ticket names the work to Backend.Open; it is opaque to the server and to clients.
	Ticket []byte
	// Rows and Bytes are estimates, negative when unknown.
	Rows, Bytes int64
}

// Backend resolves tables to policy-applied plans and streams their rows. It decides
// visibility: a table the caller may not see must be reported as errs.NotFound, exactly as a
// missing one.
type Backend interface {
	// Plan resolves db.table for caller: the output schema and the units of work.
	Plan(ctx context.Context, caller Caller, db, table string) (*arrow.Schema, []Work, error)
	// Open streams the record batches of one unit of work named by a ticket Plan or PlanToken
	// issued. caller is the identity the DoGet call carries, the zero Caller when it carries
	// none (a ticket planned from a worker token is bearer authority, as the token was); a
	// backend whose tickets name a user must refuse a non-anonymous caller that differs.
	// Reading stops when ctx is done; the server releases the reader.
	Open(ctx context.Context, caller Caller, ticket []byte) (array.RecordReader, error)
}

// TokenBackend is implemented by backends that accept worker tokens (the token part of a
// worker location the metastore returned) as Flight command descriptors.
type TokenBackend interface {
	// PlanToken verifies token (signature, expiry, scope) and resolves it. It returns the
	// caller the token was issued to; the server refuses a call asserting anyone else.
	PlanToken(ctx context.Context, token string) (Caller, *arrow.Schema, []Work, error)
}

// Detokenizer is implemented by backends that can reverse encryption for callers holding the
// detokenize privilege on a table (the "detokenize" action).
type Detokenizer interface {
	// Detokenize decrypts values of db.table encrypted under key, in order. It refuses with
	// errs.Denied when caller lacks the privilege, and with errs.NotFound when the table is
	// not visible to caller.
	Detokenize(ctx context.Context, caller Caller, db, table, key string, values []string) ([]string, error)
}

// Lister is implemented by backends that can list the tables a caller may read through
// the workers (ListFlights).
type Lister interface {
	// Tables lists db.table names visible to caller, in database db, or in every database when
	// db is empty.
	Tables(ctx context.Context, caller Caller, db string) ([][2]string, error)
}

// Authenticator checks a user name and password for Flight's basic-auth Handshake.
type Authenticator interface {
	Authenticate(ctx context.Context, user, password string) (Caller, error)
}
