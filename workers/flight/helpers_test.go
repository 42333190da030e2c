package flight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fleet is n servers over one backend, each advertising all n locations.
type fleet struct {
	backend *fakeBackend
	mem     *memory.CheckedAllocator // backend records
	srvMem  *memory.CheckedAllocator // the servers' IPC writers
	servers []*Server
	regs    []*prometheus.Registry
	addrs   []string // host:port
	locs    []string // grpc://host:port
}

// startFleet starts n servers on 127.0.0.1:0; tune adjusts each server's config. At cleanup
// it checks that neither the backend's nor the servers' allocator holds memory.
func startFleet(t *testing.T, n int, tune func(*Config)) *fleet {
	t.Helper()
	f := &fleet{
		mem:    memory.NewCheckedAllocator(memory.NewGoAllocator()),
		srvMem: memory.NewCheckedAllocator(memory.NewGoAllocator()),
	}
	f.backend = newFake(f.mem)
	lis := make([]net.Listener, n)
	for i := range lis {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lis[i] = l
		f.addrs = append(f.addrs, l.Addr().String())
		f.locs = append(f.locs, "grpc://"+l.Addr().String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, n)
	for i := range lis {
		reg := prometheus.NewRegistry()
		cfg := Config{
			Backend: f.backend, Allocator: f.srvMem, Locations: f.locs,
			TrustAssertedIdentity: true, Registerer: reg, ShutdownGrace: time.Second,
		}
		if tune != nil {
			tune(&cfg)
		}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		f.servers = append(f.servers, s)
		f.regs = append(f.regs, reg)
		go func(l net.Listener) { done <- s.Serve(ctx, l) }(lis[i])
	}
	t.Cleanup(func() {
		cancel()
		for range lis {
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
		if n := f.backend.open.Load(); n != 0 {
			t.Errorf("%d backend readers never released", n)
		}
		f.mem.AssertSize(t, 0)
		f.srvMem.AssertSize(t, 0)
	})
	return f
}

func dial(t *testing.T, addr string) flight.Client {
	t.Helper()
	c, err := flight.NewClientWithMiddleware(addr, nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// as returns ctx asserting user (and groups) in the identity headers.
func as(ctx context.Context, user string, groups ...string) context.Context {
	if user == "" {
		return ctx
	}
	kv := []string{HeaderUser, user}
	if len(groups) > 0 {
		kv = append(kv, HeaderGroups, strings.Join(groups, ","))
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

func pathDesc(db, table string) *flight.FlightDescriptor {
	return &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{db, table}}
}

func cmdDesc(cmd string) *flight.FlightDescriptor {
	return &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(cmd)}
}

// readTicket reads one endpoint's rows as "id|email|region" lines with a checked client
// allocator.
func readTicket(ctx context.Context, t *testing.T, c flight.Client, tkt *flight.Ticket) ([]string, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	stream, err := c.DoGet(ctx, tkt)
	if err != nil {
		return nil, err
	}
	rdr, err := flight.NewRecordReader(stream, ipc.WithAllocator(mem))
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	var rows []string
	for rdr.Next() {
		rec := rdr.RecordBatch()
		ids := rec.Column(0).(*array.Int64)
		em := rec.Column(1).(*array.String)
		rg := rec.Column(2).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			e := "null"
			if em.IsValid(i) {
				e = em.Value(i)
			}
			rows = append(rows, fmt.Sprintf("%d|%s|%s", ids.Value(i), e, rg.Value(i)))
		}
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return rows, err
	}
	return rows, nil
}

// readAll follows every endpoint of info to its location and returns the sorted rows and
// the number of tickets each location served.
func (f *fleet) readAll(ctx context.Context, t *testing.T, info *flight.FlightInfo) ([]string, map[string]int) {
	t.Helper()
	clients := map[string]flight.Client{}
	perLoc := map[string]int{}
	var rows []string
	for _, ep := range info.Endpoint {
		addr := f.addrs[0]
		if len(ep.Location) > 0 {
			addr = strings.TrimPrefix(ep.Location[0].Uri, "grpc://")
		}
		c, ok := clients[addr]
		if !ok {
			c = dial(t, addr)
			clients[addr] = c
		}
		r, err := readTicket(ctx, t, c, ep.Ticket)
		if err != nil {
			t.Fatalf("DoGet at %s: %v", addr, err)
		}
		perLoc[addr]++
		rows = append(rows, r...)
	}
	sort.Strings(rows)
	return rows, perLoc
}

// wantRows is what the fake serves for a table of works × batches × rows.
func wantRows(works, batches, rows int) []string {
	var out []string
	for w := 0; w < works; w++ {
		for n := 0; n < batches*rows; n++ {
			id := w*1000 + n
			e := fmt.Sprintf("tok_%d", id)
			if id%5 == 3 {
				e = "null"
			}
			out = append(out, fmt.Sprintf("%d|%s|%s", id, e, []string{"emea", "amer", "apac"}[id%3]))
		}
	}
	sort.Strings(out)
	return out
}

// waitIdle waits until no DoGet is in progress on s: a cancelled stream ends on the server
// after the client has moved on.
func waitIdle(t *testing.T, f *fleet) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.backend.open.Load() != 0 || activeStreams(f) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("streams still open: %d readers, %d active", f.backend.open.Load(), activeStreams(f))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func activeStreams(f *fleet) int {
	n := 0
	for _, s := range f.servers {
		n += len(s.streams)
	}
	return n
}

func codeMsg(err error) string {
	st, _ := status.FromError(err)
	return st.Code().String() + ": " + st.Message()
}

// value reads a counter or gauge.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("not a counter or gauge: %v", &m)
	return 0
}
