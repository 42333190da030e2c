package enforce

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy"
	"github.com/propolis/propolis/policy/audit"
	"github.com/propolis/propolis/policy/expr"
	wplan "github.com/propolis/propolis/workers/plan"
	"github.com/propolis/propolis/workers/token"
)

// WorkerPath turns on the worker path: protected tables that no engine of the caller's
// profile may be trusted with are served from the worker fleet.
type WorkerPath struct {
	Signer *token.Signer
	// TTL is how long an issued token is valid.
	TTL time.Duration
	// Base is the location prefix tokens are appended to, e.g. "s3a://propolis/": the bucket
	// the fleet's S3 endpoint answers for.
	Base string
	// LoadPartitions lists a table's partitions, unguarded (the handler's backend).
	LoadPartitions func(ctx context.Context, db, table string) ([]*hm.Partition, error)
}

// Actions of the worker path.
const (
	ActionWorkerTable = "worker_table"
	ActionWorkerPlan  = "worker_plan"
)

// Parquet storage of the tables the fleet serves: what Hive, Spark and Trino read Parquet with.
const (
	parquetInputFormat  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
	parquetOutputFormat = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
	parquetSerde        = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
)

// workerColumns is what the worker computes for d: the visible columns (data columns, then
// partition keys: the fleet serves every table unpartitioned, the partition values written
// into the files), each passed through or computed by its mask, and the row filter, checked.
func workerColumns(ref policy.TableRef, d policy.Decision) ([]wplan.Column, string, []expr.Expr, error) {
	hidden, masks := columnRules(d)
	types := make(map[string]string, len(ref.Columns))
	var cols []wplan.Column
	var trees []expr.Expr
	for _, c := range ref.Columns {
		types[c.Name] = c.Type
		if hidden[c.Name] {
			continue
		}
		spec, masked := masks[c.Name]
		if !masked {
			cols = append(cols, wplan.Column{Name: c.Name, Type: c.Type, Source: c.Name})
			continue
		}
		e, err := expr.Mask(spec, c.Name, c.Type)
		if err != nil {
			return nil, "", nil, err
		}
		trees = append(trees, e)
		cols = append(cols, wplan.Column{Name: c.Name, Type: e.Type().String(), Expr: e.String()})
	}
	for c := range masks {
		if _, ok := types[c]; !ok {
			return nil, "", nil, errs.Invalid("mask on column %s, which the table does not have", c)
		}
	}
	if len(cols) == 0 {
		return nil, "", nil, errs.Invalid("every column is hidden")
	}
	filter := strings.TrimSpace(d.RowFilter)
	if filter != "" {
		e, err := expr.Parse(filter)
		if err != nil {
			return nil, "", nil, errs.Invalid("row filter: %w", err)
		}
		t, err := expr.Check(e, types)
		if err != nil {
			return nil, "", nil, errs.Invalid("row filter: %w", err)
		}
		if t.Kind != expr.Boolean {
			return nil, "", nil, errs.Invalid("row filter is %s, not boolean", t)
		}
		trees = append(trees, e)
		filter = e.String()
	}
	return cols, filter, trees, nil
}

// workerTable is t as the fleet serves it to the caller: an external Parquet table with the
// caller's columns at a location that carries the caller's token. Nothing of t's storage,
// parameters (which hold engine schemas and statistics) or partitioning survives.
func (g *Guard) workerTable(c *call, t *hm.Table, d policy.Decision) (*hm.Table, error) {
	obj := qualified(t.DbName, t.TableName)
	cols, _, _, err := workerColumns(tableRef(t), d)
	if err != nil {
		return nil, errs.Denied("%s is protected and its policy cannot be enforced (%w): it is not served to %s", obj, err, c.who.User)
	}
	tok, err := g.issue(c, t, "")
	if err != nil {
		return nil, err
	}
	out := *t // shallow copy; every field changed below is replaced, never written through
	out.TableType = "EXTERNAL_TABLE"
	out.PartitionKeys = []*hm.FieldSchema{}
	out.ViewOriginalText, out.ViewExpandedText = "", ""
	out.Parameters = map[string]string{
		"EXTERNAL":                "TRUE",
		"propolis.path":           "worker",
		"propolis.policy.version": strconv.FormatInt(c.version(), 10),
	}
	if cm, ok := t.Parameters["comment"]; ok {
		out.Parameters["comment"] = cm
	}
	if servedPartitioned(t, d) {
		// Partition keys stay keys, so engines prune; each partition's location carries a
		// token for that partition alone (PartitionView).
		keys := map[string]bool{}
		for _, k := range t.PartitionKeys {
			out.PartitionKeys = append(out.PartitionKeys, &hm.FieldSchema{Name: k.Name, Type: k.Type, Comment: k.Comment})
			keys[strings.ToLower(k.Name)] = true
		}
		var data []wplan.Column
		for _, col := range cols {
			if !keys[col.Name] {
				data = append(data, col)
			}
		}
		cols = data
	}
	out.Sd = g.workerSD(cols, tok)
	return &out, nil
}

// issue signs the caller's token for t, for one partition (k=v/...) or all ("").
func (g *Guard) issue(c *call, t *hm.Table, parts string) (string, error) {
	return g.workers.Signer.Issue(token.Claims{
		User:    c.who.User,
		Groups:  c.who.Groups,
		Profile: c.prof.Name,
		DB:      strings.ToLower(t.DbName),
		Table:   strings.ToLower(t.TableName),
		Version: c.version(),
		Parts:   parts,
	}, g.workers.TTL)
}

// workerSD is the storage of a table or partition the fleet serves: Parquet at tok.
func (g *Guard) workerSD(cols []wplan.Column, tok string) *hm.StorageDescriptor {
	sd := &hm.StorageDescriptor{
		Location:     strings.TrimSuffix(g.workers.Base, "/") + "/" + tok,
		InputFormat:  parquetInputFormat,
		OutputFormat: parquetOutputFormat,
		SerdeInfo: &hm.SerDeInfo{
			SerializationLib: parquetSerde,
			Parameters:       map[string]string{"serialization.format": "1"},
		},
		NumBuckets: -1,
		BucketCols: []string{},
		SortCols:   []*hm.Order{},
		Parameters: map[string]string{},
	}
	for _, col := range cols {
		sd.Cols = append(sd.Cols, &hm.FieldSchema{Name: col.Name, Type: col.Type})
	}
	return sd
}

// servedPartitioned says whether the fleet serves t to a caller with decision d as a
// partitioned table. Only when partition names reveal nothing the rows would not: no
// partition key is hidden or masked, and no row filter could remove a partition's every row
// while its name still showed.
func servedPartitioned(t *hm.Table, d policy.Decision) bool {
	if len(t.PartitionKeys) == 0 || strings.TrimSpace(d.RowFilter) != "" {
		return false
	}
	hidden, masks := columnRules(d)
	for _, k := range t.PartitionKeys {
		name := strings.ToLower(k.Name)
		if _, masked := masks[name]; masked || hidden[name] {
			return false
		}
	}
	return true
}

// PartitionView is how the caller is shown the partitions of a table the fleet serves them
// partitioned (hms.PartitionViewer): each partition's location carries a token for that
// partition alone, its columns are the served ones, and its parameters (statistics of the raw
// data) are dropped. Any other table gets CheckRaw's answer.
func (g *Guard) PartitionView(ctx context.Context, db, table string) (func([]*hm.Partition) ([]*hm.Partition, error), error) {
	obj := qualified(db, table)
	c, err := g.caller(ctx)
	if err != nil {
		return nil, err
	}
	raw := g.CheckRaw(ctx, db, table)
	if raw == nil || g.load == nil || g.workers == nil {
		return nil, errs.Denied("%s: no partition view", obj)
	}
	if !errors.As(raw, new(*hms.WithheldError)) {
		return nil, raw // not served by the fleet to this caller
	}
	t, err := g.load(ctx, db, table)
	if err != nil {
		return nil, err
	}
	d, err := g.decide(c, t)
	if err != nil || d.Outcome != policy.Restricted || !servedPartitioned(t, d) {
		return nil, raw
	}
	cols, _, _, err := workerColumns(tableRef(t), d)
	if err != nil {
		return nil, raw
	}
	keys := make([]string, len(t.PartitionKeys))
	isKey := map[string]bool{}
	for i, k := range t.PartitionKeys {
		keys[i] = strings.ToLower(k.Name)
		isKey[keys[i]] = true
	}
	var data []wplan.Column
	for _, col := range cols {
		if !isKey[col.Name] {
			data = append(data, col)
		}
	}
	g.record(ctx, c, ActionWorkerTable, obj, audit.OutcomeRestricted, audit.PathWorker, &d, nil)
	return func(ps []*hm.Partition) ([]*hm.Partition, error) {
		out := make([]*hm.Partition, 0, len(ps))
		for _, p := range ps {
			if p == nil {
				continue
			}
			name, err := hivename.MakePartName(keys, p.Values)
			if err != nil {
				return nil, err
			}
			tok, err := g.issue(c, t, name)
			if err != nil {
				return nil, err
			}
			cp := *p
			cp.Values = append([]string(nil), p.Values...)
			cp.Parameters = map[string]string{}
			cp.Sd = g.workerSD(data, tok)
			out = append(out, &cp)
		}
		return out, nil
	}, nil
}

// usesWorker says whether a restricted decision is served by the fleet for this caller.
func (g *Guard) usesWorker(c *call, d policy.Decision, planErr error) bool {
	if g.workers == nil {
		return false
	}
	var we *workerError
	return d.NeedsWorker || !c.prof.Trusted || errors.As(planErr, &we)
}

// Plan is the plan behind a worker token (wplan.Planner): it verifies the token, re-decides
// under the policy version the token names, and lists the files the worker reads. A token
// from another policy version is refused: the caller reads the table again and gets a new one.
func (g *Guard) Plan(ctx context.Context, tok string) (*wplan.Spec, error) {
	c := &call{prof: &profile{}}
	if g.workers == nil {
		return nil, errs.Unsupported("the worker path is not enabled on this server")
	}
	claims, err := g.workers.Signer.Verify(tok)
	if err != nil {
		g.record(ctx, c, ActionWorkerPlan, "", audit.OutcomeDenied, audit.PathWorker, nil, err)
		return nil, err
	}
	obj := claims.Object()
	c.who = policy.Principal{User: claims.User, Groups: claims.Groups}
	c.prof.Name = claims.Profile
	c.pol = g.current()
	if c.pol == nil {
		err := errs.Unavailable("no access policy is loaded; %s is not served", obj)
		g.record(ctx, c, ActionWorkerPlan, obj, audit.OutcomeDenied, audit.PathWorker, nil, err)
		return nil, err
	}
	if v := c.pol.Version(); v != claims.Version {
		err := errs.Denied("the policy changed (version %d, the token is for %d) since the token for %s was issued; read the table's metadata again", v, claims.Version, obj)
		g.record(ctx, c, ActionWorkerPlan, obj, audit.OutcomeDenied, audit.PathWorker, nil, err)
		return nil, err
	}
	spec, d, err := g.plan(ctx, c, claims)
	if err != nil {
		g.record(ctx, c, ActionWorkerPlan, obj, audit.OutcomeDenied, audit.PathWorker, d, err)
		return nil, err
	}
	g.record(ctx, c, ActionWorkerPlan, obj, audit.OutcomeRestricted, audit.PathWorker, d, nil)
	return spec, nil
}

func (g *Guard) plan(ctx context.Context, c *call, claims token.Claims) (*wplan.Spec, *policy.Decision, error) {
	if g.load == nil || g.workers.LoadPartitions == nil {
		return nil, nil, errs.Unavailable("the guard has no table loader")
	}
	t, err := g.load(ctx, claims.DB, claims.Table)
	if err != nil {
		return nil, nil, err
	}
	if t.Sd == nil {
		return nil, nil, errs.Unsupported("%s has no storage descriptor", claims.Object())
	}
	d, err := c.pol.DecideTable(c.who, tableRef(t))
	if err != nil {
		return nil, nil, errs.Denied("access to %s denied: the policy could not decide: %w", claims.Object(), err)
	}
	switch d.Outcome {
	case policy.Raw, policy.Restricted:
	default:
		return nil, &d, hms.TableNotFound(claims.DB, claims.Table)
	}
	cols, filter, trees, err := workerColumns(tableRef(t), d)
	if err != nil {
		return nil, &d, errs.Denied("%s is protected and its policy cannot be enforced: %w", claims.Object(), err)
	}
	spec := &wplan.Spec{
		User: claims.User, Groups: c.pol.Groups(c.who), DB: claims.DB, Table: claims.Table,
		Version: claims.Version, Expires: claims.Expires, Columns: cols, Filter: filter,
	}
	spec.Source, spec.PartitionKeys = fields(t.Sd.Cols), fields(t.PartitionKeys)
	if spec.Locations, err = g.locations(ctx, t, claims.Parts); err != nil {
		return nil, &d, err
	}
	seen := map[string]bool{}
	for _, e := range trees {
		for _, l := range expr.Lookups(e) {
			key := l.DB + "." + l.Table
			if seen[key] {
				continue
			}
			seen[key] = true
			lt, err := g.load(ctx, l.DB, l.Table)
			if err != nil {
				return nil, &d, fmt.Errorf("lookup table of %s's policy: %w", claims.Object(), err)
			}
			if lt.Sd == nil {
				return nil, &d, errs.Unsupported("lookup table %s has no storage descriptor", key)
			}
			locs, err := g.locations(ctx, lt, "")
			if err != nil {
				return nil, &d, err
			}
			spec.Lookups = append(spec.Lookups, wplan.Lookup{DB: l.DB, Table: l.Table, Columns: fields(lt.Sd.Cols), PartitionKeys: fields(lt.PartitionKeys), Locations: locs})
		}
	}
	return spec, &d, nil
}

func fields(fs []*hm.FieldSchema) []wplan.Field {
	out := make([]wplan.Field, 0, len(fs))
	for _, f := range fs {
		if f != nil {
			out = append(out, wplan.Field{Name: strings.ToLower(f.Name), Type: f.Type})
		}
	}
	return out
}

// locations lists where t's files are: its location, or its partitions' (only the one named
// by parts, when set).
func (g *Guard) locations(ctx context.Context, t *hm.Table, parts string) ([]wplan.Location, error) {
	if len(t.PartitionKeys) == 0 {
		if parts != "" {
			return nil, errs.Denied("the token names partition %s of the unpartitioned table %s", parts, qualified(t.DbName, t.TableName))
		}
		return []wplan.Location{{URI: t.Sd.Location}}, nil
	}
	ps, err := g.workers.LoadPartitions(ctx, t.DbName, t.TableName)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(t.PartitionKeys))
	for i, k := range t.PartitionKeys {
		keys[i] = strings.ToLower(k.Name)
	}
	out := []wplan.Location{}
	for _, p := range ps {
		if p == nil || p.Sd == nil || len(p.Values) != len(keys) {
			continue
		}
		name, err := hivename.MakePartName(keys, p.Values)
		if err != nil {
			return nil, err
		}
		if parts != "" && name != parts {
			continue
		}
		vals := make(map[string]string, len(keys))
		for i, k := range keys {
			vals[k] = p.Values[i]
		}
		out = append(out, wplan.Location{URI: p.Sd.Location, Name: name, Partition: vals})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ActionWorkerIssue audits tokens issued to Arrow Flight clients.
const ActionWorkerIssue = "worker_issue"

// Issue is the token a Flight client reading db.table as req.User gets (wplan.Issuer): the
// same decision get_table makes, for the "flight" engine, which is never trusted with raw
// files. A table the user may not see is not found, as in the metastore.
func (g *Guard) Issue(ctx context.Context, req wplan.IssueRequest) (string, error) {
	c := &call{prof: &profile{Profile: Profile{Name: FlightProfile}}, who: policy.Principal{User: req.User, Groups: req.Groups}}
	obj := qualified(req.DB, req.Table)
	if g.workers == nil {
		return "", errs.Unsupported("the worker path is not enabled on this server")
	}
	if req.User == "" {
		err := errs.Denied("a worker token needs a user")
		g.record(ctx, c, ActionWorkerIssue, obj, audit.OutcomeDenied, audit.PathWorker, nil, err)
		return "", err
	}
	if c.pol = g.current(); c.pol == nil {
		err := errs.Unavailable("no access policy is loaded; %s is not served", obj)
		g.record(ctx, c, ActionWorkerIssue, obj, audit.OutcomeDenied, audit.PathWorker, nil, err)
		return "", err
	}
	if err := c.checkService(); err != nil {
		g.record(ctx, c, ActionWorkerIssue, obj, audit.OutcomeDenied, audit.PathWorker, nil, err)
		return "", err
	}
	if g.load == nil {
		return "", errs.Unavailable("the guard has no table loader")
	}
	if !c.pol.TableVisible(c.who, strings.ToLower(req.DB), strings.ToLower(req.Table)) {
		g.record(ctx, c, ActionWorkerIssue, obj, audit.OutcomeHidden, audit.PathWorker, nil, nil)
		return "", hms.TableNotFound(req.DB, req.Table)
	}
	t, err := g.load(ctx, req.DB, req.Table)
	if err != nil {
		g.record(ctx, c, ActionWorkerIssue, obj, audit.OutcomeDenied, audit.PathWorker, nil, err)
		return "", err
	}
	d, err := c.pol.DecideTable(c.who, tableRef(t))
	if err != nil || (d.Outcome != policy.Raw && d.Outcome != policy.Restricted) {
		g.record(ctx, c, ActionWorkerIssue, obj, audit.OutcomeHidden, audit.PathWorker, &d, err)
		return "", hms.TableNotFound(req.DB, req.Table)
	}
	tok, err := g.workers.Signer.Issue(token.Claims{
		User: req.User, Groups: req.Groups, Profile: FlightProfile,
		DB: strings.ToLower(t.DbName), Table: strings.ToLower(t.TableName), Version: c.version(),
	}, g.workers.TTL)
	if err != nil {
		return "", err
	}
	g.record(ctx, c, ActionWorkerIssue, obj, audit.OutcomeRestricted, audit.PathWorker, &d, nil)
	return tok, nil
}

// FlightProfile is the engine name Arrow Flight reads are audited under.
const FlightProfile = "flight"

// ActionWorkerAuthorize audits privileges workers exercise themselves (detokenize).
const ActionWorkerAuthorize = "worker_authorize"

// Authorize answers a worker asking whether a user holds a privilege on a table
// (wplan.Authorizer). Only detokenize is exercised by workers; a table the user may not see
// is not found.
func (g *Guard) Authorize(ctx context.Context, req wplan.AuthorizeRequest) error {
	c := &call{prof: &profile{Profile: Profile{Name: FlightProfile}}, who: policy.Principal{User: req.User, Groups: req.Groups}}
	obj := qualified(req.DB, req.Table)
	deny := func(err error) error {
		g.record(ctx, c, ActionWorkerAuthorize, obj, audit.OutcomeDenied, audit.PathWorker, nil, err)
		return err
	}
	if policy.Privilege(req.Privilege) != policy.Detokenize {
		return deny(errs.Invalid("workers exercise only the detokenize privilege, not %q", req.Privilege))
	}
	if req.User == "" {
		return deny(errs.Denied("%s needs a user", req.Privilege))
	}
	if c.pol = g.current(); c.pol == nil {
		return deny(errs.Unavailable("no access policy is loaded"))
	}
	if err := c.checkService(); err != nil {
		return deny(err)
	}
	if !c.pol.TableVisible(c.who, strings.ToLower(req.DB), strings.ToLower(req.Table)) {
		g.record(ctx, c, ActionWorkerAuthorize, obj, audit.OutcomeHidden, audit.PathWorker, nil, nil)
		return hms.TableNotFound(req.DB, req.Table)
	}
	if err := c.pol.CheckWrite(c.who, policy.Detokenize, strings.ToLower(req.DB), strings.ToLower(req.Table)); err != nil {
		return deny(errs.Denied("%s may not detokenize values of %s", req.User, obj))
	}
	g.record(ctx, c, ActionWorkerAuthorize, obj, audit.OutcomeRaw, audit.PathWorker, nil, nil)
	return nil
}
