// Package migrate moves metadata from a Hive Metastore into a Propolis catalog: Plan reports
// what a source holds and what needs attention, Apply copies it (a dry run unless told to
// execute), Verify compares source and target object by object.
//
// Source and target are hms.Backends: in the binary, upstream clients of the old metastore and
// of Propolis, so the copy goes through the same Thrift surface the engines use and works
// against any number of Propolis replicas.
//
// Apply is idempotent: every object is compared with what the target holds and only the
// difference is written (created, altered, partitions added, altered or dropped), so running
// it again after a change on the source is an incremental sync by comparison. It is resumable:
// the checkpoint lives in the target store, as parameters of the migrated objects
// (propolis.migrate.*: the run, its source and state on each database; the run that completed
// it on each table). A run interrupted at any point is resumed by the next one, which skips
// the tables the interrupted run completed and re-compares the one it was in, so nothing is
// duplicated or lost. Verify and the comparisons ignore these parameters, and the fields a
// metastore sets by itself (create times, ids, catalog names).
//
// Memory is bounded by batching: tables are listed per database, partitions are read and
// written BatchSize at a time, and at most Concurrency tables are in flight. What must be held
// whole is one table's partition names (source and target), about 100 bytes a partition.
//
// Locations are translated by prefix (LocationMap, longest prefix first, at path boundaries)
// in databases, tables, partitions, Spark's `path` serde parameter and view texts. Databases
// can be renamed on the way (Rename, a DatabaseMap), database names in view texts included. Objects
// Apply cannot copy (ACID tables, materialized views) and locations no mapping covers are
// listed in the Report with the reason.
package migrate
