package flight

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/propolis/propolis/internal/errs"
)

// fakeBackend serves generated tables: column id, a tokenized email and a region. Its
// records come from mem, the test's checked allocator, so a record the server fails to
// release shows up as a leak.
type fakeBackend struct {
	mem    memory.Allocator
	tables map[string]fakeTable // "db.t"
	hidden map[string]bool      // exist, but the caller may not see them
	tokens map[string]fakeGrant // worker token -> grant
	fail   map[string]error     // "db.t" -> the error Plan returns
	open   atomic.Int64         // readers not yet released
}

type fakeTable struct {
	works   int   // units of work
	batches int   // batches per work; <0: until the context is done
	rows    int   // rows per batch
	unknown bool  // size estimates unknown
	big     int64 // bytes of padding per row, to make huge batches
}

type fakeGrant struct{ user, table string }

type fakeTicket struct {
	User  string `json:"u"`
	Table string `json:"t"`
	Work  int    `json:"w"`
	Token bool   `json:"k,omitempty"`
}

var fakeSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "email_token", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "region", Type: arrow.BinaryTypes.String},
}, nil)

func newFake(mem memory.Allocator) *fakeBackend {
	return &fakeBackend{
		mem: mem,
		tables: map[string]fakeTable{
			"sales.customers": {works: 3, batches: 2, rows: 4},
			"sales.orders":    {works: 6, batches: 1, rows: 2, unknown: true},
			"sales.empty":     {works: 1, batches: 0, rows: 0},
			"sales.endless":   {works: 1, batches: -1, rows: 100},
			"sales.huge":      {works: 1, batches: 1, rows: 64, big: 64 << 10},
			"acl.secret":      {works: 1, batches: 1, rows: 1},
		},
		hidden: map[string]bool{"acl.secret": true},
		tokens: map[string]fakeGrant{"tok-alice-customers.sig": {"alice", "sales.customers"}},
		fail:   map[string]error{},
	}
}

func (f *fakeBackend) lookup(caller Caller, name string) (fakeTable, error) {
	if err := f.fail[name]; err != nil {
		return fakeTable{}, err
	}
	if name == "sales.panic" {
		panic("backend bug")
	}
	t, ok := f.tables[name]
	if !ok {
		return fakeTable{}, errs.NotFound("no table %s in the catalog", name)
	}
	if f.hidden[name] && caller.User != "admin" {
		return fakeTable{}, errs.NotFound("%s hidden from %s by rule 7", name, caller.User)
	}
	return t, nil
}

func (f *fakeBackend) works(user, name string, t fakeTable, token bool) []Work {
	ws := make([]Work, t.works)
	for i := range ws {
		tk, _ := json.Marshal(fakeTicket{User: user, Table: name, Work: i, Token: token})
		ws[i] = Work{Ticket: tk, Rows: int64(t.batches * t.rows), Bytes: int64(t.batches*t.rows) * 40}
		if t.unknown || t.batches < 0 {
			ws[i].Rows, ws[i].Bytes = -1, -1
		}
	}
	return ws
}

func (f *fakeBackend) Plan(ctx context.Context, caller Caller, db, table string) (*arrow.Schema, []Work, error) {
	name := db + "." + table
	t, err := f.lookup(caller, name)
	if err != nil {
		return nil, nil, err
	}
	return fakeSchema, f.works(caller.User, name, t, false), nil
}

func (f *fakeBackend) PlanToken(ctx context.Context, token string) (Caller, *arrow.Schema, []Work, error) {
	g, ok := f.tokens[token]
	if !ok {
		return Caller{}, nil, nil, errs.Denied("invalid worker token")
	}
	t := f.tables[g.table]
	return Caller{User: g.user}, fakeSchema, f.works(g.user, g.table, t, true), nil
}

func (f *fakeBackend) Open(ctx context.Context, caller Caller, ticket []byte) (array.RecordReader, error) {
	var tk fakeTicket
	if err := json.Unmarshal(ticket, &tk); err != nil {
		return nil, errs.Invalid("bad ticket")
	}
	if caller.Anonymous() && !tk.Token {
		return nil, errs.Denied("ticket needs a caller")
	}
	if !caller.Anonymous() && caller.User != tk.User {
		return nil, errs.Denied("ticket issued to another user")
	}
	t, ok := f.tables[tk.Table]
	if !ok {
		return nil, errs.NotFound("no table %s", tk.Table)
	}
	f.open.Add(1)
	r := &fakeReader{ctx: ctx, f: f, t: t, work: tk.Work}
	r.refs.Store(1)
	return r, nil
}

func (f *fakeBackend) Detokenize(ctx context.Context, caller Caller, db, table, key string, values []string) ([]string, error) {
	if _, err := f.lookup(caller, db+"."+table); err != nil {
		return nil, err
	}
	if caller.User != "steward" && caller.User != "admin" {
		return nil, errs.Denied("%s lacks the detokenize privilege on %s.%s", caller.User, db, table)
	}
	if key != "k1" {
		return nil, errs.Invalid("unknown key id %q", key)
	}
	out := make([]string, len(values))
	for i, v := range values {
		p, ok := strings.CutPrefix(v, "tok_")
		if !ok {
			return nil, errs.Invalid("value %d is not a token", i)
		}
		out[i] = "user" + p + "@example.com"
	}
	return out, nil
}

func (f *fakeBackend) Tables(ctx context.Context, caller Caller, db string) ([][2]string, error) {
	var out [][2]string
	for _, name := range []string{"sales.customers", "sales.orders", "acl.secret"} {
		d, t, _ := strings.Cut(name, ".")
		if (db == "" || db == d) && (!f.hidden[name] || caller.User == "admin") {
			out = append(out, [2]string{d, t})
		}
	}
	return out, nil
}

// fakeReader generates a work's batches; batch b of work w holds ids w*1000+b*rows+i.
type fakeReader struct {
	ctx  context.Context
	f    *fakeBackend
	t    fakeTable
	work int
	refs atomic.Int64
	n    int
	cur  arrow.RecordBatch
	err  error
}

func (r *fakeReader) Retain() { r.refs.Add(1) }
func (r *fakeReader) Release() {
	if r.refs.Add(-1) == 0 {
		if r.cur != nil {
			r.cur.Release()
			r.cur = nil
		}
		r.f.open.Add(-1)
	}
}
func (r *fakeReader) Schema() *arrow.Schema          { return fakeSchema }
func (r *fakeReader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *fakeReader) Record() arrow.RecordBatch      { return r.cur }
func (r *fakeReader) Err() error                     { return r.err }
func (r *fakeReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.t.batches >= 0 && r.n >= r.t.batches {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return false
	}
	b := array.NewRecordBuilder(r.f.mem, fakeSchema)
	defer b.Release()
	for i := 0; i < r.t.rows; i++ {
		id := int64(r.work*1000 + r.n*r.t.rows + i)
		b.Field(0).(*array.Int64Builder).Append(id)
		if id%5 == 3 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("tok_%d", id) + strings.Repeat("x", int(r.t.big)))
		}
		b.Field(2).(*array.StringBuilder).Append([]string{"emea", "amer", "apac"}[id%3])
	}
	r.cur = b.NewRecordBatch()
	r.n++
	return true
}
