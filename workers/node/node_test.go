package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/workers/eval"
	"github.com/propolis/propolis/workers/flight"
	"github.com/propolis/propolis/workers/plan"
	"github.com/propolis/propolis/workers/s3api"
	"github.com/propolis/propolis/workers/scan"
	"github.com/propolis/propolis/workers/token"
)

// fakePlans stands in for a Propolis server: it answers plans for the tokens it issued.
type fakePlans struct {
	signer *token.Signer
	specs  map[string]*plan.Spec // by table
	calls  int
}

func (f *fakePlans) Plan(_ context.Context, tok string) (*plan.Spec, error) {
	f.calls++
	c, err := f.signer.Verify(tok)
	if err != nil {
		return nil, err
	}
	s, ok := f.specs[c.Table]
	if !ok {
		return nil, errs.NotFound("table %s not found", c.Object())
	}
	cp := *s
	cp.User, cp.DB, cp.Table, cp.Version = c.User, c.DB, c.Table, c.Version
	return &cp, nil
}

func (f *fakePlans) Issue(_ context.Context, req plan.IssueRequest) (string, error) {
	if _, ok := f.specs[req.Table]; !ok || req.User != "alice" {
		return "", errs.NotFound("table %s.%s not found", req.DB, req.Table)
	}
	return f.signer.Issue(token.Claims{User: req.User, DB: req.DB, Table: req.Table, Version: 1}, time.Hour)
}

func (f *fakePlans) Authorize(_ context.Context, req plan.AuthorizeRequest) error {
	if req.User == "dora" {
		return nil
	}
	return errs.Denied("%s may not detokenize", req.User)
}

var emails = func() []string {
	out := make([]string, 5000)
	for i := range out {
		out[i] = fmt.Sprintf("person%04d@example.com", i)
	}
	return out
}()

// writeSource writes n rows (id, email) in row groups of rg rows.
func writeSource(t *testing.T, path string, n, rg int) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "email", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(int64(rg)), parquet.WithDictionaryDefault(false)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	for i := 0; i < n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(emails[i%len(emails)])
	}
	rec := b.NewRecordBatch()
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	b.Release()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	node   *Node
	plans  *fakePlans
	signer *token.Signer
	s3     *s3.Client
	keys   eval.Keyring
}

func newFixture(t *testing.T, budget int64) *fixture {
	t.Helper()
	return newFixtureWith(t, budget, nil)
}

// newFixtureWith lets configure change the node's Config; dir is where the tables' files are.
func newFixtureWith(t *testing.T, budget int64, configure func(c *Config, dir string)) *fixture {
	t.Helper()
	dir := t.TempDir()
	writeSource(t, filepath.Join(dir, "customers", "part-0.parquet"), 3000, 1000)
	writeSource(t, filepath.Join(dir, "customers", "part-1.parquet"), 500, 1000)
	writeSource(t, filepath.Join(dir, "big", "part-0.parquet"), 400000, 200000)
	signer, err := token.NewSigner([]token.Key{{ID: "k1", Secret: []byte(strings.Repeat("s", 32))}})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := eval.NewStaticKeyring([]eval.KeySpec{{ID: "pii", Version: 1, Secret: []byte("pii-secret-0123456789")}})
	if err != nil {
		t.Fatal(err)
	}
	spec := func(loc string) *plan.Spec {
		return &plan.Spec{
			Source:    []plan.Field{{Name: "id", Type: "bigint"}, {Name: "email", Type: "string"}},
			Columns:   []plan.Column{{Name: "id", Type: "bigint", Source: "id"}, {Name: "email", Type: "string", Expr: "tokenize(email, 'pii')"}},
			Filter:    "id >= 1000",
			Locations: []plan.Location{{URI: "file://" + filepath.Join(dir, loc)}},
		}
	}
	evolved := spec("customers")
	evolved.Source = append(evolved.Source, plan.Field{Name: "phone", Type: "string"})
	evolved.Columns = append(evolved.Columns, plan.Column{Name: "phone", Type: "string", Source: "phone"})
	plans := &fakePlans{signer: signer, specs: map[string]*plan.Spec{"customers": spec("customers"), "big": spec("big"), "evolved": evolved}}
	cfg := Config{Plans: plans, Signer: signer, Storage: scan.Mux{"file": scan.Local{}}, Keys: keys, Budget: budget, Bucket: "propolis"}
	if configure != nil {
		configure(&cfg, dir)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	srv := httptest.NewServer(s3api.New(n.S3(), s3api.Options{}))
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(srv.URL), Region: "us-east-1", UsePathStyle: true,
		Credentials: aws.AnonymousCredentials{},
	})
	return &fixture{node: n, plans: plans, signer: signer, s3: client, keys: keys}
}

func (f *fixture) token(t *testing.T, table string, ttl time.Duration) string {
	tok, err := f.signer.Issue(token.Claims{User: "alice", DB: "shop", Table: table, Version: 1}, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) get(t *testing.T, key, rng string) ([]byte, error) {
	in := &s3.GetObjectInput{Bucket: aws.String("propolis"), Key: aws.String(key)}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	out, err := f.s3.GetObject(context.Background(), in)
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// TestS3Serving: what an engine's S3 client sees: exact sizes, ranges equal to slices of the
// whole, the policy applied, and never a raw email.
func TestS3Serving(t *testing.T) {
	f := newFixture(t, 64<<20)
	ctx := context.Background()
	tok := f.token(t, "customers", time.Hour)
	list, err := f.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("propolis"), Prefix: aws.String(tok + "/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 2 {
		t.Fatalf("listed %d objects, want 2", len(list.Contents))
	}
	tokens := map[string]bool{}
	rows := 0
	for _, o := range list.Contents {
		whole, err := f.get(t, *o.Key, "")
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(whole)) != *o.Size {
			t.Fatalf("%s: listed size %d, served %d bytes", *o.Key, *o.Size, len(whole))
		}
		for _, e := range emails[:10] {
			if bytes.Contains(whole, []byte(e)) {
				t.Fatalf("%s contains the raw email %s", *o.Key, e)
			}
		}
		r := rand.New(rand.NewSource(1))
		for i := 0; i < 20; i++ {
			a := r.Int63n(int64(len(whole)))
			b := a + r.Int63n(int64(len(whole))-a)
			part, err := f.get(t, *o.Key, fmt.Sprintf("bytes=%d-%d", a, b))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(part, whole[a:b+1]) {
				t.Fatalf("%s: range %d-%d differs from the whole file's bytes", *o.Key, a, b)
			}
		}
		pf, err := file.NewParquetReader(bytes.NewReader(whole))
		if err != nil {
			t.Fatal(err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.NewGoAllocator())
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := fr.ReadTable(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rows += int(tbl.NumRows())
		for _, ch := range tbl.Column(1).Data().Chunks() {
			s := ch.(*array.String)
			for i := 0; i < s.Len(); i++ {
				if !strings.HasPrefix(s.Value(i), "tok.pii.v1.") {
					t.Fatalf("email %q is not a token", s.Value(i))
				}
				tokens[s.Value(i)] = true
			}
		}
		for _, ch := range tbl.Column(0).Data().Chunks() {
			for i, v := range ch.(*array.Int64).Int64Values() {
				if v < 1000 {
					t.Fatalf("row %d: the row filter kept id %d", i, v)
				}
			}
		}
		tbl.Release()
		pf.Close()
	}
	if rows != 2000 {
		t.Fatalf("served %d rows, want 2000 (ids 1000 to 2999)", rows)
	}
	if len(tokens) != 2000 {
		t.Fatalf("%d distinct tokens for 2000 distinct emails", len(tokens))
	}
	// Served from memory after the first plan: one call to the server per token.
	if f.plans.calls != 1 {
		t.Errorf("the server was asked %d times for one token's plan", f.plans.calls)
	}
}

// TestS3Refusals: tokens that are tampered, expired or for another table get nothing.
func TestS3Refusals(t *testing.T) {
	f := newFixture(t, 64<<20)
	ctx := context.Background()
	good := f.token(t, "customers", time.Hour)
	other := f.token(t, "big", time.Hour)
	expired, err := f.signer.WithClock(func() time.Time { return time.Now().Add(-2 * time.Hour) }).Issue(token.Claims{User: "alice", DB: "shop", Table: "customers", Version: 1}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	list, err := f.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("propolis"), Prefix: aws.String(good + "/")})
	if err != nil || len(list.Contents) == 0 {
		t.Fatalf("list: %v", err)
	}
	// The second file: the other table has a first file of the same name (its own data), but
	// no second one.
	name := strings.TrimPrefix(*list.Contents[1].Key, good)
	for label, key := range map[string]string{
		"tampered": good[:len(good)-4] + "AAAA" + name,
		"expired":  expired + name,
		"replayed": other + name, // another table's token with this table's file name
		"no token": "x" + name,
	} {
		_, err := f.get(t, key, "")
		if err == nil {
			t.Errorf("%s: served", label)
			continue
		}
		t.Logf("%s: %v", label, err)
	}
	if _, err := f.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("other"), Prefix: aws.String(good + "/")}); err == nil {
		t.Error("another bucket was listed")
	}
	root, err := f.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("propolis")})
	if err != nil || len(root.Contents) != 0 {
		t.Errorf("the bucket root lists %v, %v; want nothing", root, err)
	}
}

// TestOverBudget: a query whose row groups do not fit its budget fails with a clear error,
// and the worker keeps serving others.
func TestOverBudget(t *testing.T) {
	f := newFixture(t, 1<<20)
	ctx := context.Background()
	_, err := f.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("propolis"), Prefix: aws.String(f.token(t, "big", time.Hour) + "/")})
	if err == nil || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("listing a table over budget: %v; want a memory budget error", err)
	}
	if _, err := f.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("propolis"), Prefix: aws.String(f.token(t, "customers", time.Hour) + "/")}); err != nil {
		t.Fatalf("a small query after an over-budget one: %v", err)
	}
}

// TestWorkerBusy: under the process-wide cap, a query within its own budget that finds the
// worker's memory taken fails "worker busy", S3's 503 SlowDown (which clients retry), and is
// counted; the worker serves again once memory frees.
func TestWorkerBusy(t *testing.T) {
	reg := prometheus.NewRegistry()
	var f *fixture
	f = newFixtureWith(t, 64<<20, func(c *Config, _ string) {
		c.MaxMemory = 1 << 20
		m, err := NewMetrics(reg, func() float64 { return 0 })
		if err != nil {
			t.Fatal(err)
		}
		c.Metrics = m
	})
	ctx := context.Background()
	_, err := f.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("propolis"), Prefix: aws.String(f.token(t, "big", time.Hour) + "/")},
		func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "SlowDown" || !strings.Contains(api.ErrorMessage(), "worker busy") {
		t.Fatalf("a query over the worker's memory cap: %v; want SlowDown, worker busy", err)
	}
	if got := counterValue(t, reg, "propolis_worker_rejected_queries_total", "stage", "busy"); got < 1 {
		t.Fatalf("busy rejections counted %v", got)
	}
	if used := f.node.pool.Used(); used > f.node.pool.Limit() {
		t.Fatalf("pool holds %d bytes over its limit %d", used, f.node.pool.Limit())
	}
}

// TestConfinedToAllowedLocations: a table whose location was altered to point outside the
// roots the operator allowed is refused (403) and its files are never read; tables inside are
// served.
func TestConfinedToAllowedLocations(t *testing.T) {
	f := newFixtureWith(t, 64<<20, func(c *Config, dir string) {
		s, err := scan.Confine(c.Storage, []string{"file://" + filepath.Join(dir, "customers")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Storage = s
	})
	ctx := context.Background()
	if _, err := f.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("propolis"), Prefix: aws.String(f.token(t, "customers", time.Hour) + "/")}); err != nil {
		t.Fatalf("a table inside the allowed roots: %v", err)
	}
	_, err := f.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("propolis"), Prefix: aws.String(f.token(t, "big", time.Hour) + "/")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" || strings.Contains(api.ErrorMessage(), "big") {
		t.Fatalf("a table outside the allowed roots: %v; want AccessDenied naming no location", err)
	}
}

// TestFlightBackend: the same rows through Flight's backend, and detokenize by privilege.
func TestFlightBackend(t *testing.T) {
	f := newFixture(t, 64<<20)
	ctx := context.Background()
	fb := f.node.Flight()
	schema, works, err := fb.Plan(ctx, flight.Caller{User: "alice"}, "shop", "customers")
	if err != nil {
		t.Fatal(err)
	}
	if schema.Field(1).Name != "email" || len(works) != 2 {
		t.Fatalf("schema %v, %d works", schema, len(works))
	}
	rows := 0
	for _, w := range works {
		if _, err := fb.Open(ctx, flight.Caller{User: "mallory"}, w.Ticket); !errors.Is(err, errs.ErrDenied) {
			t.Fatalf("another user's ticket: %v", err)
		}
		rr, err := fb.Open(ctx, flight.Caller{}, w.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		for rr.Next() {
			rows += int(rr.RecordBatch().NumRows())
		}
		if rr.Err() != nil {
			t.Fatal(rr.Err())
		}
		rr.Release()
	}
	if rows != 2000 {
		t.Fatalf("flight rows = %d, want 2000", rows)
	}
	if _, _, err := fb.Plan(ctx, flight.Caller{User: "bob"}, "shop", "customers"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("bob: %v, want not found", err)
	}

	enc := evalOne(t, f.keys, "encrypt(s, 'pii')", "ada@example.com")
	dt := fb.(flight.Detokenizer)
	got, err := dt.Detokenize(ctx, flight.Caller{User: "dora"}, "shop", "customers", "pii", []string{enc, ""})
	if err != nil || got[0] != "ada@example.com" || got[1] != "" {
		t.Fatalf("dora's detokenize = %q, %v", got, err)
	}
	if _, err := dt.Detokenize(ctx, flight.Caller{User: "alice"}, "shop", "customers", "pii", []string{enc}); !errors.Is(err, errs.ErrDenied) {
		t.Fatalf("alice lacks detokenize: %v", err)
	}
	if _, err := dt.Detokenize(ctx, flight.Caller{User: "dora"}, "shop", "customers", "other", []string{enc}); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("a value under another key: %v", err)
	}
}

func evalOne(t *testing.T, keys eval.Keyring, src, v string) string {
	t.Helper()
	tr, err := compile(&plan.Spec{
		Source:  []plan.Field{{Name: "s", Type: "string"}},
		Columns: []plan.Column{{Name: "out", Type: "string", Expr: src}},
	}, eval.Env{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := array.NewStringBuilder(mem)
	b.Append(v)
	col := b.NewArray()
	b.Release()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil), []arrow.Array{col}, 1)
	col.Release()
	out, err := tr.Apply(context.Background(), mem, rec, plan.Pos{})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	return out.Column(0).(*array.String).Value(0)
}

// TestAddedColumnReadsNull: a column the table gained after its files were written reads NULL,
// as Hive reads it.
func TestAddedColumnReadsNull(t *testing.T) {
	f := newFixture(t, 64<<20)
	ctx := context.Background()
	fb := f.node.Flight()
	_, works, err := fb.Plan(ctx, flight.Caller{User: "alice"}, "shop", "evolved")
	if err != nil {
		t.Fatal(err)
	}
	rows, nulls := 0, 0
	for _, w := range works {
		rr, err := fb.Open(ctx, flight.Caller{}, w.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		for rr.Next() {
			rec := rr.RecordBatch()
			rows += int(rec.NumRows())
			nulls += rec.Column(2).NullN()
		}
		if rr.Err() != nil {
			t.Fatal(rr.Err())
		}
		rr.Release()
	}
	if rows != 2000 || nulls != rows {
		t.Fatalf("%d rows, %d NULL phones; want 2000 of each", rows, nulls)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
