package hms

import (
	"context"
	"log/slog"

	athrift "github.com/apache/thrift/lib/go/thrift"

	pthrift "github.com/propolis/propolis/thrift"
)

// NewForwardingProcessor is NewProcessor plus forwarding: a call to a method the Handler does
// not model goes to fwd (see Forwarder) instead of being answered UNKNOWN_METHOD, unless it is one of the newer
// request-style methods served natively (newer.go). Forwarded
// calls run through the same interceptors as every other call (metrics, logging, and whatever
// authentication or policy checks are installed there), under the method's own description
// where the IDL has one and as "other" where it has none. The Forwarder routes with the
// handler's backend at the time of each call, so a configuration reload (SetBackend) applies
// to forwarding too. A nil fwd forwards nothing.
func NewForwardingProcessor(h *Handler, fwd *Forwarder, log *slog.Logger, interceptors ...Interceptor) athrift.TProcessor {
	proc := newGenerated(h, log, interceptors...)
	return pthrift.NewDispatcher(proc, &forwarding{fwd: fwd, h: h, chain: interceptors}, pthrift.Limits{}, log)
}

// otherMethod describes, to interceptors, every method the IDL we were built with lacks.
var otherMethod = &Method{Name: "other"}

// forwarding adapts the Forwarder to the Thrift fallback, inside the interceptor chain.
type forwarding struct {
	fwd   *Forwarder
	h     *Handler
	chain []Interceptor
}

func (x *forwarding) Forward(ctx context.Context, method string, args *pthrift.Struct) (reply *pthrift.Struct, typ athrift.TMessageType, err error) {
	if n, ok := newer[method]; ok {
		return serveNewer(ctx, x.h, x.chain, n, args)
	}
	if x.fwd == nil {
		return nil, 0, unsupportedMethod(method)
	}
	m := MethodByName(method)
	if m == nil {
		// Newer than our bindings: interceptors label metrics by method, and a client's
		// method names are not a label's to grow without bound. The Forwarder logs the name.
		m = otherMethod
	}
	h := func(ctx context.Context) error {
		var err error
		reply, typ, err = x.fwd.Call(ctx, x.h.backend(), method, args)
		return err
	}
	for i := len(x.chain) - 1; i >= 0; i-- {
		ic, next := x.chain[i], h
		h = func(ctx context.Context) error { return ic(ctx, m, next) }
	}
	if err := h(ctx); err != nil {
		return nil, 0, err
	}
	return reply, typ, nil
}
