package thrift

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	"github.com/beltran/gohive/gohivemeta/fb303"
)

// TestLoadAndGarbage: hundreds of connections at once, good clients among garbage senders,
// slow senders, silent holders and allocation bombs. Every good call succeeds within a bound,
// the server's heap stays under a stated bound, and once the clients leave the goroutines
// return to where they were. Counts and bytes are fixed (a seeded generator), so a run is the
// same every time; it takes about loadFor plus a few seconds.
func TestLoadAndGarbage(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: skipped with -short")
	}
	const (
		loadFor    = 3 * time.Second
		good       = 40  // clients calling in a loop on one connection each
		garbage    = 100 // bytes that are not Thrift, or not well-formed Thrift
		slow       = 50  // a well-formed call, one byte every 50ms
		idle       = 100 // connect and say nothing
		bombs      = 50  // a 47-byte create_database announcing 13M map entries, framed or not
		heapBound  = 96 << 20
		maxLatency = 5 * time.Second // generous: 2 cores, -race, other packages' tests
	)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := NewServer(Config{
		MaxConnections: 500, MaxConnectionsPerSource: 1000, // every client is 127.0.0.1
		HandshakeTimeout: time.Second, ReadTimeout: time.Second, IdleTimeout: 3 * time.Second,
	}, fb303.NewFacebookServiceProcessor(fbHandler{}), log, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	baseline := runtime.NumGoroutine()
	go srv.Serve(context.Background(), ln)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()

	stop := make(chan struct{})
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	var wg sync.WaitGroup
	// hostile runs f on fresh connections until the load ends; f returns when the server has
	// closed the connection (or after its own deadline).
	hostile := func(n int, f func(c net.Conn, r *rand.Rand)) {
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewSource(int64(i)))
				for !stopped() {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					c.SetDeadline(time.Now().Add(5 * time.Second))
					f(c, r)
					c.Close()
				}
			}()
		}
	}
	drain := func(c net.Conn) { io.Copy(io.Discard, c) }
	hostile(garbage, func(c net.Conn, r *rand.Rand) {
		b := make([]byte, 1+r.Intn(2048))
		r.Read(b)
		switch r.Intn(4) {
		case 0:
			b = append([]byte{0x80, 0x01, 0x00, 0x01}, b...) // a header, then noise
		case 1:
			b = append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), append([]byte{0x80, 0x01}, b...)...)
		}
		c.Write(b)
		c.(*net.TCPConn).CloseWrite()
		drain(c)
	})
	call := callBytes("getName")
	hostile(slow, func(c net.Conn, r *rand.Rand) {
		for _, b := range call {
			if stopped() {
				return
			}
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		drain(c)
	})
	hostile(idle, func(c net.Conn, r *rand.Rand) { drain(c) })
	framedBomb := append(binary.BigEndian.AppendUint32(nil, DefaultMaxMessageBytes-1), mapBomb()...)
	hostile(bombs, func(c net.Conn, r *rand.Rand) {
		if r.Intn(2) == 0 {
			c.Write(mapBomb())
		} else {
			c.Write(framedBomb)
		}
		drain(c)
	})

	var calls, failures atomic.Int64
	var worst atomic.Int64
	for i := range good {
		// Opened and first called here (client may t.Fatal), at once: a connection that says
		// nothing for the handshake timeout is closed, and a loaded machine may not schedule a
		// new goroutine that soon.
		c, tr := client(t, addr, i%2 == 1)
		if _, err := c.GetName(context.Background()); err != nil {
			t.Fatalf("first good call: %v", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.Close()
			for !stopped() {
				start := time.Now()
				if _, err := c.GetName(context.Background()); err != nil {
					failures.Add(1)
					t.Errorf("good call failed: %v", err)
					return
				}
				calls.Add(1)
				if d := int64(time.Since(start)); d > worst.Load() {
					worst.Store(d)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}

	var peak uint64
	var ms runtime.MemStats
	for deadline := time.Now().Add(loadFor); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d good calls, %d failed, slowest %v; heap peak %.1f MiB (bound %d MiB)",
		calls.Load(), failures.Load(), time.Duration(worst.Load()), float64(peak)/(1<<20), heapBound>>20)
	if calls.Load() < good {
		t.Errorf("only %d good calls in %v", calls.Load(), loadFor)
	}
	if d := time.Duration(worst.Load()); d > maxLatency {
		t.Errorf("slowest good call took %v, bound %v", d, maxLatency)
	}
	if peak > heapBound {
		t.Errorf("heap peaked at %d bytes, bound %d", peak, heapBound)
	}
	// Every connection closed on the client side: the server's goroutines go with them.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline+2 { // the accept loop, and slack for the runtime's own
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines remain, baseline %d:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// callBytes is a well-formed buffered call with no arguments.
func callBytes(method string) []byte {
	buf := athrift.NewTMemoryBuffer()
	p := athrift.NewTBinaryProtocolConf(buf, nil)
	ctx := context.Background()
	p.WriteMessageBegin(ctx, method, athrift.CALL, 1)
	p.WriteStructBegin(ctx, "args")
	p.WriteFieldStop(ctx)
	p.WriteStructEnd(ctx)
	p.WriteMessageEnd(ctx)
	return buf.Bytes()
}
