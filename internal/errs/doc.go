// Package errs is Propolis's one error vocabulary.
//
// Every layer below the wire (backends, policy, federation) reports failures as one of six
// kinds, wrapped with %w so context accumulates while the kind survives. The Thrift layer maps
// kinds to Hive exceptions in exactly one place (hms.ToThrift); nothing matches error strings.
package errs
