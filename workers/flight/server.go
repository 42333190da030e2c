package flight

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/propolis/propolis/internal/errs"
)

// ActionDetokenize is the Flight action that decrypts values for callers holding the
// detokenize privilege.
const ActionDetokenize = "detokenize"

// Defaults for the zero Config fields.
const (
	DefaultMaxMessageBytes = 16 << 20
	DefaultCallTimeout     = 30 * time.Minute
	DefaultMaxStreams      = 64
	DefaultBearerTTL       = time.Hour
	DefaultShutdownGrace   = 5 * time.Second
)

// Config configures a Server. Backend is required; the zero value of every other field
// means its default.
type Config struct {
	Backend Backend
	// Allocator serves the IPC writer's scratch memory.
	Allocator memory.Allocator
	// Locations are the fleet's Flight locations (grpc://host:port, grpc+tls://host:port).
	// A plan's endpoints are spread over them round-robin; with none, every endpoint names
	// no location, which Flight clients read as "this server".
	Locations []string
	// TrustAssertedIdentity accepts the x-propolis-user and x-propolis-groups headers. Only
	// for listeners reachable by trusted services, like the metastore's set_ugi.
	TrustAssertedIdentity bool
	// Authenticator enables the basic-auth Handshake. BearerKey (32 bytes at least, shared
	// by the fleet) signs the bearer tokens it returns, valid for BearerTTL.
	Authenticator Authenticator
	BearerKey     []byte
	BearerTTL     time.Duration
	// TLS, when set, serves Flight over TLS (grpc+tls locations).
	TLS *tls.Config
	// MaxMessageBytes bounds every gRPC message either way, a record batch included.
	MaxMessageBytes int
	// CallTimeout is the deadline of every call, a whole DoGet stream included.
	CallTimeout time.Duration
	// MaxStreams bounds concurrent DoGet streams; beyond it a DoGet is ResourceExhausted.
	MaxStreams int
	// ShutdownGrace is how long Close lets streams in progress finish.
	ShutdownGrace time.Duration
	// Registerer receives the server's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Now is the clock for bearer tokens.
	Now func() time.Time
}

// Server is an Arrow Flight service over a Backend.
type Server struct {
	pb.UnimplementedFlightServiceServer

	cfg     Config
	mem     memory.Allocator
	log     *slog.Logger
	m       *metrics
	gs      *grpc.Server
	next    atomic.Uint64 // round-robin position in cfg.Locations
	streams chan struct{} // one token per DoGet in progress
	once    sync.Once
}

// New validates cfg and builds a Server; Serve starts it.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errs.Invalid("flight: no backend")
	}
	for _, l := range cfg.Locations {
		u, err := url.Parse(l)
		if err != nil || u.Host == "" {
			return nil, errs.Invalid("flight: location %q: want grpc://host:port", l)
		}
		switch u.Scheme {
		case "grpc", "grpc+tcp", "grpc+tls":
		default:
			return nil, errs.Invalid("flight: location %q: scheme must be grpc, grpc+tcp or grpc+tls", l)
		}
	}
	if cfg.Authenticator != nil && len(cfg.BearerKey) < 32 {
		return nil, errs.Invalid("flight: basic authentication needs a bearer key of 32 bytes or more")
	}
	if cfg.Allocator == nil {
		cfg.Allocator = memory.NewGoAllocator()
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = DefaultMaxStreams
	}
	if cfg.BearerTTL <= 0 {
		cfg.BearerTTL = DefaultBearerTTL
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("flight: metrics: %w", err)
	}
	s := &Server{cfg: cfg, mem: cfg.Allocator, log: cfg.Logger, m: m, streams: make(chan struct{}, cfg.MaxStreams)}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(cfg.MaxMessageBytes),
		grpc.MaxSendMsgSize(cfg.MaxMessageBytes),
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
	}
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	s.gs = grpc.NewServer(opts...)
	pb.RegisterFlightServiceServer(s.gs, s)
	return s, nil
}

// Serve accepts Flight calls on lis until ctx is done or Close is called.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	stop := context.AfterFunc(ctx, s.Close)
	defer stop()
	if err := s.gs.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// Close stops accepting calls, lets streams in progress run for ShutdownGrace, then cuts
// them off.
func (s *Server) Close() {
	s.once.Do(func() {
		done := make(chan struct{})
		go func() { s.gs.GracefulStop(); close(done) }()
		t := time.NewTimer(s.cfg.ShutdownGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			s.gs.Stop()
			<-done
		}
	})
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// rejectedCodes are refusals, as opposed to failures while serving.
var rejectedCodes = map[codes.Code]bool{
	codes.Unauthenticated: true, codes.PermissionDenied: true, codes.InvalidArgument: true,
	codes.NotFound: true, codes.ResourceExhausted: true, codes.Unimplemented: true,
	codes.FailedPrecondition: true, codes.AlreadyExists: true,
}

// finish maps err to a status, counts the call and logs failures whose text the client
// does not get.
func (s *Server) finish(method string, err error) error {
	if err != nil && errs.KindOf(err) == errs.KindUnknown {
		if _, ok := status.FromError(err); !ok && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			s.log.Error("flight call failed", "method", method, "err", err)
		}
	}
	err = toStatus(err)
	c := status.Code(err)
	s.m.calls.WithLabelValues(method, c.String()).Inc()
	if rejectedCodes[c] {
		s.m.rejected.WithLabelValues(c.String()).Inc()
	}
	return err
}

// recovered turns a panic in a handler (or a Backend) into an Internal error, so one bad
// call cannot take the worker down.
func (s *Server) recovered(method string, err *error) {
	if r := recover(); r != nil {
		s.log.Error("flight call panicked", "method", method, "panic", r, "stack", string(debug.Stack()))
		*err = fmt.Errorf("panic: %v", r)
	}
}

func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	defer func() { err = s.finish(methodName(info.FullMethod), err) }()
	defer s.recovered(info.FullMethod, &err)
	return h(ctx, req)
}

func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	ctx, cancel := context.WithTimeout(ss.Context(), s.cfg.CallTimeout)
	defer cancel()
	defer func() { err = s.finish(methodName(info.FullMethod), err) }()
	defer s.recovered(info.FullMethod, &err)
	return h(srv, &ctxStream{ServerStream: ss, ctx: ctx})
}

func methodName(full string) string {
	for i := len(full) - 1; i >= 0; i-- {
		if full[i] == '/' {
			return full[i+1:]
		}
	}
	return full
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (c *ctxStream) Context() context.Context { return c.ctx }

// plan resolves a target for a caller. Table plans need a user; token plans carry their
// own, and a call asserting a different one is refused.
func (s *Server) plan(ctx context.Context, caller Caller, t target) (*arrow.Schema, []Work, error) {
	var (
		schema *arrow.Schema
		works  []Work
		err    error
	)
	if t.Token != "" {
		tb, ok := s.cfg.Backend.(TokenBackend)
		if !ok {
			return nil, nil, errs.Unsupported("this worker does not accept worker tokens")
		}
		var owner Caller
		owner, schema, works, err = tb.PlanToken(ctx, t.Token)
		if err != nil {
			return nil, nil, err
		}
		if !caller.Anonymous() && caller.User != owner.User {
			return nil, nil, errs.Denied("the worker token was issued to another user")
		}
	} else {
		if caller.Anonymous() {
			return nil, nil, errNoUser
		}
		schema, works, err = s.cfg.Backend.Plan(ctx, caller, t.DB, t.Table)
		if err != nil {
			return nil, nil, hideTable(err, t)
		}
	}
	if schema == nil {
		return nil, nil, fmt.Errorf("backend planned %s without a schema", t)
	}
	return schema, works, nil
}

// hideTable gives every not-found the same text, whatever the backend said, so a hidden
// table reads exactly as a missing one.
func hideTable(err error, t target) error {
	if errs.KindOf(err) == errs.KindNotFound {
		return errs.NotFound("table %s.%s not found", t.DB, t.Table)
	}
	return err
}

// endpoints spreads works over the fleet: consecutive works, within a plan and across
// plans, go to consecutive locations.
func (s *Server) endpoints(works []Work) []*flight.FlightEndpoint {
	eps := make([]*flight.FlightEndpoint, len(works))
	n := uint64(len(s.cfg.Locations))
	start := s.next.Add(uint64(len(works))) - uint64(len(works))
	for i, w := range works {
		ep := &flight.FlightEndpoint{Ticket: &flight.Ticket{Ticket: w.Ticket}}
		if n > 0 {
			ep.Location = []*flight.Location{{Uri: s.cfg.Locations[(start+uint64(i))%n]}}
		}
		eps[i] = ep
	}
	return eps
}

func (s *Server) flightInfo(desc *flight.FlightDescriptor, schema *arrow.Schema, works []Work) *flight.FlightInfo {
	rows, size := int64(0), int64(0)
	for _, w := range works {
		if rows >= 0 {
			rows = addKnown(rows, w.Rows)
		}
		if size >= 0 {
			size = addKnown(size, w.Bytes)
		}
	}
	return &flight.FlightInfo{
		Schema:           flight.SerializeSchema(schema, s.mem),
		FlightDescriptor: desc,
		Endpoint:         s.endpoints(works),
		TotalRecords:     rows,
		TotalBytes:       size,
	}
}

// addKnown adds estimates; one unknown (negative) makes the total unknown (-1).
func addKnown(total, v int64) int64 {
	if v < 0 {
		return -1
	}
	return total + v
}

// GetFlightInfo plans a table (or a worker token) for the caller.
func (s *Server) GetFlightInfo(ctx context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	caller, err := s.identity(ctx)
	if err != nil {
		return nil, err
	}
	t, err := parseDescriptor(desc)
	if err != nil {
		return nil, err
	}
	schema, works, err := s.plan(ctx, caller, t)
	if err != nil {
		return nil, err
	}
	return s.flightInfo(desc, schema, works), nil
}

// GetSchema returns the schema the caller would read.
func (s *Server) GetSchema(ctx context.Context, desc *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	caller, err := s.identity(ctx)
	if err != nil {
		return nil, err
	}
	t, err := parseDescriptor(desc)
	if err != nil {
		return nil, err
	}
	schema, _, err := s.plan(ctx, caller, t)
	if err != nil {
		return nil, err
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(schema, s.mem)}, nil
}

// countingStream counts the IPC bytes DoGet sends.
type countingStream struct {
	flight.FlightService_DoGetServer
	n int64
}

func (c *countingStream) Send(d *flight.FlightData) error {
	c.n += int64(len(d.DataHeader) + len(d.DataBody))
	return c.FlightService_DoGetServer.Send(d)
}

// DoGet streams the batches of one ticket.
func (s *Server) DoGet(tkt *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	ctx := stream.Context()
	caller, err := s.identity(ctx)
	if err != nil {
		return err
	}
	if tkt == nil || len(tkt.Ticket) == 0 {
		return errs.Invalid("empty ticket")
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		return status.Errorf(codes.ResourceExhausted, "worker busy: %d streams in progress; retry later or on another worker", s.cfg.MaxStreams)
	}
	s.m.active.Inc()
	defer s.m.active.Dec()
	start := time.Now()
	defer func() { s.m.streamSeconds.Observe(time.Since(start).Seconds()) }()

	rdr, err := s.cfg.Backend.Open(ctx, caller, tkt.Ticket)
	if err != nil {
		return err
	}
	defer rdr.Release()

	cs := &countingStream{FlightService_DoGetServer: stream}
	w := flight.NewRecordWriter(cs, ipc.WithSchema(rdr.Schema()), ipc.WithAllocator(s.mem))
	closed, first := false, true
	defer func() {
		if !closed {
			w.Close()
		}
	}()
	for rdr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := rdr.RecordBatch()
		if first {
			s.m.firstBatchSeconds.Observe(time.Since(start).Seconds())
			first = false
		}
		before := cs.n
		if err := w.Write(rec); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			return fmt.Errorf("writing a record batch: %w", err)
		}
		s.m.rows.Add(float64(rec.NumRows()))
		s.m.batches.Inc()
		s.m.bytesOut.Add(float64(cs.n - before))
	}
	if err := rdr.Err(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	closed = true
	before := cs.n
	err = w.Close()
	s.m.bytesOut.Add(float64(cs.n - before))
	return err
}

// ListFlights lists the tables a Lister backend exposes to the caller, each with its
// plan. Criteria, when given, is a database name.
func (s *Server) ListFlights(c *flight.Criteria, stream flight.FlightService_ListFlightsServer) error {
	ctx := stream.Context()
	caller, err := s.identity(ctx)
	if err != nil {
		return err
	}
	if caller.Anonymous() {
		return errNoUser
	}
	l, ok := s.cfg.Backend.(Lister)
	if !ok {
		return nil
	}
	db := ""
	if c != nil && len(c.Expression) > 0 {
		t, err := tableTarget(string(c.Expression), "x")
		if err != nil {
			return errs.Invalid("list criteria is a database name: %w", err)
		}
		db = t.DB
	}
	tables, err := l.Tables(ctx, caller, db)
	if err != nil {
		return err
	}
	for _, name := range tables {
		t, err := tableTarget(name[0], name[1])
		if err != nil {
			return err
		}
		schema, works, err := s.plan(ctx, caller, t)
		if errs.KindOf(err) == errs.KindNotFound {
			continue // dropped or hidden since it was listed
		}
		if err != nil {
			return err
		}
		desc := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{t.DB, t.Table}}
		if err := stream.Send(s.flightInfo(desc, schema, works)); err != nil {
			return err
		}
	}
	return nil
}

// Handshake is Flight's basic-auth shape: "authorization: Basic ..." in, a bearer token out
// in the response headers and trailers.
func (s *Server) Handshake(stream flight.FlightService_HandshakeServer) error {
	if s.cfg.Authenticator == nil {
		return status.Error(codes.Unimplemented, "this worker has no basic authentication")
	}
	ctx := stream.Context()
	md, _ := metadata.FromIncomingContext(ctx)
	auth := md.Get(authHeader)
	if len(auth) == 0 {
		return status.Error(codes.Unauthenticated, "send the authorization header: Basic base64(user:password)")
	}
	user, password, ok := parseBasic(auth[0])
	if !ok {
		return status.Error(codes.Unauthenticated, "malformed basic authorization header")
	}
	caller, err := s.cfg.Authenticator.Authenticate(ctx, user, password)
	if err != nil {
		if k := errs.KindOf(err); k == errs.KindUnavailable {
			return err
		}
		return status.Error(codes.Unauthenticated, "wrong user name or password")
	}
	if err := checkCaller(caller); err != nil {
		return err
	}
	tok, err := s.issueBearer(caller)
	if err != nil {
		return err
	}
	out := metadata.Pairs(authHeader, "Bearer "+tok)
	if err := stream.SetHeader(out); err != nil {
		return err
	}
	stream.SetTrailer(out)
	return nil
}

// detokenizeRequest is the body of the detokenize action. Null values stay null and never
// reach the backend.
type detokenizeRequest struct {
	Table  string    `json:"table"`
	Key    string    `json:"key"`
	Values []*string `json:"values"`
}

type detokenizeResult struct {
	Values []*string `json:"values"`
}

// DoAction runs the detokenize action.
func (s *Server) DoAction(a *flight.Action, stream flight.FlightService_DoActionServer) error {
	ctx := stream.Context()
	caller, err := s.identity(ctx)
	if err != nil {
		return err
	}
	if a == nil || a.Type != ActionDetokenize {
		typ := ""
		if a != nil {
			typ = a.Type
		}
		return status.Errorf(codes.Unimplemented, "unknown action %q: this worker runs %q only", typ, ActionDetokenize)
	}
	d, ok := s.cfg.Backend.(Detokenizer)
	if !ok {
		return errs.Unsupported("this worker cannot detokenize")
	}
	if caller.Anonymous() {
		return errNoUser
	}
	var req detokenizeRequest
	if err := strictJSON(a.Body, &req); err != nil {
		return errs.Invalid("detokenize body: want {\"table\": \"db.t\", \"key\": \"...\", \"values\": [...]}: %v", err)
	}
	db, table, ok := strings.Cut(req.Table, ".")
	if !ok {
		return errs.Invalid("detokenize: table %q: want db.table", req.Table)
	}
	t, err := tableTarget(db, table)
	if err != nil {
		return err
	}
	if req.Key == "" {
		return errs.Invalid("detokenize: no key")
	}
	in := make([]string, 0, len(req.Values))
	for _, v := range req.Values {
		if v != nil {
			in = append(in, *v)
		}
	}
	plain, err := d.Detokenize(ctx, caller, t.DB, t.Table, req.Key, in)
	if err != nil {
		return hideTable(err, t)
	}
	if len(plain) != len(in) {
		return fmt.Errorf("backend detokenized %d values of %d", len(plain), len(in))
	}
	out := detokenizeResult{Values: make([]*string, len(req.Values))}
	j := 0
	for i, v := range req.Values {
		if v != nil {
			out.Values[i] = &plain[j]
			j++
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return stream.Send(&flight.Result{Body: body})
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// ListActions lists the actions this worker runs.
func (s *Server) ListActions(_ *flight.Empty, stream flight.FlightService_ListActionsServer) error {
	if _, ok := s.cfg.Backend.(Detokenizer); !ok {
		return nil
	}
	return stream.Send(&flight.ActionType{
		Type:        ActionDetokenize,
		Description: `decrypt values: body {"table": "db.t", "key": "key id", "values": [...]}; needs the detokenize privilege`,
	})
}

// The workers are read-only and plan at once; these calls say so.

func (s *Server) PollFlightInfo(context.Context, *flight.FlightDescriptor) (*flight.PollInfo, error) {
	return nil, status.Error(codes.Unimplemented, "PollFlightInfo is not supported: plans are immediate, use GetFlightInfo")
}

func (s *Server) DoPut(flight.FlightService_DoPutServer) error {
	return status.Error(codes.Unimplemented, "DoPut is not supported: propolis workers are read-only")
}

func (s *Server) DoExchange(flight.FlightService_DoExchangeServer) error {
	return status.Error(codes.Unimplemented, "DoExchange is not supported: propolis workers are read-only; use DoGet")
}
