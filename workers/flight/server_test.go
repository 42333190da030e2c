package flight

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/propolis/propolis/internal/errs"
)

func TestReadTable(t *testing.T) {
	f := startFleet(t, 3, nil)
	c := dial(t, f.addrs[0])
	cases := []struct {
		name  string
		user  string
		desc  *flight.FlightDescriptor
		rows  int64
		bytes int64
	}{
		{"path", "alice", pathDesc("sales", "customers"), 24, 960},
		{"path upper case", "alice", pathDesc("Sales", "CUSTOMERS"), 24, 960},
		{"json cmd", "alice", cmdDesc(`{"table": "sales.customers"}`), 24, 960},
		{"bare token", "", cmdDesc("tok-alice-customers.sig"), 24, 960},
		{"bare token, same user", "alice", cmdDesc(" tok-alice-customers.sig\n"), 24, 960},
		{"json token", "", cmdDesc(`{"token": "tok-alice-customers.sig"}`), 24, 960},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := as(context.Background(), tc.user)
			info, err := c.GetFlightInfo(ctx, tc.desc)
			if err != nil {
				t.Fatal(err)
			}
			if info.TotalRecords != tc.rows || info.TotalBytes != tc.bytes {
				t.Errorf("totals %d rows %d bytes, want %d, %d", info.TotalRecords, info.TotalBytes, tc.rows, tc.bytes)
			}
			schema, err := flight.DeserializeSchema(info.Schema, f.srvMem)
			if err != nil || !schema.Equal(fakeSchema) {
				t.Fatalf("schema %v (%v), want %v", schema, err, fakeSchema)
			}
			rows, perLoc := f.readAll(ctx, t, info)
			if want := wantRows(3, 2, 4); !slices.Equal(rows, want) {
				t.Errorf("rows\n got %v\nwant %v", rows, want)
			}
			if len(perLoc) != 3 {
				t.Errorf("3 works served by %d workers (%v), want 3", len(perLoc), perLoc)
			}
			sr, err := c.GetSchema(ctx, tc.desc)
			if err != nil {
				t.Fatal(err)
			}
			if s2, err := flight.DeserializeSchema(sr.Schema, f.srvMem); err != nil || !s2.Equal(fakeSchema) {
				t.Errorf("GetSchema: %v (%v)", s2, err)
			}
		})
	}
	t.Run("empty table", func(t *testing.T) {
		ctx := as(context.Background(), "alice")
		info, err := c.GetFlightInfo(ctx, pathDesc("sales", "empty"))
		if err != nil {
			t.Fatal(err)
		}
		if rows, _ := f.readAll(ctx, t, info); len(rows) != 0 {
			t.Errorf("rows %v", rows)
		}
	})
	t.Run("unknown sizes", func(t *testing.T) {
		info, err := c.GetFlightInfo(as(context.Background(), "alice"), pathDesc("sales", "orders"))
		if err != nil {
			t.Fatal(err)
		}
		if info.TotalRecords != -1 || info.TotalBytes != -1 {
			t.Errorf("totals %d, %d; want -1, -1", info.TotalRecords, info.TotalBytes)
		}
	})
}

func TestEndpointsSpread(t *testing.T) {
	f := startFleet(t, 3, nil)
	c := dial(t, f.addrs[1])
	ctx := as(context.Background(), "bob")
	total := map[string]int{}
	for call := 0; call < 2; call++ {
		// 6 works, then 3: every worker gets 3 tickets in all, whatever the first offset.
		table := map[int]string{0: "orders", 1: "customers"}[call]
		info, err := c.GetFlightInfo(ctx, pathDesc("sales", table))
		if err != nil {
			t.Fatal(err)
		}
		for i, ep := range info.Endpoint {
			if len(ep.Location) != 1 {
				t.Fatalf("endpoint %d: %d locations", i, len(ep.Location))
			}
			if i > 0 && ep.Location[0].Uri == info.Endpoint[i-1].Location[0].Uri {
				t.Errorf("endpoints %d and %d both on %s", i-1, i, ep.Location[0].Uri)
			}
			total[ep.Location[0].Uri]++
		}
	}
	for _, l := range f.locs {
		if total[l] != 3 {
			t.Errorf("%s got %d tickets, want 3 (%v)", l, total[l], total)
		}
	}
}

func TestNoLocations(t *testing.T) {
	f := startFleet(t, 1, func(c *Config) { c.Locations = nil })
	c := dial(t, f.addrs[0])
	ctx := as(context.Background(), "alice")
	info, err := c.GetFlightInfo(ctx, pathDesc("sales", "customers"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range info.Endpoint {
		if len(ep.Location) != 0 {
			t.Errorf("location %v, want none (this server)", ep.Location)
		}
	}
	if rows, _ := f.readAll(ctx, t, info); len(rows) != 24 {
		t.Errorf("%d rows", len(rows))
	}
}

func TestIdentity(t *testing.T) {
	trusting := startFleet(t, 1, nil)
	distrusting := startFleet(t, 1, func(c *Config) { c.TrustAssertedIdentity = false })
	customers := pathDesc("sales", "customers")
	token := cmdDesc("tok-alice-customers.sig")
	cases := []struct {
		name string
		f    *fleet
		md   []string
		desc *flight.FlightDescriptor
		want codes.Code
	}{
		{"no user", trusting, nil, customers, codes.Unauthenticated},
		{"user", trusting, []string{HeaderUser, "alice"}, customers, codes.OK},
		{"user and groups", trusting, []string{HeaderUser, "alice", HeaderGroups, "analysts, eu"}, customers, codes.OK},
		{"empty user", trusting, []string{HeaderUser, " "}, customers, codes.Unauthenticated},
		{"overlong user", trusting, []string{HeaderUser, strings.Repeat("a", 300)}, customers, codes.Unauthenticated},
		{"two users", trusting, []string{HeaderUser, "alice", HeaderUser, "bob"}, customers, codes.Unauthenticated},
		{"groups without user", trusting, []string{HeaderGroups, "admins"}, customers, codes.Unauthenticated},
		{"untrusted assertion", distrusting, []string{HeaderUser, "alice"}, customers, codes.Unauthenticated},
		{"bearer without basic auth", trusting, []string{"authorization", "Bearer abc.def"}, customers, codes.Unauthenticated},
		{"basic on a data call", trusting, []string{"authorization", "Basic YWxpY2U6eA=="}, customers, codes.Unauthenticated},
		{"token, anonymous", distrusting, nil, token, codes.OK},
		{"token, its user", trusting, []string{HeaderUser, "alice"}, token, codes.OK},
		{"token, another user", trusting, []string{HeaderUser, "mallory"}, token, codes.PermissionDenied},
		{"forged token", trusting, nil, cmdDesc("tok-alice-customers.forged"), codes.PermissionDenied},
		{"untrusted assertion with token", distrusting, []string{HeaderUser, "alice"}, token, codes.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, tc.f.addrs[0])
			ctx := metadata.AppendToOutgoingContext(context.Background(), tc.md...)
			_, err := c.GetFlightInfo(ctx, tc.desc)
			if got := status.Code(err); got != tc.want {
				t.Errorf("GetFlightInfo: %v, want %v", err, tc.want)
			}
			if tc.want == codes.OK {
				return
			}
			// Every data call refuses alike.
			_, err = c.GetSchema(ctx, tc.desc)
			if got := status.Code(err); got != tc.want {
				t.Errorf("GetSchema: %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("tickets stay with their user", func(t *testing.T) {
		c := dial(t, trusting.addrs[0])
		info, err := c.GetFlightInfo(as(context.Background(), "alice"), customers)
		if err != nil {
			t.Fatal(err)
		}
		tkt := info.Endpoint[0].Ticket
		for _, tc := range []struct {
			user string
			want codes.Code
		}{{"mallory", codes.PermissionDenied}, {"", codes.PermissionDenied}, {"alice", codes.OK}} {
			_, err := readTicket(as(context.Background(), tc.user), t, c, tkt)
			if got := status.Code(err); got != tc.want {
				t.Errorf("DoGet as %q: %v, want %v", tc.user, err, tc.want)
			}
		}
	})
}

func TestHiddenLikeMissing(t *testing.T) {
	f := startFleet(t, 1, nil)
	c := dial(t, f.addrs[0])
	ctx := as(context.Background(), "alice")
	shape := func(err error) string {
		return strings.NewReplacer("acl.secret", "T", "acl.nosuch", "T").Replace(codeMsg(err))
	}

	_, hidden := c.GetFlightInfo(ctx, pathDesc("acl", "secret"))
	_, missing := c.GetFlightInfo(ctx, pathDesc("acl", "nosuch"))
	if status.Code(hidden) != codes.NotFound || shape(hidden) != shape(missing) {
		t.Errorf("GetFlightInfo: hidden %q, missing %q", codeMsg(hidden), codeMsg(missing))
	}
	_, hidden = c.GetSchema(ctx, pathDesc("acl", "secret"))
	_, missing = c.GetSchema(ctx, pathDesc("acl", "nosuch"))
	if shape(hidden) != shape(missing) {
		t.Errorf("GetSchema: hidden %q, missing %q", codeMsg(hidden), codeMsg(missing))
	}
	detok := func(table string) error {
		body, _ := json.Marshal(map[string]any{"table": table, "key": "k1", "values": []string{"tok_1"}})
		s, err := c.DoAction(as(context.Background(), "steward"), &flight.Action{Type: ActionDetokenize, Body: body})
		if err != nil {
			return err
		}
		_, err = s.Recv()
		return err
	}
	hidden, missing = detok("acl.secret"), detok("acl.nosuch")
	if status.Code(hidden) != codes.NotFound || shape(hidden) != shape(missing) {
		t.Errorf("detokenize: hidden %q, missing %q", codeMsg(hidden), codeMsg(missing))
	}
	if strings.Contains(codeMsg(hidden), "rule") {
		t.Errorf("the backend's reason leaked: %q", codeMsg(hidden))
	}
	// The admin sees it.
	if _, err := c.GetFlightInfo(as(context.Background(), "admin"), pathDesc("acl", "secret")); err != nil {
		t.Errorf("admin: %v", err)
	}
}

func TestErrorMapping(t *testing.T) {
	want := map[errs.Kind]codes.Code{
		errs.KindUnknown:     codes.Internal,
		errs.KindNotFound:    codes.NotFound,
		errs.KindExists:      codes.AlreadyExists,
		errs.KindDenied:      codes.PermissionDenied,
		errs.KindInvalid:     codes.InvalidArgument,
		errs.KindUnavailable: codes.Unavailable,
		errs.KindUnsupported: codes.Unimplemented,
		errs.KindConflict:    codes.FailedPrecondition,
	}
	for _, k := range errs.Kinds {
		c, ok := want[k]
		if !ok {
			t.Errorf("kind %v has no expected gRPC code: map it in codeOf and here", k)
			continue
		}
		if got := codeOf(k); got != c {
			t.Errorf("codeOf(%v) = %v, want %v", k, got, c)
		}
	}

	// End to end: a backend error of every kind, wrapped, reaches the client with its code.
	f := startFleet(t, 1, nil)
	c := dial(t, f.addrs[0])
	mk := map[errs.Kind]func(string, ...any) error{
		errs.KindNotFound: errs.NotFound, errs.KindExists: errs.Exists, errs.KindDenied: errs.Denied,
		errs.KindInvalid: errs.Invalid, errs.KindUnavailable: errs.Unavailable,
		errs.KindUnsupported: errs.Unsupported, errs.KindConflict: errs.Conflict,
	}
	for _, k := range errs.Kinds {
		err := error(&secretError{})
		if k != errs.KindUnknown {
			err = mk[k]("reading s3://bucket/key: %w", err)
		}
		f.backend.fail["sales.customers"] = err
		_, got := c.GetFlightInfo(as(context.Background(), "alice"), pathDesc("sales", "customers"))
		if status.Code(got) != want[k] {
			t.Errorf("%v: got %v, want %v", k, got, want[k])
		}
		if k == errs.KindUnknown && strings.Contains(codeMsg(got), "s3://") {
			t.Errorf("an unclassified error's text reached the client: %v", got)
		}
	}
	for _, tc := range []struct {
		err  error
		want codes.Code
	}{
		{context.Canceled, codes.Canceled},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{status.Error(codes.ResourceExhausted, "x"), codes.ResourceExhausted},
		{errs.Busy("worker busy"), codes.ResourceExhausted},
		{fmt.Errorf("scan: %w", errs.Busy("worker busy")), codes.ResourceExhausted},
		{nil, codes.OK},
	} {
		if got := status.Code(toStatus(tc.err)); got != tc.want {
			t.Errorf("toStatus(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

type secretError struct{}

func (*secretError) Error() string {
	return "open s3://bucket/raw/customers.parquet: access key AKIA..."
}

func TestCancelledStream(t *testing.T) {
	f := startFleet(t, 1, nil)
	c := dial(t, f.addrs[0])
	ctx, cancel := context.WithCancel(as(context.Background(), "alice"))
	info, err := c.GetFlightInfo(ctx, pathDesc("sales", "endless"))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3 && rdr.Next(); i++ {
	}
	cancel()
	rdr.Release()
	waitIdle(t, f)
	f.mem.AssertSize(t, 0)
	f.srvMem.AssertSize(t, 0)
	if got := value(t, f.servers[0].m.active); got != 0 {
		t.Errorf("active streams %v after cancel", got)
	}
}

func TestLimits(t *testing.T) {
	t.Run("max streams", func(t *testing.T) {
		f := startFleet(t, 1, func(c *Config) { c.MaxStreams = 1 })
		c := dial(t, f.addrs[0])
		ctx, cancel := context.WithCancel(as(context.Background(), "alice"))
		defer cancel()
		info, err := c.GetFlightInfo(ctx, pathDesc("sales", "endless"))
		if err != nil {
			t.Fatal(err)
		}
		stream, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil { // the stream is open on the server
			t.Fatal(err)
		}
		_, err = readTicket(ctx, t, c, info.Endpoint[0].Ticket)
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("second stream: %v, want ResourceExhausted", err)
		}
		if got := value(t, f.servers[0].m.rejected.WithLabelValues("ResourceExhausted")); got != 1 {
			t.Errorf("rejected calls %v, want 1", got)
		}
		cancel()
		waitIdle(t, f)
	})
	t.Run("call deadline", func(t *testing.T) {
		f := startFleet(t, 1, func(c *Config) { c.CallTimeout = 300 * time.Millisecond })
		c := dial(t, f.addrs[0])
		ctx := as(context.Background(), "alice")
		info, err := c.GetFlightInfo(ctx, pathDesc("sales", "endless"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = readTicket(ctx, t, c, info.Endpoint[0].Ticket)
		if status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("endless stream: %v, want DeadlineExceeded", err)
		}
		waitIdle(t, f)
	})
	t.Run("max message", func(t *testing.T) {
		f := startFleet(t, 1, func(c *Config) { c.MaxMessageBytes = 1 << 20 })
		c := dial(t, f.addrs[0])
		ctx := as(context.Background(), "alice")
		info, err := c.GetFlightInfo(ctx, pathDesc("sales", "huge")) // one 4 MiB batch
		if err != nil {
			t.Fatal(err)
		}
		_, err = readTicket(ctx, t, c, info.Endpoint[0].Ticket)
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("oversized batch: %v, want ResourceExhausted", err)
		}
		waitIdle(t, f)
		// The server still serves.
		if _, err := c.GetFlightInfo(ctx, pathDesc("sales", "customers")); err != nil {
			t.Error(err)
		}
	})
}

func TestMetrics(t *testing.T) {
	f := startFleet(t, 1, func(c *Config) { c.Locations = nil })
	c := dial(t, f.addrs[0])
	ctx := as(context.Background(), "alice")
	info, err := c.GetFlightInfo(ctx, pathDesc("sales", "customers"))
	if err != nil {
		t.Fatal(err)
	}
	f.readAll(ctx, t, info)
	c.GetFlightInfo(context.Background(), pathDesc("sales", "customers")) // no user: rejected
	m := f.servers[0].m
	for name, tc := range map[string]struct {
		got  float64
		want float64
	}{
		"rows":     {value(t, m.rows), 24},
		"batches":  {value(t, m.batches), 6},
		"active":   {value(t, m.active), 0},
		"rejected": {value(t, m.rejected.WithLabelValues("Unauthenticated")), 1},
		"doget ok": {value(t, m.calls.WithLabelValues("DoGet", "OK")), 3},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", name, tc.got, tc.want)
		}
	}
	if b := value(t, m.bytesOut); b < 24*8 {
		t.Errorf("bytes out %v", b)
	}
	for name, h := range map[string]prometheus.Histogram{"stream": m.streamSeconds, "first batch": m.firstBatchSeconds} {
		var d dto.Metric
		if err := h.Write(&d); err != nil || d.Histogram.GetSampleCount() != 3 {
			t.Errorf("%s seconds: %d samples (%v), want 3", name, d.Histogram.GetSampleCount(), err)
		}
	}
	mfs, err := f.regs[0].Gather()
	if err != nil || len(mfs) < 5 {
		t.Errorf("registry has %d metric families (%v)", len(mfs), err)
	}
}

func TestPanicRecovered(t *testing.T) {
	f := startFleet(t, 1, nil)
	f.backend.tables["sales.panic"] = fakeTable{works: 1}
	c := dial(t, f.addrs[0])
	ctx := as(context.Background(), "alice")
	_, err := c.GetFlightInfo(ctx, pathDesc("sales", "panic"))
	if status.Code(err) != codes.Internal || strings.Contains(err.Error(), "backend bug") {
		t.Errorf("panic: %v, want a bare Internal", err)
	}
	if _, err := c.GetFlightInfo(ctx, pathDesc("sales", "customers")); err != nil {
		t.Errorf("after a panic: %v", err)
	}
}

func TestUnimplemented(t *testing.T) {
	f := startFleet(t, 1, nil)
	c := dial(t, f.addrs[0])
	ctx := as(context.Background(), "alice")
	check := func(name string, err error) {
		t.Helper()
		if status.Code(err) != codes.Unimplemented || len(status.Convert(err).Message()) < 20 {
			t.Errorf("%s: %v, want Unimplemented with a reason", name, err)
		}
	}
	put, err := c.DoPut(ctx)
	if err == nil {
		_, err = put.Recv()
	}
	check("DoPut", err)
	ex, err := c.DoExchange(ctx)
	if err == nil {
		_, err = ex.Recv()
	}
	check("DoExchange", err)
	_, err = c.PollFlightInfo(ctx, pathDesc("sales", "customers"))
	check("PollFlightInfo", err)
	act, err := c.DoAction(ctx, &flight.Action{Type: "drop_table"})
	if err == nil {
		_, err = act.Recv()
	}
	check("unknown action", err)
	hs, err := c.Handshake(ctx)
	if err == nil {
		_, err = hs.Recv()
	}
	check("Handshake without basic auth", err)
}

func TestListFlightsAndActions(t *testing.T) {
	f := startFleet(t, 1, nil)
	c := dial(t, f.addrs[0])
	list := func(user, crit string) []string {
		s, err := c.ListFlights(as(context.Background(), user), &flight.Criteria{Expression: []byte(crit)})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for {
			info, err := s.Recv()
			if err != nil {
				if status.Code(err) != codes.OK && err.Error() != "EOF" {
					t.Fatal(err)
				}
				break
			}
			names = append(names, strings.Join(info.FlightDescriptor.Path, "."))
		}
		return names
	}
	if got := list("alice", ""); !slices.Equal(got, []string{"sales.customers", "sales.orders"}) {
		t.Errorf("alice lists %v", got)
	}
	if got := list("admin", "acl"); !slices.Equal(got, []string{"acl.secret"}) {
		t.Errorf("admin lists acl: %v", got)
	}
	s, err := c.ListActions(as(context.Background(), "alice"), &flight.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Recv()
	if err != nil || a.Type != ActionDetokenize {
		t.Errorf("actions: %v, %v", a, err)
	}
}

func TestDetokenize(t *testing.T) {
	f := startFleet(t, 1, nil)
	c := dial(t, f.addrs[0])
	call := func(user, body string) (string, error) {
		s, err := c.DoAction(as(context.Background(), user), &flight.Action{Type: ActionDetokenize, Body: []byte(body)})
		if err != nil {
			return "", err
		}
		r, err := s.Recv()
		if err != nil {
			return "", err
		}
		return string(r.Body), nil
	}
	cases := []struct {
		name, user, body string
		want             string
		code             codes.Code
	}{
		{"steward", "steward", `{"table": "sales.customers", "key": "k1", "values": ["tok_1", null, "tok_42"]}`,
			`{"values":["user1@example.com",null,"user42@example.com"]}`, codes.OK},
		{"no values", "steward", `{"table": "sales.customers", "key": "k1", "values": []}`, `{"values":[]}`, codes.OK},
		{"analyst", "alice", `{"table": "sales.customers", "key": "k1", "values": ["tok_1"]}`, "", codes.PermissionDenied},
		{"anonymous", "", `{"table": "sales.customers", "key": "k1", "values": ["tok_1"]}`, "", codes.Unauthenticated},
		{"unknown key", "steward", `{"table": "sales.customers", "key": "k9", "values": ["tok_1"]}`, "", codes.InvalidArgument},
		{"no key", "steward", `{"table": "sales.customers", "values": ["tok_1"]}`, "", codes.InvalidArgument},
		{"bad table", "steward", `{"table": "customers", "key": "k1", "values": []}`, "", codes.InvalidArgument},
		{"unknown field", "steward", `{"table": "sales.customers", "key": "k1", "values": [], "as": "root"}`, "", codes.InvalidArgument},
		{"not json", "steward", `tok_1`, "", codes.InvalidArgument},
		{"trailing", "steward", `{"table": "sales.customers", "key": "k1", "values": []} {}`, "", codes.InvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := call(tc.user, tc.body)
			if status.Code(err) != tc.code {
				t.Fatalf("%v, want %v", err, tc.code)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

type passwords map[string]string

func (p passwords) Authenticate(ctx context.Context, user, password string) (Caller, error) {
	if want, ok := p[user]; !ok || want != password {
		return Caller{}, errs.Denied("bad password")
	}
	return Caller{User: user, Groups: []string{"analysts"}}, nil
}

func TestNewRejectsBadConfig(t *testing.T) {
	b := newFake(nil)
	for name, cfg := range map[string]Config{
		"no backend":       {},
		"bad location":     {Backend: b, Locations: []string{"http://x:1"}},
		"location no host": {Backend: b, Locations: []string{"grpc://"}},
		"short bearer key": {Backend: b, Authenticator: passwords{}, BearerKey: []byte("short")},
	} {
		if _, err := New(cfg); errs.KindOf(err) != errs.KindInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}
