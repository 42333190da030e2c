package thrift

import (
	"context"

	athrift "github.com/apache/thrift/lib/go/thrift"
)

// A generic Struct and a generated struct meet where a client is newer than our bindings: its
// request struct is unknown to them, but the fields inside it (a Database, a Partition) are
// not. Decode and Encode cross between the two through the binary protocol, so the generated
// code stays the one reader and writer of each known type.

// Decode reads the value v, which must be a struct on the wire, into dst.
func Decode(ctx context.Context, v *Value, dst athrift.TStruct) error {
	if v == nil || v.Type != athrift.STRUCT || v.Struct == nil {
		return athrift.NewTProtocolExceptionWithType(athrift.INVALID_DATA, errNotStruct)
	}
	return DecodeStruct(ctx, v.Struct, dst)
}

// DecodeStruct reads the generic struct s into dst.
func DecodeStruct(ctx context.Context, s *Struct, dst athrift.TStruct) error {
	buf := athrift.NewTMemoryBuffer()
	p := athrift.NewTBinaryProtocolConf(buf, nil)
	if err := s.Write(ctx, p); err != nil {
		return err
	}
	return dst.Read(ctx, p)
}

// Encode returns src as a generic struct value. wrap, if given, wraps the protocol src is
// written through, so a reply built this way gets the same output rules (OmitEmptyStrings) as
// one the generated code writes.
func Encode(ctx context.Context, src athrift.TStruct, wrap ...func(athrift.TProtocol) athrift.TProtocol) (Value, error) {
	buf := athrift.NewTMemoryBuffer()
	p := athrift.NewTBinaryProtocolConf(buf, nil)
	var w athrift.TProtocol = p
	for _, f := range wrap {
		w = f(w)
	}
	if err := src.Write(ctx, w); err != nil {
		return Value{}, err
	}
	s, err := ReadStruct(ctx, p, Limits{})
	if err != nil {
		return Value{}, err
	}
	return Value{Type: athrift.STRUCT, Struct: s}, nil
}

type notStruct struct{}

func (notStruct) Error() string { return "expected a struct" }

var errNotStruct error = notStruct{}
