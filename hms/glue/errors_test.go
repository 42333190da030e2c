package glue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/smithy-go"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

// every calls each Backend method Glue serves once, against db.tbl.
func every(c *Client, ctx context.Context) map[string]error {
	one := func(_ any, err error) error { return err }
	name := "ds=a"
	return map[string]error{
		"Ping":                      c.Ping(ctx),
		"CreateDatabase":            c.CreateDatabase(ctx, &hm.Database{Name: "db"}),
		"GetDatabase":               one(c.GetDatabase(ctx, "db")),
		"ListDatabases":             one(c.ListDatabases(ctx)),
		"AlterDatabase":             c.AlterDatabase(ctx, "db", &hm.Database{Name: "db"}),
		"DropDatabase":              c.DropDatabase(ctx, "db", false, false),
		"CreateTable":               c.CreateTable(ctx, simpleTable("db", "t")),
		"GetTable":                  one(c.GetTable(ctx, "db", "t")),
		"GetTables":                 one(c.GetTables(ctx, "db", []string{"t"})),
		"ListTables":                one(c.ListTables(ctx, "db")),
		"AlterTable":                c.AlterTable(ctx, "db", "t", simpleTable("db", "t"), false),
		"DropTable":                 c.DropTable(ctx, "db", "t", false),
		"AddPartitions":             one(c.AddPartitions(ctx, "db", "t", []*hm.Partition{{Values: []string{"a"}}}, false)),
		"GetPartition":              one(c.GetPartition(ctx, "db", "t", []string{"a"})),
		"GetPartitionsByNames":      one(c.GetPartitionsByNames(ctx, "db", "t", []string{"ds=a"})),
		"ListPartitions":            one(c.ListPartitions(ctx, "db", "t", hms.PartitionQuery{})),
		"ListPartitionNames":        one(c.ListPartitionNames(ctx, "db", "t", hms.PartitionQuery{})),
		"CountPartitions":           one(c.CountPartitions(ctx, "db", "t", hms.PartitionQuery{})),
		"AlterPartitions":           c.AlterPartitions(ctx, "db", "t", []*hm.Partition{{Values: []string{"a"}}}),
		"RenamePartition":           c.RenamePartition(ctx, "db", "t", []string{"a"}, &hm.Partition{Values: []string{"b"}}),
		"DropPartition":             one(c.DropPartition(ctx, "db", "t", []string{"a"}, false)),
		"UpdateColumnStatistics":    c.UpdateColumnStatistics(ctx, &hm.ColumnStatistics{StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: true, DbName: "db", TableName: "t"}, StatsObj: statsFixture()}),
		"UpdatePartitionStatistics": c.UpdateColumnStatistics(ctx, &hm.ColumnStatistics{StatsDesc: &hm.ColumnStatisticsDesc{DbName: "db", TableName: "t", PartName: &name}, StatsObj: statsFixture()}),
		"TableColumnStatistics":     one(c.TableColumnStatistics(ctx, "db", "t", []string{"id"})),
		"PartitionColumnStatistics": one(c.PartitionColumnStatistics(ctx, "db", "t", []string{"ds=a"}, []string{"id"})),
		"DeleteColumnStatistics":    c.DeleteColumnStatistics(ctx, "db", "t", "", "id"),
		"CreateFunction":            c.CreateFunction(ctx, &hm.Function{DbName: "db", FunctionName: "f", ClassName: "C"}),
		"GetFunction":               one(c.GetFunction(ctx, "db", "f")),
		"ListFunctions":             one(c.ListFunctions(ctx, "db")),
		"AlterFunction":             c.AlterFunction(ctx, "db", "f", &hm.Function{DbName: "db", FunctionName: "f", ClassName: "C"}),
		"DropFunction":              c.DropFunction(ctx, "db", "f"),
	}
}

// A dead endpoint (nothing listens) and a hanging one (accepts, never answers) make every
// call Unavailable, naming the backend: never NotFound, which would tell a client the table
// is gone.
func TestDeadEndpointIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, "listen", err)
	dead := "http://" + l.Addr().String()
	l.Close()

	hang := hangingServer(t)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream exploded", http.StatusBadGateway)
	}))
	defer broken.Close()

	for _, tc := range []struct {
		name, endpoint string
		timeout        time.Duration
	}{
		{"connection refused", dead, 5 * time.Second},
		{"hanging server", hang.URL, 150 * time.Millisecond},
		{"502 answers", broken.URL, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c, err := New(t.Context(), Config{Name: "dead-glue", Region: "eu-west-1", Endpoint: tc.endpoint, AccessKeyID: "a", SecretAccessKey: "b",
				CallTimeout: tc.timeout, MaxAttempts: 1}, nil)
			must(t, "new", err)
			for method, err := range every(c, t.Context()) {
				if errs.KindOf(err) != errs.KindUnavailable {
					t.Errorf("%s: want unavailable, got %v (%v)", method, errs.KindOf(err), err)
					continue
				}
				if !strings.Contains(err.Error(), `"dead-glue"`) {
					t.Errorf("%s: error does not name the backend: %v", method, err)
				}
			}
			t.Logf("31 calls failed in %s", time.Since(start).Round(time.Millisecond))
		})
	}
}

// hangingServer accepts requests and never answers them (until the test ends).
func hangingServer(t *testing.T) *httptest.Server {
	stop := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() {
		close(stop)
		s.CloseClientConnections()
		s.Close()
	})
	return s
}

// The caller's own cancellation is reported as Unavailable too (never NotFound).
func TestCallerCancellation(t *testing.T) {
	hang := hangingServer(t)
	c, err := New(t.Context(), Config{Region: "eu-west-1", Endpoint: hang.URL, AccessKeyID: "a", SecretAccessKey: "b", MaxAttempts: 1}, nil)
	must(t, "new", err)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = c.GetTable(ctx, "db", "t")
	wantKind(t, "cancelled", err, errs.KindUnavailable)
}

type apiErr struct{ code string }

func (e apiErr) Error() string                 { return e.code }
func (e apiErr) ErrorCode() string             { return e.code }
func (e apiErr) ErrorMessage() string          { return "msg" }
func (e apiErr) ErrorFault() smithy.ErrorFault { return smithy.FaultServer }

// Classification by type, one case per modeled Glue exception Propolis distinguishes.
func TestClassify(t *testing.T) {
	c := &Client{name: "g"}
	for _, tc := range []struct {
		err  error
		kind errs.Kind
	}{
		{&types.EntityNotFoundException{Message: aws.String("Table t not found")}, errs.KindNotFound},
		{&types.AlreadyExistsException{Message: aws.String("exists")}, errs.KindExists},
		{&types.InvalidInputException{Message: aws.String("bad")}, errs.KindInvalid},
		{&types.AccessDeniedException{Message: aws.String("no")}, errs.KindDenied},
		{&types.ConcurrentModificationException{}, errs.KindConflict},
		{&types.ResourceNumberLimitExceededException{}, errs.KindInvalid},
		{&types.GlueEncryptionException{}, errs.KindDenied},
		{&types.OperationTimeoutException{}, errs.KindUnavailable},
		{&types.InternalServiceException{}, errs.KindUnavailable},
		{&types.ResourceNotReadyException{}, errs.KindUnavailable},
		{&types.FederationSourceRetryableException{}, errs.KindUnavailable},
		{apiErr{"ThrottlingException"}, errs.KindUnavailable},
		{apiErr{"RequestLimitExceeded"}, errs.KindUnavailable},
		{fmt.Errorf("wrapped: %w", &types.EntityNotFoundException{}), errs.KindNotFound},
		{context.DeadlineExceeded, errs.KindUnavailable},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, errs.KindUnavailable},
		{apiErr{"SomethingNew"}, errs.KindUnknown},
	} {
		t.Run(fmt.Sprintf("%T/%v", tc.err, tc.err), func(t *testing.T) {
			got := c.classify("op", tc.err)
			if errs.KindOf(got) != tc.kind {
				t.Fatalf("%v: got %v, want %v", tc.err, errs.KindOf(got), tc.kind)
			}
			if !errors.Is(got, tc.err) && !errors.As(got, new(*errs.Error)) {
				t.Fatalf("cause lost: %v", got)
			}
		})
	}
}

func TestSkewedValueEncoding(t *testing.T) {
	for _, vals := range [][]string{{}, {""}, {"a"}, {"a$b", "12", ""}, {"3$x"}} {
		if got := parseSkewedValue(skewedValue(vals)); fmt.Sprint(got) != fmt.Sprint(vals) {
			t.Errorf("%q -> %q -> %q", vals, skewedValue(vals), got)
		}
	}
	// AWS's Hive client writes "1$a2$bc" for [a bc].
	if got := skewedValue([]string{"a", "bc"}); got != "1$a2$bc" {
		t.Errorf("encoding %q", got)
	}
	if got := parseSkewedValue("plain"); len(got) != 1 || got[0] != "plain" {
		t.Errorf("foreign value %q", got)
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := New(t.Context(), Config{Region: "x", AccessKeyID: "only-id"}, nil)
	wantKind(t, "half credentials", err, errs.KindInvalid)
	_, err = New(t.Context(), Config{Region: "x", PageSize: -1}, nil)
	wantKind(t, "negative page size", err, errs.KindInvalid)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	_, err = New(t.Context(), Config{AccessKeyID: "a", SecretAccessKey: "b"}, nil)
	wantKind(t, "no region", err, errs.KindInvalid)
}

func TestHasNumberLiteral(t *testing.T) {
	for s, want := range map[string]bool{
		`ds = '2024-01-01'`:         false,
		`ds = "x1" AND k2 = 'a'`:    false,
		`hr >= 20`:                  true,
		`(k1 = 'a') OR (hr IN (1))`: true,
		`col_9 = 'it''s 5'`:         false,
		`ds = 'a\'5'`:               false,
	} {
		if got := hasNumberLiteral(s); got != want {
			t.Errorf("%s: %v, want %v", s, got, want)
		}
	}
}
