package node

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/workers/eval"
	"github.com/propolis/propolis/workers/plan"
	"github.com/propolis/propolis/workers/scan"
)

// compile turns a plan into the Transform every batch of the query goes through. The
// expressions are parsed and checked again here, against the same schema the server checked
// them against: the worker trusts the server's decision, not its text.
func compile(spec *plan.Spec, env eval.Env) (plan.Transform, error) {
	types := map[string]string{}
	src := make([]arrow.Field, 0, len(spec.Source))
	for _, f := range spec.Source {
		dt, err := eval.ArrowType(f.Type)
		if err != nil {
			return nil, errs.Unsupported("column %s: %w", f.Name, err)
		}
		types[f.Name] = f.Type
		src = append(src, arrow.Field{Name: f.Name, Type: dt, Nullable: true})
	}
	keys := make([]eval.PartitionKey, 0, len(spec.PartitionKeys))
	for _, f := range spec.PartitionKeys {
		types[f.Name] = f.Type
		keys = append(keys, eval.PartitionKey{Name: f.Name, Type: f.Type})
	}
	check := func(s, what string) (expr.Expr, error) {
		e, err := expr.Parse(s)
		if err != nil {
			return nil, errs.Invalid("%s: %w", what, err)
		}
		if _, err := expr.Check(e, types); err != nil {
			return nil, errs.Invalid("%s: %w", what, err)
		}
		return e, nil
	}
	ts := eval.TransformSpec{Source: arrow.NewSchema(src, nil), Partitions: keys}
	for _, c := range spec.Columns {
		col := eval.OutputColumn{Name: c.Name, Type: c.Type, Source: c.Source}
		if c.Expr != "" {
			e, err := check(c.Expr, "mask of column "+c.Name)
			if err != nil {
				return nil, err
			}
			col.Expr = e
		}
		ts.Columns = append(ts.Columns, col)
	}
	if spec.Filter != "" {
		e, err := check(spec.Filter, "row filter")
		if err != nil {
			return nil, err
		}
		ts.Filter = e
	}
	return eval.NewTransform(ts, env)
}

// lookups reads the tables of a query's lookup filters, raw, from the plan's locations.
type lookups struct {
	n      *Node
	spec   *plan.Spec
	budget *scan.Budget
}

func (l *lookups) Lookup(ctx context.Context, mem memory.Allocator, db, table string, columns []string) (array.RecordReader, error) {
	var lk *plan.Lookup
	for i := range l.spec.Lookups {
		if l.spec.Lookups[i].DB == db && l.spec.Lookups[i].Table == table {
			lk = &l.spec.Lookups[i]
		}
	}
	if lk == nil {
		return nil, errs.Invalid("the plan names no lookup table %s.%s", db, table)
	}
	sub := &plan.Spec{Source: lk.Columns, PartitionKeys: lk.PartitionKeys}
	for _, c := range columns {
		typ := ""
		for _, f := range append(append([]plan.Field{}, lk.Columns...), lk.PartitionKeys...) {
			if f.Name == c {
				typ = f.Type
			}
		}
		if typ == "" {
			return nil, errs.Invalid("lookup table %s.%s has no column %s", db, table, c)
		}
		sub.Columns = append(sub.Columns, plan.Column{Name: c, Type: typ, Source: c})
	}
	tr, err := compile(sub, eval.Env{})
	if err != nil {
		return nil, err
	}
	var files []scan.ObjectInfo
	var parts []map[string]string
	for _, loc := range lk.Locations {
		infos, err := l.n.cfg.Storage.List(ctx, loc.URI)
		if err != nil {
			return nil, err
		}
		for _, info := range infos {
			files = append(files, info)
			parts = append(parts, loc.Partition)
		}
	}
	return &concatReader{ctx: ctx, n: l.n, tr: tr, budget: l.budget, files: files, parts: parts, refs: 1}, nil
}
