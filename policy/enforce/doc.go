// Package enforce turns policy decisions into metastore responses: it is the hms.Guard every
// handler method asks before it answers.
//
// The policy package decides what a user may see of a table; this package decides how that
// decision reaches the engine, which depends on the engine as much as on the user. A metastore
// cannot stop an engine holding storage credentials from reading files, so each listener (or
// engine principal) is bound to a Profile saying whether the operator trusts the engine to
// keep its users to their SQL, and which SQL dialect it speaks:
//
//   - Hidden tables and databases vanish from listings, and every call naming them fails
//     exactly as for a missing object (hms.TableNotFound), so neither the error kind, nor its
//     text, nor the listing tells a hidden table from an absent one.
//   - Raw tables pass through unchanged.
//   - Restricted tables (hidden columns, masks, a row filter) reach a trusted engine as a
//     view in its own dialect, built from one policy expression tree (policy/expr). Trino gets
//     a definer view in Trino's own encoding, owned by the policy's service principal: Trino
//     expands it as that principal, whose get_table of the same name returns the raw table,
//     while the user asking for the raw table gets the view again. Hive and Spark have no
//     definer views, so their view reads a raw-table alias, <table>__raw_<token>, whose token
//     is an HMAC over (user, database, table, policy version): only the user it was issued to
//     can resolve it (ResolveAlias), and only under the policy that issued it.
//   - The worker path (Config.Workers): a protected table an untrusted engine asks for, or
//     one whose masks or filters no engine evaluates natively, becomes an external Parquet
//     table on the worker fleet, its location carrying a signed, expiring token scoped to the
//     user, the table, the policy version and the partition set (workerTable). Plan re-decides
//     under the token's policy version for the worker; Issue and Authorize serve Flight
//     clients and the detokenize privilege. A partitioned table stays partitioned only when
//     its partition names reveal nothing the rows would not (PartitionView).
//   - Without the worker path, an untrusted engine never gets a protected table, and nothing
//     is ever served raw in place of a policy it cannot enforce: masks or filters that need
//     the worker path, a policy that does not type-check against the table, a missing policy,
//     an unknown profile, all deny with an error saying why (fail closed).
//
// Partitions, locations and statistics reveal data and storage, so CheckRaw serves them only
// to callers who read the table raw; for worker-path tables it answers hms.WithheldError, so
// statistics answer empty and partitions go through PartitionView. Writes need the policy's
// write privileges.
//
// Residual risk, stated plainly: a user of a trusted Hive-dialect engine can read their view's
// text (DESCRIBE FORMATTED, SHOW CREATE TABLE), see the alias, and query it directly; the
// metastore hands that user the raw table, because it cannot tell the engine expanding the
// view from the user naming the alias. That is what "trusted" means for Hive and Spark: the
// operator trusts the engine (for example a Spark Thrift server or HiveServer2 whose users
// submit SQL and cannot bypass the analyzer) to keep users to their SQL. The alias is bound to
// one user, table and policy version, so it cannot be shared or reused after a policy change,
// and every resolution is audited. Engines whose users run their own code (a notebook, a
// user's own Spark) belong in an untrusted profile, where protected tables take the worker
// path instead.
//
// Every decision (listings, tables, raw access, alias resolutions, writes, and refusals) is
// written to the audit log with the engine profile, the policy version and the enforcement
// path: "native" for policy views and the aliases they read, "worker" for the worker path,
// "none" otherwise. A failing audit
// log is logged but does not fail calls: the decision is already enforced either way.
//
// is_member() in a row filter or mask sees the groups the connection reported and those the
// policy file assigns (policy.Groups), as grants do; the worker path hands the same set to
// the workers in the plan.
package enforce
