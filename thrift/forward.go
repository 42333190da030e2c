package thrift

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	athrift "github.com/apache/thrift/lib/go/thrift"

	"github.com/propolis/propolis/internal/errs"
)

// This file is the raw-message half of the wire: a schema-less model of Thrift values, so a
// message for a method we do not model can be read whole, inspected (which string names a
// database?), edited and written on to another server without knowing its IDL. Newer clients
// keep working through Propolis that way: a method we never heard of is still a struct of
// fields with ids and types.

// Value is one Thrift value of any type. Type says which of the other fields holds it:
// Bool for BOOL; Int for BYTE, I16, I32 and I64; Double for DOUBLE; Bytes for STRING (text and
// binary are the same on the wire) and UUID (16 bytes); Struct, List (LIST and SET) or Map.
type Value struct {
	Type   athrift.TType
	Bool   bool
	Int    int64
	Double float64
	Bytes  []byte
	Struct *Struct
	List   *List
	Map    *Map
}

// Field is one field of a struct: its id and its value (whose Type is the field's wire type).
type Field struct {
	ID    int16
	Value Value
}

// Struct is a struct read without its IDL: the fields in the order they came on the wire, so
// writing it back reproduces the bytes.
type Struct struct {
	Fields []Field
}

// List is a LIST or SET: the element type travels with the container, so an empty one keeps it.
type List struct {
	Elem   athrift.TType
	Values []Value
}

// Map is a MAP, entries in wire order.
type Map struct {
	Key, Val athrift.TType
	Entries  []MapEntry
}

// MapEntry is one key and its value.
type MapEntry struct {
	Key, Value Value
}

// Field returns the field with id, or nil.
func (s *Struct) Field(id int16) *Value {
	for i := range s.Fields {
		if s.Fields[i].ID == id {
			return &s.Fields[i].Value
		}
	}
	return nil
}

// Str returns a STRING value as text.
func (v *Value) Str() string { return string(v.Bytes) }

// StringField is a STRING field somewhere in a struct tree: Path holds the field ids from the
// root down to it, and Value points into the tree, so setting Value.Bytes rewrites it in place.
type StringField struct {
	Path  []int16
	Value *Value
}

// StringFields returns the STRING fields of s and of the structs nested in its fields, down to
// maxDepth levels of nesting (0: s's own fields only), breadth first and in wire order within
// a struct: the shallower a string, the more likely it is a call's own argument (a database
// name) rather than a detail of a nested object. Strings inside lists and maps are not visited.
func (s *Struct) StringFields(maxDepth int) []StringField {
	type node struct {
		s    *Struct
		path []int16
	}
	var out []StringField
	level := []node{{s: s}}
	for depth := 0; depth <= maxDepth && len(level) > 0; depth++ {
		var next []node
		for _, n := range level {
			for i := range n.s.Fields {
				f := &n.s.Fields[i]
				path := append(append([]int16(nil), n.path...), f.ID)
				switch f.Value.Type {
				case athrift.STRING:
					out = append(out, StringField{Path: path, Value: &f.Value})
				case athrift.STRUCT:
					if f.Value.Struct != nil {
						next = append(next, node{s: f.Value.Struct, path: path})
					}
				}
			}
		}
		level = next
	}
	return out
}

// Limits bound what reading one struct may cost beyond the bytes it takes (which the transport
// caps): nesting depth, because reading recurses, and the number of values, because each one
// costs far more memory than the byte it may take on the wire.
type Limits struct {
	// MaxDepth caps nesting of structs and containers (default 64; Hive's deepest is ~10).
	MaxDepth int
	// MaxValues caps the values in one struct tree, containers' elements included (default
	// 1<<20).
	MaxValues int
}

// DefaultLimits are the limits ReadStruct applies to zero fields of Limits.
var DefaultLimits = Limits{MaxDepth: 64, MaxValues: 1 << 20}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultLimits.MaxValues
	}
	return l
}

// ReadStruct reads one struct of any shape from p. A malformed or over-limit struct is a
// TProtocolException: the stream cannot be trusted after it.
func ReadStruct(ctx context.Context, p athrift.TProtocol, lim Limits) (*Struct, error) {
	r := reader{p: p, lim: lim.withDefaults()}
	return r.readStruct(ctx, 1)
}

// Read reads s from p within DefaultLimits, replacing its fields; with Write it makes *Struct
// an athrift.TStruct, so a generic value can go through a standard Thrift client.
func (s *Struct) Read(ctx context.Context, p athrift.TProtocol) error {
	got, err := ReadStruct(ctx, p, Limits{})
	if err != nil {
		return err
	}
	*s = *got
	return nil
}

type reader struct {
	p   athrift.TProtocol
	lim Limits
	n   int
}

func protoErr(kind int, format string, args ...any) error {
	return athrift.NewTProtocolExceptionWithType(kind, fmt.Errorf(format, args...))
}

func (r *reader) count() error {
	r.n++
	if r.n > r.lim.MaxValues {
		return protoErr(athrift.SIZE_LIMIT, "struct has more than %d values", r.lim.MaxValues)
	}
	return nil
}

func (r *reader) readStruct(ctx context.Context, depth int) (*Struct, error) {
	if depth > r.lim.MaxDepth {
		return nil, protoErr(athrift.DEPTH_LIMIT, "struct nested deeper than %d levels", r.lim.MaxDepth)
	}
	if _, err := r.p.ReadStructBegin(ctx); err != nil {
		return nil, err
	}
	s := &Struct{}
	for {
		_, t, id, err := r.p.ReadFieldBegin(ctx)
		if err != nil {
			return nil, err
		}
		if t == athrift.STOP {
			break
		}
		v, err := r.readValue(ctx, t, depth)
		if err != nil {
			return nil, err
		}
		if err := r.p.ReadFieldEnd(ctx); err != nil {
			return nil, err
		}
		s.Fields = append(s.Fields, Field{ID: id, Value: v})
	}
	return s, r.p.ReadStructEnd(ctx)
}

// preallocation caps the capacity reserved from a container's declared size: the size is the
// sender's claim, the elements have to arrive to count.
const preallocation = 1024

func (r *reader) readValue(ctx context.Context, t athrift.TType, depth int) (v Value, err error) {
	if err := r.count(); err != nil {
		return v, err
	}
	v.Type = t
	switch t {
	case athrift.BOOL:
		v.Bool, err = r.p.ReadBool(ctx)
	case athrift.BYTE:
		var b int8
		b, err = r.p.ReadByte(ctx)
		v.Int = int64(b)
	case athrift.I16:
		var i int16
		i, err = r.p.ReadI16(ctx)
		v.Int = int64(i)
	case athrift.I32:
		var i int32
		i, err = r.p.ReadI32(ctx)
		v.Int = int64(i)
	case athrift.I64:
		v.Int, err = r.p.ReadI64(ctx)
	case athrift.DOUBLE:
		v.Double, err = r.p.ReadDouble(ctx)
	case athrift.STRING:
		v.Bytes, err = r.p.ReadBinary(ctx)
		if err == nil && v.Bytes == nil {
			v.Bytes = []byte{}
		}
	case athrift.UUID:
		var u athrift.Tuuid
		u, err = r.p.ReadUUID(ctx)
		v.Bytes = u[:]
	case athrift.STRUCT:
		v.Struct, err = r.readStruct(ctx, depth+1)
	case athrift.LIST, athrift.SET:
		v.List, err = r.readList(ctx, t, depth+1)
	case athrift.MAP:
		v.Map, err = r.readMap(ctx, depth+1)
	default:
		err = protoErr(athrift.INVALID_DATA, "unknown Thrift type %d", t)
	}
	return v, err
}

func (r *reader) readList(ctx context.Context, t athrift.TType, depth int) (*List, error) {
	if depth > r.lim.MaxDepth {
		return nil, protoErr(athrift.DEPTH_LIMIT, "containers nested deeper than %d levels", r.lim.MaxDepth)
	}
	var (
		elem athrift.TType
		size int
		err  error
	)
	if t == athrift.SET {
		elem, size, err = r.p.ReadSetBegin(ctx)
	} else {
		elem, size, err = r.p.ReadListBegin(ctx)
	}
	if err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, protoErr(athrift.NEGATIVE_SIZE, "negative container size %d", size)
	}
	l := &List{Elem: elem, Values: make([]Value, 0, min(size, preallocation))}
	for range size {
		v, err := r.readValue(ctx, elem, depth)
		if err != nil {
			return nil, err
		}
		l.Values = append(l.Values, v)
	}
	if t == athrift.SET {
		return l, r.p.ReadSetEnd(ctx)
	}
	return l, r.p.ReadListEnd(ctx)
}

func (r *reader) readMap(ctx context.Context, depth int) (*Map, error) {
	if depth > r.lim.MaxDepth {
		return nil, protoErr(athrift.DEPTH_LIMIT, "containers nested deeper than %d levels", r.lim.MaxDepth)
	}
	kt, vt, size, err := r.p.ReadMapBegin(ctx)
	if err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, protoErr(athrift.NEGATIVE_SIZE, "negative map size %d", size)
	}
	m := &Map{Key: kt, Val: vt, Entries: make([]MapEntry, 0, min(size, preallocation))}
	for range size {
		k, err := r.readValue(ctx, kt, depth)
		if err != nil {
			return nil, err
		}
		v, err := r.readValue(ctx, vt, depth)
		if err != nil {
			return nil, err
		}
		m.Entries = append(m.Entries, MapEntry{Key: k, Value: v})
	}
	return m, r.p.ReadMapEnd(ctx)
}

// Write writes s to p. In the binary protocol the bytes are those s was read from (field
// names, which it does not carry, are not on that wire).
func (s *Struct) Write(ctx context.Context, p athrift.TProtocol) error {
	if err := p.WriteStructBegin(ctx, ""); err != nil {
		return err
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		if err := p.WriteFieldBegin(ctx, "", f.Value.Type, f.ID); err != nil {
			return err
		}
		if err := f.Value.write(ctx, p); err != nil {
			return err
		}
		if err := p.WriteFieldEnd(ctx); err != nil {
			return err
		}
	}
	if err := p.WriteFieldStop(ctx); err != nil {
		return err
	}
	return p.WriteStructEnd(ctx)
}

func (v *Value) write(ctx context.Context, p athrift.TProtocol) error {
	switch v.Type {
	case athrift.BOOL:
		return p.WriteBool(ctx, v.Bool)
	case athrift.BYTE:
		return p.WriteByte(ctx, int8(v.Int))
	case athrift.I16:
		return p.WriteI16(ctx, int16(v.Int))
	case athrift.I32:
		return p.WriteI32(ctx, int32(v.Int))
	case athrift.I64:
		return p.WriteI64(ctx, v.Int)
	case athrift.DOUBLE:
		return p.WriteDouble(ctx, v.Double)
	case athrift.STRING:
		return p.WriteBinary(ctx, v.Bytes)
	case athrift.UUID:
		var u athrift.Tuuid
		if len(v.Bytes) != len(u) {
			return protoErr(athrift.INVALID_DATA, "UUID of %d bytes", len(v.Bytes))
		}
		copy(u[:], v.Bytes)
		return p.WriteUUID(ctx, u)
	case athrift.STRUCT:
		if v.Struct == nil {
			return protoErr(athrift.INVALID_DATA, "struct value without a struct")
		}
		return v.Struct.Write(ctx, p)
	case athrift.LIST, athrift.SET:
		if v.List == nil {
			return protoErr(athrift.INVALID_DATA, "container value without a container")
		}
		return v.List.write(ctx, p, v.Type)
	case athrift.MAP:
		if v.Map == nil {
			return protoErr(athrift.INVALID_DATA, "map value without a map")
		}
		return v.Map.write(ctx, p)
	}
	return protoErr(athrift.INVALID_DATA, "unknown Thrift type %d", v.Type)
}

func (l *List) write(ctx context.Context, p athrift.TProtocol, t athrift.TType) error {
	var err error
	if t == athrift.SET {
		err = p.WriteSetBegin(ctx, l.Elem, len(l.Values))
	} else {
		err = p.WriteListBegin(ctx, l.Elem, len(l.Values))
	}
	if err != nil {
		return err
	}
	for i := range l.Values {
		if l.Values[i].Type != l.Elem {
			return protoErr(athrift.INVALID_DATA, "element of type %v in a container of %v", l.Values[i].Type, l.Elem)
		}
		if err := l.Values[i].write(ctx, p); err != nil {
			return err
		}
	}
	if t == athrift.SET {
		return p.WriteSetEnd(ctx)
	}
	return p.WriteListEnd(ctx)
}

func (m *Map) write(ctx context.Context, p athrift.TProtocol) error {
	if err := p.WriteMapBegin(ctx, m.Key, m.Val, len(m.Entries)); err != nil {
		return err
	}
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Key.Type != m.Key || e.Value.Type != m.Val {
			return protoErr(athrift.INVALID_DATA, "entry of types %v/%v in a map of %v/%v", e.Key.Type, e.Value.Type, m.Key, m.Val)
		}
		if err := e.Key.write(ctx, p); err != nil {
			return err
		}
		if err := e.Value.write(ctx, p); err != nil {
			return err
		}
	}
	return p.WriteMapEnd(ctx)
}

// AppException is the struct of a TApplicationException (field 1 message, field 2 type), as
// sent in an EXCEPTION message, so a fallback can relay one it received or make its own.
func AppException(typeID int32, msg string) *Struct {
	s := &Struct{}
	if msg != "" {
		s.Fields = append(s.Fields, Field{ID: 1, Value: Value{Type: athrift.STRING, Bytes: []byte(msg)}})
	}
	s.Fields = append(s.Fields, Field{ID: 2, Value: Value{Type: athrift.I32, Int: int64(typeID)}})
	return s
}

// Fallback answers calls to methods the processor does not know.
type Fallback interface {
	// Forward handles one call: args is the call's argument struct. It returns the reply
	// struct and its message type: REPLY (a result struct, declared exceptions included) or
	// EXCEPTION (a TApplicationException struct, see AppException). An error of kind
	// errs.KindUnsupported tells the client the method is unknown, as if there were no
	// fallback, so it falls back to older calls; any other error is an INTERNAL_ERROR
	// carrying the error's message.
	Forward(ctx context.Context, method string, args *Struct) (reply *Struct, replyType athrift.TMessageType, err error)
}

// Dispatcher is a TProcessor that serves the methods of a map-based processor (a generated
// one, which serves nothing else) and hands every other call to a Fallback: how a method added
// to the IDL after our bindings still gets an answer.
type Dispatcher struct {
	proc     athrift.TProcessor
	fallback Fallback
	lim      Limits
	log      *slog.Logger
}

var _ athrift.TProcessor = (*Dispatcher)(nil)

// NewDispatcher returns a dispatcher over proc. With a nil fallback it is proc itself in
// behaviour: unknown methods are skipped and answered UNKNOWN_METHOD. lim bounds the
// arguments read for the fallback (zero fields: DefaultLimits); log may be nil.
func NewDispatcher(proc athrift.TProcessor, fallback Fallback, lim Limits, log *slog.Logger) *Dispatcher {
	if log == nil {
		log = slog.Default()
	}
	return &Dispatcher{proc: proc, fallback: fallback, lim: lim.withDefaults(), log: log}
}

func (d *Dispatcher) ProcessorMap() map[string]athrift.TProcessorFunction {
	return d.proc.ProcessorMap()
}

func (d *Dispatcher) AddToProcessorMap(name string, f athrift.TProcessorFunction) {
	d.proc.AddToProcessorMap(name, f)
}

// Process serves one message. Its contract with the server is the generated processors': a
// false result with a protocol or transport error closes the connection, a false result with
// an UNKNOWN_METHOD application exception (already written to the client) keeps it.
func (d *Dispatcher) Process(ctx context.Context, in, out athrift.TProtocol) (bool, athrift.TException) {
	if d.fallback == nil {
		return d.proc.Process(ctx, in, out)
	}
	name, typ, seq, err := in.ReadMessageBegin(ctx)
	if err != nil {
		return false, athrift.WrapTException(err)
	}
	if f, ok := d.proc.ProcessorMap()[name]; ok {
		return f.Process(ctx, seq, in, out)
	}
	if typ != athrift.CALL {
		// ONEWAY calls expect no answer, so nothing could report a forwarding failure; and the
		// only ones in the metastore's IDL (fb303's shutdown, reinitialize) must never reach a
		// backend. They are refused as they are without a fallback.
		return d.unknown(ctx, in, out, name, seq)
	}
	args, err := ReadStruct(ctx, in, d.lim)
	if err == nil {
		err = in.ReadMessageEnd(ctx)
	}
	if err != nil {
		// The stream is out of step: tell the client if we can, then close.
		d.writeException(ctx, out, name, seq, athrift.NewTApplicationException(athrift.PROTOCOL_ERROR, err.Error()))
		return false, athrift.WrapTException(err)
	}
	reply, rtyp, err := d.forward(ctx, name, args)
	if err == nil && reply == nil {
		err = errors.New("the fallback sent no reply")
	}
	if err == nil && rtyp != athrift.REPLY && rtyp != athrift.EXCEPTION {
		err = fmt.Errorf("the fallback sent a reply of message type %d", rtyp)
	}
	if err != nil {
		if errs.KindOf(err) == errs.KindUnsupported {
			x := athrift.NewTApplicationException(athrift.UNKNOWN_METHOD, "Unknown function "+name+": "+err.Error())
			if werr := d.writeException(ctx, out, name, seq, x); werr != nil {
				return false, athrift.WrapTException(werr)
			}
			return false, x
		}
		d.log.Warn("forwarding an unmodeled method failed", "method", name, "err", err)
		x := athrift.NewTApplicationException(athrift.INTERNAL_ERROR, name+": "+err.Error())
		if werr := d.writeException(ctx, out, name, seq, x); werr != nil {
			return false, athrift.WrapTException(werr)
		}
		return true, nil
	}
	if err := d.writeMessage(ctx, out, name, rtyp, seq, reply); err != nil {
		return false, athrift.WrapTException(err)
	}
	return true, nil
}

// forward calls the fallback, turning a panic into an error: the arguments were read whole,
// so the stream is in step and the connection can carry on.
func (d *Dispatcher) forward(ctx context.Context, name string, args *Struct) (reply *Struct, typ athrift.TMessageType, err error) {
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("panic while forwarding a call", "method", name, "panic", r, "stack", string(debug.Stack()))
			reply, err = nil, fmt.Errorf("internal error while forwarding (panic: %v)", r)
		}
	}()
	return d.fallback.Forward(ctx, name, args)
}

// unknown answers a method nobody serves, exactly as the generated processors do.
func (d *Dispatcher) unknown(ctx context.Context, in, out athrift.TProtocol, name string, seq int32) (bool, athrift.TException) {
	if err := in.Skip(ctx, athrift.STRUCT); err != nil {
		return false, athrift.WrapTException(err)
	}
	if err := in.ReadMessageEnd(ctx); err != nil {
		return false, athrift.WrapTException(err)
	}
	x := athrift.NewTApplicationException(athrift.UNKNOWN_METHOD, "Unknown function "+name)
	if err := d.writeException(ctx, out, name, seq, x); err != nil {
		return false, athrift.WrapTException(err)
	}
	return false, x
}

func (d *Dispatcher) writeException(ctx context.Context, out athrift.TProtocol, name string, seq int32, x athrift.TApplicationException) error {
	if err := out.WriteMessageBegin(ctx, name, athrift.EXCEPTION, seq); err != nil {
		return err
	}
	if err := x.Write(ctx, out); err != nil {
		return err
	}
	if err := out.WriteMessageEnd(ctx); err != nil {
		return err
	}
	return out.Flush(ctx)
}

func (d *Dispatcher) writeMessage(ctx context.Context, out athrift.TProtocol, name string, typ athrift.TMessageType, seq int32, s *Struct) error {
	if err := out.WriteMessageBegin(ctx, name, typ, seq); err != nil {
		return err
	}
	if err := s.Write(ctx, out); err != nil {
		return err
	}
	if err := out.WriteMessageEnd(ctx); err != nil {
		return err
	}
	return out.Flush(ctx)
}
