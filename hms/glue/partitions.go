package glue

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/filter"
	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/internal/errs"
)

func keyNames(t *hm.Table) []string {
	return colNames(t.PartitionKeys)
}

func partName(t *hm.Table, values []string) (string, error) {
	return hivename.MakePartName(keyNames(t), values)
}

func (c *Client) checkValues(t *hm.Table, values []string) error {
	if len(t.PartitionKeys) == 0 {
		return errs.Invalid("table %s.%s is not partitioned", t.DbName, t.TableName)
	}
	if len(values) != len(t.PartitionKeys) {
		return errs.Invalid("partition values [%s] do not match the %d partition keys of %s.%s",
			strings.Join(values, ", "), len(t.PartitionKeys), t.DbName, t.TableName)
	}
	_, err := partName(t, values)
	return err
}

// defaults fills what HMS fills for a new partition: the table's storage with the location
// <table location>/<partition name>, parameters, create time.
func defaults(t *hm.Table, p *hm.Partition, name string) *hm.Partition {
	c := *p
	c.DbName, c.TableName = t.DbName, t.TableName
	c.Parameters = copyParams(p.Parameters)
	if p.Sd == nil {
		sd := *t.Sd
		sd.Cols = cloneCols(t.Sd.Cols)
		sd.Location = ""
		c.Sd = &sd
	} else {
		sd := *p.Sd
		c.Sd = &sd
	}
	if c.Sd.Location == "" && t.Sd.GetLocation() != "" {
		c.Sd.Location = strings.TrimRight(t.Sd.Location, "/") + "/" + name
	}
	if c.CreateTime == 0 {
		c.CreateTime = int32(time.Now().Unix())
	}
	return &c
}

func (c *Client) AddPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition, ifNotExists bool) ([]*hm.Partition, error) {
	db, tbl = norm(db), norm(tbl)
	if len(parts) == 0 {
		return []*hm.Partition{}, nil
	}
	t, err := c.GetTable(ctx, db, tbl)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	prepared := make([]*hm.Partition, 0, len(parts))
	for _, p := range parts {
		if p == nil {
			return nil, errs.Invalid("add partitions: nil partition")
		}
		if err := c.checkValues(t, p.Values); err != nil {
			return nil, err
		}
		name, _ := partName(t, p.Values)
		if seen[name] {
			if ifNotExists {
				continue
			}
			return nil, errs.Invalid("add partitions: partition %s of %s.%s is listed twice", name, db, tbl)
		}
		seen[name] = true
		prepared = append(prepared, defaults(t, p, name))
	}
	if ifNotExists {
		// Skip what exists up front, so a per-entry AlreadyExists below is a real race.
		existing, err := c.getByValues(ctx, t, valuesOf(prepared))
		if err != nil {
			return nil, err
		}
		have := map[string]bool{}
		for _, p := range existing {
			n, _ := partName(t, p.Values)
			have[n] = true
		}
		kept := prepared[:0]
		for _, p := range prepared {
			if n, _ := partName(t, p.Values); !have[n] {
				kept = append(kept, p)
			}
		}
		prepared = kept
	}
	return c.createPartitions(ctx, db, tbl, prepared, ifNotExists)
}

func valuesOf(parts []*hm.Partition) [][]string {
	out := make([][]string, len(parts))
	for i, p := range parts {
		out[i] = p.Values
	}
	return out
}

var (
	codeAlreadyExists = (&types.AlreadyExistsException{}).ErrorCode()
	codeNotFound      = (&types.EntityNotFoundException{}).ErrorCode()
	codeInvalidInput  = (&types.InvalidInputException{}).ErrorCode()
)

// entryError turns one per-entry error of a batch call into an errs kind. Batch calls report
// entries only as (code, message) pairs; the codes compared are the SDK types' own.
func (c *Client) entryError(op string, values []string, d *types.ErrorDetail) error {
	code, msg := aws.ToString(d.ErrorCode), aws.ToString(d.ErrorMessage)
	what := fmt.Sprintf("%s: partition [%s]: %s", op, strings.Join(values, ", "), msg)
	switch code {
	case codeAlreadyExists:
		return errs.Exists("%s", what)
	case codeNotFound:
		return errs.NotFound("%s", what)
	case codeInvalidInput:
		return errs.Invalid("%s", what)
	}
	return &errs.Error{Kind: errs.KindUnknown, Msg: fmt.Sprintf("%s (glue backend %q, %s)", what, c.name, code)}
}

// createPartitions runs BatchCreatePartition in chunks of 100. Glue is not transactional: on
// any failure the partitions created so far by this call are deleted again, so the result is
// all or none as far as Glue allows. With skipExisting, an entry that already exists is not an
// error (and not in the result).
func (c *Client) createPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition, skipExisting bool) ([]*hm.Partition, error) {
	added := []*hm.Partition{}
	var failure error
	for start := 0; start < len(parts) && failure == nil; start += batchCreateParts {
		chunk := parts[start:min(start+batchCreateParts, len(parts))]
		in := &glue.BatchCreatePartitionInput{CatalogId: c.catalog(), DatabaseName: aws.String(db), TableName: aws.String(tbl)}
		for _, p := range chunk {
			in.PartitionInputList = append(in.PartitionInputList, *partInput(p))
		}
		var out *glue.BatchCreatePartitionOutput
		attempts, sent := 0, time.Now()
		err := c.call(ctx, "add partitions to "+db+"."+tbl, func(ctx context.Context) (err error) {
			out, err = c.g.BatchCreatePartition(ctx, in, countAttempts(&attempts))
			return err
		})
		if err != nil {
			failure = err
			break
		}
		ours := map[string]bool{}
		if attempts > 1 {
			ours, err = c.createdByEarlierAttempt(ctx, db, tbl, chunk, out.Errors, sent)
			if err != nil {
				failure = err
				break
			}
		}
		failed := map[string]bool{}
		for _, e := range out.Errors {
			key := strings.Join(e.PartitionValues, "\x00")
			if ours[key] {
				continue
			}
			failed[key] = true
			if e.ErrorDetail != nil && skipExisting && aws.ToString(e.ErrorDetail.ErrorCode) == codeAlreadyExists {
				continue
			}
			if failure == nil {
				failure = c.entryError("add partitions to "+db+"."+tbl, e.PartitionValues, e.ErrorDetail)
			}
		}
		for _, p := range chunk {
			if !failed[strings.Join(p.Values, "\x00")] {
				added = append(added, p)
			}
		}
	}
	if failure == nil {
		return added, nil
	}
	if len(added) > 0 {
		if err := c.deletePartitions(context.WithoutCancel(ctx), db, tbl, valuesOf(added)); err != nil {
			c.log.Error("add partitions: rollback failed; some partitions of the failed call remain", "table", db+"."+tbl, "err", err)
			return nil, fmt.Errorf("%w (and %d partitions created before the failure could not all be removed: %v)", failure, len(added), err)
		}
	}
	return nil, failure
}

// createdByEarlierAttempt returns the partitions of a retried BatchCreatePartition that
// failed as already existing but are exactly what chunk asked for (same location): an
// earlier attempt of the same call created them (since sent), and its response was lost.
// Without this a retried create reports "already exists" for the partitions it created itself.
func (c *Client) createdByEarlierAttempt(ctx context.Context, db, tbl string, chunk []*hm.Partition, failures []types.PartitionError, sent time.Time) (map[string]bool, error) {
	asked := map[string]*hm.Partition{}
	for _, p := range chunk {
		asked[strings.Join(p.Values, "\x00")] = p
	}
	var values [][]string
	for _, e := range failures {
		if e.ErrorDetail != nil && aws.ToString(e.ErrorDetail.ErrorCode) == codeAlreadyExists {
			values = append(values, e.PartitionValues)
		}
	}
	ours := map[string]bool{}
	if len(values) == 0 {
		return ours, nil
	}
	existing, err := c.getByValues(ctx, &hm.Table{DbName: db, TableName: tbl}, values)
	if err != nil {
		return nil, err
	}
	for _, p := range existing {
		key := strings.Join(p.Values, "\x00")
		a := asked[key]
		if a != nil && createdEarlier(sent, a.GetSd().GetLocation() == p.GetSd().GetLocation(), int64(p.CreateTime)) {
			ours[key] = true
		}
	}
	if len(ours) > 0 {
		c.log.Info("add partitions: a retried call found partitions its earlier attempt created", "table", db+"."+tbl, "partitions", len(ours))
	}
	return ours, nil
}

// deletePartitions runs BatchDeletePartition in chunks of 25; missing partitions are fine.
func (c *Client) deletePartitions(ctx context.Context, db, tbl string, values [][]string) error {
	for start := 0; start < len(values); start += batchDeleteParts {
		chunk := values[start:min(start+batchDeleteParts, len(values))]
		in := &glue.BatchDeletePartitionInput{CatalogId: c.catalog(), DatabaseName: aws.String(db), TableName: aws.String(tbl)}
		for _, v := range chunk {
			in.PartitionsToDelete = append(in.PartitionsToDelete, types.PartitionValueList{Values: v})
		}
		var out *glue.BatchDeletePartitionOutput
		err := c.call(ctx, "delete partitions of "+db+"."+tbl, func(ctx context.Context) (err error) {
			out, err = c.g.BatchDeletePartition(ctx, in)
			return err
		})
		if err != nil {
			return err
		}
		for _, e := range out.Errors {
			if e.ErrorDetail != nil && aws.ToString(e.ErrorDetail.ErrorCode) == codeNotFound {
				continue
			}
			return c.entryError("delete partitions of "+db+"."+tbl, e.PartitionValues, e.ErrorDetail)
		}
	}
	return nil
}

func (c *Client) GetPartition(ctx context.Context, db, tbl string, values []string) (*hm.Partition, error) {
	db, tbl = norm(db), norm(tbl)
	var out *glue.GetPartitionOutput
	err := c.call(ctx, "get partition of "+db+"."+tbl, func(ctx context.Context) (err error) {
		out, err = c.g.GetPartition(ctx, &glue.GetPartitionInput{CatalogId: c.catalog(), DatabaseName: aws.String(db), TableName: aws.String(tbl), PartitionValues: values})
		return err
	})
	if err != nil {
		if errs.KindOf(err) == errs.KindNotFound {
			return nil, errs.NotFound("partition [%s] of %s.%s not found", strings.Join(values, ", "), db, tbl)
		}
		return nil, err
	}
	return partFromGlue(out.Partition), nil
}

// getByValues fetches partitions by values with BatchGetPartition (1000 a call), retrying
// unprocessed keys; missing partitions are omitted.
func (c *Client) getByValues(ctx context.Context, t *hm.Table, values [][]string) ([]*hm.Partition, error) {
	out := []*hm.Partition{}
	pending := values
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 5 {
			return nil, errs.Unavailable("glue backend %q is unavailable: get partitions of %s.%s: %d keys stayed unprocessed", c.name, t.DbName, t.TableName, len(pending))
		}
		var next [][]string
		for start := 0; start < len(pending); start += batchGetParts {
			chunk := pending[start:min(start+batchGetParts, len(pending))]
			in := &glue.BatchGetPartitionInput{CatalogId: c.catalog(), DatabaseName: aws.String(t.DbName), TableName: aws.String(t.TableName)}
			for _, v := range chunk {
				in.PartitionsToGet = append(in.PartitionsToGet, types.PartitionValueList{Values: v})
			}
			var res *glue.BatchGetPartitionOutput
			err := c.call(ctx, "get partitions of "+t.DbName+"."+t.TableName, func(ctx context.Context) (err error) {
				res, err = c.g.BatchGetPartition(ctx, in)
				return err
			})
			if err != nil {
				return nil, err
			}
			for i := range res.Partitions {
				out = append(out, partFromGlue(&res.Partitions[i]))
			}
			for _, u := range res.UnprocessedKeys {
				next = append(next, u.Values)
			}
		}
		pending = next
		if len(pending) > 0 {
			time.Sleep(time.Duration(50<<attempt) * time.Millisecond)
		}
	}
	return out, nil
}

func (c *Client) GetPartitionsByNames(ctx context.Context, db, tbl string, names []string) ([]*hm.Partition, error) {
	t, err := c.GetTable(ctx, db, tbl)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return []*hm.Partition{}, nil
	}
	keys := keyNames(t)
	order := map[string]int{}
	var values [][]string
	for _, n := range names {
		ks, vs, err := hivename.ParsePartName(n)
		if err != nil {
			return nil, err
		}
		if len(ks) != len(keys) {
			continue // cannot name a partition of this table: missing, as Hive answers
		}
		byKey := map[string]string{}
		for i, k := range ks {
			byKey[norm(k)] = vs[i]
		}
		v := make([]string, len(keys))
		ok := true
		for i, k := range keys {
			if v[i], ok = byKey[k]; !ok {
				break
			}
		}
		if !ok {
			continue
		}
		canon, err := hivename.MakePartName(keys, v)
		if err != nil {
			continue
		}
		if _, dup := order[canon]; !dup {
			order[canon] = len(order)
			values = append(values, v)
		}
	}
	parts, err := c.getByValues(ctx, t, values)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(parts, func(i, j int) bool {
		a, _ := partName(t, parts[i].Values)
		b, _ := partName(t, parts[j].Values)
		return order[a] < order[b]
	})
	return parts, nil
}

// --- listing ---

// query is a PartitionQuery compiled for one table: the Glue Expression to push down (may be
// empty) and the exact Hive-semantics check run on every partition Glue returns.
type query struct {
	expr  string
	match func(values []string) (bool, error)
	max   int
}

func isStringType(typ string) bool {
	t := strings.ToLower(strings.TrimSpace(typ))
	return t == "string" || strings.HasPrefix(t, "varchar") || strings.HasPrefix(t, "char")
}

func isIntegralType(typ string) bool {
	switch strings.ToLower(strings.TrimSpace(typ)) {
	case "tinyint", "smallint", "int", "integer", "bigint":
		return true
	}
	return false
}

func (c *Client) compile(t *hm.Table, q hms.PartitionQuery) (*query, error) {
	keys := t.PartitionKeys
	if len(q.Values) > len(keys) {
		return nil, errs.Invalid("%d partition values given but %s.%s has %d partition keys", len(q.Values), t.DbName, t.TableName, len(keys))
	}
	var pushed []string
	for i, v := range q.Values {
		if v == "" {
			continue
		}
		switch {
		case isStringType(keys[i].Type) && !strings.ContainsAny(v, `'\`):
			pushed = append(pushed, fmt.Sprintf("%s = '%s'", keys[i].Name, v))
		case isIntegralType(keys[i].Type):
			if _, err := strconv.ParseInt(v, 10, 64); err == nil && v == strconv.FormatInt(mustInt(v), 10) {
				pushed = append(pushed, fmt.Sprintf("%s = %s", keys[i].Name, v))
			}
		}
	}
	var fx filter.Expr
	if q.Filter != "" {
		var err error
		if fx, err = filter.Parse(q.Filter); err != nil {
			return nil, err
		}
		if canon := fx.String(); canon != "" && c.pushable(t, fx) {
			pushed = append(pushed, "("+canon+")")
		}
	}
	vals := q.Values
	cq := &query{max: q.Max, match: func(values []string) (bool, error) {
		for i, v := range vals {
			if v != "" && (i >= len(values) || values[i] != v) {
				return false, nil
			}
		}
		if fx == nil {
			return true, nil
		}
		return fx.Eval(keys, values)
	}}
	if !c.cfg.DisableFilterPushdown {
		cq.expr = strings.Join(pushed, " AND ")
	}
	return cq, nil
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// pushable reports whether Glue evaluates the filter the way Hive does, so that pushing it
// down can only narrow what Propolis re-checks, never drop a partition Hive would return. Glue
// compares string keys as text and integral keys as numbers, like Hive; it does not share
// Hive's LIKE (a Java regex in Hive, SQL LIKE in Glue), its date/timestamp literals, or Hive's
// NULL reading of __HIVE_DEFAULT_PARTITION__ on typed keys, so filters using those stay local.
func (c *Client) pushable(t *hm.Table, fx filter.Expr) bool {
	types := map[string]string{}
	for _, k := range t.PartitionKeys {
		types[norm(k.Name)] = k.Type
	}
	stringKey := false
	for _, k := range filter.Keys(fx) {
		typ, ok := types[k]
		if !ok || !(isStringType(typ) || isIntegralType(typ)) {
			return false
		}
		stringKey = stringKey || isStringType(typ)
	}
	// Hive compares a string key with a number literal as text; Glue may compare as numbers.
	if stringKey && hasNumberLiteral(fx.String()) {
		return false
	}
	up := strings.ToUpper(fx.String())
	for _, w := range []string{"LIKE", "DATE", "TIMESTAMP", "__HIVE_DEFAULT_PARTITION__", "\\"} {
		if strings.Contains(up, w) {
			return false
		}
	}
	return true
}

// scan pages through GetPartitions with the expression; excludeSchema drops the columns of
// each partition's storage descriptor (for names and counts).
func (c *Client) scan(ctx context.Context, db, tbl, expr string, excludeSchema bool, f func(*types.Partition) error) error {
	var token *string
	for {
		in := &glue.GetPartitionsInput{CatalogId: c.catalog(), DatabaseName: aws.String(db), TableName: aws.String(tbl),
			NextToken: token, MaxResults: c.page(maxPartitionsPage), Expression: str(expr)}
		if excludeSchema {
			in.ExcludeColumnSchema = aws.Bool(true)
		}
		var out *glue.GetPartitionsOutput
		err := c.call(ctx, "list partitions of "+db+"."+tbl, func(ctx context.Context) (err error) {
			out, err = c.g.GetPartitions(ctx, in)
			return err
		})
		if err != nil {
			return err
		}
		for i := range out.Partitions {
			if err := f(&out.Partitions[i]); err != nil {
				return err
			}
		}
		if token = out.NextToken; aws.ToString(token) == "" {
			return nil
		}
	}
}

// list returns the partitions matching q, sorted by name, at most q.Max.
func (c *Client) list(ctx context.Context, db, tbl string, q hms.PartitionQuery, excludeSchema bool) (*hm.Table, []*hm.Partition, error) {
	t, err := c.GetTable(ctx, db, tbl)
	if err != nil {
		return nil, nil, err
	}
	cq, err := c.compile(t, q)
	if err != nil {
		return nil, nil, err
	}
	var parts []*hm.Partition
	collect := func(g *types.Partition) error {
		p := partFromGlue(g)
		ok, err := cq.match(p.Values)
		if err != nil {
			return err
		}
		if ok {
			parts = append(parts, p)
		}
		return nil
	}
	err = c.scan(ctx, t.DbName, t.TableName, cq.expr, excludeSchema, collect)
	if k := errs.KindOf(err); err != nil && cq.expr != "" && (k == errs.KindInvalid || k == errs.KindUnknown) {
		// Glue (or an emulator) could not evaluate this expression: it rejected its syntax, or
		// failed on a stored value (moto fails on __HIVE_DEFAULT_PARTITION__ under an int key).
		// Evaluate it here alone. Unavailability and missing tables are not retried.
		c.log.Debug("partition expression rejected by Glue; filtering in Propolis", "table", t.DbName+"."+t.TableName, "expr", cq.expr, "err", err)
		parts = nil
		err = c.scan(ctx, t.DbName, t.TableName, "", excludeSchema, collect)
	}
	if err != nil {
		return nil, nil, err
	}
	names := make(map[*hm.Partition]string, len(parts))
	for _, p := range parts {
		names[p], _ = partName(t, p.Values)
	}
	sort.Slice(parts, func(i, j int) bool { return names[parts[i]] < names[parts[j]] })
	if cq.max > 0 && len(parts) > cq.max {
		parts = parts[:cq.max]
	}
	if parts == nil {
		parts = []*hm.Partition{}
	}
	return t, parts, nil
}

func (c *Client) listAll(ctx context.Context, db, tbl string) ([]*hm.Partition, error) {
	_, parts, err := c.list(ctx, db, tbl, hms.PartitionQuery{}, false)
	return parts, err
}

func (c *Client) ListPartitions(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]*hm.Partition, error) {
	_, parts, err := c.list(ctx, db, tbl, q, false)
	return parts, err
}

func (c *Client) ListPartitionNames(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]string, error) {
	t, parts, err := c.list(ctx, db, tbl, q, true)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		n, err := partName(t, p.Values)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// CountPartitions lists (without column schemas) and counts: Glue has no count call.
func (c *Client) CountPartitions(ctx context.Context, db, tbl string, q hms.PartitionQuery) (int, error) {
	q.Max = 0
	_, parts, err := c.list(ctx, db, tbl, q, true)
	return len(parts), err
}

// --- changes ---

// AlterPartitions checks that every partition exists first (NotFound and nothing changes),
// then updates them 100 a call; a failure part-way restores the ones already updated.
func (c *Client) AlterPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition) error {
	if len(parts) == 0 {
		return nil
	}
	t, err := c.GetTable(ctx, db, tbl)
	if err != nil {
		return err
	}
	vals := make([][]string, 0, len(parts))
	for _, p := range parts {
		if p == nil {
			return errs.Invalid("alter partitions: nil partition")
		}
		if err := c.checkValues(t, p.Values); err != nil {
			return err
		}
		vals = append(vals, p.Values)
	}
	olds, err := c.getByValues(ctx, t, vals)
	if err != nil {
		return err
	}
	byName := map[string]*hm.Partition{}
	for _, o := range olds {
		n, _ := partName(t, o.Values)
		byName[n] = o
	}
	prev := make([]*hm.Partition, len(parts))
	next := make([]*hm.Partition, len(parts))
	for i, p := range parts {
		n, _ := partName(t, p.Values)
		o, ok := byName[n]
		if !ok {
			return errs.NotFound("partition %s of %s.%s not found", n, t.DbName, t.TableName)
		}
		prev[i] = o
		np := *p
		if np.Sd == nil {
			np.Sd = o.Sd
		}
		next[i] = &np
	}
	return c.updatePartitions(ctx, t.DbName, t.TableName, next, prev)
}

// updatePartitions runs BatchUpdatePartition in chunks of 100; with prev (the versions before),
// a failure restores the chunks already written.
func (c *Client) updatePartitions(ctx context.Context, db, tbl string, parts, prev []*hm.Partition) error {
	done := 0
	var failure error
	for start := 0; start < len(parts); start += batchUpdateParts {
		end := min(start+batchUpdateParts, len(parts))
		if err := c.batchUpdate(ctx, db, tbl, parts[start:end]); err != nil {
			failure = err
			break
		}
		done = end
	}
	if failure == nil || prev == nil || done == 0 {
		return failure
	}
	if err := c.batchUpdate(context.WithoutCancel(ctx), db, tbl, prev[:done]); err != nil {
		c.log.Error("alter partitions: restoring the partitions already updated failed", "table", db+"."+tbl, "err", err)
		return fmt.Errorf("%w (and %d partitions updated before the failure could not be restored: %v)", failure, done, err)
	}
	return failure
}

func (c *Client) batchUpdate(ctx context.Context, db, tbl string, parts []*hm.Partition) error {
	for start := 0; start < len(parts); start += batchUpdateParts {
		chunk := parts[start:min(start+batchUpdateParts, len(parts))]
		in := &glue.BatchUpdatePartitionInput{CatalogId: c.catalog(), DatabaseName: aws.String(db), TableName: aws.String(tbl)}
		for _, p := range chunk {
			in.Entries = append(in.Entries, types.BatchUpdatePartitionRequestEntry{PartitionValueList: p.Values, PartitionInput: partInput(p)})
		}
		var out *glue.BatchUpdatePartitionOutput
		err := c.call(ctx, "alter partitions of "+db+"."+tbl, func(ctx context.Context) (err error) {
			out, err = c.g.BatchUpdatePartition(ctx, in)
			return err
		})
		if err != nil {
			return err
		}
		for _, e := range out.Errors {
			return c.entryError("alter partitions of "+db+"."+tbl, e.PartitionValueList, e.ErrorDetail)
		}
	}
	return nil
}

// RenamePartition creates the partition under its new values and then deletes the old one
// (Glue cannot change a partition's values in place); if the delete fails the new one is
// removed again.
func (c *Client) RenamePartition(ctx context.Context, db, tbl string, oldValues []string, p *hm.Partition) error {
	if p == nil {
		return errs.Invalid("rename partition: no partition given")
	}
	t, err := c.GetTable(ctx, db, tbl)
	if err != nil {
		return err
	}
	if err := c.checkValues(t, p.Values); err != nil {
		return err
	}
	old, err := c.GetPartition(ctx, t.DbName, t.TableName, oldValues)
	if err != nil {
		return err
	}
	np := *p
	if np.Sd == nil {
		np.Sd = old.Sd
	}
	if np.Parameters == nil {
		np.Parameters = old.Parameters
	}
	if np.CreateTime == 0 {
		np.CreateTime = old.CreateTime
	}
	if strings.Join(old.Values, "\x00") == strings.Join(np.Values, "\x00") {
		return c.batchUpdate(ctx, t.DbName, t.TableName, []*hm.Partition{&np})
	}
	name, _ := partName(t, np.Values)
	if _, err := c.createPartitions(ctx, t.DbName, t.TableName, []*hm.Partition{&np}, false); err != nil {
		if errs.KindOf(err) == errs.KindExists {
			return errs.Exists("partition %s of %s.%s already exists", name, t.DbName, t.TableName)
		}
		return err
	}
	if err := c.deletePartition(ctx, t.DbName, t.TableName, old.Values); err != nil {
		if derr := c.deletePartitions(context.WithoutCancel(ctx), t.DbName, t.TableName, [][]string{np.Values}); derr != nil {
			c.log.Error("rename partition: could not remove the new partition after failing to delete the old one", "err", derr)
		}
		return err
	}
	return nil
}

func (c *Client) deletePartition(ctx context.Context, db, tbl string, values []string) error {
	err := c.call(ctx, "drop partition of "+db+"."+tbl, func(ctx context.Context) error {
		_, err := c.g.DeletePartition(ctx, &glue.DeletePartitionInput{CatalogId: c.catalog(), DatabaseName: aws.String(db), TableName: aws.String(tbl), PartitionValues: values})
		return err
	})
	if errs.KindOf(err) == errs.KindNotFound {
		return errs.NotFound("partition [%s] of %s.%s not found", strings.Join(values, ", "), db, tbl)
	}
	return err
}

// DropPartition deletes one partition (Glue drops its statistics with it). Data files are
// never deleted (see doc.go).
func (c *Client) DropPartition(ctx context.Context, db, tbl string, values []string, deleteData bool) (*hm.Partition, error) {
	db, tbl = norm(db), norm(tbl)
	p, err := c.GetPartition(ctx, db, tbl, values)
	if err != nil {
		return nil, err
	}
	if err := c.deletePartition(ctx, db, tbl, values); err != nil {
		return nil, err
	}
	return p, nil
}

// hasNumberLiteral reports whether the canonical filter text has a digit outside quotes and
// outside identifiers (a number literal).
func hasNumberLiteral(s string) bool {
	var quote byte
	inIdent := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == '\\' {
				i++
			} else if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"' || ch == '`':
			quote = ch
		case ch >= '0' && ch <= '9':
			if !inIdent {
				return true
			}
		}
		inIdent = quote == 0 && (ch == '_' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || (inIdent && ch >= '0' && ch <= '9'))
	}
	return false
}

// ExchangePartitions is refused: Hive's exchange moves the partitions' data, and Propolis never
// touches a Glue catalog's data (see doc.go).
func (c *Client) ExchangePartitions(ctx context.Context, srcDB, srcTbl, dstDB, dstTbl string, values []string) ([]*hm.Partition, error) {
	return nil, errs.Unsupported("exchanging partitions moves their data, which Propolis does not do for Glue tables")
}
