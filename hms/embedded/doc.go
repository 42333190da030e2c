// Package embedded is the catalog Propolis keeps itself: databases, tables, partitions,
// statistics, functions, locks and the notification log, in SQLite (one process) or
// MySQL/MariaDB (several replicas sharing one store).
//
// Objects are stored as serialized Thrift next to the few columns queries need, so every field
// an engine sends survives a round trip even when Propolis does not model it. Everything replicas
// must agree on, including lock state and the event id sequence, lives in the database; the Store
// holds no state of its own beyond the connection pool.
package embedded
