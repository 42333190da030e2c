// Package policy decides, per user and table, what Propolis lets an engine see and do.
//
// A policy is one YAML file, written by a data steward and applied once for every engine, so
// the semantics below are the contract: the metastore handler, the view renderers and the
// workers all act on the Decision computed here and never re-interpret the file.
//
// # Why one compiled, immutable Policy
//
// Every get_table and every listing asks the policy, on many connections at once, and a reload
// must never expose a half-applied file. Parse validates everything it can without a schema
// (principals, patterns, privileges, mask specs, filter syntax and functions, role and tag
// references) and compiles the file into a Policy that is never mutated; a reload swaps the
// pointer. A nil *Policy is "no policy could be loaded" and denies everything: fail closed.
//
// # The file
//
//	default: deny              # or allow; deny when absent
//	service_principal: propolis # always raw, every privilege: the definer of Trino views
//	groups: {analysts: [alice]} # static membership, added to the groups the connection reports
//	roles: {auditor: [user:audrey, group:finance]}
//	tags:
//	  - {columns: ["sales.*.phone"], tags: [pii.phone]}
//	  - {match: {name: "*email*", type: "string"}, tags: [pii.email]}
//	grants:
//	  - {to: [group:analysts], privileges: [select], on: "sales.*"}
//	denies:
//	  - {to: [group:analysts], privileges: [select], on: "sales.payments"}
//	masks:
//	  - {tag: pii.email, mask: hash, except: [group:finance]}
//	row_filters:
//	  - {on: "sales.*", to: [group:eu_analysts], filter: "region IN ('EU')"}
//
// Unknown keys are errors naming their path, because a misspelt "except" silently widening a
// mask is exactly the failure a policy language must not have. Every problem is reported at
// once, with its line.
//
// # Semantics
//
//   - Names (users, groups, roles, databases, tables, columns, tags) are case-insensitive.
//     Patterns use * as the only wildcard, per dot-separated part.
//   - Principals are user:NAME, group:NAME, role:NAME or "*". Roles are granted to users and
//     groups (not to roles); a role referenced but not defined is an error. Groups need no
//     definition: they may come from the connection alone.
//   - on: is "*" (everything), "db.*", "db.table" or, for select only, "db.table.column".
//     "db.*" and "*" also cover the database itself (create/alter/drop database).
//   - A table is visible when a select grant reaches it (table- or column-level) or default is
//     allow, and no select deny covers it. Deny always wins over grants. Only column-level
//     grants: only those columns are visible. A select deny on a column hides that column.
//     Write privileges alone do not make a table visible.
//   - Outcome: Hidden when not visible; Raw when visible with nothing hidden, masked or
//     filtered; Restricted otherwise. TableVisible and DatabaseVisible need no schema and agree
//     with DecideTable; a table whose every column is hidden is visible in listings but
//     DecideTable refuses it (errs.Denied), as it refuses a mask or filter that does not
//     type-check against the actual columns (errs.Invalid). The caller denies on any error:
//     a policy that cannot be applied is never served raw.
//   - Tags come from tag rules only: explicit column patterns, or a column-name pattern with an
//     optional Hive type pattern (matched against the type string without spaces, so
//     "decimal*" matches decimal(10,2)). A tag used by a mask but set by no rule is an error.
//   - masks: target a tag or a column pattern. to: defaults to everyone; except: wins over to:.
//     For each column the first matching mask in file order wins; hidden columns are never
//     masked. Specs are policy/expr.Mask specs; at Parse a spec must fit some column type, at
//     DecideTable it must fit the real one.
//   - row_filters: every matching filter applies, ANDed. Filters read raw values (hidden and
//     masked columns included) and must be boolean.
//   - NeedsWorker is set when some mask or filter is not native in at least one dialect, so a
//     decision does not depend on which engine asks; a caller that knows its dialect may still
//     render natively where policy/expr says it can.
//   - Worker-only masks and filters (tokenize, encrypt, fpe_digits, dp_noise, and row filters
//     of the form x IN (SELECT col FROM db.table WHERE ...), which join a lookup table) are
//     NeedsWorker in every dialect: the metastore serves such tables from the worker fleet
//     (policy/enforce, workers/). Lookup tables are read by the workers as the service
//     principal; the reader needs no grant on them.
//   - detokenize is the privilege to read plaintext behind encrypt() through the workers'
//     Flight "detokenize" action. It is never part of "all" nor of default: allow: it is
//     granted by name only.
//   - default: allow allows every privilege not denied, writes included.
//   - CheckWrite: the service principal may do anything; a deny wins; then a grant of that
//     privilege covering the object (table "" = the database, covered by "db.*" or "*").
//     A deny on any table of a database also denies that privilege on the database, since
//     dropping the database would drop the table with it.
//
// Subpackages: expr is the expression language, store keeps versioned policies in the catalog
// database and reloads them on every replica, audit writes the decision log.
package policy
