package thrift

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	"github.com/beltran/gohive/gohivemeta/fb303"
)

// fbHandler answers getName with the caller's identity, and panics on getCpuProfile.
type fbHandler struct {
	fb303.FacebookService
}

func (fbHandler) GetName(ctx context.Context) (string, error) {
	s := SessionFrom(ctx)
	if s == nil {
		return "", errors.New("no session")
	}
	return "session-" + s.Transport, nil
}

func (fbHandler) GetOption(ctx context.Context, key string) (string, error) { return key, nil }

func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := NewServer(cfg, fb303.NewFacebookServiceProcessor(fbHandler{}), log, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background(), ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, ln.Addr().String()
}

func client(t *testing.T, addr string, framed bool) (*fb303.FacebookServiceClient, athrift.TTransport) {
	t.Helper()
	conf := &athrift.TConfiguration{ConnectTimeout: 5 * time.Second, SocketTimeout: 5 * time.Second}
	var tr athrift.TTransport = athrift.NewTSocketConf(addr, conf)
	if framed {
		tr = athrift.NewTFramedTransportConf(tr, conf)
	} else {
		tr = athrift.NewTBufferedTransport(tr, 1<<16) // one write per message, so a server closing early cannot break it mid-send
	}
	if err := tr.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	p := athrift.NewTBinaryProtocolConf(tr, conf)
	return fb303.NewFacebookServiceClient(athrift.NewTStandardClient(p, p)), tr
}

func TestTransportsOnOnePort(t *testing.T) {
	_, addr := startServer(t, Config{})
	for _, tc := range []struct {
		name   string
		framed bool
		want   string
	}{
		{"buffered", false, "session-buffered"},
		{"framed", true, "session-framed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := client(t, addr, tc.framed)
			for i := 0; i < 3; i++ { // several calls on one connection
				got, err := c.GetName(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Fatalf("GetName = %q, want %q", got, tc.want)
				}
			}
		})
	}
}

func TestUnknownMethodKeepsConnection(t *testing.T) {
	_, addr := startServer(t, Config{})
	c, tr := client(t, addr, false)
	// Hand-write a call to a method the processor does not know.
	p := athrift.NewTBinaryProtocolConf(tr, nil)
	ctx := context.Background()
	p.WriteMessageBegin(ctx, "no_such_method", athrift.CALL, 7)
	p.WriteStructBegin(ctx, "args")
	p.WriteFieldStop(ctx)
	p.WriteStructEnd(ctx)
	p.WriteMessageEnd(ctx)
	p.Flush(ctx)
	name, typ, seq, err := p.ReadMessageBegin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if typ != athrift.EXCEPTION || name != "no_such_method" || seq != 7 {
		t.Fatalf("got %s %v %d, want an exception for no_such_method", name, typ, seq)
	}
	exc := athrift.NewTApplicationException(0, "")
	if err := exc.Read(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.ReadMessageEnd(ctx)
	if exc.TypeId() != athrift.UNKNOWN_METHOD || !strings.Contains(exc.Error(), "no_such_method") {
		t.Fatalf("exception = %v (type %d), want UNKNOWN_METHOD naming the method", exc, exc.TypeId())
	}
	if _, err := c.GetName(ctx); err != nil {
		t.Fatalf("connection unusable after an unknown method: %v", err)
	}
}

// rawConn sends bytes and reports what the server did: answered, or closed.
func rawExchange(t *testing.T, addr string, payload []byte) (reply []byte, closed bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(payload)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return buf, false
	}
	return buf, true
}

func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	_, addr := startServer(t, Config{MaxMessageBytes: 1 << 20, ReadTimeout: time.Second})
	frameHeader := func(n uint32) []byte {
		b := make([]byte, 5)
		binary.BigEndian.PutUint32(b, n)
		b[4] = 0x80
		return b
	}
	// A buffered message whose method name claims 512 MiB.
	huge := []byte{0x80, 0x01, 0x00, 0x01}
	huge = binary.BigEndian.AppendUint32(huge, 512<<20)
	huge = append(huge, bytes.Repeat([]byte{'a'}, 1<<16)...)
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"garbage", []byte("\x17\x03\x03 hello not thrift at all")},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"compact protocol", []byte{0x82, 0x21, 0x00, 0x03, 'f', 'o', 'o'}},
		{"oversized frame", frameHeader(64 << 20)},
		{"oversized buffered message", huge},
		{"truncated message", []byte{0x80, 0x01, 0x00, 0x01, 0, 0, 0, 7, 'g', 'e', 't'}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, closed := rawExchange(t, addr, tc.payload)
			if !closed {
				t.Fatalf("server kept a connection open after %s", tc.name)
			}
			if d := time.Since(start); d > 2500*time.Millisecond {
				t.Fatalf("took %v to close", d)
			}
			// The server still serves everyone else.
			c, _ := client(t, addr, false)
			if _, err := c.GetName(context.Background()); err != nil {
				t.Fatalf("server unusable after %s: %v", tc.name, err)
			}
		})
	}
}

func TestOversizedMessageGetsAnError(t *testing.T) {
	_, addr := startServer(t, Config{MaxMessageBytes: 4096})
	c, _ := client(t, addr, false)
	_, err := c.GetOption(context.Background(), strings.Repeat("k", 10000))
	if err == nil {
		t.Fatal("an oversized message succeeded")
	}
	if !strings.Contains(err.Error(), "size limit") && !strings.Contains(err.Error(), "size exceeded") {
		t.Fatalf("error %q does not say why", err)
	}
	c2, _ := client(t, addr, false)
	if _, err := c2.GetOption(context.Background(), "small"); err != nil {
		t.Fatal(err)
	}
}

func TestConnectionLimit(t *testing.T) {
	srv, addr := startServer(t, Config{MaxConnections: 2, ConnectionWait: 300 * time.Millisecond})
	c1, tr1 := client(t, addr, false)
	c2, _ := client(t, addr, true)
	for _, c := range []*fb303.FacebookServiceClient{c1, c2} {
		if _, err := c.GetName(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Over the limit, a connection waits, then is told why it is refused, in its own framing.
	for _, framed := range []bool{false, true} {
		c3, _ := client(t, addr, framed)
		start := time.Now()
		_, err := c3.GetName(context.Background())
		if err == nil || !strings.Contains(err.Error(), "all 2 connections are in use") {
			t.Fatalf("third connection (framed %v) beyond the limit of 2: err = %v, want the reason", framed, err)
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Fatalf("refused after %v, before the connection wait", d)
		}
	}
	if n := srv.ActiveConnections(); n != 2 {
		t.Fatalf("active connections = %d, want 2", n)
	}
	// A waiting connection is served as soon as a slot frees.
	c4, _ := client(t, addr, false)
	got := make(chan error, 1)
	go func() { _, err := c4.GetName(context.Background()); got <- err }()
	time.Sleep(50 * time.Millisecond)
	tr1.Close()
	if err := <-got; err != nil {
		t.Fatalf("waiting connection not served when a slot freed: %v", err)
	}
}

func TestConnectionLimitPerSource(t *testing.T) {
	_, addr := startServer(t, Config{MaxConnectionsPerSource: 2})
	for range 2 {
		c, _ := client(t, addr, false)
		if _, err := c.GetName(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	c3, _ := client(t, addr, false)
	_, err := c3.GetName(context.Background())
	if err == nil || !strings.Contains(err.Error(), "limit per address") {
		t.Fatalf("third connection from one address: err = %v, want refused with the reason", err)
	}
}

// TestHandshakeTimeout: a connection that never speaks is closed after the handshake timeout,
// long before the idle timeout, so silent connections cannot hold every slot.
func TestHandshakeTimeout(t *testing.T) {
	srv, addr := startServer(t, Config{HandshakeTimeout: 200 * time.Millisecond, IdleTimeout: time.Hour})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("silent connection: read %v, want the server to close it", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("silent connection closed after %v", d)
	}
	for deadline := time.Now().Add(2 * time.Second); srv.ActiveConnections() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("active connections = %d after the handshake timeout", srv.ActiveConnections())
		}
	}
}

// TestMessageTypesOtherThanCall: REPLY, EXCEPTION and ONEWAY messages are not executed; the
// client is told why and the connection closes.
func TestMessageTypesOtherThanCall(t *testing.T) {
	_, addr := startServer(t, Config{})
	for _, typ := range []athrift.TMessageType{athrift.REPLY, athrift.EXCEPTION, athrift.ONEWAY} {
		b := &bytes.Buffer{}
		p := athrift.NewTBinaryProtocolConf(athrift.NewStreamTransportW(b), nil)
		ctx := context.Background()
		p.WriteMessageBegin(ctx, "getName", typ, 3)
		p.WriteStructBegin(ctx, "args")
		p.WriteFieldStop(ctx)
		p.WriteStructEnd(ctx)
		p.WriteMessageEnd(ctx)
		p.Flush(ctx)
		reply, closed := rawExchange(t, addr, b.Bytes())
		if !closed {
			t.Fatalf("message type %d: connection kept open", typ)
		}
		if bytes.Contains(reply, []byte("session-")) || !bytes.Contains(reply, []byte("must be CALL")) {
			t.Fatalf("message type %d: reply %q, want a refusal and no call", typ, reply)
		}
	}
}

// TestOnewayShutdownClosesQuietly: fb303's oneway shutdown, which Hive's and Spark's clients
// send as they close, ends the connection with no reply and is not counted as a refusal.
func TestOnewayShutdownClosesQuietly(t *testing.T) {
	_, addr := startServer(t, Config{})
	b := &bytes.Buffer{}
	p := athrift.NewTBinaryProtocolConf(athrift.NewStreamTransportW(b), nil)
	ctx := context.Background()
	p.WriteMessageBegin(ctx, "shutdown", athrift.ONEWAY, 4)
	p.WriteStructBegin(ctx, "args")
	p.WriteFieldStop(ctx)
	p.WriteStructEnd(ctx)
	p.WriteMessageEnd(ctx)
	p.Flush(ctx)
	reply, closed := rawExchange(t, addr, b.Bytes())
	if !closed || len(reply) != 0 {
		t.Fatalf("oneway shutdown: reply %q, closed %v; want no reply and a closed connection", reply, closed)
	}
}

// TestLongMethodNameCapped: a 10 MiB method name is answered UNKNOWN_METHOD with only its
// first bytes, and the connection carries on.
func TestLongMethodNameCapped(t *testing.T) {
	_, addr := startServer(t, Config{})
	c, tr := client(t, addr, false)
	p := athrift.NewTBinaryProtocolConf(tr, nil)
	ctx := context.Background()
	name := strings.Repeat("n", 10<<20)
	p.WriteMessageBegin(ctx, name, athrift.CALL, 9)
	p.WriteStructBegin(ctx, "args")
	p.WriteFieldStop(ctx)
	p.WriteStructEnd(ctx)
	p.WriteMessageEnd(ctx)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, typ, seq, err := p.ReadMessageBegin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exc := athrift.NewTApplicationException(0, "")
	if err := exc.Read(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.ReadMessageEnd(ctx)
	if typ != athrift.EXCEPTION || seq != 9 || exc.TypeId() != athrift.UNKNOWN_METHOD {
		t.Fatalf("got %v seq %d %v, want UNKNOWN_METHOD for seq 9", typ, seq, exc)
	}
	if len(got) > 100 || len(exc.Error()) > 200 {
		t.Fatalf("reply echoes %d and %d bytes of the name", len(got), len(exc.Error()))
	}
	if _, err := c.GetName(ctx); err != nil {
		t.Fatalf("connection unusable after a long method name: %v", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	srv, addr := startServer(t, Config{IdleTimeout: 200 * time.Millisecond})
	c, _ := client(t, addr, false)
	if _, err := c.GetName(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for srv.ActiveConnections() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle connection was not closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestShutdownClosesIdleConnections(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := NewServer(Config{}, fb303.NewFacebookServiceProcessor(fbHandler{}), log, nil)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	c, _ := client(t, ln.Addr().String(), false)
	if _, err := c.GetName(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
}
