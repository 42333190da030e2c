// Package audit writes one JSON line per policy decision, so an auditor can answer "who was
// shown what, through which engine, under which policy version, and why" without trusting any
// engine's own logs.
//
// Entries carry names and rule labels, never data values, filter literals bound to a user,
// tokens or credentials: an audit log is read by more people than the data it describes.
// Lines are written whole under a lock, so concurrent connections never interleave.
package audit
