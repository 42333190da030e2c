package flight

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/propolis/propolis/internal/errs"
)

// codeOf is the one place errs kinds become gRPC codes. Unknown kinds are Internal, and their
// text is not sent: it may name files, keys or hosts the client must not learn.
func codeOf(k errs.Kind) codes.Code {
	switch k {
	case errs.KindNotFound:
		return codes.NotFound
	case errs.KindExists:
		return codes.AlreadyExists
	case errs.KindDenied:
		return codes.PermissionDenied
	case errs.KindInvalid:
		return codes.InvalidArgument
	case errs.KindUnavailable:
		return codes.Unavailable
	case errs.KindUnsupported:
		return codes.Unimplemented
	case errs.KindConflict:
		return codes.FailedPrecondition
	default:
		return codes.Internal
	}
}

// toStatus turns an error from a Backend (or from this package) into a gRPC status error.
// Errors that already are statuses pass through; context errors keep their meaning.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "call cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "call deadline exceeded")
	}
	k := errs.KindOf(err)
	if k == errs.KindUnknown {
		return status.Error(codes.Internal, "internal error")
	}
	if errors.Is(err, errs.ErrBusy) {
		return status.Error(codes.ResourceExhausted, err.Error())
	}
	return status.Error(codeOf(k), err.Error())
}
