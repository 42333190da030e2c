// Package flight serves a protected table's rows, already filtered and masked, to Arrow-native
// clients (pyarrow.flight, Go) over Arrow Flight on the worker fleet.
//
// It owns the Flight wire: descriptors (a ["db", "table"] path, a JSON command, or a worker
// token the metastore handed out), the caller's identity (trusted headers or basic-auth
// Handshake), spreading endpoints across the fleet, streaming record batches, the detokenize
// action, limits, metrics, and mapping internal/errs kinds to gRPC codes in one place. What a
// caller may see, and the scanning that produces it, belong to a Backend.
package flight
