package thrift

import (
	"bufio"
	"context"
	"encoding/binary"
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
	// MaxConnections caps concurrent connections. A connection beyond it waits up to
	// ConnectionWait for one to close, then is refused with an error naming the limit.
	MaxConnections int
	// MaxConnectionsPerSource caps concurrent connections from one source address (waiting
	// ones included); beyond it a connection is refused at once.
	MaxConnectionsPerSource int
	// ConnectionWait is how long a connection over MaxConnections waits for a slot (0: the
	// default; negative: refused at once).
	ConnectionWait time.Duration
	// HandshakeTimeout is how long a new connection may take to send its first byte. It is far
	// shorter than IdleTimeout, so connections that never speak cannot hold slots.
	HandshakeTimeout time.Duration
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

// Defaults for zero fields of Config.
const (
	DefaultMaxMessageBytes         = 100 << 20
	DefaultMaxConnections          = 1000
	DefaultMaxConnectionsPerSource = 200
	DefaultConnectionWait          = 10 * time.Second
	DefaultHandshakeTimeout        = 10 * time.Second
	DefaultIdleTimeout             = 10 * time.Minute
	DefaultReadTimeout             = time.Minute
	DefaultWriteTimeout            = time.Minute
)

// MaxMethodNameBytes caps the method name of a request. Hive's longest is under 64 bytes; a
// longer one is answered UNKNOWN_METHOD without reaching the processor, and replies and logs
// carry only its first bytes, so an unauthenticated client cannot make us echo or log
// megabytes.
const MaxMethodNameBytes = 256

func (c Config) withDefaults() Config {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxConnectionsPerSource <= 0 {
		c.MaxConnectionsPerSource = DefaultMaxConnectionsPerSource
	}
	if c.ConnectionWait == 0 {
		c.ConnectionWait = DefaultConnectionWait
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
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
	// slots holds one token per connection being served (MaxConnections).
	slots chan struct{}
	// waiting counts connections waiting for a slot; refusing those being told why they are
	// refused. Both are bounded, so a flood of connections costs bounded goroutines.
	waiting  atomic.Int64
	refusing atomic.Int64
	// stopping is set before Shutdown wakes idle connections, so a connection that re-arms its
	// idle deadline after the wake-up still sees it and closes.
	stopping atomic.Bool
	done     chan struct{}
	refusals logLimiter
	unknowns logLimiter

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	sources   map[string]int // connections per source address, waiting ones included
	closing   bool
	wg        sync.WaitGroup
}

// NewServer returns a server for proc. obs may be nil.
func NewServer(cfg Config, proc athrift.TProcessor, log *slog.Logger, obs Observer) *Server {
	if obs == nil {
		obs = nopObserver{}
	}
	cfg = cfg.withDefaults()
	return &Server{
		cfg:       cfg,
		proc:      proc,
		log:       log,
		obs:       obs,
		slots:     make(chan struct{}, cfg.MaxConnections),
		done:      make(chan struct{}),
		listeners: map[net.Listener]struct{}{},
		conns:     map[net.Conn]struct{}{},
		sources:   map[string]int{},
	}
}

// ActiveConnections is the number of client connections being served (not those waiting for
// a slot).
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
		if !s.admit(ctx, c) {
			return nil
		}
	}
}

// admit serves c now, makes it wait for a slot, or refuses it; false once shutting down.
func (s *Server) admit(ctx context.Context, c net.Conn) bool {
	src := sourceOf(c)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		c.Close()
		return false
	}
	if s.sources[src] >= s.cfg.MaxConnectionsPerSource {
		s.mu.Unlock()
		s.refuse(ctx, c, "max_connections_per_source", fmt.Sprintf(
			"connection refused: %d connections from this address are open, the limit per address", s.cfg.MaxConnectionsPerSource))
		return true
	}
	s.sources[src]++
	s.mu.Unlock()

	select {
	case s.slots <- struct{}{}:
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveSlot(ctx, c, src)
		}()
		return true
	default:
	}
	if s.cfg.ConnectionWait < 0 || s.waiting.Add(1) > int64(s.cfg.MaxConnections) {
		if s.cfg.ConnectionWait >= 0 {
			s.waiting.Add(-1)
		}
		s.releaseSource(src)
		s.refuse(ctx, c, "max_connections", s.busyMessage())
		return true
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.waiting.Add(-1)
		t := time.NewTimer(s.cfg.ConnectionWait)
		defer t.Stop()
		select {
		case s.slots <- struct{}{}:
			s.serveSlot(ctx, c, src)
		case <-t.C:
			s.releaseSource(src)
			s.refuse(ctx, c, "max_connections", s.busyMessage())
		case <-s.done:
			s.releaseSource(src)
			c.Close()
		}
	}()
	return true
}

func (s *Server) busyMessage() string {
	return fmt.Sprintf("server busy: all %d connections are in use; retry later", s.cfg.MaxConnections)
}

// serveSlot serves c, which holds a slot and a count for its source.
func (s *Server) serveSlot(ctx context.Context, c net.Conn, src string) {
	defer s.releaseSource(src)
	defer func() { <-s.slots }()
	if !s.track(c) {
		c.Close()
		return
	}
	defer s.untrack(c)
	s.active.Add(1)
	defer s.active.Add(-1)
	s.serveConn(ctx, c)
}

func (s *Server) releaseSource(src string) {
	s.mu.Lock()
	if s.sources[src]--; s.sources[src] <= 0 {
		delete(s.sources, src)
	}
	s.mu.Unlock()
}

// sourceOf is the address a connection's limit per source counts against: its IP.
func sourceOf(c net.Conn) string {
	a := c.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(a); err == nil {
		return host
	}
	return a
}

// maxRefusing bounds the connections being told why they are refused at one time; beyond it
// they are closed without a word.
const maxRefusing = 64

// refuseWait bounds how long a refused connection is kept to be told why.
const refuseWait = time.Second

// refuse closes c, first telling the client why in a Thrift exception it will read as the
// answer to its first call, when it sends one within refuseWait.
func (s *Server) refuse(ctx context.Context, c net.Conn, reason, msg string) {
	s.obs.ConnRejected(reason)
	if n := s.refusals.allow(); n >= 0 {
		s.log.Warn(msg, "remote", c.RemoteAddr().String(), "reason", reason, "suppressed", n)
	}
	if s.refusing.Add(1) > maxRefusing {
		s.refusing.Add(-1)
		c.Close()
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.refusing.Add(-1)
		defer c.Close()
		c.SetDeadline(time.Now().Add(refuseWait))
		r := bufio.NewReaderSize(c, 512)
		kind, err := sniff(r, s.cfg.MaxMessageBytes)
		if err != nil {
			return
		}
		h := peekHeader(r, kind) // clients check the reply names their call
		b := exceptionBytes(ctx, kind, h.name, h.seq, athrift.NewTApplicationException(athrift.INTERNAL_ERROR, msg))
		if _, err := c.Write(b); err != nil {
			return
		}
		lingerClose(c, r)
	}()
}

// peekHeader returns the header of the first message in r, without consuming it, or a zero
// header if it is not all there or names a method longer than MaxMethodNameBytes.
func peekHeader(r *bufio.Reader, kind string) header {
	off := 0
	if kind == kindFramed {
		off = 4
	}
	b, err := r.Peek(off + 8)
	if err != nil {
		return header{}
	}
	n := int(int32(binary.BigEndian.Uint32(b[off+4:])))
	if n < 0 || n > MaxMethodNameBytes {
		return header{}
	}
	if b, err = r.Peek(off + 8 + n + 4); err != nil {
		return header{}
	}
	h, _ := parseHeader(b[off:])
	return h
}

// lingerClose ends our side and reads what the client is still sending, briefly, so the
// close does not reset the connection and discard the reply it has not read yet.
func lingerClose(c net.Conn, r io.Reader) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(refuseWait))
	io.Copy(io.Discard, io.LimitReader(r, 4<<20))
}

// exceptionBytes is an EXCEPTION message carrying x, framed or not.
func exceptionBytes(ctx context.Context, kind, name string, seq int32, x athrift.TApplicationException) []byte {
	mem := athrift.NewTMemoryBuffer()
	p := athrift.NewTBinaryProtocolConf(mem, nil)
	p.WriteMessageBegin(ctx, name, athrift.EXCEPTION, seq)
	x.Write(ctx, p)
	p.WriteMessageEnd(ctx)
	body := mem.Bytes()
	if kind != kindFramed {
		return body
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// logLimiter lets one log line through per second and counts the ones it held back, so an
// attacker cannot fill the disk with our warnings.
type logLimiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow returns how many lines were suppressed since the last one allowed, or -1 to
// suppress this one.
func (l *logLimiter) allow() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.last) >= time.Second {
		n := l.suppressed
		l.last, l.suppressed = now, 0
		return n
	}
	l.suppressed++
	return -1
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
	if !s.closing {
		close(s.done)
	}
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

// truncName is a method name fit for a reply or a log line.
func truncName(name string) string {
	const keep = 64
	if len(name) <= keep {
		return name
	}
	return fmt.Sprintf("%s... (%d bytes)", name[:keep], len(name))
}

// reusableBytes is the largest message buffer a connection keeps between messages.
const reusableBytes = 64 << 10

func (s *Server) serveConn(parent context.Context, c net.Conn) {
	sess := &Session{
		ID:         s.nextID.Add(1),
		RemoteAddr: c.RemoteAddr().String(),
		LocalAddr:  c.LocalAddr().String(),
	}
	log := s.log.With("conn", sess.ID, "remote", sess.RemoteAddr)
	base := newConnTransport(c)
	defer base.Close()

	// A new connection must speak soon; only one that has must be waited for up to IdleTimeout.
	c.SetReadDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	kind, err := sniff(base.r, s.cfg.MaxMessageBytes)
	if err != nil {
		switch {
		case errors.Is(err, ErrMessageTooLarge):
			s.obs.ConnRejected("message_too_large")
			log.Warn("closing connection: message too large", "err", err, "limit", s.cfg.MaxMessageBytes)
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.obs.ConnRejected("handshake_timeout")
			log.Debug("closing connection: nothing sent within the handshake timeout", "timeout", s.cfg.HandshakeTimeout)
		case !isEOF(err):
			s.obs.ConnRejected("bad_stream")
			log.Warn("closing connection: not a Thrift stream this server accepts", "err", err)
		}
		return
	}
	sess.Transport = kind
	base.startWriting()
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
	var out athrift.TProtocol = athrift.NewTBinaryProtocolConf(trans, conf)
	if s.cfg.WrapOutput != nil {
		out = s.cfg.WrapOutput(out)
	}
	ctx, cancel := context.WithCancel(WithSession(parent, sess))
	defer cancel()

	read := readBuffered
	if kind == kindFramed {
		read = readFramed
	}
	var scratch []byte
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
		c.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
		c.SetWriteDeadline(time.Now().Add(s.cfg.ReadTimeout + s.cfg.WriteTimeout))
		msg, err := read(base.r, s.cfg.MaxMessageBytes, &scratch)
		if err != nil {
			s.readFailed(ctx, c, base, log, kind, scratch, err)
			return
		}
		h, err := parseHeader(msg)
		if err != nil {
			s.obs.ConnRejected("malformed_message")
			log.Warn("malformed message; closing connection", "err", err)
			return
		}
		switch {
		case h.typ == athrift.ONEWAY && string(h.name) == "shutdown":
			// fb303's shutdown: what Hive's and Spark's clients send as they close. No client
			// stops a shared server; the connection ends quietly, as the client expects.
			log.Debug("client closing with fb303 shutdown")
			return
		case h.typ != athrift.CALL:
			// ONEWAY calls are refused too: Propolis serves none (fb303's shutdown and
			// reinitialize are the metastore's only ones), and REPLY or EXCEPTION from a
			// client is a stream out of step.
			s.obs.ConnRejected("message_type")
			log.Warn("closing connection: message type not accepted", "method", truncName(h.name), "type", h.typ)
			x := athrift.NewTApplicationException(athrift.INVALID_MESSAGE_TYPE_EXCEPTION,
				fmt.Sprintf("message type %d is not accepted: requests must be CALL messages", h.typ))
			base.Write(exceptionBytes(ctx, kind, truncName(h.name), h.seq, x))
			base.Flush(ctx)
			return
		case len(h.name) > MaxMethodNameBytes:
			name := truncName(h.name)
			if n := s.unknowns.allow(); n >= 0 {
				log.Warn("unknown method", "method", name, "suppressed", n)
			}
			x := athrift.NewTApplicationException(athrift.UNKNOWN_METHOD, "Unknown function "+name)
			base.Write(exceptionBytes(ctx, kind, name, h.seq, x))
			if err := base.Flush(ctx); err != nil {
				return
			}
		default:
			if !s.processOne(ctx, log, newMessageProtocol(msg, conf), out) {
				return
			}
		}
		if cap(scratch) > reusableBytes {
			scratch = nil
		}
	}
}

// readFailed answers a message that could not be read, when its header says whom to answer,
// and logs why the connection closes.
func (s *Server) readFailed(ctx context.Context, c net.Conn, base *connTransport, log *slog.Logger, kind string, partial []byte, err error) {
	if isEOF(err) || errors.Is(err, os.ErrDeadlineExceeded) {
		log.Debug("connection closed mid-message", "err", err)
		return
	}
	reason := "malformed_message"
	if errors.Is(err, ErrMessageTooLarge) {
		reason = "message_too_large"
		log.Warn("closing connection: message too large", "err", err, "limit", s.cfg.MaxMessageBytes)
	} else {
		log.Warn("malformed message; closing connection", "err", err)
	}
	s.obs.ConnRejected(reason)
	if kind == kindFramed && len(partial) >= 4 {
		partial = partial[4:]
	}
	h, herr := parseHeader(partial)
	if herr != nil {
		return
	}
	x := athrift.NewTApplicationException(athrift.PROTOCOL_ERROR, err.Error())
	if _, err := base.Write(exceptionBytes(ctx, kind, truncName(h.name), h.seq, x)); err == nil && base.Flush(ctx) == nil {
		lingerClose(c, base.r)
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
		if n := s.unknowns.allow(); n >= 0 {
			log.Warn("unknown method", "err", err, "suppressed", n)
		}
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
