// Package thrift owns the wire: the listener that speaks Thrift's binary protocol over
// buffered (unframed) and framed transports on one port, the per-connection Session that carries
// the caller's identity into the context, and the limits that keep one bad client from hurting
// the others (message size, connection count, idle and read timeouts).
//
// It knows nothing of metastores, federation or policy: it serves any TProcessor.
package thrift
