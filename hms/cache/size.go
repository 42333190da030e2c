package cache

import (
	"context"
	"sync"

	"github.com/apache/thrift/lib/go/thrift"
)

var serializers = sync.Pool{New: func() any { return thrift.NewTSerializer() }}

// thriftSize is v's TBinaryProtocol size: what the object costs on the wire, and a stable
// measure of what it costs in memory (the Go object graph is a small multiple of it).
func thriftSize(v thrift.TStruct) int64 {
	if v == nil {
		return 0
	}
	s := serializers.Get().(*thrift.TSerializer)
	defer serializers.Put(s)
	b, err := s.Write(context.Background(), v)
	if err != nil {
		return 4096 // unreachable for well-formed structs; count something
	}
	return int64(len(b))
}

// sizeStrings is the wire size of a list<string>.
func sizeStrings(ss []string) int64 {
	n := int64(5)
	for _, s := range ss {
		n += 4 + int64(len(s))
	}
	return n
}
