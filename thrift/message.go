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
//   - Bytes actually sent can still decode into far more memory: an empty struct is one byte
//     on the wire and a 128-byte Partition in Go, so a megabyte of them decoded into 140 MB.
//     The walk (of the frame, in memory, for framed messages) estimates what decoding will
//     take and refuses a message estimated at more than maxDecodeRatio times its size.

// readChunk is how much of an announced length is reserved at a time: the rest of a long
// string or frame is only allocated as its bytes arrive.
const readChunk = 64 << 10

// maxScanDepth bounds nesting while walking an unframed message (recursion); Hive's deepest
// structs nest about ten levels.
const maxScanDepth = 64

// maxDecodeRatio bounds the memory decoding a message may take, estimated as it is walked, as
// a multiple of the message's bytes (plus decodeSlack). Real requests estimate well under 10:
// a string costs its bytes and a header, a struct (estimated at 128 bytes, a Partition's
// size) comes with fields that take bytes too. A message of mostly empty structs or fields
// does not, and is refused.
const (
	maxDecodeRatio = 16
	decodeSlack    = 1 << 20
)

// Estimated Go memory of decoded values, by kind.
const (
	estStruct    = 128 // the struct, allocated on its own, and the pointer to it
	estScalar    = 8
	estString    = 16 // header; the bytes are added
	estContainer = 48 // slice or map header and the map's own overhead
	estEntry     = 16 // per map entry, beyond key and value
)

// msgReader accumulates one message's bytes from the connection, or (r nil) walks a message
// already in buf.
type msgReader struct {
	r     *bufio.Reader
	buf   []byte
	pos   int // in buf, when walking it in memory
	limit int64
	est   int64 // estimated memory decoding the message will take
}

// take appends the next n bytes of the stream to the message, in chunks so that an announced
// length is only paid for as it arrives.
func (m *msgReader) take(n int64) error {
	if n < 0 {
		return protoErr(athrift.NEGATIVE_SIZE, "negative length %d", n)
	}
	if m.r == nil {
		if int64(len(m.buf)-m.pos) < n {
			return protoErr(athrift.INVALID_DATA, "the frame ends inside its message")
		}
		m.pos += int(n)
		return nil
	}
	if int64(len(m.buf))+n > m.limit {
		return fmt.Errorf("%w (%d bytes)", ErrMessageTooLarge, m.limit)
	}
	for n > 0 {
		c := int(min(n, readChunk))
		start := len(m.buf)
		if cap(m.buf)-start < c {
			// Doubling keeps what growing costs under twice what arrived (append grows large
			// slices by a quarter, which costs five times).
			nb := make([]byte, start, max(2*cap(m.buf), start+c))
			copy(nb, m.buf)
			m.buf = nb
		}
		m.buf = m.buf[:start+c]
		if _, err := io.ReadFull(m.r, m.buf[start:]); err != nil {
			m.buf = m.buf[:start]
			return err
		}
		n -= int64(c)
	}
	return nil
}

// last is the n bytes just taken.
func (m *msgReader) last(n int) []byte {
	if m.r == nil {
		return m.buf[m.pos-n : m.pos]
	}
	return m.buf[len(m.buf)-n:]
}

func (m *msgReader) byte() (byte, error) {
	if err := m.take(1); err != nil {
		return 0, err
	}
	return m.last(1)[0], nil
}

func (m *msgReader) i32() (int32, error) {
	if err := m.take(4); err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(m.last(4))), nil
}

// message walks one message: the header, then the argument struct.
func (m *msgReader) message() error {
	v, err := m.i32()
	if err != nil {
		return err
	}
	if uint32(v)&athrift.VERSION_MASK != athrift.VERSION_1 {
		return protoErr(athrift.BAD_VERSION, "bad version %#x: expected the strict binary protocol", uint32(v))
	}
	n, err := m.i32() // method name
	if err != nil {
		return err
	}
	if err := m.take(int64(n)); err != nil {
		return err
	}
	if err := m.take(4); err != nil { // sequence id
		return err
	}
	start := len(m.buf)
	if m.r == nil {
		start = m.pos
	}
	if err := m.skip(athrift.STRUCT, 0); err != nil {
		return err
	}
	size := int64(len(m.buf))
	if m.r == nil {
		size = int64(m.pos)
	}
	if args := size - int64(start); m.est > maxDecodeRatio*args+decodeSlack {
		return protoErr(athrift.SIZE_LIMIT, "arguments of %d bytes would decode into about %d MiB, more than %d times their size: mostly empty structures",
			args, m.est>>20, maxDecodeRatio)
	}
	return nil
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
	msg := m.buf[4:]
	walk := msgReader{buf: msg, limit: limit}
	if err := walk.message(); err != nil {
		return nil, err
	}
	return msg, nil
}

// readBuffered reads one unframed message by walking its structure.
func readBuffered(r *bufio.Reader, limit int64, scratch *[]byte) ([]byte, error) {
	m := msgReader{r: r, buf: (*scratch)[:0], limit: limit}
	defer func() { *scratch = m.buf }()
	if err := m.message(); err != nil {
		return nil, err
	}
	return m.buf, nil
}

// skip walks one value of type t, keeping its bytes.
func (m *msgReader) skip(t athrift.TType, depth int) error {
	switch t {
	case athrift.BOOL, athrift.BYTE:
		m.est += estScalar
		return m.take(1)
	case athrift.I16:
		m.est += estScalar
		return m.take(2)
	case athrift.I32:
		m.est += estScalar
		return m.take(4)
	case athrift.I64, athrift.DOUBLE:
		m.est += estScalar
		return m.take(8)
	case athrift.UUID:
		m.est += 16
		return m.take(16)
	case athrift.STRING:
		n, err := m.i32()
		if err != nil {
			return err
		}
		m.est += estString + max(int64(n), 0)
		return m.take(int64(n))
	}
	if depth >= maxScanDepth {
		return protoErr(athrift.DEPTH_LIMIT, "message nested deeper than %d levels", maxScanDepth)
	}
	switch t {
	case athrift.STRUCT:
		m.est += estStruct
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
		m.est += estContainer
		for range n {
			m.est += estEntry
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
		m.est += estContainer
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
