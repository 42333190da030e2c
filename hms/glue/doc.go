// Package glue is the hms.Backend over the AWS Glue Data Catalog (aws-sdk-go-v2): databases,
// tables, views, partitions, column statistics and user-defined functions, translated between
// Glue's model and the Hive metastore's Thrift structs, so that a Glue catalog federated
// behind Propolis looks to Spark, Trino and Hive like any other metastore.
//
// The package owns that translation, the mapping of Glue's errors to Propolis's error kinds,
// and the parts of Hive's contract Glue does not enforce itself. It owns no data files.
//
// # Where the models differ, and why the translation does what it does
//
// Glue's catalog was modelled on Hive's, so most fields map one to one (columns with
// comments, partition keys, table type, view texts, owner, retention, last access time, the
// whole storage descriptor with serde, buckets, sort columns, skew and parameters). The
// differences:
//
//   - Create times belong to Glue. TableInput and PartitionInput have no create time: Glue
//     stamps CreateTime/CreationTime itself, and that is what a Hive client reads back. A
//     create time sent by a client is not kept (the added partitions returned by
//     AddPartitions carry Propolis's clock until read again).
//   - Hive keeps a table's comment in its parameters ("comment"); Glue's own tools show
//     Table.Description. Propolis writes both and, for a table made by another Glue client
//     that has only a Description, shows it as the comment, so the comment survives either way.
//   - Skewed values are lists in Hive and strings in Glue; they are encoded exactly as AWS's
//     Hive metastore client for Glue encodes them ("<len>$<value>" per element), so EMR,
//     Athena and Propolis read each other's tables. Hive's skewed-value location maps cannot
//     be carried (the Go Thrift binding has no list-keyed maps).
//   - Glue has no database owner, no table owner type (owners read back as USER), no column
//     parameters in Hive, no privileges, and no Hive catalog name: those fields are dropped.
//   - Names are lower-cased, as Hive does and as Glue does itself.
//   - Glue's DeleteDatabase deletes every table in the database. Hive refuses to drop a
//     non-empty database without cascade, so DropDatabase checks for tables and functions
//     first.
//   - Glue cannot rename a table or change a partition's values in place. A rename creates the
//     table under its new name, copies its partitions (and table statistics) and deletes the
//     old one; a partition rename creates the new partition and deletes the old. Each step
//     undoes the earlier ones when a later one fails, but between the steps another client can
//     see both names: Glue offers no transaction to hide that.
//   - AddPartitions must be all or none (Hive adds a batch in one transaction). Glue creates
//     100 partitions a call and reports failures per entry, so on any failure the partitions
//     this call created are deleted again before the error is returned. AlterPartitions checks
//     that every partition exists before changing any, and restores the already-updated ones
//     if a later chunk fails.
//   - Data files are never touched. Hive's metastore deletes a managed table's directory on
//     drop (deleteData) and moves it on rename; a Glue catalog's data lives in S3 under the
//     account's own access control, and a federation layer deleting or moving it would be a
//     surprise at best. Locations are kept as given.
//   - Partition filters: Glue's GetPartitions Expression is SQL-like and close to Hive's
//     filter language, but not the same language. Every filter is parsed with Hive's grammar
//     (package filter) and every partition Glue returns is re-checked with Hive's semantics,
//     so Glue can only narrow the work. A filter is sent to Glue only when Glue is known to
//     agree with Hive on it (keys of string or integral type; no LIKE, whose meaning differs,
//     no date/timestamp literals, no __HIVE_DEFAULT_PARTITION__); if Glue rejects an
//     expression the listing runs again without one.
//   - Column statistics: Glue holds long, double, string, boolean, binary, decimal and date
//     statistics, one kind per column. Hive's bit vectors (NDV sketches) and timestamp
//     statistics have no place in Glue and are not stored; Glue's long/double minimum and
//     maximum are mandatory, so a missing Hive low/high value is stored as 0.
//   - Locks and the notification log do not exist in Glue. Lock calls fail with Unsupported
//     (a client must not believe it holds a lock nobody enforces); CurrentEventID is 0 and
//     NextEvents is empty, so caches and replication see no events rather than an error.
//
// # Emulators
//
// moto's server (compat-tests/moto), which the tests and the federation compat tests run
// against, emulates Glue's databases, tables and partitions but not its user-defined-function
// or column statistics APIs (it answers them with HTTP 500, which this package reports as
// Unavailable). Config.DisableFunctions and Config.DisableColumnStatistics declare such a
// catalog: function calls become Unsupported, statistics reads come back empty (an engine then
// plans as for an unanalyzed table instead of failing the query), and a non-cascade
// DropDatabase stops looking for functions. moto also rejects some expressions real Glue takes
// (NOT) and fails on __HIVE_DEFAULT_PARTITION__ under an integer key; the listing then falls
// back to evaluating the filter in Propolis, as it would for any expression Glue refuses.
//
// # Errors
//
// Glue's modeled exceptions decide the kind, by type (errors.As), never by message:
// EntityNotFound is NotFound, AlreadyExists is Exists, InvalidInput is Invalid, AccessDenied
// is Denied, ConcurrentModification is Conflict. Throttling, Glue's internal errors and
// timeouts, 5xx answers and every transport failure are Unavailable and name the backend, so
// a dead or slow Glue is never mistaken for a missing table.
package glue
