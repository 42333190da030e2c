package hms

import (
	"errors"
	"fmt"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

// excSet is the set of exception types a method's IDL declares. A Thrift method can only return
// the exceptions it declares; anything else reaches the client as an opaque INTERNAL_ERROR.
type excSet uint32

const (
	excMetaException excSet = 1 << iota
	excNoSuchObjectException
	excAlreadyExistsException
	excInvalidObjectException
	excInvalidOperationException
	excInvalidInputException
	excInvalidPartitionException
	excUnknownDBException
	excUnknownTableException
	excUnknownPartitionException
	excConfigValSecurityException
	excNoSuchLockException
	excNoSuchTxnException
	excTxnAbortedException
	excTxnOpenException
)

// ToThrift is the one place Propolis errors become Hive exceptions. It picks, for the error's
// kind, the most specific exception the method declares, and falls back to MetaException
// (declared by nearly every method) so the client always gets a typed, readable error.
// Errors that already are Hive exceptions (from an upstream metastore) pass through when the
// method declares them.
func ToThrift(err error, declared excSet) error {
	if err == nil {
		return nil
	}
	if passthrough(err, declared) {
		return err
	}
	msg := err.Error()
	var mo metaOnly
	if errors.As(err, &mo) && declared&excMetaException != 0 {
		return &hm.MetaException{Message: msg}
	}
	switch errs.KindOf(err) {
	case errs.KindNotFound:
		switch {
		case declared&excNoSuchObjectException != 0:
			return &hm.NoSuchObjectException{Message: msg}
		case declared&excNoSuchLockException != 0:
			return &hm.NoSuchLockException{Message: msg}
		case declared&excNoSuchTxnException != 0:
			return &hm.NoSuchTxnException{Message: msg}
		case declared&excUnknownTableException != 0:
			return &hm.UnknownTableException{Message: msg}
		case declared&excUnknownDBException != 0:
			return &hm.UnknownDBException{Message: msg}
		case declared&excInvalidObjectException != 0:
			return &hm.InvalidObjectException{Message: msg}
		case declared&excInvalidOperationException != 0:
			// Hive's alter calls: "alter is not possible: table does not exist".
			return &hm.InvalidOperationException{Message: msg}
		}
	case errs.KindExists:
		if declared&excAlreadyExistsException != 0 {
			return &hm.AlreadyExistsException{Message: msg}
		}
	case errs.KindInvalid:
		switch {
		case declared&excInvalidObjectException != 0:
			return &hm.InvalidObjectException{Message: msg}
		case declared&excInvalidInputException != 0:
			return &hm.InvalidInputException{Message: msg}
		case declared&excInvalidOperationException != 0:
			return &hm.InvalidOperationException{Message: msg}
		case declared&excInvalidPartitionException != 0:
			return &hm.InvalidPartitionException{Message: msg}
		}
	case errs.KindConflict:
		switch {
		case declared&excInvalidOperationException != 0:
			return &hm.InvalidOperationException{Message: msg}
		case declared&excTxnOpenException != 0:
			return &hm.TxnOpenException{Message: msg}
		}
	case errs.KindDenied:
		if declared&excConfigValSecurityException != 0 {
			return &hm.ConfigValSecurityException{Message: msg}
		}
		// Otherwise MetaException, as below.
	case errs.KindUnavailable, errs.KindUnsupported:
		// MetaException below: a denied or unavailable call must never look like a missing
		// object, or clients would conclude the table is gone.
	case errs.KindUnknown:
		msg = "internal error: " + msg
	}
	return &hm.MetaException{Message: msg}
}

// passthrough reports whether err is already a Hive exception the method declares.
func passthrough(err error, declared excSet) bool {
	var (
		meta *hm.MetaException
		nso  *hm.NoSuchObjectException
		ae   *hm.AlreadyExistsException
		io   *hm.InvalidObjectException
		iop  *hm.InvalidOperationException
		ii   *hm.InvalidInputException
		nsl  *hm.NoSuchLockException
	)
	switch {
	case errors.As(err, &meta):
		return declared&excMetaException != 0 && err == error(meta)
	case errors.As(err, &nso):
		return declared&excNoSuchObjectException != 0 && err == error(nso)
	case errors.As(err, &ae):
		return declared&excAlreadyExistsException != 0 && err == error(ae)
	case errors.As(err, &io):
		return declared&excInvalidObjectException != 0 && err == error(io)
	case errors.As(err, &iop):
		return declared&excInvalidOperationException != 0 && err == error(iop)
	case errors.As(err, &ii):
		return declared&excInvalidInputException != 0 && err == error(ii)
	case errors.As(err, &nsl):
		return declared&excNoSuchLockException != 0 && err == error(nsl)
	}
	return false
}

func unsupportedMethod(name string) error {
	return errs.Unsupported("propolis does not implement the metastore method %s", name)
}

// panicError turns a recovered panic into an internal error for the caller.
func panicError(method string, r any) error {
	return fmt.Errorf("%s failed: internal error (panic: %v)", method, r)
}

// metaOnly marks an error Hive answers with MetaException whatever its kind: add_partitions,
// alter_partitions and exchange_partitions report their validation failures that way, and
// clients branch on the exception type. The kind stays for metrics and logs.
type metaOnly struct{ error }

func (m metaOnly) Unwrap() error { return m.error }

// asMeta marks err, if its kind is one of kinds, as answered with MetaException.
func asMeta(err error, kinds ...errs.Kind) error {
	if err == nil {
		return nil
	}
	k := errs.KindOf(err)
	for _, want := range kinds {
		if k == want {
			return metaOnly{err}
		}
	}
	return err
}
