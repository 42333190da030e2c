package hms

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sort"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"
)

// Method describes one Thrift method of the metastore service.
type Method struct {
	Name       string // the Thrift name, e.g. "get_table"
	Exceptions excSet // what its IDL declares
}

// MethodByName returns the description of a Thrift method, or nil.
func MethodByName(name string) *Method { return methods[name] }

// Interceptor wraps one call, like a gRPC unary server interceptor: it may inspect the method,
// change the context, short-circuit with an error, or observe the outcome of next.
type Interceptor func(ctx context.Context, m *Method, next func(context.Context) error) error

// intercepted runs every call of next through the chain, recovers panics, and maps errors to
// Hive exceptions with ToThrift. Its methods are generated (zz_intercept_gen.go).
type intercepted struct {
	next  hm.ThriftHiveMetastore
	chain []Interceptor
	log   *slog.Logger
}

func (x *intercepted) call(ctx context.Context, m *Method, fn func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			x.log.Error("panic in metastore call", "method", m.Name, "panic", r, "stack", string(debug.Stack()))
			err = ToThrift(panicError(m.Name, r), m.Exceptions)
		}
	}()
	h := fn
	for i := len(x.chain) - 1; i >= 0; i-- {
		ic, next := x.chain[i], h
		h = func(ctx context.Context) error { return ic(ctx, m, next) }
	}
	return ToThrift(h(ctx), m.Exceptions)
}

// NewProcessor returns the Thrift processor for h, with every call run through interceptors
// (outermost first). Methods the Handler does not implement are left out of the processor, so
// clients get UNKNOWN_METHOD, exactly as from an older metastore, and fall back.
func NewProcessor(h *Handler, log *slog.Logger, interceptors ...Interceptor) athrift.TProcessor {
	return NewForwardingProcessor(h, nil, log, interceptors...)
}

// newGenerated is the generated processor over h, without the methods our bindings lack.
func newGenerated(h *Handler, log *slog.Logger, interceptors ...Interceptor) athrift.TProcessor {
	p := hm.NewThriftHiveMetastoreProcessor(&intercepted{next: h, chain: interceptors, log: log})
	for _, name := range unimplemented {
		delete(p.ProcessorMap(), name)
	}
	// Served from newer.go's table, which reads fields our bindings lack.
	for name := range newer {
		delete(p.ProcessorMap(), name)
	}
	withDefaultEngines(p.ProcessorMap())
	return p
}

// ImplementedMethods lists, by Thrift name, the methods the Handler serves itself.
func ImplementedMethods() []string {
	skip := make(map[string]bool, len(unimplemented))
	for _, n := range unimplemented {
		skip[n] = true
	}
	var out []string
	for n := range methods {
		if !skip[n] && newer[n] == nil {
			out = append(out, n)
		}
	}
	for n := range newer {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
