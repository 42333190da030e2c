package thrift

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
)

// Config bounds what one client may cost.
type Config struct {
	// MaxMessageBytes caps one request message (and one frame).
	MaxMessageBytes int64
	// MaxConnections caps concurrent connections; further ones are closed at once.
	MaxConnections int
	// IdleTimeout is how long a connection may wait between messages.
	IdleTimeout time.Duration
	// ReadTimeout is how long reading one message may take once it started.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one reply.
	WriteTimeout time.Duration
	// WrapOutput, when set, wraps each connection's output protocol (wire-compatibility
	// shims such as OmitEmptyStrings).
	WrapOutput func(athrift.TProtocol) athrift.TProtocol
}

func (c Config) withDefaults() Config {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 100 << 20
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 1000
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = time.Minute
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = time.Minute
	}
	return c
}

// Observer receives connection-level events; metrics implement it. All methods must be cheap
// and safe for concurrent use.
type Observer interface {
	ConnOpened(transport string)
	ConnClosed(transport string)
	ConnRejected(reason string)
}

type nopObserver struct{}

func (nopObserver) ConnOpened(string)   {}
func (nopObserver) ConnClosed(string)   {}
func (nopObserver) ConnRejected(string) {}

// Server serves one TProcessor on any number of listeners.
type Server struct {
	cfg  Config
	proc athrift.TProcessor
	log  *slog.Logger
	obs  Observer

	nextID atomic.Uint64
	active atomic.Int64
	// stopping is set before Shutdown wakes idle connections, so a connection that re-arms its
	// idle deadline after the wake-up still sees it and closes.
	stopping atomic.Bool

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	closing   bool
	wg        sync.WaitGroup
}

// NewServer returns a server for proc. obs may be nil.
func NewServer(cfg Config, proc athrift.TProcessor, log *slog.Logger, obs Observer) *Server {
	if obs == nil {
		obs = nopObserver{}
	}
	return &Server{
		cfg:       cfg.withDefaults(),
		proc:      proc,
		log:       log,
		obs:       obs,
		listeners: map[net.Listener]struct{}{},
		conns:     map[net.Conn]struct{}{},
	}
}

// ActiveConnections is the number of open client connections.
func (s *Server) ActiveConnections() int64 { return s.active.Load() }

// Serve accepts connections on ln until ln is closed or Shutdown is called. ctx is the parent
// of every call's context.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		backoff = 0
		if s.active.Add(1) > int64(s.cfg.MaxConnections) {
			s.active.Add(-1)
			s.obs.ConnRejected("max_connections")
			s.log.Warn("connection refused: connection limit reached", "remote", c.RemoteAddr().String(), "limit", s.cfg.MaxConnections)
			c.Close()
			continue
		}
		if !s.track(c) {
			s.active.Add(-1)
			c.Close()
			return nil
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.active.Add(-1)
			defer s.untrack(c)
			s.serveConn(ctx, c)
		}()
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting, lets calls in flight finish until ctx is done, then closes every
// connection. Idle connections are closed at once: clients reconnect, as they do after any
// metastore restart.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		// Waking readers blocked between messages ends idle connections promptly; a call in
		// progress has already read its message and finishes writing its reply.
		c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

func (s *Server) serveConn(parent context.Context, c net.Conn) {
	sess := &Session{
		ID:         s.nextID.Add(1),
		RemoteAddr: c.RemoteAddr().String(),
		LocalAddr:  c.LocalAddr().String(),
	}
	log := s.log.With("conn", sess.ID, "remote", sess.RemoteAddr)
	base := newConnTransport(c, s.cfg.MaxMessageBytes)
	defer base.Close()

	c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
	kind, err := sniff(base.r, s.cfg.MaxMessageBytes)
	if err != nil {
		if !isEOF(err) {
			s.obs.ConnRejected("bad_stream")
			log.Warn("closing connection: not a Thrift stream this server accepts", "err", err)
		}
		return
	}
	sess.Transport = kind
	s.obs.ConnOpened(kind)
	defer s.obs.ConnClosed(kind)
	log.Debug("connection opened", "transport", kind)

	conf := &athrift.TConfiguration{
		MaxMessageSize: int32(min(s.cfg.MaxMessageBytes, int64(^uint32(0)>>1))),
		MaxFrameSize:   int32(min(s.cfg.MaxMessageBytes, int64(^uint32(0)>>1))),
	}
	var trans athrift.TTransport = base
	if kind == kindFramed {
		trans = athrift.NewTFramedTransportConf(base, conf)
	}
	prot := athrift.NewTBinaryProtocolConf(trans, conf)
	var out athrift.TProtocol = prot
	if s.cfg.WrapOutput != nil {
		out = s.cfg.WrapOutput(prot)
	}
	ctx, cancel := context.WithCancel(WithSession(parent, sess))
	defer cancel()

	for {
		// Between messages the idle timeout applies; once a message starts, the read timeout.
		c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		if s.stopping.Load() {
			return
		}
		if _, err := base.r.Peek(1); err != nil {
			if !isEOF(err) && !errors.Is(err, os.ErrDeadlineExceeded) {
				log.Debug("connection read failed", "err", err)
			} else if errors.Is(err, os.ErrDeadlineExceeded) {
				log.Debug("closing idle connection")
			}
			return
		}
		base.startMessage()
		c.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
		c.SetWriteDeadline(time.Now().Add(s.cfg.ReadTimeout + s.cfg.WriteTimeout))
		if !s.processOne(ctx, log, prot, out) {
			return
		}
	}
}

// processOne handles one message and reports whether the connection can carry another.
func (s *Server) processOne(ctx context.Context, log *slog.Logger, in, out athrift.TProtocol) (keep bool) {
	defer func() {
		if r := recover(); r != nil {
			// The handler layer turns its own panics into exceptions; a panic here happened
			// while reading or writing, so the stream's state is unknown and it must close.
			log.Error("panic while processing a message; closing connection", "panic", r, "stack", string(debug.Stack()))
			keep = false
		}
	}()
	ok, err := s.proc.Process(ctx, in, out)
	if err == nil {
		return ok
	}
	var ae athrift.TApplicationException
	if errors.As(err, &ae) && ae.TypeId() == athrift.UNKNOWN_METHOD {
		log.Warn("unknown method", "err", err)
		return true
	}
	if errors.Is(err, ErrMessageTooLarge) {
		log.Warn("closing connection: message too large", "err", err, "limit", s.cfg.MaxMessageBytes)
		return false
	}
	var te athrift.TTransportException
	if errors.As(err, &te) || isEOF(err) {
		if !isEOF(err) {
			log.Debug("transport error; closing connection", "err", err)
		}
		return false
	}
	var pe athrift.TProtocolException
	if errors.As(err, &pe) {
		log.Warn("malformed message; closing connection", "err", err)
		return false
	}
	// The processor already wrote an exception reply for this call.
	return ok
}

func isEOF(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var te athrift.TTransportException
	return errors.As(err, &te) && te.TypeId() == athrift.END_OF_FILE
}
