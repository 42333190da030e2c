// Package hms owns the Hive Metastore surface of Propolis: the one handler that implements the
// generated ThriftHiveMetastore interface, the Backend interface every catalog implements, and
// the single mapping from Propolis errors to Hive's Thrift exceptions.
//
// Each handler method reads as resolve -> decide -> call backend -> rewrite. Methods Propolis
// does not model are generated (zz_unsupported_gen.go) and answer with a clear error naming the
// method; a generated interceptor chain (zz_intercept_gen.go) wraps every method with panic
// recovery, metrics, logging and the error mapping.
package hms
