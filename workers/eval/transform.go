package eval

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/compute/exec"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/workers/plan"
)

// OutputColumn is one column a worker serves: a source column as it is (Source), or a checked
// expression over source and partition columns (Expr: a mask). Type is the Hive type served;
// the value is converted to it.
type OutputColumn struct {
	Name   string
	Type   string
	Source string
	Expr   expr.Expr
}

// PartitionKey is a Hive partition column: its values come from the file's path (plan.Pos
// Partition) and become constant columns.
type PartitionKey struct {
	Name, Type string
}

// HiveDefaultPartition is the partition value Hive writes for NULL.
const HiveDefaultPartition = "__HIVE_DEFAULT_PARTITION__"

// TransformSpec is what a worker does to a table's files for one caller: the source file
// schema, the columns served, the partition keys, and the row filter (a checked boolean
// expression; a row is kept only when it is TRUE).
type TransformSpec struct {
	Source     *arrow.Schema
	Columns    []OutputColumn
	Partitions []PartitionKey
	Filter     expr.Expr
}

// Transform is the compiled TransformSpec. It implements plan.Transform and io.Closer: Close
// releases the lookups' build sides (and the memory they reserved) once the query is done.
type Transform struct {
	read      []string      // source columns read, in source order
	inSchema  *arrow.Schema // read columns then partition columns: what programs see
	parts     []partition
	filter    *Program
	outs      []output
	outSchema *arrow.Schema
	hasFilter bool
}

type partition struct {
	name string
	t    expr.Type
}

type output struct {
	prog      *Program
	to        expr.Type
	passIndex int      // >= 0: a complex source column served as it is, by index in inSchema
	identity  string   // the source column (as in read) served unchanged; "" when computed
	reads     []string // the source columns (as in read) the value is computed from
}

// NewTransform compiles spec. Unknown columns, types without an Arrow form and unchecked
// expressions are errs.Invalid; see Transform for Close.
func NewTransform(spec TransformSpec, env Env) (plan.Transform, error) {
	t, err := newTransform(spec, env)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func newTransform(spec TransformSpec, env Env) (_ *Transform, err error) {
	if spec.Source == nil {
		return nil, invalidf("transform: no source schema")
	}
	if len(spec.Columns) == 0 {
		return nil, invalidf("transform: no output columns")
	}
	t := &Transform{}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	partTypes := map[string]expr.Type{}
	for _, p := range spec.Partitions {
		pt, err := expr.ParseType(p.Type)
		if err != nil {
			return nil, invalidf("partition key %q: %v", p.Name, err)
		}
		if pt.IsComplex() {
			return nil, invalidf("partition key %q: complex type %s", p.Name, pt)
		}
		name := strings.ToLower(p.Name)
		partTypes[name] = pt
		t.parts = append(t.parts, partition{name: name, t: pt})
	}
	// The source columns needed, by lower-case name.
	needed := map[string]bool{}
	need := func(name string) error {
		name = strings.ToLower(name)
		if _, ok := partTypes[name]; ok {
			return nil
		}
		if fieldIndex(spec.Source, name) < 0 {
			return invalidf("transform: column %q is neither in the source file nor a partition key", name)
		}
		needed[name] = true
		return nil
	}
	for _, c := range spec.Columns {
		switch {
		case c.Expr != nil && c.Source != "":
			return nil, invalidf("transform: column %q has both a source and an expression", c.Name)
		case c.Expr != nil:
			if c.Expr.Type().Kind == expr.Invalid {
				return nil, invalidf("transform: column %q: expression is not type-checked", c.Name)
			}
			for _, n := range expr.Columns(c.Expr) {
				if err := need(n); err != nil {
					return nil, err
				}
			}
		case c.Source != "":
			if err := need(c.Source); err != nil {
				return nil, err
			}
		default:
			return nil, invalidf("transform: column %q has neither a source nor an expression", c.Name)
		}
	}
	if spec.Filter != nil {
		if ft := spec.Filter.Type(); ft.Kind != expr.Boolean && ft.Kind != expr.Null {
			return nil, invalidf("transform: the row filter is %s, not a checked boolean expression", ft)
		}
		for _, n := range expr.Columns(spec.Filter) {
			if err := need(n); err != nil {
				return nil, err
			}
		}
	}
	var fields []arrow.Field
	for _, f := range spec.Source.Fields() {
		if name := strings.ToLower(f.Name); needed[name] && !contains(t.read, f.Name) {
			t.read = append(t.read, f.Name)
			fields = append(fields, arrow.Field{Name: name, Type: f.Type, Nullable: true})
		}
	}
	for _, p := range t.parts {
		dt, err := arrowOf(p.t)
		if err != nil {
			return nil, err
		}
		fields = append(fields, arrow.Field{Name: p.name, Type: dt, Nullable: true})
	}
	t.inSchema = arrow.NewSchema(fields, nil)

	if spec.Filter != nil {
		if t.filter, err = Compile(spec.Filter, t.inSchema, env); err != nil {
			return nil, fmt.Errorf("transform: row filter: %w", err)
		}
	}
	outFields := make([]arrow.Field, len(spec.Columns))
	for i, c := range spec.Columns {
		to, err := expr.ParseType(c.Type)
		if err != nil {
			return nil, invalidf("transform: column %q: %v", c.Name, err)
		}
		dt, err := arrowOf(to)
		if err != nil {
			return nil, invalidf("transform: column %q: %v", c.Name, err)
		}
		o := output{to: to, passIndex: -1}
		e := c.Expr
		if e == nil {
			src := strings.ToLower(c.Source)
			if to.IsComplex() {
				// Served as the file holds it: nested types keep the file's field names.
				o.passIndex = fieldIndex(t.inSchema, src)
				if o.passIndex < 0 {
					return nil, invalidf("transform: column %q: complex partition keys are not supported", c.Name)
				}
				dt = t.inSchema.Field(o.passIndex).Type
			} else {
				e = &expr.Column{Name: src}
				if _, err := expr.Check(e, map[string]string{src: c.Type}); err != nil {
					return nil, err
				}
			}
		}
		if e != nil {
			if o.prog, err = Compile(e, t.inSchema, env); err != nil {
				return nil, fmt.Errorf("transform: column %q: %w", c.Name, err)
			}
			if err := castable(o.prog.Type(), to); err != nil {
				return nil, fmt.Errorf("transform: column %q: %w", c.Name, err)
			}
		}
		o.identity, o.reads = t.sourceOf(c, o, to, dt, partTypes)
		t.outs = append(t.outs, o)
		outFields[i] = arrow.Field{Name: c.Name, Type: dt, Nullable: true}
	}
	t.outSchema = arrow.NewSchema(outFields, nil)
	t.hasFilter = spec.Filter != nil
	return t, nil
}

// sourceOf returns the source column an output column serves unchanged (if any) and the
// source columns it is computed from, spelled as in t.read.
func (t *Transform) sourceOf(c OutputColumn, o output, to expr.Type, dt arrow.DataType, parts map[string]expr.Type) (string, []string) {
	spelled := func(name string) string {
		for _, r := range t.read {
			if strings.EqualFold(r, name) {
				return r
			}
		}
		return ""
	}
	var reads []string
	names := []string{c.Source}
	if c.Expr != nil {
		names = expr.Columns(c.Expr)
	}
	for _, n := range names {
		if r := spelled(n); r != "" && !contains(reads, r) {
			reads = append(reads, r)
		}
	}
	src := strings.ToLower(c.Source)
	if _, part := parts[src]; c.Expr != nil || part || o.prog == nil || len(reads) != 1 {
		return "", reads
	}
	// Only a plain read is the column unchanged: a char is padded, a cast converts, and a
	// different Arrow type would be another Parquet type.
	i := fieldIndex(t.inSchema, src)
	if i < 0 || !o.prog.Type().Equal(to) || to.Kind == expr.Char || !arrow.TypeEqual(t.inSchema.Field(i).Type, dt) {
		return "", reads
	}
	if from, err := hiveOf(t.inSchema.Field(i).Type); err != nil || !from.Equal(to) {
		return "", reads
	}
	return reads[0], reads
}

var _ plan.Passthrough = (*Transform)(nil)

// Identity reports the output columns that are source columns unchanged (see
// plan.Passthrough); filters is true whenever the Transform has a row filter.
func (t *Transform) Identity() (filters bool, cols map[int]string) {
	cols = map[int]string{}
	for i, o := range t.outs {
		if o.identity != "" {
			cols[i] = o.identity
		}
	}
	return t.hasFilter, cols
}

// Reads returns the source columns the given output columns are computed from.
func (t *Transform) Reads(outputs []int) []string {
	var out []string
	for _, i := range outputs {
		if i < 0 || i >= len(t.outs) {
			continue
		}
		for _, r := range t.outs[i].reads {
			if !contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fieldIndex(s *arrow.Schema, name string) int {
	for i, f := range s.Fields() {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}

// Columns are the source file's columns Apply reads (spelled as in the source schema).
func (t *Transform) Columns() []string { return append([]string(nil), t.read...) }

// Schema is the schema of every record Apply returns.
func (t *Transform) Schema() *arrow.Schema { return t.outSchema }

// Close releases the lookup build sides. The Transform must not be used afterwards.
func (t *Transform) Close() error {
	if t.filter != nil {
		t.filter.Close()
	}
	for _, o := range t.outs {
		if o.prog != nil {
			o.prog.Close()
		}
	}
	return nil
}

// Apply filters rec, then computes the output columns over the rows kept. Row numbers (for
// dp_noise) are those of the source file, whatever the filter removed.
func (t *Transform) Apply(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, pos plan.Pos) (arrow.RecordBatch, error) {
	in, err := t.input(mem, rec, pos)
	if err != nil {
		return nil, err
	}
	var rows []int64
	if t.filter != nil {
		kept, idx, err := t.applyFilter(ctx, mem, in, pos)
		in.Release()
		if err != nil {
			return nil, err
		}
		in, rows = kept, idx
	}
	defer in.Release()
	cols := make([]arrow.Array, len(t.outs))
	for i, o := range t.outs {
		if o.passIndex >= 0 {
			cols[i] = in.Column(o.passIndex)
			cols[i].Retain()
			continue
		}
		a, err := o.prog.evalRows(ctx, mem, in, pos, rows)
		if err != nil {
			releaseAll(cols)
			return nil, fmt.Errorf("column %q: %w", t.outSchema.Field(i).Name, err)
		}
		if !o.prog.Type().Equal(o.to) {
			c, err := castArray(mem, a, o.prog.Type(), o.to)
			a.Release()
			if err != nil {
				releaseAll(cols)
				return nil, err
			}
			a = c
		}
		cols[i] = a
	}
	defer releaseAll(cols)
	return array.NewRecordBatch(t.outSchema, cols, in.NumRows()), nil
}

// input is rec's columns that programs read, in inSchema's order, plus the partition columns.
func (t *Transform) input(mem memory.Allocator, rec arrow.RecordBatch, pos plan.Pos) (arrow.RecordBatch, error) {
	n := int(rec.NumRows())
	cols := make([]arrow.Array, 0, len(t.inSchema.Fields()))
	fail := func(err error) (arrow.RecordBatch, error) {
		releaseAll(cols)
		return nil, err
	}
	for _, name := range t.read {
		i := fieldIndex(rec.Schema(), name)
		if i < 0 {
			return fail(invalidf("the batch has no column %q", name))
		}
		c := rec.Column(i)
		c.Retain()
		cols = append(cols, c)
	}
	for _, p := range t.parts {
		v, ok := pos.Partition[p.name]
		if !ok {
			for k, val := range pos.Partition {
				if strings.EqualFold(k, p.name) {
					v, ok = val, true
				}
			}
		}
		if !ok {
			return fail(errs.Invalid("eval: the file has no value for partition key %q", p.name))
		}
		var a arrow.Array
		if v == HiveDefaultPartition {
			dt, _ := arrowOf(p.t)
			a = array.MakeArrayOfNull(mem, dt, n)
		} else {
			s, err := scalar.MakeArrayFromScalar(scalar.NewStringScalar(v), n, mem)
			if err != nil {
				return fail(err)
			}
			a, err = castArray(mem, s, expr.TString, p.t)
			s.Release()
			if err != nil {
				return fail(err)
			}
		}
		cols = append(cols, a)
	}
	defer releaseAll(cols)
	return array.NewRecordBatch(t.inSchema, cols, int64(n)), nil
}

func (t *Transform) applyFilter(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch, pos plan.Pos) (arrow.RecordBatch, []int64, error) {
	f, err := t.filter.Eval(ctx, mem, in, pos)
	if err != nil {
		return nil, nil, fmt.Errorf("row filter: %w", err)
	}
	defer f.Release()
	n := int(in.NumRows())
	b, _ := f.(*array.Boolean)
	var idx []int64
	for i := 0; i < n; i++ {
		if b != nil && b.IsValid(i) && b.Value(i) {
			idx = append(idx, int64(i))
		}
	}
	rows := make([]int64, len(idx))
	for k, i := range idx {
		rows[k] = pos.FirstRow + i
	}
	if len(idx) == n {
		in.Retain()
		return in, nil, nil
	}
	ib := array.NewInt64Builder(mem)
	ib.AppendValues(idx, nil)
	indices := ib.NewArray()
	ib.Release()
	defer indices.Release()
	cctx := exec.WithAllocator(ctx, mem)
	cols := make([]arrow.Array, in.NumCols())
	for i := range cols {
		if cols[i], err = compute.TakeArray(cctx, in.Column(i), indices); err != nil {
			releaseAll(cols)
			return nil, nil, err
		}
	}
	defer releaseAll(cols)
	return array.NewRecordBatch(in.Schema(), cols, int64(len(idx))), rows, nil
}

var _ plan.SourceTyper = (*Transform)(nil)

// SourceType is the type the Transform reads column as, for files that lack it (Hive schema
// evolution: those rows read NULL).
func (t *Transform) SourceType(column string) (arrow.DataType, bool) {
	i := fieldIndex(t.inSchema, strings.ToLower(column))
	if i < 0 {
		return nil, false
	}
	return t.inSchema.Field(i).Type, true
}
