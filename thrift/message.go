package thrift

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	athrift "github.com/apache/thrift/lib/go/thrift"
)

// Every request is received whole before anything decodes it, so what decoding allocates is
// bounded by bytes the client actually sent, never by sizes it announced:
//
//   - A framed message is the frame: its announced length is checked against the limit and the
//     body is read in chunks, so a frame header claiming 100 MB that is followed by 47 bytes
//     costs the 47 bytes.
//   - An unframed message has no length, so readBuffered walks its structure as the bytes come
//     in (header, then the argument struct, field by field, element by element) without
//     allocating anything for what it walks past. Every element takes at least one byte on the
//     wire, so a container announcing 13 million entries costs nothing until the entries
//     arrive.
//   - Decoding then reads from memory through boundedProtocol, which refuses a container whose
//     announced element count could not fit in the bytes left in the message, before the
//     generated code pre-allocates it.

// readChunk is how much of an announced length is reserved at a time: the rest of a long
// string or frame is only allocated as its bytes arrive.
const readChunk = 64 << 10

// maxScanDepth bounds nesting while walking an unframed message (recursion); Hive's deepest
// structs nest about ten levels.
const maxScanDepth = 64

// msgReader accumulates one message's bytes from the connection.
type msgReader struct {
	r     *bufio.Reader
	buf   []byte
	limit int64
}

// take appends the next n bytes of the stream to the message, in chunks so that an announced
// length is only paid for as it arrives.
func (m *msgReader) take(n int64) error {
	if n < 0 {
		return protoErr(athrift.NEGATIVE_SIZE, "negative length %d", n)
	}
	if int64(len(m.buf))+n > m.limit {
		return fmt.Errorf("%w (%d bytes)", ErrMessageTooLarge, m.limit)
	}
	for n > 0 {
		c := int(min(n, readChunk))
		start := len(m.buf)
		m.buf = append(m.buf, make([]byte, c)...)
		if _, err := io.ReadFull(m.r, m.buf[start:]); err != nil {
			m.buf = m.buf[:start]
			return err
		}
		n -= int64(c)
	}
	return nil
}

func (m *msgReader) byte() (byte, error) {
	if err := m.take(1); err != nil {
		return 0, err
	}
	return m.buf[len(m.buf)-1], nil
}

func (m *msgReader) i32() (int32, error) {
	if err := m.take(4); err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(m.buf[len(m.buf)-4:])), nil
}

// readFramed reads one frame: a 4-byte length, then that many bytes.
// scratch is reused for the bytes and holds them, partial ones included, on return.
func readFramed(r *bufio.Reader, limit int64, scratch *[]byte) ([]byte, error) {
	m := msgReader{r: r, buf: (*scratch)[:0], limit: limit + 4}
	defer func() { *scratch = m.buf }()
	n, err := m.i32()
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, protoErr(athrift.INVALID_DATA, "frame of %d bytes", n)
	}
	if int64(n) > limit {
		return nil, fmt.Errorf("%w: frame of %d bytes, limit %d", ErrMessageTooLarge, n, limit)
	}
	if err := m.take(int64(n)); err != nil {
		return nil, err
	}
	return m.buf[4:], nil
}

// readBuffered reads one unframed message by walking its structure.
func readBuffered(r *bufio.Reader, limit int64, scratch *[]byte) ([]byte, error) {
	m := msgReader{r: r, buf: (*scratch)[:0], limit: limit}
	defer func() { *scratch = m.buf }()
	v, err := m.i32()
	if err != nil {
		return nil, err
	}
	if uint32(v)&athrift.VERSION_MASK != athrift.VERSION_1 {
		return nil, protoErr(athrift.BAD_VERSION, "bad version %#x: expected the strict binary protocol", uint32(v))
	}
	n, err := m.i32() // method name
	if err != nil {
		return nil, err
	}
	if err := m.take(int64(n)); err != nil {
		return nil, err
	}
	if err := m.take(4); err != nil { // sequence id
		return nil, err
	}
	if err := m.skip(athrift.STRUCT, 0); err != nil {
		return nil, err
	}
	return m.buf, nil
}

// skip walks one value of type t, keeping its bytes.
func (m *msgReader) skip(t athrift.TType, depth int) error {
	switch t {
	case athrift.BOOL, athrift.BYTE:
		return m.take(1)
	case athrift.I16:
		return m.take(2)
	case athrift.I32:
		return m.take(4)
	case athrift.I64, athrift.DOUBLE:
		return m.take(8)
	case athrift.UUID:
		return m.take(16)
	case athrift.STRING:
		n, err := m.i32()
		if err != nil {
			return err
		}
		return m.take(int64(n))
	}
	if depth >= maxScanDepth {
		return protoErr(athrift.DEPTH_LIMIT, "message nested deeper than %d levels", maxScanDepth)
	}
	switch t {
	case athrift.STRUCT:
		for {
			ft, err := m.byte()
			if err != nil {
				return err
			}
			if athrift.TType(ft) == athrift.STOP {
				return nil
			}
			if err := m.take(2); err != nil { // field id
				return err
			}
			if err := m.skip(athrift.TType(ft), depth+1); err != nil {
				return err
			}
		}
	case athrift.MAP:
		kt, err := m.byte()
		if err != nil {
			return err
		}
		vt, err := m.byte()
		if err != nil {
			return err
		}
		n, err := m.i32()
		if err != nil {
			return err
		}
		if n < 0 {
			return protoErr(athrift.NEGATIVE_SIZE, "negative map size %d", n)
		}
		for range n {
			if err := m.skip(athrift.TType(kt), depth+1); err != nil {
				return err
			}
			if err := m.skip(athrift.TType(vt), depth+1); err != nil {
				return err
			}
		}
		return nil
	case athrift.LIST, athrift.SET:
		et, err := m.byte()
		if err != nil {
			return err
		}
		n, err := m.i32()
		if err != nil {
			return err
		}
		if n < 0 {
			return protoErr(athrift.NEGATIVE_SIZE, "negative container size %d", n)
		}
		for range n {
			if err := m.skip(athrift.TType(et), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return protoErr(athrift.INVALID_DATA, "unknown Thrift type %d", t)
}

// header is a message's first part, parsed from its bytes without decoding the rest.
type header struct {
	name string
	typ  athrift.TMessageType
	seq  int32
}

func parseHeader(msg []byte) (header, error) {
	if len(msg) < 8 {
		return header{}, protoErr(athrift.INVALID_DATA, "message of %d bytes", len(msg))
	}
	v := binary.BigEndian.Uint32(msg)
	if v&athrift.VERSION_MASK != athrift.VERSION_1 {
		return header{}, protoErr(athrift.BAD_VERSION, "bad version %#x: expected the strict binary protocol", v)
	}
	n := int64(int32(binary.BigEndian.Uint32(msg[4:])))
	if n < 0 || 8+n+4 > int64(len(msg)) {
		return header{}, protoErr(athrift.INVALID_DATA, "method name of %d bytes in a message of %d", n, len(msg))
	}
	return header{
		name: string(msg[8 : 8+n]),
		typ:  athrift.TMessageType(v & 0xff),
		seq:  int32(binary.BigEndian.Uint32(msg[8+n:])),
	}, nil
}

// msgTransport reads one received message from memory; writes go nowhere (replies use the
// connection's own transport).
type msgTransport struct {
	bytes.Reader
}

var _ athrift.TTransport = (*msgTransport)(nil)

func (t *msgTransport) Write([]byte) (int, error) {
	return 0, errors.New("read-only message transport")
}
func (t *msgTransport) Flush(context.Context) error { return nil }
func (t *msgTransport) RemainingBytes() uint64      { return uint64(t.Len()) }
func (t *msgTransport) IsOpen() bool                { return true }
func (t *msgTransport) Open() error                 { return nil }
func (t *msgTransport) Close() error                { return nil }

// boundedProtocol decodes a message held in memory, refusing a container whose announced
// size could not fit in the bytes that remain: the generated code pre-allocates from that
// size, so the check must come before it sees it.
type boundedProtocol struct {
	athrift.TProtocol
	t *msgTransport
}

// minWireBytes is the fewest bytes one value of type t takes in the binary protocol.
func minWireBytes(t athrift.TType) int64 {
	switch t {
	case athrift.I16:
		return 2
	case athrift.I32, athrift.STRING:
		return 4
	case athrift.I64, athrift.DOUBLE:
		return 8
	case athrift.UUID:
		return 16
	case athrift.LIST, athrift.SET:
		return 5
	case athrift.MAP:
		return 6
	}
	return 1
}

func (p *boundedProtocol) check(size int, each int64) error {
	if rem := int64(p.t.Len()); int64(size)*each > rem {
		return protoErr(athrift.SIZE_LIMIT, "container announces %d elements but only %d bytes of the message remain", size, rem)
	}
	return nil
}

func (p *boundedProtocol) ReadMapBegin(ctx context.Context) (athrift.TType, athrift.TType, int, error) {
	kt, vt, n, err := p.TProtocol.ReadMapBegin(ctx)
	if err == nil {
		err = p.check(n, minWireBytes(kt)+minWireBytes(vt))
	}
	return kt, vt, n, err
}

func (p *boundedProtocol) ReadListBegin(ctx context.Context) (athrift.TType, int, error) {
	et, n, err := p.TProtocol.ReadListBegin(ctx)
	if err == nil {
		err = p.check(n, minWireBytes(et))
	}
	return et, n, err
}

func (p *boundedProtocol) ReadSetBegin(ctx context.Context) (athrift.TType, int, error) {
	et, n, err := p.TProtocol.ReadSetBegin(ctx)
	if err == nil {
		err = p.check(n, minWireBytes(et))
	}
	return et, n, err
}

// newMessageProtocol returns a protocol decoding msg within its own bytes.
func newMessageProtocol(msg []byte, conf *athrift.TConfiguration) athrift.TProtocol {
	t := &msgTransport{}
	t.Reset(msg)
	return &boundedProtocol{TProtocol: athrift.NewTBinaryProtocolConf(t, conf), t: t}
}
