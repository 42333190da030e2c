package upstream

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/embedded"
	pthrift "github.com/propolis/propolis/thrift"
)

func quietLog() *slog.Logger {
	if os.Getenv("UPSTREAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// peer is an in-process Propolis over a fresh embedded catalog, serving as the upstream: a
// second, independent implementation of the metastore protocol. edit may change its processor
// map (remove methods, record calls) to play an older or instrumented metastore.
type peer struct {
	t         *testing.T
	addr      string
	warehouse string
	store     *embedded.Store
	edit      func(athrift.TProcessor)

	mu  sync.Mutex
	srv *pthrift.Server
}

func startPeer(t *testing.T, edit func(athrift.TProcessor)) *peer {
	t.Helper()
	dir := t.TempDir()
	wh := "file://" + filepath.Join(dir, "warehouse")
	store, err := embedded.Open(context.Background(), embedded.Config{
		Driver: "sqlite", DSN: filepath.Join(dir, "catalog.db"), Warehouse: wh, LockTimeout: time.Minute,
	}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, warehouse: wh, store: store, edit: edit}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() {
		p.kill()
		store.Close()
	})
	return p
}

func (p *peer) serve(ln net.Listener) {
	h := hms.NewHandler(p.store, hms.HandlerConfig{
		Version: "test", Warehouse: p.warehouse,
		ConfigValues: map[string]string{"hive.metastore.warehouse.dir": p.warehouse},
		TrustSetUGI:  true,
	}, quietLog())
	proc := hms.NewProcessor(h, quietLog())
	if p.edit != nil {
		p.edit(proc)
	}
	srv := pthrift.NewServer(pthrift.Config{}, proc, quietLog(), nil)
	go srv.Serve(context.Background(), ln)
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
}

// kill stops the server at once, closing every connection, as a crash would.
func (p *peer) kill() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv.Shutdown(ctx)
}

// restart serves again on the same address, over the same catalog.
func (p *peer) restart() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("restart on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// unknownMethod answers a call the way a Thrift server that lacks the method does:
// TApplicationException UNKNOWN_METHOD, after skipping the arguments. It counts the calls.
type unknownMethod struct {
	name  string
	mu    sync.Mutex
	calls int
}

func (u *unknownMethod) Process(ctx context.Context, seqID int32, in, out athrift.TProtocol) (bool, athrift.TException) {
	u.mu.Lock()
	u.calls++
	u.mu.Unlock()
	if err := in.Skip(ctx, athrift.STRUCT); err != nil {
		return false, athrift.WrapTException(err)
	}
	if err := in.ReadMessageEnd(ctx); err != nil {
		return false, athrift.WrapTException(err)
	}
	exc := athrift.NewTApplicationException(athrift.UNKNOWN_METHOD, "Invalid method name: '"+u.name+"'")
	if err := out.WriteMessageBegin(ctx, u.name, athrift.EXCEPTION, seqID); err != nil {
		return false, athrift.WrapTException(err)
	}
	if err := exc.Write(ctx, out); err != nil {
		return false, athrift.WrapTException(err)
	}
	if err := out.WriteMessageEnd(ctx); err != nil {
		return false, athrift.WrapTException(err)
	}
	if err := out.Flush(ctx); err != nil {
		return false, athrift.WrapTException(err)
	}
	return true, nil
}

func (u *unknownMethod) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls
}

// recorder wraps a processor function and records, per call, the session's id and user as
// the server saw them when the call arrived.
type recorder struct {
	next athrift.TProcessorFunction
	mu   sync.Mutex
	seen []seenCall
}

type seenCall struct {
	session uint64
	user    string
}

func (r *recorder) Process(ctx context.Context, seqID int32, in, out athrift.TProtocol) (bool, athrift.TException) {
	// Recorded before the call runs, so the entry exists by the time the client has its answer.
	var sc seenCall
	s := pthrift.SessionFrom(ctx)
	if s != nil {
		sc = seenCall{session: s.ID, user: s.Identity().User}
	}
	r.mu.Lock()
	i := len(r.seen)
	r.seen = append(r.seen, sc)
	r.mu.Unlock()
	ok, err := r.next.Process(ctx, seqID, in, out)
	if s != nil && sc.user == "" {
		// set_ugi: record the user it set. The connection's next call is read only after
		// this returns, so this is in place before anything the client does next on it.
		r.mu.Lock()
		r.seen[i].user = s.Identity().User
		r.mu.Unlock()
	}
	return ok, err
}

func (r *recorder) calls() []seenCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seenCall(nil), r.seen...)
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "legacy"
	}
	c, err := New(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
