package errs

import (
	"errors"
	"fmt"
)

// Kind is the category of a failure, the only thing callers branch on.
type Kind int

const (
	KindUnknown Kind = iota
	KindNotFound
	KindExists
	KindDenied
	KindInvalid
	KindUnavailable
	KindUnsupported
	// KindConflict is an operation that is valid in general but not in the object's current
	// state (dropping a non-empty database, altering a locked table): Hive's
	// InvalidOperationException.
	KindConflict
)

// Kinds lists every kind, so tests can prove each one is mapped at the wire.
var Kinds = []Kind{KindUnknown, KindNotFound, KindExists, KindDenied, KindInvalid, KindUnavailable, KindUnsupported, KindConflict}

func (k Kind) String() string {
	switch k {
	case KindNotFound:
		return "not found"
	case KindExists:
		return "already exists"
	case KindDenied:
		return "denied"
	case KindInvalid:
		return "invalid"
	case KindUnavailable:
		return "unavailable"
	case KindUnsupported:
		return "unsupported"
	case KindConflict:
		return "invalid operation"
	default:
		return "internal error"
	}
}

// Sentinels, usable with errors.Is.
var (
	ErrNotFound    = &kindError{kind: KindNotFound}
	ErrExists      = &kindError{kind: KindExists}
	ErrDenied      = &kindError{kind: KindDenied}
	ErrInvalid     = &kindError{kind: KindInvalid}
	ErrUnavailable = &kindError{kind: KindUnavailable}
	ErrUnsupported = &kindError{kind: KindUnsupported}
	ErrConflict    = &kindError{kind: KindConflict}
)

type kindError struct{ kind Kind }

func (e *kindError) Error() string { return e.kind.String() }

// Error is a failure of a known kind with a message meant for the client. Msg already contains
// the text of Err (when the constructor's format used %w); Err is kept for errors.Is/As.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string { return e.Msg }

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, errs.ErrNotFound) match any *Error of that kind.
func (e *Error) Is(target error) bool {
	if k, ok := target.(*kindError); ok {
		return k.kind == e.Kind
	}
	return false
}

func newf(k Kind, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: k, Msg: err.Error(), Err: errors.Unwrap(err)}
}

func NotFound(format string, args ...any) error    { return newf(KindNotFound, format, args...) }
func Exists(format string, args ...any) error      { return newf(KindExists, format, args...) }
func Denied(format string, args ...any) error      { return newf(KindDenied, format, args...) }
func Invalid(format string, args ...any) error     { return newf(KindInvalid, format, args...) }
func Unavailable(format string, args ...any) error { return newf(KindUnavailable, format, args...) }
func Unsupported(format string, args ...any) error { return newf(KindUnsupported, format, args...) }
func Conflict(format string, args ...any) error    { return newf(KindConflict, format, args...) }

// ErrBusy marks an Unavailable error that says the server is saturated rather than broken:
// wires that can say "slow down" (S3's 503 SlowDown, gRPC's RESOURCE_EXHAUSTED) say it.
var ErrBusy = errors.New("busy")

// Busy is an Unavailable error marked ErrBusy.
func Busy(format string, args ...any) error {
	return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf(format, args...), Err: ErrBusy}
}

// KindOf returns the kind of the outermost classified error in err's chain.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var k *kindError
	if errors.As(err, &k) {
		return k.kind
	}
	return KindUnknown
}
