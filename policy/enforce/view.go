package enforce

import (
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy"
	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/presto"
)

// Storage of the views Hive writes for CREATE VIEW: no location, the sequence-file formats as
// placeholders, no serde library.
const (
	hiveViewInputFormat  = "org.apache.hadoop.mapred.SequenceFileInputFormat"
	hiveViewOutputFormat = "org.apache.hadoop.hive.ql.io.HiveSequenceFileOutputFormat"
)

// viewColumn is one output column of a policy view: its SQL in the view's dialect and the
// type it has there (the mask's type for masked columns, which may differ from the table's).
type viewColumn struct {
	name    string
	sql     string // select-list item, without the alias
	masked  bool
	hive    string // Hive type string
	trinoTy string // Trino type signature
}

// plan is a restricted decision rendered for one dialect and one caller.
type plan struct {
	cols   []viewColumn
	filter string // rendered row filter, "" for none
}

// tableColumns lists t's data columns then its partition keys, as engines show them.
func tableColumns(t *hm.Table) []*hm.FieldSchema {
	var cols []*hm.FieldSchema
	if t.Sd != nil {
		cols = append(cols, t.Sd.Cols...)
	}
	return append(cols, t.PartitionKeys...)
}

// tableRef is the policy's view of t: lower-case names, data columns then partition keys.
func tableRef(t *hm.Table) policy.TableRef {
	ref := policy.TableRef{DB: strings.ToLower(t.DbName), Table: strings.ToLower(t.TableName)}
	for _, c := range tableColumns(t) {
		if c == nil {
			continue
		}
		ref.Columns = append(ref.Columns, policy.Column{Name: strings.ToLower(c.Name), Type: c.Type})
	}
	return ref
}

// errWorker marks a decision that only the worker path can enforce.
type workerError struct{ err error }

func (e *workerError) Error() string { return e.err.Error() }
func (e *workerError) Unwrap() error { return e.err }

// buildPlan renders d's masks and row filter over ref's columns in dialect dl for env. A mask
// or filter the dialect cannot evaluate is a *workerError; a broken one is errs.Invalid.
func buildPlan(ref policy.TableRef, d policy.Decision, dl expr.Dialect, env expr.RenderEnv) (*plan, error) {
	hidden, masks := columnRules(d)
	types := make(map[string]string, len(ref.Columns))
	p := &plan{}
	for _, c := range ref.Columns {
		types[c.Name] = c.Type
		if hidden[c.Name] {
			continue
		}
		vc := viewColumn{name: c.Name, sql: quoteIdent(dl, c.Name), hive: c.Type}
		if spec, ok := masks[c.Name]; ok {
			e, err := expr.Mask(spec, c.Name, c.Type)
			if err != nil {
				return nil, err
			}
			s, err := render(e, dl, env, "mask "+spec+" on column "+c.Name)
			if err != nil {
				return nil, err
			}
			vc.sql, vc.masked, vc.hive = s, true, e.Type().String()
		}
		t, err := expr.ParseType(vc.hive)
		if err != nil {
			return nil, errs.Invalid("column %s: %w", c.Name, err)
		}
		vc.trinoTy = t.TrinoName()
		p.cols = append(p.cols, vc)
	}
	for c := range masks {
		if _, ok := types[c]; !ok {
			return nil, errs.Invalid("mask on column %s, which the table does not have", c)
		}
	}
	if len(p.cols) == 0 {
		return nil, errs.Invalid("every column is hidden")
	}
	if strings.TrimSpace(d.RowFilter) != "" {
		e, err := expr.Parse(d.RowFilter)
		if err != nil {
			return nil, errs.Invalid("row filter: %w", err)
		}
		t, err := expr.Check(e, types)
		if err != nil {
			return nil, errs.Invalid("row filter: %w", err)
		}
		if t.Kind != expr.Boolean {
			return nil, errs.Invalid("row filter is %s, not boolean", t)
		}
		if p.filter, err = render(e, dl, env, "row filter"); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// columnRules is d's hidden columns and masks by lower-case column name.
func columnRules(d policy.Decision) (hidden map[string]bool, masks map[string]string) {
	hidden = make(map[string]bool, len(d.HiddenColumns))
	for _, c := range d.HiddenColumns {
		hidden[strings.ToLower(c)] = true
	}
	masks = make(map[string]string, len(d.Masks))
	for c, spec := range d.Masks {
		masks[strings.ToLower(c)] = spec
	}
	return hidden, masks
}

// render renders a checked expression, reporting a non-native one as a *workerError.
func render(e expr.Expr, dl expr.Dialect, env expr.RenderEnv, what string) (string, error) {
	if expr.NeedsWorker(e, dl) {
		return "", &workerError{errs.Unsupported("%s is not native in %s", what, dl)}
	}
	s, err := expr.Render(e, dl, env)
	if errs.KindOf(err) == errs.KindUnsupported {
		return "", &workerError{err}
	}
	return s, err
}

// selectSQL is the view's query: the visible columns (masked ones under their own names)
// from the fully qualified source, filtered.
func (p *plan) selectSQL(dl expr.Dialect, from ...string) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range p.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.sql)
		if c.masked {
			b.WriteString(" AS ")
			b.WriteString(quoteIdent(dl, c.name))
		}
	}
	b.WriteString(" FROM ")
	for i, n := range from {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(quoteIdent(dl, n))
	}
	if p.filter != "" {
		b.WriteString(" WHERE ")
		b.WriteString(p.filter)
	}
	return b.String()
}

func quoteIdent(dl expr.Dialect, s string) string {
	if dl == expr.Trino {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// trinoView is the definer view Trino receives in place of t: it keeps t's name, reads the raw
// table through catalog under the caller's raw-table alias, and declares the masked types.
// Trino's Hive connector makes every metastore call of a query with the identity that started
// it, also while expanding a definer view, so the raw table must resolve for that caller: the
// alias is issued to the caller on this profile only, and the view's owner is the Propolis
// service principal, so Trino's own access control (definer rights) decides who may read the
// alias directly (deny names matching .*__raw_.* to everyone but the service principal).
func trinoView(t *hm.Table, p *plan, catalog, owner, alias string) (*hm.Table, error) {
	db := strings.ToLower(t.DbName)
	v := presto.View{
		OriginalSQL:  p.selectSQL(expr.Trino, catalog, db, alias),
		Catalog:      catalog,
		Schema:       db,
		Owner:        owner,
		RunAsInvoker: false,
	}
	for _, c := range p.cols {
		v.Columns = append(v.Columns, presto.Column{Name: c.name, Type: c.trinoTy})
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	vt := presto.ViewTable(t.DbName, t.TableName, v)
	vt.CreateTime = t.CreateTime
	return vt, nil
}

// hiveView is the Hive/Spark view served in place of t: same name, fully qualified text over
// the caller's raw-table alias, the visible columns with the types the view produces, no
// storage, and none of Spark's schema properties (so Spark reads the schema from the columns
// and matches them to the query by position, as for any Hive-created view).
func hiveView(t *hm.Table, p *plan, alias string) *hm.Table {
	text := p.selectSQL(expr.Hive, strings.ToLower(t.DbName), alias)
	cols := make([]*hm.FieldSchema, len(p.cols))
	for i, c := range p.cols {
		cols[i] = &hm.FieldSchema{Name: c.name, Type: c.hive}
	}
	params := map[string]string{}
	if c, ok := t.Parameters["comment"]; ok {
		params["comment"] = c
	}
	in, out := hiveViewInputFormat, hiveViewOutputFormat
	return &hm.Table{
		DbName:     t.DbName,
		TableName:  t.TableName,
		Owner:      t.Owner,
		OwnerType:  t.OwnerType,
		CreateTime: t.CreateTime,
		TableType:  "VIRTUAL_VIEW",
		Sd: &hm.StorageDescriptor{
			Cols:         cols,
			InputFormat:  in,
			OutputFormat: out,
			NumBuckets:   -1,
			SerdeInfo:    &hm.SerDeInfo{Parameters: map[string]string{}},
			BucketCols:   []string{},
			SortCols:     []*hm.Order{},
			Parameters:   map[string]string{},
		},
		PartitionKeys:    []*hm.FieldSchema{},
		Parameters:       params,
		ViewOriginalText: text,
		ViewExpandedText: text,
		CatName:          t.CatName,
	}
}
