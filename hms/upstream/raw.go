package upstream

import (
	"context"
	"errors"
	"strings"

	"github.com/apache/thrift/lib/go/thrift"

	pthrift "github.com/propolis/propolis/thrift"
)

// replyLimits bound a raw reply read without its IDL. An upstream is trusted more than a
// client, and a listing's reply can be large, so the value budget is far above a request's;
// maxMessage still caps the bytes.
var replyLimits = pthrift.Limits{MaxDepth: 64, MaxValues: 1 << 24}

// rawResult reads a call's result struct generically.
type rawResult struct{ s *pthrift.Struct }

func (r *rawResult) Read(ctx context.Context, p thrift.TProtocol) (err error) {
	r.s, err = pthrift.ReadStruct(ctx, p, replyLimits)
	return err
}

func (r *rawResult) Write(ctx context.Context, p thrift.TProtocol) error { return r.s.Write(ctx, p) }

// CallRaw makes a call Propolis has no bindings for: method with args as given, on a pooled
// connection, under the same deadlines, impersonation and error kinds as every other call. It
// returns the reply as the upstream sent it: a REPLY's result struct (declared exceptions such
// as MetaException are fields of it, relayed untouched) or, as an EXCEPTION message's struct,
// the TApplicationException the upstream answered with (UNKNOWN_METHOD from an older
// metastore among them, so the client falls back exactly as it would talking to it directly).
//
// A transport failure is errs.Unavailable naming the backend. Only get_ calls are retried on a
// fresh connection after a failure on a reused one: anything else may write, and a raw call
// gives no other hint.
func (c *Client) CallRaw(ctx context.Context, method string, args *pthrift.Struct) (*pthrift.Struct, thrift.TMessageType, error) {
	var (
		reply *pthrift.Struct
		typ   thrift.TMessageType
	)
	err := c.call(ctx, method, strings.HasPrefix(method, "get_"), func(ctx context.Context, cl *client) error {
		res := &rawResult{}
		_, err := cl.Client_().Call(ctx, method, args, res)
		var app thrift.TApplicationException
		if errors.As(err, &app) && sentByUpstream(app) {
			// A whole EXCEPTION message: the connection is in step and the answer is the
			// upstream's to give, not a failure of ours.
			reply, typ = pthrift.AppException(app.TypeId(), app.Error()), thrift.EXCEPTION
			return nil
		}
		if err != nil {
			return err
		}
		reply, typ = res.s, thrift.REPLY
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return reply, typ, nil
}

// sentByUpstream tells an application exception the upstream sent from those the Thrift
// client makes up itself when the reply does not match the call (wrong name, sequence id or
// message type): after those the stream is out of step, so they must fail the call and drop
// the connection.
func sentByUpstream(app thrift.TApplicationException) bool {
	switch app.TypeId() {
	case thrift.WRONG_METHOD_NAME, thrift.BAD_SEQUENCE_ID, thrift.INVALID_MESSAGE_TYPE_EXCEPTION:
		return false
	}
	return true
}
