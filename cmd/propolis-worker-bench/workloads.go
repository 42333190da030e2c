package main

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/workers/eval"
)

// The generated table's columns and their Hive types, in file order.
var tableColumns = []struct{ name, hive string }{
	{"id", "bigint"}, {"name", "string"}, {"email", "string"}, {"phone", "string"},
	{"region", "string"}, {"amount", "decimal(12,2)"}, {"ts", "timestamp"},
}

const (
	benchUser = "alice"
	// tokenKey is the key id tokenize() names; tokenSecret its secret (and DuckDB's salt).
	tokenKey    = "k"
	tokenSecret = "propolis-worker-bench secret key"
	lookupDB    = "acl"
	lookupTable = "user_regions"
)

// workload is one measured piece of work: the same result computed by the worker (a policy
// compiled to a Transform) and by DuckDB (SQL over the same files).
type workload struct {
	key    string // what --workloads selects
	name   string
	detail string
	// mask is the expression served as email (empty: email as it is).
	mask string
	// filter is the row filter (empty: none).
	filter string
	// duckSelect is DuckDB's SELECT over the files, {files} and {lookup} filled in.
	duckSelect string
	duckNote   string
}

func workloads() []workload {
	return []workload{
		{
			key: "projection", name: "(a) projection",
			detail:     "every column passed through as it is",
			duckSelect: "SELECT * FROM read_parquet({files})",
		},
		{
			key: "hash", name: "(b) hash mask",
			detail:     "email → lower-case hex SHA-256 of its text (the policy's `hash` mask), other columns as they are",
			mask:       "hash",
			duckSelect: "SELECT * REPLACE (sha256(email) AS email) FROM read_parquet({files})",
		},
		{
			key: "tokenize", name: "(c) keyed tokenization",
			detail:     fmt.Sprintf("email → `tokenize(email, '%s')`: HMAC-SHA256 under key %q, base64url, prefixed with the key id and version; other columns as they are", tokenKey, tokenKey),
			mask:       fmt.Sprintf("expr(tokenize(email, '%s'))", tokenKey),
			duckSelect: "SELECT * REPLACE (sha256('" + tokenSecret + "' || email) AS email) FROM read_parquet({files})",
			duckNote:   "DuckDB has no keyed HMAC: it computes `sha256(secret || email)` (one SHA-256 over a longer input, no key schedule), the closest it has; the worker's HMAC does two SHA-256 passes per value plus a base64 encoding, so this row favours DuckDB",
		},
		{
			key: "lookup", name: "(d) lookup-join row filter",
			detail: fmt.Sprintf("rows kept where `region IN (SELECT region FROM %s.%s WHERE user = current_user())` as %s; every column passed through",
				lookupDB, lookupTable, benchUser),
			filter:     fmt.Sprintf("region IN (SELECT region FROM %s.%s WHERE user = current_user())", lookupDB, lookupTable),
			duckSelect: "SELECT * FROM read_parquet({files}) WHERE region IN (SELECT region FROM read_parquet({lookup}) WHERE \"user\" = '" + benchUser + "')",
		},
	}
}

func selectWorkloads(all []workload, keys string) ([]workload, error) {
	if keys == "" {
		return all, nil
	}
	var out []workload
	for _, k := range strings.Split(keys, ",") {
		k = strings.TrimSpace(k)
		found := false
		for _, w := range all {
			if w.key == k {
				out = append(out, w)
				found = true
			}
		}
		if !found {
			return nil, errs.Invalid("--workloads: no workload %q (have projection, hash, tokenize, lookup)", k)
		}
	}
	return out, nil
}

// spec is the workload's policy as the worker compiles it: the table's columns, email masked
// when the workload masks it, and its row filter.
func (w workload) spec(source *arrow.Schema) (eval.TransformSpec, error) {
	types := map[string]string{}
	for _, c := range tableColumns {
		types[c.name] = c.hive
	}
	ts := eval.TransformSpec{Source: source}
	for _, c := range tableColumns {
		col := eval.OutputColumn{Name: c.name, Type: c.hive, Source: c.name}
		if c.name == "email" && w.mask != "" {
			e, err := expr.Mask(w.mask, c.name, c.hive)
			if err != nil {
				return ts, err
			}
			col.Source, col.Expr = "", e
		}
		ts.Columns = append(ts.Columns, col)
	}
	if w.filter != "" {
		e, err := expr.Parse(w.filter)
		if err != nil {
			return ts, errs.Invalid("row filter: %w", err)
		}
		if _, err := expr.Check(e, types); err != nil {
			return ts, errs.Invalid("row filter: %w", err)
		}
		ts.Filter = e
	}
	return ts, nil
}

// duckSQL is the statement DuckDB runs: the workload's SELECT written as Parquet to
// /dev/null, as the worker encodes Parquet for its S3 endpoint and discards it here.
func (w workload) duckSQL(files []string, lookup string) string {
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = sqlString(f)
	}
	s := strings.ReplaceAll(w.duckSelect, "{files}", "["+strings.Join(q, ", ")+"]")
	s = strings.ReplaceAll(s, "{lookup}", sqlString(lookup))
	return "COPY (" + s + ") TO '/dev/null' (FORMAT parquet, COMPRESSION snappy)"
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
