package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
	pthrift "github.com/propolis/propolis/thrift"
)

var _ hms.Backend = (*Client)(nil)

// Config describes one upstream Hive Metastore.
type Config struct {
	// Name is the backend's name in errors and logs ("legacy").
	Name string
	// Address is host:port of the metastore's Thrift endpoint.
	Address string
	// Framed selects the framed transport (hive.metastore.thrift.framed.transport.enabled).
	Framed bool
	// ConnectTimeout bounds dialling one connection (default 5s).
	ConnectTimeout time.Duration
	// CallTimeout bounds one call, waiting for a connection included (default 60s). A deadline
	// on the caller's context that comes sooner wins.
	CallTimeout time.Duration
	// MaxConns bounds the connections open to the upstream, busy or idle (default 16).
	MaxConns int
	// IdleConns is how many idle connections are kept open for reuse (default MaxConns;
	// negative keeps none).
	IdleConns int
	// Impersonate calls set_ugi with the end user (the session's identity) on each connection
	// before it serves that user. Hive binds the user to the connection once, so pooled
	// connections are kept per user.
	Impersonate bool
	// HealthInterval is how often idle connections are pinged and dropped when dead (default
	// 30s; negative disables the check).
	HealthInterval time.Duration
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = c.Address
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 60 * time.Second
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 16
	}
	switch {
	case c.IdleConns == 0:
		c.IdleConns = c.MaxConns
	case c.IdleConns < 0:
		c.IdleConns = 0
	case c.IdleConns > c.MaxConns:
		c.IdleConns = c.MaxConns
	}
	if c.HealthInterval == 0 {
		c.HealthInterval = 30 * time.Second
	}
	return c
}

// maxMessage caps one reply (a partition listing of a large table can be big, but not this big).
const maxMessage = 512 << 20

// Client is an hms.Backend backed by an upstream Hive Metastore, over a bounded pool of Thrift
// connections.
type Client struct {
	cfg Config
	log *slog.Logger

	slots chan struct{} // one token per connection in use (busy calls and health pings)

	mu     sync.Mutex
	idle   []*conn // most recently used last
	open   int     // connections open: in use + idle
	closed bool

	stop chan struct{}
	done chan struct{}

	compat compat

	dials, discards, peakOpen atomic.Int64 // for tests and metrics
}

// conn is one Thrift connection. It is used by one call at a time.
type conn struct {
	nc       net.Conn
	tr       thrift.TTransport
	cl       *hm.ThriftHiveMetastoreClient
	ugi      string // user set with set_ugi; "" when none was
	lastUsed time.Time
}

// New returns a client for the upstream metastore. It does not connect: the first call does,
// so a backend that is down at start-up does not stop Propolis from starting.
func New(cfg Config, log *slog.Logger) (*Client, error) {
	if cfg.Address == "" {
		return nil, errs.Invalid("upstream metastore %q: address is required", cfg.Name)
	}
	if _, _, err := net.SplitHostPort(cfg.Address); err != nil {
		return nil, errs.Invalid("upstream metastore %q: address %q is not host:port: %v", cfg.Name, cfg.Address, err)
	}
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	c := &Client{
		cfg:   cfg,
		log:   log.With("backend", cfg.Name, "upstream", cfg.Address),
		slots: make(chan struct{}, cfg.MaxConns),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if cfg.HealthInterval > 0 {
		go c.healthLoop()
	} else {
		close(c.done)
	}
	return c, nil
}

// Name is the backend's configured name.
func (c *Client) Name() string { return c.cfg.Name }

// Close closes every idle connection and stops the health check. Calls in flight finish; their
// connections are closed when they come back.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	idle := c.idle
	c.idle = nil
	c.open -= len(idle)
	c.mu.Unlock()
	close(c.stop)
	<-c.done
	for _, cn := range idle {
		cn.close()
	}
	return nil
}

// Ping makes one cheap call to the upstream, proving it answers and reaches its database.
func (c *Client) Ping(ctx context.Context) error {
	return c.call(ctx, "ping", true, ping)
}

func ping(ctx context.Context, cl *hm.ThriftHiveMetastoreClient) error {
	// A pattern that matches nothing: the metastore runs one cheap query and sends back an
	// empty list, however many databases it holds.
	_, err := cl.GetDatabases(ctx, "propolis_health_check_")
	return err
}

func (c *Client) unavailable(format string, args ...any) error {
	return errs.Unavailable("backend %q (%s) unavailable: "+format, append([]any{c.cfg.Name, c.cfg.Address}, args...)...)
}

// call runs fn on a pooled connection within the call's deadline: the caller's, or CallTimeout
// from now, whichever comes first. idempotent calls that fail on a reused connection before any
// answer are retried once on a fresh one (the upstream may have restarted since the connection
// was pooled); writes never are, since the upstream may have applied them.
func (c *Client) call(ctx context.Context, op string, idempotent bool, fn func(context.Context, *hm.ThriftHiveMetastoreClient) error) error {
	deadline := time.Now().Add(c.cfg.CallTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for attempt := 0; ; attempt++ {
		cn, reused, err := c.get(ctx, deadline)
		if err != nil {
			return err
		}
		err, poisoned := c.run(ctx, cn, deadline, fn)
		var own *errs.Error
		if errors.As(err, &own) {
			// Decided on our side (an unsupported combination): the connection never saw it.
			c.put(cn, !poisoned)
			return err
		}
		healthy := keepConn(err)
		c.put(cn, healthy && !poisoned)
		if err == nil {
			return nil
		}
		if !healthy && !isHiveException(err) && !isAppException(err) {
			if reused && idempotent && attempt == 0 && ctx.Err() == nil {
				c.log.Debug("retrying on a fresh connection", "op", op, "err", err)
				continue
			}
			if ctx.Err() != nil {
				return c.unavailable("%s: no answer within the deadline (%v): %w", op, ctx.Err(), err)
			}
			return c.unavailable("%s: %w", op, err)
		}
		return c.translate(op, err)
	}
}

// run makes the call on cn, with the connection's deadline set and cancellation of ctx
// interrupting blocked reads and writes. poisoned reports that the connection must not be
// reused even though the call may have succeeded.
func (c *Client) run(ctx context.Context, cn *conn, deadline time.Time, fn func(context.Context, *hm.ThriftHiveMetastoreClient) error) (err error, poisoned bool) {
	if err := cn.nc.SetDeadline(deadline); err != nil {
		return err, true
	}
	stop := context.AfterFunc(ctx, func() { cn.nc.SetDeadline(time.Unix(1, 0)) })
	err = c.impersonate(ctx, cn)
	if err == nil {
		err = fn(ctx, cn.cl)
	}
	// When ctx ended just as the call did, the deadline may have been moved into the past
	// under us: the answer stands, the connection is not worth the doubt.
	return err, !stop()
}

// impersonate sets the session's user on cn with set_ugi, once per connection: Hive refuses a
// second set_ugi on the same connection, which is why get hands out connections per user.
func (c *Client) impersonate(ctx context.Context, cn *conn) error {
	if !c.cfg.Impersonate {
		return nil
	}
	user, groups := identity(ctx)
	if user == "" || user == cn.ugi {
		return nil
	}
	if cn.ugi != "" {
		return fmt.Errorf("connection already bound to user %q", cn.ugi) // get never does this
	}
	if _, err := cn.cl.SetUgi(ctx, user, groups); err != nil {
		return err
	}
	cn.ugi = user
	return nil
}

func identity(ctx context.Context) (string, []string) {
	s := pthrift.SessionFrom(ctx)
	if s == nil {
		return "", nil
	}
	id := s.Identity()
	return id.User, id.Groups
}

// get returns a connection for the call: an idle one that suits the caller (same impersonated
// user, or none yet), else a new one. It waits for a free slot until deadline.
func (c *Client) get(ctx context.Context, deadline time.Time) (cn *conn, reused bool, err error) {
	select {
	case c.slots <- struct{}{}:
	default:
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, false, c.unavailable("all %d connections busy for %v", c.cfg.MaxConns, c.cfg.CallTimeout.Round(time.Millisecond))
		case <-c.stop:
			return nil, false, c.unavailable("client closed")
		}
	}
	user := ""
	if c.cfg.Impersonate {
		user, _ = identity(ctx)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.slots
		return nil, false, c.unavailable("client closed")
	}
	if i := c.pick(user); i >= 0 {
		cn = c.idle[i]
		c.idle = append(c.idle[:i], c.idle[i+1:]...)
		c.mu.Unlock()
		if err := checkAlive(cn.nc); err == nil {
			return cn, true, nil
		}
		// Closed by the upstream while idle (restart, idle timeout): replace it.
		c.discard(cn)
		c.mu.Lock()
	}
	var evict *conn
	if c.open >= c.cfg.MaxConns && len(c.idle) > 0 {
		// Every connection is open already and none suits this caller: close the least
		// recently used idle one to make room.
		evict = c.idle[0]
		c.idle = c.idle[1:]
		c.open--
	}
	c.open++
	if int64(c.open) > c.peakOpen.Load() {
		c.peakOpen.Store(int64(c.open))
	}
	c.mu.Unlock()
	if evict != nil {
		evict.close()
	}
	cn, err = c.dial(ctx, deadline)
	if err != nil {
		c.mu.Lock()
		c.open--
		c.mu.Unlock()
		<-c.slots
		return nil, false, err
	}
	return cn, false, nil
}

// pick returns the index of the idle connection best suited to user, or -1.
func (c *Client) pick(user string) int {
	fresh := -1
	for i := len(c.idle) - 1; i >= 0; i-- {
		switch c.idle[i].ugi {
		case user:
			return i
		case "":
			if fresh < 0 {
				fresh = i
			}
		}
	}
	return fresh
}

func (c *Client) dial(ctx context.Context, deadline time.Time) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", c.cfg.Address)
	if err != nil {
		return nil, c.unavailable("connect: %w", err)
	}
	c.dials.Add(1)
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetKeepAlive(true)
		tc.SetNoDelay(true)
	}
	conf := &thrift.TConfiguration{MaxMessageSize: maxMessage, MaxFrameSize: maxMessage}
	var tr thrift.TTransport = &netTransport{Conn: nc}
	if c.cfg.Framed {
		tr = thrift.NewTFramedTransportConf(tr, conf)
	} else {
		tr = thrift.NewTBufferedTransport(tr, 64<<10)
	}
	p := thrift.NewTBinaryProtocolConf(tr, conf)
	return &conn{nc: nc, tr: tr, cl: hm.NewThriftHiveMetastoreClient(thrift.NewTStandardClient(p, p))}, nil
}

// put gives cn back: to the idle list when healthy and there is room, else closed.
func (c *Client) put(cn *conn, healthy bool) {
	defer func() { <-c.slots }()
	if !healthy {
		c.discard(cn)
		return
	}
	cn.lastUsed = time.Now()
	c.mu.Lock()
	if c.closed || len(c.idle) >= c.cfg.IdleConns {
		c.open--
		c.mu.Unlock()
		cn.close()
		return
	}
	c.idle = append(c.idle, cn)
	c.mu.Unlock()
}

// discard closes a connection that is not in the idle list.
func (c *Client) discard(cn *conn) {
	c.discards.Add(1)
	c.mu.Lock()
	c.open--
	c.mu.Unlock()
	cn.close()
}

func (cn *conn) close() { cn.tr.Close() }

// keepConn reports whether a connection is still in step with the upstream after a call that
// returned err: only when the upstream sent a complete answer.
func keepConn(err error) bool {
	if err == nil || isHiveException(err) {
		return true
	}
	var ae thrift.TApplicationException
	if errors.As(err, &ae) {
		switch ae.TypeId() {
		case thrift.UNKNOWN_METHOD, thrift.INTERNAL_ERROR, thrift.UNKNOWN_APPLICATION_EXCEPTION, thrift.MISSING_RESULT:
			return true // sent by the upstream as a whole message
		}
	}
	// Transport or protocol failures, and the client's own WRONG_METHOD_NAME,
	// BAD_SEQUENCE_ID and INVALID_MESSAGE_TYPE: the stream may be out of step.
	return false
}

func isAppException(err error) bool {
	var ae thrift.TApplicationException
	return errors.As(err, &ae)
}

// healthLoop pings idle connections every HealthInterval and drops the dead ones, so a call
// rarely meets a connection the upstream has closed.
func (c *Client) healthLoop() {
	defer close(c.done)
	t := time.NewTicker(c.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.checkIdle()
		}
	}
}

func (c *Client) checkIdle() {
	c.mu.Lock()
	n := len(c.idle)
	c.mu.Unlock()
	for range n {
		// Take a slot, as a call would, so the pool stays within MaxConns.
		select {
		case c.slots <- struct{}{}:
		default:
			return // busy: the connections are in use and prove themselves
		}
		c.mu.Lock()
		if c.closed || len(c.idle) == 0 {
			c.mu.Unlock()
			<-c.slots
			return
		}
		cn := c.idle[0] // least recently used
		c.idle = c.idle[1:]
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), min(c.cfg.CallTimeout, 10*time.Second))
		err := checkAlive(cn.nc)
		if err == nil {
			d, _ := ctx.Deadline()
			var poisoned bool
			if err, poisoned = c.run(ctx, cn, d, ping); err == nil && poisoned {
				err = errors.New("health check interrupted")
			}
		}
		cancel()
		if err != nil {
			c.log.Info("dropping an idle connection that failed its health check", "err", err)
		}
		c.put(cn, err == nil)
	}
}

// netTransport is a Thrift transport over a net.Conn whose deadlines the pool sets per call
// (thrift.TSocket would reset them on every read).
type netTransport struct{ net.Conn }

func (t *netTransport) Open() error                     { return nil }
func (t *netTransport) IsOpen() bool                    { return true }
func (t *netTransport) Flush(ctx context.Context) error { return nil }
func (t *netTransport) RemainingBytes() uint64          { return ^uint64(0) }
