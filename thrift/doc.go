// Package thrift owns the wire: the listener that speaks Thrift's binary protocol over
// buffered (unframed) and framed transports on one port, the per-connection Session that carries
// the caller's identity into the context, and the limits that keep one bad client from hurting
// the others.
//
// A client costs memory in proportion to the bytes it sent, never to the sizes it announced:
// every request is received whole (an unframed one by walking its structure as it arrives)
// before anything decodes it, decoding refuses containers that cannot fit in the bytes left,
// and a request estimated to decode into more than a fixed multiple of its size is refused
// (message.go). Connections are bounded in total and per source address, with a bounded wait
// and a Thrift error beyond; a new connection must speak within the handshake timeout; only
// CALL messages run; method names are capped in replies and logs (server.go). SECURITY.md
// lists each limit.
//
// It knows nothing of metastores, federation or policy: it serves any TProcessor.
package thrift
