package embedded

import (
	"context"
	"fmt"

	"github.com/apache/thrift/lib/go/thrift"
)

// encode serializes with TBinaryProtocol: the format Hive itself speaks, so nothing an engine
// sends is lost even for fields Propolis does not understand yet.
func encode(ctx context.Context, v thrift.TStruct) ([]byte, error) {
	b, err := thrift.NewTSerializer().Write(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

func decode(ctx context.Context, b []byte, v thrift.TStruct) error {
	if err := thrift.NewTDeserializer().Read(ctx, v, b); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}

// clone deep-copies a Thrift object, so the caller's argument stays untouched and results are
// the caller's to modify.
func clone[T any, P interface {
	*T
	thrift.TStruct
}](ctx context.Context, in P) (P, error) {
	b, err := encode(ctx, in)
	if err != nil {
		return nil, err
	}
	out := P(new(T))
	if err := decode(ctx, b, out); err != nil {
		return nil, err
	}
	return out, nil
}
