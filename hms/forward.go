package hms

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	athrift "github.com/apache/thrift/lib/go/thrift"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/propolis/propolis/internal/errs"
	pthrift "github.com/propolis/propolis/thrift"
)

// Forwarding: a client newer than our bindings, or one using a call the Handler does not model,
// would otherwise get UNKNOWN_METHOD from Propolis even though the metastore behind it serves
// the call. The Forwarder sends such a call verbatim (bar one database name) to the backend that
// owns the database it names, and relays the answer verbatim.
//
// A forwarded reply is opaque: Propolis cannot translate names in it, filter it or apply a
// policy to it. That is why forwarding fails closed: a Deny hook (set by the policy layer) is
// asked first, a fixed set of methods is never forwarded, routing rules that could not be
// applied refuse the call, and a backend that cannot forward (the embedded catalog, Glue)
// answers UNKNOWN_METHOD as before.
//
// Known limits: database names inside a reply stay the backend's own (a Partition's dbName
// from a prefixed member comes back unprefixed); a forwarded write bypasses the metadata
// cache, which learns of it from the upstream's notification log; and a backend wrapped in a
// decorator is found only through the decorator's Unwrap() Backend.

// RawCaller is a backend that can make a call it has no bindings for, with the arguments and
// reply as generic Thrift structs (*upstream.Client).
type RawCaller interface {
	CallRaw(ctx context.Context, method string, args *pthrift.Struct) (*pthrift.Struct, athrift.TMessageType, error)
}

// ForwardRouter is what forwarding needs from a federation router (*federation.Router): where a
// database lives, what its member's rules allow, and the member's breaker around the call.
type ForwardRouter interface {
	Backend
	// Owner maps an exposed database name to its backend and that backend's own name.
	Owner(db string) (backend, ownDB string, err error)
	// Primary names the backend that serves calls naming no database.
	Primary() string
	// Member returns a backend by name.
	Member(name string) Backend
	// CheckForward refuses a verbatim call the member's rules could not be applied to.
	CheckForward(backend, ownDB string, write bool) error
	// CallMember runs fn against the member through its circuit breaker.
	CallMember(ctx context.Context, backend string, fn func(context.Context, Backend) error) error
}

// ForwarderConfig configures forwarding.
type ForwarderConfig struct {
	// Deny is asked before a call is forwarded; a non-nil error refuses it, before any backend
	// is asked anything. The policy layer sets it to refuse every method whose reply carries
	// table metadata, since no mask, filter or visibility rule can be applied to an opaque
	// reply (fail closed). The error's kind decides what the client sees: errs.Unsupported
	// answers UNKNOWN_METHOD, so the client falls back to an older call Propolis models (where
	// policy applies); any other error is an INTERNAL_ERROR carrying its message. nil denies
	// nothing beyond the methods never forwarded.
	Deny func(method string) error
	// Registerer receives the forwarding metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	// Log may be nil.
	Log *slog.Logger
}

// Forwarder routes calls to methods Propolis does not model. It is safe for concurrent use.
type Forwarder struct {
	deny  func(string) error
	log   *slog.Logger
	calls *prometheus.CounterVec
}

// NewForwarder returns a forwarder; NewForwardingProcessor puts it behind a listener.
func NewForwarder(cfg ForwarderConfig) *Forwarder {
	f := &Forwarder{deny: cfg.Deny, log: cfg.Log}
	if f.log == nil {
		f.log = slog.Default()
	}
	f.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "propolis_forwarded_calls_total",
		Help: "Calls to methods Propolis does not model, forwarded verbatim, by method, backend and outcome.",
	}, []string{"method", "backend", "outcome"})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(f.calls)
	}
	return f
}

// neverForwarded are methods no verbatim call may carry: fb303's administration of the server
// itself, the delegation-token and master-key store (Propolis's own credentials would hand
// them out), and connection-scoped configuration (the pooled upstream connection is shared by
// other users, so a setting would leak into their calls). They answer UNKNOWN_METHOD as
// before.
var neverForwarded = map[string]bool{
	"shutdown": true, "reinitialize": true, "setOption": true, "getOption": true, "getOptions": true,
	"getCounter": true, "getCounters": true, "getCpuProfile": true, "flushCache": true,
	"setMetaConf": true, "set_ugi": true,
	"get_delegation_token": true, "renew_delegation_token": true, "cancel_delegation_token": true,
	"add_token": true, "remove_token": true, "get_token": true, "get_all_token_identifiers": true,
	"add_master_key": true, "update_master_key": true, "remove_master_key": true, "get_master_keys": true,
}

// readOnly reports whether a method only reads, by the IDL's naming convention; anything else
// is taken to write (and is held to the member's write mode).
func readOnly(method string) bool {
	for _, p := range []string{"get_", "list_", "show_"} {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	return method == "partition_name_has_valid_characters" || method == "isPartitionMarkedForEvent"
}

// Call forwards one call through b (the handler's current backend): the router, or a single
// backend. It implements the decision; NewForwardingProcessor adapts it to the Thrift fallback.
func (f *Forwarder) Call(ctx context.Context, b Backend, method string, args *pthrift.Struct) (reply *pthrift.Struct, typ athrift.TMessageType, err error) {
	backend := ""
	defer func() { f.count(method, backend, typ, err) }()
	if neverForwarded[method] {
		return nil, 0, errs.Unsupported("%s is never forwarded to a backend", method)
	}
	if f.deny != nil {
		if derr := f.deny(method); derr != nil {
			return nil, 0, fmt.Errorf("%s is not forwarded to a backend: refused by policy: %w", method, derr)
		}
	}
	rt, ok := b.(ForwardRouter)
	if !ok {
		// One backend, no routing: names need no translation.
		raw := rawCaller(b)
		if raw == nil {
			return nil, 0, errs.Unsupported("Propolis does not implement %s", method)
		}
		backend = "default"
		return raw.CallRaw(ctx, method, args)
	}
	backend, own, err := f.route(ctx, rt, args)
	if err != nil {
		return nil, 0, err
	}
	if err := rt.CheckForward(backend, own, !readOnly(method)); err != nil {
		return nil, 0, fmt.Errorf("%s is not forwarded: %w", method, err)
	}
	raw := rawCaller(rt.Member(backend))
	if raw == nil {
		return nil, 0, errs.Unsupported("Propolis does not implement %s (backend %s, which serves this database, takes no call Propolis does not model)", method, backend)
	}
	f.log.Debug("forwarding a call Propolis does not model", "method", method, "backend", backend, "database", own)
	err = rt.CallMember(ctx, backend, func(ctx context.Context, _ Backend) error {
		var err error
		reply, typ, err = raw.CallRaw(ctx, method, args)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return reply, typ, nil
}

// rawCaller finds a RawCaller in b or in the backends it decorates (a cache's Unwrap).
func rawCaller(b Backend) RawCaller {
	for range 8 {
		switch x := b.(type) {
		case RawCaller:
			return x
		case interface{ Unwrap() Backend }:
			b = x.Unwrap()
		default:
			return nil
		}
	}
	return nil
}

// maxCandidates bounds the strings tried as database names (each costs a lookup).
const maxCandidates = 8

// route picks the backend for a call and rewrites the database name in args to the backend's
// own. Only field ids are known, not names, so the database is found by trying strings:
//
//   - the STRING fields of the argument struct, then those of the structs directly in it (a
//     request struct: GetTablesExtRequest, PartitionValuesRequest...), in wire order;
//   - only strings that can be database names (letters, digits, underscores; "@cat#db" is
//     Hive 3's catalog-qualified form and is unwrapped), so locations, patterns and filters
//     are never taken for one;
//   - the default catalog's name ("hive") is tried last: request structs carry it before
//     the database, and a database of that name is rare;
//   - the first that names an existing exposed database wins: it is rewritten to the owner's
//     own name and the call goes to that owner. Existence matters because with an unprefixed
//     primary every string has an owner: a catalog name ("hive") or a table name comes before
//     the database in some request structs.
//
// A call naming no exposed database goes to the primary untouched, but only when that cannot
// reach a database the routing rules hide: every candidate must be a name the primary serves
// as is (no prefix, no mapping, not denied), and no listing pattern may be in the arguments.
// Otherwise the call is refused as unsupported: the client falls back to a call Propolis
// models, where the rules apply.
func (f *Forwarder) route(ctx context.Context, rt ForwardRouter, args *pthrift.Struct) (backend, own string, err error) {
	primary := rt.Primary()
	safe := true
	tried := 0
	fields := args.StringFields(1)
	// Request structs put the catalog ("hive") before the database; a database of that name
	// is still found, after the others.
	slices.SortStableFunc(fields, func(a, b pthrift.StringField) int {
		return cmp.Compare(b2i(isCatalog(a.Value.Str())), b2i(isCatalog(b.Value.Str())))
	})
	for _, sf := range fields {
		s := sf.Value.Str()
		if strings.ContainsAny(s, "*|") {
			safe = false
			continue
		}
		name, qualify, ok := candidate(s)
		if !ok {
			continue
		}
		if tried++; tried > maxCandidates {
			break
		}
		b, o, err := rt.Owner(name)
		if err != nil {
			if errs.KindOf(err) != errs.KindNotFound {
				return "", "", err
			}
			safe = false
			continue
		}
		_, err = rt.GetDatabase(ctx, name)
		switch errs.KindOf(err) {
		case errs.KindNotFound:
			if b != primary || o != strings.ToLower(name) {
				safe = false
			}
			continue
		case errs.KindUnknown:
			if err != nil {
				return "", "", err
			}
		}
		// It exists, or its owner could not say (unavailable): the call is that owner's, and
		// the forward reports its failure naming it.
		sf.Value.Bytes = []byte(qualify(o))
		return b, o, nil
	}
	if !safe {
		return "", "", errs.Unsupported("the call names no database Propolis exposes, and may reach one its routing rules hide")
	}
	return primary, "", nil
}

func isCatalog(s string) bool { return strings.EqualFold(s, catalogName) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// candidate returns the database name s may be, and how to write the owner's name back in the
// same form.
func candidate(s string) (name string, qualify func(string) string, ok bool) {
	qualify = func(own string) string { return own }
	if rest, found := strings.CutPrefix(s, "@"); found {
		cat, db, found := strings.Cut(rest, "#")
		if !found {
			return "", nil, false
		}
		s = db
		qualify = func(own string) string { return "@" + cat + "#" + own }
	}
	if s == "" || len(s) > 128 {
		return "", nil, false
	}
	for _, r := range s {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "", nil, false
		}
	}
	return s, qualify, true
}

func (f *Forwarder) count(method, backend string, typ athrift.TMessageType, err error) {
	if MethodByName(method) == nil {
		method = "other" // a client's method names are not a label's to grow without bound
	}
	o := outcome(err)
	if err == nil && typ == athrift.EXCEPTION {
		o = "application_exception"
	}
	f.calls.WithLabelValues(method, backend, o).Inc()
}
