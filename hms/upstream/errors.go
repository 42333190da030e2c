package upstream

import (
	"errors"
	"fmt"

	"github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

// upstreamError is a failure the upstream reported without a kind (MetaException, a
// TApplicationException): the message names the backend, the original stays in the chain.
type upstreamError struct {
	msg string
	err error
}

func (e *upstreamError) Error() string { return e.msg }
func (e *upstreamError) Unwrap() error { return e.err }

// kinded keeps the upstream's own message: the client sees what the metastore said, as it
// would talking to it directly.
func kinded(k errs.Kind, msg string, err error) error {
	return &errs.Error{Kind: k, Msg: msg, Err: err}
}

// translate turns an answer from the upstream (a Hive exception or an application exception)
// into Propolis's error vocabulary. Transport failures never get here: call reports them as
// Unavailable, so they can never read as a missing object.
func (c *Client) translate(op string, err error) error {
	var (
		nso  *hm.NoSuchObjectException
		udb  *hm.UnknownDBException
		utb  *hm.UnknownTableException
		upt  *hm.UnknownPartitionException
		nsl  *hm.NoSuchLockException
		nst  *hm.NoSuchTxnException
		ae   *hm.AlreadyExistsException
		io   *hm.InvalidObjectException
		ii   *hm.InvalidInputException
		ip   *hm.InvalidPartitionException
		iop  *hm.InvalidOperationException
		ta   *hm.TxnAbortedException
		to   *hm.TxnOpenException
		cvs  *hm.ConfigValSecurityException
		meta *hm.MetaException
		app  thrift.TApplicationException
	)
	switch {
	case errors.As(err, &nso):
		return kinded(errs.KindNotFound, nso.Message, err)
	case errors.As(err, &udb):
		return kinded(errs.KindNotFound, udb.Message, err)
	case errors.As(err, &utb):
		return kinded(errs.KindNotFound, utb.Message, err)
	case errors.As(err, &upt):
		return kinded(errs.KindNotFound, upt.Message, err)
	case errors.As(err, &nsl):
		return kinded(errs.KindNotFound, nsl.Message, err)
	case errors.As(err, &nst):
		return kinded(errs.KindNotFound, nst.Message, err)
	case errors.As(err, &ae):
		return kinded(errs.KindExists, ae.Message, err)
	case errors.As(err, &io):
		return kinded(errs.KindInvalid, io.Message, err)
	case errors.As(err, &ii):
		return kinded(errs.KindInvalid, ii.Message, err)
	case errors.As(err, &ip):
		return kinded(errs.KindInvalid, ip.Message, err)
	case errors.As(err, &iop):
		return kinded(errs.KindConflict, iop.Message, err)
	case errors.As(err, &ta):
		return kinded(errs.KindConflict, ta.Message, err)
	case errors.As(err, &to):
		return kinded(errs.KindConflict, to.Message, err)
	case errors.As(err, &cvs):
		return kinded(errs.KindDenied, cvs.Message, err)
	case errors.As(err, &meta):
		return &upstreamError{msg: fmt.Sprintf("backend %q: %s", c.cfg.Name, meta.Message), err: err}
	case errors.As(err, &app):
		return &upstreamError{msg: fmt.Sprintf("backend %q: %s failed: %s", c.cfg.Name, op, app.Error()), err: err}
	}
	return &upstreamError{msg: fmt.Sprintf("backend %q: %s: %v", c.cfg.Name, op, err), err: err}
}

// isHiveException reports whether err is an exception the metastore's IDL declares: a
// complete answer, after which the connection is in step.
func isHiveException(err error) bool {
	var (
		nso  *hm.NoSuchObjectException
		udb  *hm.UnknownDBException
		utb  *hm.UnknownTableException
		upt  *hm.UnknownPartitionException
		nsl  *hm.NoSuchLockException
		nst  *hm.NoSuchTxnException
		ae   *hm.AlreadyExistsException
		io   *hm.InvalidObjectException
		ii   *hm.InvalidInputException
		ip   *hm.InvalidPartitionException
		iop  *hm.InvalidOperationException
		ta   *hm.TxnAbortedException
		to   *hm.TxnOpenException
		cvs  *hm.ConfigValSecurityException
		meta *hm.MetaException
	)
	return errors.As(err, &nso) || errors.As(err, &udb) || errors.As(err, &utb) || errors.As(err, &upt) ||
		errors.As(err, &nsl) || errors.As(err, &nst) || errors.As(err, &ae) || errors.As(err, &io) ||
		errors.As(err, &ii) || errors.As(err, &ip) || errors.As(err, &iop) || errors.As(err, &ta) ||
		errors.As(err, &to) || errors.As(err, &cvs) || errors.As(err, &meta)
}

// isUnknownMethod reports whether the upstream does not know the method just called: Thrift's
// UNKNOWN_METHOD, or the INVALID_MESSAGE_TYPE / WRONG_METHOD_NAME some servers and proxies
// answer instead.
func isUnknownMethod(err error) bool {
	var app thrift.TApplicationException
	if !errors.As(err, &app) {
		return false
	}
	switch app.TypeId() {
	case thrift.UNKNOWN_METHOD, thrift.INVALID_MESSAGE_TYPE_EXCEPTION, thrift.WRONG_METHOD_NAME:
		return true
	}
	return false
}
