package node

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/workers/eval"
	"github.com/propolis/propolis/workers/flight"
	"github.com/propolis/propolis/workers/plan"
)

// Flight is the node as an Arrow Flight backend: a table read as a user becomes a token
// (issued by a server, which decides), and each of its files one unit of work.
func (n *Node) Flight() flight.Backend { return flightBackend{n} }

type flightBackend struct{ n *Node }

var (
	_ flight.Backend      = flightBackend{}
	_ flight.TokenBackend = flightBackend{}
	_ flight.Detokenizer  = flightBackend{}
)

// Detokenize decrypts values encrypted under key for a caller the policy grants detokenize on
// db.table. Each value must carry that key id: a caller cannot use a table they hold the
// privilege on to decrypt another's values under another key.
func (b flightBackend) Detokenize(ctx context.Context, caller flight.Caller, db, table, key string, values []string) ([]string, error) {
	if err := b.n.cfg.Plans.Authorize(ctx, plan.AuthorizeRequest{User: caller.User, Groups: caller.Groups, Privilege: "detokenize", DB: db, Table: table}); err != nil {
		b.n.cfg.Metrics.rejected("plan")
		return nil, err
	}
	if b.n.cfg.Keys == nil {
		return nil, errs.Unavailable("this worker holds no keys")
	}
	out := make([]string, len(values))
	for i, v := range values {
		if v == "" {
			continue
		}
		if parts := strings.SplitN(v, ".", 4); len(parts) != 4 || parts[0] != "enc" || parts[1] != key {
			return nil, errs.Invalid("value %d was not encrypted under key %q", i, key)
		}
		s, err := eval.Decrypt(b.n.cfg.Keys, v)
		if err != nil {
			return nil, fmt.Errorf("value %d: %w", i, err)
		}
		out[i] = s
	}
	return out, nil
}

// ticket names one file of one query.
type ticket struct {
	Token string `json:"t"`
	File  int    `json:"f"`
}

func (b flightBackend) Plan(ctx context.Context, caller flight.Caller, db, table string) (*arrow.Schema, []flight.Work, error) {
	tok, err := b.n.cfg.Plans.Issue(ctx, plan.IssueRequest{User: caller.User, Groups: caller.Groups, DB: db, Table: table})
	if err != nil {
		b.n.cfg.Metrics.rejected("plan")
		return nil, nil, err
	}
	_, schema, works, err := b.PlanToken(ctx, tok)
	return schema, works, err
}

func (b flightBackend) PlanToken(ctx context.Context, tok string) (flight.Caller, *arrow.Schema, []flight.Work, error) {
	q, err := b.n.query(ctx, tok)
	if err != nil {
		return flight.Caller{}, nil, nil, err
	}
	objs, err := b.n.list(ctx, q)
	if err != nil {
		b.n.cfg.Metrics.rejected("storage")
		return flight.Caller{}, nil, nil, err
	}
	works := make([]flight.Work, len(objs))
	for i := range objs {
		t, _ := json.Marshal(ticket{Token: tok, File: i})
		works[i] = flight.Work{Ticket: t, Rows: -1, Bytes: -1}
	}
	return flight.Caller{User: q.claims.User, Groups: q.claims.Groups}, q.tr.Schema(), works, nil
}

func (b flightBackend) Open(ctx context.Context, caller flight.Caller, raw []byte) (array.RecordReader, error) {
	var t ticket
	if err := json.Unmarshal(raw, &t); err != nil || t.Token == "" {
		b.n.cfg.Metrics.rejected("token")
		return nil, errs.Invalid("malformed ticket")
	}
	q, err := b.n.query(ctx, t.Token)
	if err != nil {
		return nil, err
	}
	if !caller.Anonymous() && caller.User != q.claims.User {
		b.n.cfg.Metrics.rejected("token")
		return nil, errs.Denied("the ticket was not issued to the caller")
	}
	objs, err := b.n.list(ctx, q)
	if err != nil {
		return nil, err
	}
	if t.File < 0 || t.File >= len(objs) {
		return nil, errs.Invalid("the ticket names file %d of %d", t.File, len(objs))
	}
	f, err := b.n.open(ctx, q, objs[t.File])
	if err != nil {
		return nil, err
	}
	return f.Records(ctx, nil)
}
