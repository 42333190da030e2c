// Package engines owns what Propolis knows about the engines that point at it: the exact
// configuration that makes each one use Propolis as its metastore (Render, behind
// `propolis config render`), and the Thrift calls each one makes, probed from the engine's side
// (Check, behind `propolis doctor`).
//
// The call lists come from reading each engine's metastore client (Spark 3.5's built-in Hive
// 2.3.9 HiveMetaStoreClient, Trino's ThriftHiveMetastoreClient, PyIceberg's HiveCatalog, Hive 4's
// HiveMetaStoreClient), including the fallbacks each one has when a call is unknown to the
// metastore: a probe passes when the engine would get its answer, by the first call or by the
// one it falls back to.
package engines
