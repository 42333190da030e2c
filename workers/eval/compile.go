package eval

import (
	"context"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/workers/plan"
)

// Env is what a compiled expression may depend on besides its input rows: the caller
// (current_user(), is_member()), the keys of the keyed functions, the tables lookups read, and
// the secret that makes dp_noise deterministic.
type Env struct {
	User   string
	Groups []string
	// Keys holds the keys of tokenize, encrypt and fpe_digits; DefaultKey is the key id
	// fpe_digits uses when the policy names none.
	Keys       Keyring
	DefaultKey string
	// Lookups reads the tables of x IN (SELECT ...) filters.
	Lookups LookupSource
	// NoiseSecret seeds dp_noise; at least 16 bytes.
	NoiseSecret []byte
}

// Program is a compiled expression. It is safe for concurrent use; Close releases what its
// lookups hold (their hash sets and the memory reserved for them).
type Program struct {
	root    node
	typ     expr.Type
	lookups []*lookup
}

// node is one compiled expression node. eval returns an array of c.n values in the canonical
// Arrow form of typ() (see arrowOf), allocated from c.mem; the caller releases it.
type node interface {
	eval(c *evalCtx) (arrow.Array, error)
	typ() expr.Type
}

type evalCtx struct {
	ctx  context.Context
	mem  memory.Allocator
	rec  arrow.RecordBatch
	n    int
	pos  plan.Pos
	rows []int64 // the source row number of each row; nil: pos.FirstRow + i
}

func (c *evalCtx) row(i int) int64 {
	if c.rows != nil {
		return c.rows[i]
	}
	return c.pos.FirstRow + int64(i)
}

// Compile compiles a checked expression for records of schema in. Columns are matched by name,
// case-insensitively; each is read as the Hive type Check gave it (converting the file's
// encoding where it differs: any timestamp unit, large or dictionary strings, narrower
// integers). Functions whose arguments are all constant are evaluated here, once.
func Compile(e expr.Expr, in *arrow.Schema, env Env) (*Program, error) {
	if e == nil || e.Type().Kind == expr.Invalid {
		return nil, invalidf("expression is not type-checked (call expr.Check first)")
	}
	c := &compiler{in: in, env: env}
	root, err := c.compile(e)
	if err != nil {
		for _, l := range c.lookups {
			l.close()
		}
		return nil, err
	}
	return &Program{root: root, typ: e.Type(), lookups: c.lookups}, nil
}

// Type is the Hive type of the values Eval returns.
func (p *Program) Type() expr.Type { return p.typ }

// Eval evaluates the program over rec, whose rows start at pos; the result has rec.NumRows()
// values of ArrowType(p.Type()), allocated from mem, and the caller releases it.
func (p *Program) Eval(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, pos plan.Pos) (arrow.Array, error) {
	return p.evalRows(ctx, mem, rec, pos, nil)
}

func (p *Program) evalRows(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, pos plan.Pos, rows []int64) (arrow.Array, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return p.root.eval(&evalCtx{ctx: ctx, mem: mem, rec: rec, n: int(rec.NumRows()), pos: pos, rows: rows})
}

// Close releases the lookups' hash sets and their reserved memory. The program must not be
// used afterwards.
func (p *Program) Close() error {
	for _, l := range p.lookups {
		l.close()
	}
	return nil
}

type compiler struct {
	in      *arrow.Schema
	env     Env
	lookups []*lookup
}

func (c *compiler) compile(e expr.Expr) (node, error) {
	n, err := c.node(e)
	if err != nil {
		return nil, err
	}
	if _, already := n.(*constNode); !already && constant(e) {
		return fold(n)
	}
	return n, nil
}

// constant reports whether e depends on no row: no column, lookup or per-row function.
func constant(e expr.Expr) bool {
	ok := true
	expr.Walk(e, func(x expr.Expr) bool {
		switch x := x.(type) {
		case *expr.Column, *expr.InSelect:
			ok = false
		case *expr.Call:
			ok = x.Name != "dp_noise"
		}
		return ok
	})
	return ok
}

// fold evaluates a constant node once, on one row.
func fold(n node) (node, error) {
	mem := memory.DefaultAllocator
	dt, err := arrowOf(n.typ())
	if err != nil {
		return nil, err
	}
	rec := array.NewRecordBatch(arrow.NewSchema(nil, nil), nil, 1)
	defer rec.Release()
	// No context: a constant reads no table (lookups are never constant).
	a, err := n.eval(&evalCtx{mem: mem, rec: rec, n: 1})
	if err != nil {
		return nil, err
	}
	defer a.Release()
	sc, err := scalar.GetScalar(a, 0)
	if err != nil {
		return nil, err
	}
	if !sc.IsValid() {
		sc = scalar.MakeNullScalar(dt)
	}
	return &constNode{t: n.typ(), sc: sc}, nil
}

func (c *compiler) node(e expr.Expr) (node, error) {
	switch e := e.(type) {
	case *expr.Column:
		return c.column(e)
	case *expr.Literal:
		return literal(e)
	case *expr.UnaryExpr:
		x, err := c.compile(e.X)
		if err != nil {
			return nil, err
		}
		if e.Op == "NOT" {
			return &notNode{x: x}, nil
		}
		return &negNode{x: x, t: e.Type()}, nil
	case *expr.BinaryExpr:
		l, err := c.compile(e.L)
		if err != nil {
			return nil, err
		}
		r, err := c.compile(e.R)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case "AND", "OR":
			return &logicNode{and: e.Op == "AND", l: l, r: r}, nil
		case "=", "<>", "<", "<=", ">", ">=":
			return newCompare(e.Op, l, r)
		case "||":
			return &callNode{t: expr.TString, args: []node{l, r}, fn: concatFn}, nil
		case "+", "-", "*", "/":
			return &arithNode{op: e.Op, l: l, r: r, t: e.Type()}, nil
		}
		return nil, unsupportedf("operator %s", e.Op)
	case *expr.In:
		x, err := c.compile(e.X)
		if err != nil {
			return nil, err
		}
		list := make([]node, len(e.List))
		for i, item := range e.List {
			if list[i], err = c.compile(item); err != nil {
				return nil, err
			}
		}
		return newIn(x, list, e.Not)
	case *expr.Between:
		parts := make([]node, 3)
		for i, x := range []expr.Expr{e.X, e.Lo, e.Hi} {
			var err error
			if parts[i], err = c.compile(x); err != nil {
				return nil, err
			}
		}
		ge, err := newCompare(">=", parts[0], parts[1])
		if err != nil {
			return nil, err
		}
		le, err := newCompare("<=", parts[0], parts[2])
		if err != nil {
			return nil, err
		}
		var n node = &logicNode{and: true, l: ge, r: le}
		if e.Not {
			n = &notNode{x: n}
		}
		return n, nil
	case *expr.IsNull:
		x, err := c.compile(e.X)
		if err != nil {
			return nil, err
		}
		return &isNullNode{x: x, not: e.Not}, nil
	case *expr.Like:
		return c.like(e)
	case *expr.Case:
		cn := &caseNode{t: e.Type()}
		for _, w := range e.Whens {
			cond, err := c.compile(w.Cond)
			if err != nil {
				return nil, err
			}
			then, err := c.compile(w.Then)
			if err != nil {
				return nil, err
			}
			cn.conds = append(cn.conds, cond)
			cn.thens = append(cn.thens, then)
		}
		if e.Else != nil {
			el, err := c.compile(e.Else)
			if err != nil {
				return nil, err
			}
			cn.els = el
		}
		return cn, nil
	case *expr.Cast:
		x, err := c.compile(e.X)
		if err != nil {
			return nil, err
		}
		if err := castable(x.typ(), e.To); err != nil {
			return nil, err
		}
		return &castNode{x: x, to: e.To}, nil
	case *expr.Call:
		return c.call(e)
	case *expr.InSelect:
		return c.inSelect(e)
	}
	return nil, unsupportedf("expression node %T", e)
}

func (c *compiler) column(e *expr.Column) (node, error) {
	if c.in != nil {
		for i, f := range c.in.Fields() {
			if strings.EqualFold(f.Name, e.Name) {
				from, err := hiveOf(f.Type)
				if err != nil {
					return nil, errs.Unsupported("eval: column %q: %w", e.Name, err)
				}
				return &colNode{idx: i, name: e.Name, from: from, t: e.Type()}, nil
			}
		}
	}
	return nil, invalidf("column %q is not in the input", e.Name)
}

func literal(e *expr.Literal) (node, error) {
	t := e.Type()
	dt, err := arrowOf(t)
	if err != nil {
		return nil, err
	}
	var sc scalar.Scalar
	switch e.Kind {
	case expr.LitNull:
		sc = scalar.MakeNullScalar(dt)
	case expr.LitBool:
		sc = scalar.NewBooleanScalar(e.Text == "TRUE")
	case expr.LitString:
		sc = scalar.NewStringScalar(e.Text)
	case expr.LitInt:
		n, err := strconv.ParseInt(e.Text, 10, 64)
		if err != nil {
			return nil, invalidf("integer %s: %v", e.Text, err)
		}
		if t.Kind == expr.Int {
			sc = scalar.NewInt32Scalar(int32(n))
		} else {
			sc = scalar.NewInt64Scalar(n)
		}
	case expr.LitDecimal:
		d, ok := parseDecimal(e.Text, t.Precision, t.Scale)
		if !ok {
			return nil, invalidf("decimal %s does not fit %s", e.Text, t)
		}
		sc = scalar.NewDecimal128Scalar(d, dt)
	default:
		return nil, unsupportedf("literal %s", e)
	}
	return &constNode{t: t, sc: sc}, nil
}

// constNode is a value that is the same on every row.
type constNode struct {
	t  expr.Type
	sc scalar.Scalar
}

func (n *constNode) typ() expr.Type { return n.t }
func (n *constNode) eval(c *evalCtx) (arrow.Array, error) {
	if n.t.Kind == expr.Null {
		return array.NewNull(c.n), nil
	}
	return scalar.MakeArrayFromScalar(n.sc, c.n, c.mem)
}

// colNode reads a column of the input, converted to the canonical form of its Hive type.
type colNode struct {
	idx     int
	name    string
	from, t expr.Type
}

func (n *colNode) typ() expr.Type { return n.t }
func (n *colNode) eval(c *evalCtx) (arrow.Array, error) {
	if n.idx >= int(c.rec.NumCols()) {
		return nil, invalidf("column %q is not in the batch", n.name)
	}
	a, err := canonical(c.mem, c.rec.Column(n.idx))
	if err != nil {
		return nil, errs.Unsupported("eval: column %q: %w", n.name, err)
	}
	defer a.Release()
	if n.from.IsString() && n.t.IsString() {
		// Reading is not casting: a varchar is not truncated, a char is padded to its length
		// (as Spark shows char columns).
		if n.t.Kind == expr.Char {
			return padChar(c.mem, a.(*array.String), n.t.Length, false)
		}
		a.Retain()
		return a, nil
	}
	return castArray(c.mem, a, n.from, n.t)
}
