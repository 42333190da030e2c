package thrift

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	athrift "github.com/apache/thrift/lib/go/thrift"
)

// ErrMessageTooLarge is returned when a client sends more than the configured number of bytes
// in one message. The stream cannot be resynchronised after that, so the connection closes.
var ErrMessageTooLarge = errors.New("thrift message exceeds the size limit")

// connTransport is the base transport over one connection: buffered reads (which only
// readFramed and readBuffered use, a whole message at a time) and buffered writes.
type connTransport struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	// closed is read by the generated processors' connectivity checks on other goroutines.
	closed atomic.Bool
}

var _ athrift.TTransport = (*connTransport)(nil)

// newConnTransport reads through a small buffer: messages larger than it are read straight
// into their own buffer. The write buffer comes with startWriting, once the client has shown it
// speaks Thrift, so connections that never do cost little.
func newConnTransport(c net.Conn) *connTransport {
	return &connTransport{conn: c, r: bufio.NewReaderSize(c, 16<<10)}
}

func (t *connTransport) startWriting() { t.w = bufio.NewWriterSize(t.conn, 64<<10) }

func (t *connTransport) Read(p []byte) (int, error)      { return t.r.Read(p) }
func (t *connTransport) Write(p []byte) (int, error)     { return t.w.Write(p) }
func (t *connTransport) Flush(ctx context.Context) error { return t.w.Flush() }
func (t *connTransport) RemainingBytes() uint64          { return ^uint64(0) }
func (t *connTransport) IsOpen() bool                    { return !t.closed.Load() }
func (t *connTransport) Open() error                     { return nil }
func (t *connTransport) Close() error {
	t.closed.Store(true)
	return t.conn.Close()
}

// Kinds of stream a client can open with, told apart by their first bytes.
const (
	kindBuffered = "buffered"
	kindFramed   = "framed"
)

// sniff decides the transport from the first bytes without consuming them. A strict binary
// message starts with the version word 0x8001; a framed one with a 4-byte length followed by
// that word. Anything else (SASL negotiation, compact protocol, HTTP) is refused by name.
func sniff(r *bufio.Reader, maxFrame int64) (string, error) {
	b, err := r.Peek(1)
	if err != nil {
		return "", err
	}
	switch {
	case b[0] == 0x80:
		return kindBuffered, nil
	case b[0] == 0x82:
		return "", errors.New("compact protocol is not supported: use the binary protocol")
	case b[0] == 0x01 || b[0] == 0x02:
		// A SASL START (1) or OK (2) status byte, as sent by TSaslClientTransport.
		if h, err := r.Peek(5); err == nil && h[1] == 0 && h[2] == 0 {
			return "", errors.New("SASL transport is not enabled on this listener")
		}
	case b[0] == 'G' || b[0] == 'P' || b[0] == 'H':
		if h, err := r.Peek(4); err == nil && (string(h) == "GET " || string(h) == "POST" || string(h) == "HEAD") {
			return "", errors.New("HTTP request on a Thrift port")
		}
	}
	h, err := r.Peek(5)
	if err != nil {
		return "", err
	}
	size := int64(uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3]))
	if h[4] != 0x80 {
		return "", fmt.Errorf("unrecognized stream (first bytes % x): expected Thrift binary protocol, buffered or framed", h)
	}
	if size > maxFrame {
		return "", fmt.Errorf("%w: frame of %d bytes, limit %d", ErrMessageTooLarge, size, maxFrame)
	}
	return kindFramed, nil
}
