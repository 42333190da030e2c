package enforce

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy"
	"github.com/propolis/propolis/thrift"
	wplan "github.com/propolis/propolis/workers/plan"
	"github.com/propolis/propolis/workers/token"
)

func newWorkerFixture(t *testing.T) (*fixture, *token.Signer) {
	t.Helper()
	f := newFixture(t)
	signer, err := token.NewSigner([]token.Key{{ID: "k1", Secret: testKey}})
	if err != nil {
		t.Fatal(err)
	}
	f.g.workers = &WorkerPath{
		Signer: signer, TTL: time.Hour, Base: "s3a://propolis/",
		LoadPartitions: func(_ context.Context, db, table string) ([]*hm.Partition, error) {
			return []*hm.Partition{
				{Values: []string{"2024-01-02"}, Sd: &hm.StorageDescriptor{Location: "s3://lake/sales/customers/dt=2024-01-02"}},
				{Values: []string{"2024-01-01"}, Sd: &hm.StorageDescriptor{Location: "s3://lake/sales/customers/dt=2024-01-01"}},
			}, nil
		},
	}
	return f, signer
}

func tokenOf(t *testing.T, tb *hm.Table) string {
	t.Helper()
	tok, ok := strings.CutPrefix(tb.Sd.Location, "s3a://propolis/")
	if !ok {
		t.Fatalf("location %q is not on the fleet", tb.Sd.Location)
	}
	return tok
}

func TestWorkerTable(t *testing.T) {
	f, signer := newWorkerFixture(t)
	orig := f.tables["customers"]
	before := deepCopyTable(orig)
	erin := thrift.Identity{User: "erin", Groups: []string{"analysts", "eu_analysts"}, Source: "sasl"}

	// An untrusted engine gets the worker-path table instead of a refusal.
	got, err := f.g.Table(as("notebook", erin), orig)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(orig, before) {
		t.Fatal("Table changed the table it was given")
	}
	if got.TableType != "EXTERNAL_TABLE" || len(got.PartitionKeys) != 0 || got.Parameters["spark.sql.sources.schema"] != "" || got.Sd.SerdeInfo.SerializationLib != parquetSerde {
		t.Fatalf("worker table = %+v", got)
	}
	var cols []string
	for _, c := range got.Sd.Cols {
		cols = append(cols, c.Name+" "+c.Type)
	}
	want := "id bigint, name string, email string, phone string, region string, account_manager string, dt date"
	if strings.Join(cols, ", ") != want {
		t.Fatalf("columns = %s, want %s (ssn hidden, phone masked to a string, dt a data column)", strings.Join(cols, ", "), want)
	}
	claims, err := signer.Verify(tokenOf(t, got))
	if err != nil || claims.User != "erin" || claims.Object() != "sales.customers" || claims.Version != 7 || claims.Profile != "notebook" {
		t.Fatalf("token claims = %+v, %v", claims, err)
	}

	// Its statistics and partitions are withheld, statistics answering empty.
	if err := f.g.CheckRaw(as("notebook", erin), "sales", "customers"); !errors.As(err, new(*hms.WithheldError)) || !errors.Is(err, errs.ErrDenied) {
		t.Fatalf("CheckRaw = %v, want withheld and denied", err)
	}

	// A trusted Trino still gets its native view; scores (a worker-only mask) goes to the fleet.
	if v, err := f.g.Table(as("trino", erin), orig); err != nil || v.TableType != "VIRTUAL_VIEW" {
		t.Fatalf("trusted trino: %v, %v", v, err)
	}
	if v, err := f.g.Table(as("trino", erin), f.tables["scores"]); err != nil || !strings.HasPrefix(v.Sd.Location, "s3a://propolis/") {
		t.Fatalf("scores through trino: %v, %v", v, err)
	}
}

func TestWorkerPlan(t *testing.T) {
	f, signer := newWorkerFixture(t)
	ctx := context.Background()
	erin := thrift.Identity{User: "erin", Groups: []string{"analysts", "eu_analysts"}, Source: "sasl"}
	got, err := f.g.Table(as("notebook", erin), f.tables["customers"])
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenOf(t, got)
	spec, err := f.g.Plan(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if spec.User != "erin" || spec.Filter == "" || !strings.Contains(spec.Filter, "'erin'") && !strings.Contains(spec.Filter, "current_user()") {
		t.Fatalf("plan = %+v", spec)
	}
	if len(spec.Locations) != 2 || spec.Locations[0].Name != "dt=2024-01-01" || spec.Locations[0].Partition["dt"] != "2024-01-01" {
		t.Fatalf("locations = %+v", spec.Locations)
	}
	for _, c := range spec.Columns {
		if c.Name == "ssn" {
			t.Fatal("hidden column in the plan")
		}
		if c.Name == "email" && (c.Expr == "" || c.Source != "") {
			t.Fatalf("email is not masked: %+v", c)
		}
	}

	forge := func(c token.Claims) string {
		s, err := signer.Issue(c, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name string
		tok  string
		kind errs.Kind
	}{
		{"tampered", tok[:len(tok)-2] + "xx", errs.KindDenied},
		{"other policy version", forge(token.Claims{User: "erin", Groups: erin.Groups, DB: "sales", Table: "customers", Version: 6}), errs.KindDenied},
		{"hidden table", forge(token.Claims{User: "oscar", DB: "sales", Table: "payments", Version: 7}), errs.KindNotFound},
		{"missing table", forge(token.Claims{User: "erin", DB: "sales", Table: "nope", Version: 7}), errs.KindNotFound},
		{"partition of an unpartitioned table", forge(token.Claims{User: "erin", Groups: erin.Groups, DB: "sales", Table: "regions", Version: 7, Parts: "dt=1"}), errs.KindDenied},
	}
	for _, c := range cases {
		if _, err := f.g.Plan(ctx, c.tok); errs.KindOf(err) != c.kind {
			t.Errorf("%s: Plan = %v, want %s", c.name, err, c.kind)
		}
	}
	one, err := f.g.Plan(ctx, forge(token.Claims{User: "erin", Groups: erin.Groups, DB: "sales", Table: "customers", Version: 7, Parts: "dt=2024-01-02"}))
	if err != nil || len(one.Locations) != 1 || one.Locations[0].Name != "dt=2024-01-02" {
		t.Fatalf("partition-scoped plan = %+v, %v", one, err)
	}

	// Arrow Flight clients get tokens through Issue, decided as get_table decides.
	ftok, err := f.g.Issue(ctx, wplan.IssueRequest{User: "erin", Groups: erin.Groups, DB: "sales", Table: "customers"})
	if err != nil {
		t.Fatal(err)
	}
	if fs, err := f.g.Plan(ctx, ftok); err != nil || fs.Filter != spec.Filter || len(fs.Columns) != len(spec.Columns) {
		t.Fatalf("plan of an issued token = %+v, %v", fs, err)
	}
	for _, req := range []wplan.IssueRequest{{User: "oscar", DB: "sales", Table: "customers"}, {User: "erin", Groups: erin.Groups, DB: "sales", Table: "payments"}, {DB: "sales", Table: "customers"}} {
		if _, err := f.g.Issue(ctx, req); err == nil {
			t.Errorf("Issue(%+v) succeeded", req)
		}
	}
}

func deepCopyTable(t *hm.Table) *hm.Table {
	c := *t
	sd := *t.Sd
	c.Sd = &sd
	return &c
}

func TestWorkerAuthorize(t *testing.T) {
	f, _ := newWorkerFixture(t)
	ctx := context.Background()
	cases := []struct {
		req  wplan.AuthorizeRequest
		kind errs.Kind
	}{
		{wplan.AuthorizeRequest{User: "erin", Groups: []string{"analysts"}, Privilege: "detokenize", DB: "sales", Table: "customers"}, errs.KindDenied},
		{wplan.AuthorizeRequest{User: "oscar", Privilege: "detokenize", DB: "sales", Table: "customers"}, errs.KindNotFound},
		{wplan.AuthorizeRequest{User: "erin", Groups: []string{"analysts"}, Privilege: "select", DB: "sales", Table: "customers"}, errs.KindInvalid},
		{wplan.AuthorizeRequest{Privilege: "detokenize", DB: "sales", Table: "customers"}, errs.KindDenied},
	}
	for _, c := range cases {
		if err := f.g.Authorize(ctx, c.req); errs.KindOf(err) != c.kind {
			t.Errorf("Authorize(%+v) = %v, want %s", c.req, err, c.kind)
		}
	}
	// A grant of detokenize by name allows it; "all" never includes it.
	data := []byte(`default: deny
grants:
  - {to: [user:fred], privileges: [all], on: "sales.*"}
  - {to: [user:dora], privileges: [select, detokenize], on: "sales.customers"}
`)
	p, err := policy.Parse("inline", data)
	if err != nil {
		t.Fatal(err)
	}
	f.pol = p.WithVersion(8)
	if err := f.g.Authorize(ctx, wplan.AuthorizeRequest{User: "dora", Privilege: "detokenize", DB: "sales", Table: "customers"}); err != nil {
		t.Errorf("dora holds detokenize: %v", err)
	}
	if err := f.g.Authorize(ctx, wplan.AuthorizeRequest{User: "fred", Privilege: "detokenize", DB: "sales", Table: "customers"}); errs.KindOf(err) != errs.KindDenied {
		t.Errorf("fred holds all, which excludes detokenize: %v", err)
	}
	open, err := policy.Parse("inline", []byte("default: allow\n"))
	if err != nil {
		t.Fatal(err)
	}
	f.pol = open.WithVersion(9)
	if err := f.g.Authorize(ctx, wplan.AuthorizeRequest{User: "fred", Privilege: "detokenize", DB: "sales", Table: "customers"}); errs.KindOf(err) != errs.KindDenied {
		t.Errorf("default: allow must not grant detokenize: %v", err)
	}
}

// TestWorkerPartitions: without a row filter, a partitioned table stays partitioned on the
// fleet, each partition with a token for itself alone; with one, it is served unpartitioned
// and its partitions stay withheld.
func TestWorkerPartitions(t *testing.T) {
	f, signer := newWorkerFixture(t)
	alice := thrift.Identity{User: "alice", Groups: []string{"analysts"}, Source: "sasl"}
	erin := thrift.Identity{User: "erin", Groups: []string{"analysts", "eu_analysts"}, Source: "sasl"}
	orig := f.tables["customers"]
	got, err := f.g.Table(as("notebook", alice), orig)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.PartitionKeys) != 1 || got.PartitionKeys[0].Name != "dt" {
		t.Fatalf("alice's worker table is not partitioned by dt: %+v", got.PartitionKeys)
	}
	for _, c := range got.Sd.Cols {
		if c.Name == "dt" {
			t.Fatal("the partition key is also a data column")
		}
	}
	rewrite, err := f.g.PartitionView(as("notebook", alice), "sales", "customers")
	if err != nil {
		t.Fatal(err)
	}
	raw := []*hm.Partition{{DbName: "sales", TableName: "customers", Values: []string{"2024-01-01"}, Parameters: map[string]string{"numRows": "42"},
		Sd: &hm.StorageDescriptor{Location: "s3://lake/sales/customers/dt=2024-01-01"}}}
	ps, err := rewrite(raw)
	if err != nil || len(ps) != 1 {
		t.Fatalf("rewrite = %v, %v", ps, err)
	}
	if raw[0].Sd.Location != "s3://lake/sales/customers/dt=2024-01-01" || raw[0].Parameters["numRows"] != "42" {
		t.Fatal("PartitionView changed the partitions it was given")
	}
	if ps[0].Parameters["numRows"] != "" {
		t.Fatal("raw partition statistics were served")
	}
	claims, err := signer.Verify(tokenOf(t, &hm.Table{Sd: ps[0].Sd}))
	if err != nil || claims.Parts != "dt=2024-01-01" || claims.User != "alice" {
		t.Fatalf("partition token claims = %+v, %v", claims, err)
	}
	spec, err := f.g.Plan(context.Background(), tokenOf(t, &hm.Table{Sd: ps[0].Sd}))
	if err != nil || len(spec.Locations) != 1 || spec.Locations[0].Name != "dt=2024-01-01" {
		t.Fatalf("partition plan = %+v, %v", spec, err)
	}

	// erin has a row filter: unpartitioned, and no partition view.
	if got, err := f.g.Table(as("notebook", erin), orig); err != nil || len(got.PartitionKeys) != 0 {
		t.Fatalf("erin's worker table: %v, %v", got, err)
	}
	if _, err := f.g.PartitionView(as("notebook", erin), "sales", "customers"); !errors.As(err, new(*hms.WithheldError)) {
		t.Fatalf("erin's partition view: %v, want withheld", err)
	}
	// Trusted Trino reads a native view: no partitions at all.
	if _, err := f.g.PartitionView(as("trino", alice), "sales", "customers"); err == nil {
		t.Fatal("a partition view for a native policy view")
	}
}
