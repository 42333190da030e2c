package eval

import (
	"bytes"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/propolis/propolis/policy/expr"
)

// evalAs evaluates n and casts the result to t (for operands computed in a common type).
func evalAs(c *evalCtx, n node, t expr.Type) (arrow.Array, error) {
	a, err := n.eval(c)
	if err != nil {
		return nil, err
	}
	if sameRepr(n.typ(), t) {
		return a, nil
	}
	defer a.Release()
	return castArray(c.mem, a, n.typ(), t)
}

// sameRepr reports whether values of a are already valid values of b, with no conversion.
func sameRepr(a, b expr.Type) bool {
	if a.IsString() && (b.Kind == expr.String || b.Kind == a.Kind && b.Length == a.Length) {
		return true
	}
	return a.Equal(b)
}

func releaseAll(as []arrow.Array) {
	for _, a := range as {
		if a != nil {
			a.Release()
		}
	}
}

// commonType mirrors the checker's rule: the type both sides convert to for comparison.
func commonType(a, b expr.Type) (expr.Type, bool) {
	switch {
	case a.Kind == expr.Null:
		return b, true
	case b.Kind == expr.Null:
		return a, true
	case a.Equal(b):
		return a, true
	case a.IsString() && b.IsString():
		return expr.TString, true
	case a.IsDatetime() && b.IsDatetime():
		return expr.TTimestamp, true
	case a.IsNumeric() && b.IsNumeric():
		return widenType(a, b), true
	}
	return expr.Type{}, false
}

func widenType(a, b expr.Type) expr.Type {
	if a.Kind == expr.Double || b.Kind == expr.Double || a.Kind == expr.Float || b.Kind == expr.Float {
		if a.Kind == expr.Float && b.Kind == expr.Float {
			return a
		}
		return expr.TDouble
	}
	if a.IsInteger() && b.IsInteger() {
		if a.Kind > b.Kind {
			return a
		}
		return b
	}
	da, db := asDecimalType(a), asDecimalType(b)
	scale := max(da.Scale, db.Scale)
	whole := max(da.Precision-da.Scale, db.Precision-db.Scale)
	return expr.Type{Kind: expr.Decimal, Precision: min(38, whole+scale), Scale: scale}
}

func asDecimalType(t expr.Type) expr.Type {
	switch t.Kind {
	case expr.TinyInt:
		return expr.Type{Kind: expr.Decimal, Precision: 3}
	case expr.SmallInt:
		return expr.Type{Kind: expr.Decimal, Precision: 5}
	case expr.Int:
		return expr.Type{Kind: expr.Decimal, Precision: 10}
	case expr.BigInt:
		return expr.Type{Kind: expr.Decimal, Precision: 19}
	}
	return t
}

// --- booleans ---------------------------------------------------------------------------

type notNode struct{ x node }

func (n *notNode) typ() expr.Type { return expr.TBoolean }
func (n *notNode) eval(c *evalCtx) (arrow.Array, error) {
	a, err := evalAs(c, n.x, expr.TBoolean)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	b := a.(*array.Boolean)
	out := array.NewBooleanBuilder(c.mem)
	defer out.Release()
	out.Reserve(c.n)
	for i := 0; i < c.n; i++ {
		if b.IsNull(i) {
			out.UnsafeAppendBoolToBitmap(false)
		} else {
			out.UnsafeAppend(!b.Value(i))
		}
	}
	return out.NewArray(), nil
}

type logicNode struct {
	and  bool
	l, r node
}

func (n *logicNode) typ() expr.Type { return expr.TBoolean }
func (n *logicNode) eval(c *evalCtx) (arrow.Array, error) {
	la, err := evalAs(c, n.l, expr.TBoolean)
	if err != nil {
		return nil, err
	}
	defer la.Release()
	ra, err := evalAs(c, n.r, expr.TBoolean)
	if err != nil {
		return nil, err
	}
	defer ra.Release()
	l, r := la.(*array.Boolean), ra.(*array.Boolean)
	out := array.NewBooleanBuilder(c.mem)
	defer out.Release()
	out.Reserve(c.n)
	// Kleene logic: FALSE AND NULL is FALSE, TRUE OR NULL is TRUE.
	decisive := !n.and
	for i := 0; i < c.n; i++ {
		ln, rn := l.IsNull(i), r.IsNull(i)
		switch {
		case !ln && l.Value(i) == decisive, !rn && r.Value(i) == decisive:
			out.UnsafeAppend(decisive)
		case ln || rn:
			out.UnsafeAppendBoolToBitmap(false)
		default:
			out.UnsafeAppend(!decisive)
		}
	}
	return out.NewArray(), nil
}

type isNullNode struct {
	x   node
	not bool
}

func (n *isNullNode) typ() expr.Type { return expr.TBoolean }
func (n *isNullNode) eval(c *evalCtx) (arrow.Array, error) {
	a, err := n.x.eval(c)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	out := array.NewBooleanBuilder(c.mem)
	defer out.Release()
	out.Reserve(c.n)
	for i := 0; i < c.n; i++ {
		out.UnsafeAppend(a.IsNull(i) != n.not)
	}
	return out.NewArray(), nil
}

// --- comparison -------------------------------------------------------------------------

type compareNode struct {
	op   string
	l, r node
	t    expr.Type // compared as
}

func newCompare(op string, l, r node) (node, error) {
	t, ok := commonType(l.typ(), r.typ())
	if !ok {
		return nil, invalidf("cannot compare %s with %s", l.typ(), r.typ())
	}
	return &compareNode{op: op, l: l, r: r, t: t}, nil
}

func (n *compareNode) typ() expr.Type { return expr.TBoolean }
func (n *compareNode) eval(c *evalCtx) (arrow.Array, error) {
	la, err := evalAs(c, n.l, n.t)
	if err != nil {
		return nil, err
	}
	defer la.Release()
	ra, err := evalAs(c, n.r, n.t)
	if err != nil {
		return nil, err
	}
	defer ra.Release()
	out := array.NewBooleanBuilder(c.mem)
	defer out.Release()
	out.Reserve(c.n)
	if n.t.Kind == expr.Null {
		for i := 0; i < c.n; i++ {
			out.UnsafeAppendBoolToBitmap(false)
		}
		return out.NewArray(), nil
	}
	cmp, err := comparer(la, ra)
	if err != nil {
		return nil, err
	}
	test := opTest(n.op)
	for i := 0; i < c.n; i++ {
		if la.IsNull(i) || ra.IsNull(i) {
			out.UnsafeAppendBoolToBitmap(false)
			continue
		}
		out.UnsafeAppend(test(cmp(i)))
	}
	return out.NewArray(), nil
}

func opTest(op string) func(int) bool {
	switch op {
	case "=":
		return func(c int) bool { return c == 0 }
	case "<>":
		return func(c int) bool { return c != 0 }
	case "<":
		return func(c int) bool { return c < 0 }
	case "<=":
		return func(c int) bool { return c <= 0 }
	case ">":
		return func(c int) bool { return c > 0 }
	}
	return func(c int) bool { return c >= 0 }
}

func ordered[T int8 | int16 | int32 | int64 | arrow.Date32 | arrow.Timestamp](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// floatCmp orders as Spark does: NaN equals NaN and is greater than every other value, and
// -0.0 equals 0.0.
func floatCmp(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// comparer returns a function ordering row i of a against row i of b (same canonical type).
func comparer(a, b arrow.Array) (func(int) int, error) {
	switch a := a.(type) {
	case *array.Boolean:
		b := b.(*array.Boolean)
		return func(i int) int {
			x, y := a.Value(i), b.Value(i)
			switch {
			case x == y:
				return 0
			case y:
				return -1
			}
			return 1
		}, nil
	case *array.Int8:
		x, y := a.Int8Values(), b.(*array.Int8).Int8Values()
		return func(i int) int { return ordered(x[i], y[i]) }, nil
	case *array.Int16:
		x, y := a.Int16Values(), b.(*array.Int16).Int16Values()
		return func(i int) int { return ordered(x[i], y[i]) }, nil
	case *array.Int32:
		x, y := a.Int32Values(), b.(*array.Int32).Int32Values()
		return func(i int) int { return ordered(x[i], y[i]) }, nil
	case *array.Int64:
		x, y := a.Int64Values(), b.(*array.Int64).Int64Values()
		return func(i int) int { return ordered(x[i], y[i]) }, nil
	case *array.Float32:
		x, y := a.Float32Values(), b.(*array.Float32).Float32Values()
		return func(i int) int { return floatCmp(float64(x[i]), float64(y[i])) }, nil
	case *array.Float64:
		x, y := a.Float64Values(), b.(*array.Float64).Float64Values()
		return func(i int) int { return floatCmp(x[i], y[i]) }, nil
	case *array.Decimal128:
		x, y := a.Values(), b.(*array.Decimal128).Values()
		return func(i int) int { return x[i].Cmp(y[i]) }, nil
	case *array.Date32:
		x, y := a.Date32Values(), b.(*array.Date32).Date32Values()
		return func(i int) int { return ordered(x[i], y[i]) }, nil
	case *array.Timestamp:
		x, y := a.TimestampValues(), b.(*array.Timestamp).TimestampValues()
		return func(i int) int { return ordered(x[i], y[i]) }, nil
	case *array.String:
		b := b.(*array.String)
		return func(i int) int { return strings.Compare(a.Value(i), b.Value(i)) }, nil
	case *array.Binary:
		b := b.(*array.Binary)
		return func(i int) int { return bytes.Compare(a.Value(i), b.Value(i)) }, nil
	}
	return nil, unsupportedf("comparison of %s values", a.DataType())
}

// --- IN list ----------------------------------------------------------------------------

type inNode struct {
	x    node
	list []node
	not  bool
	t    expr.Type
}

func newIn(x node, list []node, not bool) (node, error) {
	t := x.typ()
	for _, item := range list {
		var ok bool
		if t, ok = commonType(t, item.typ()); !ok {
			return nil, invalidf("cannot compare %s with %s", x.typ(), item.typ())
		}
	}
	return &inNode{x: x, list: list, not: not, t: t}, nil
}

func (n *inNode) typ() expr.Type { return expr.TBoolean }

// eval: TRUE when x equals an item; otherwise NULL when x or an item is NULL; else FALSE.
func (n *inNode) eval(c *evalCtx) (arrow.Array, error) {
	out := array.NewBooleanBuilder(c.mem)
	defer out.Release()
	out.Reserve(c.n)
	if n.t.Kind == expr.Null {
		for i := 0; i < c.n; i++ {
			out.UnsafeAppendBoolToBitmap(false)
		}
		return out.NewArray(), nil
	}
	xa, err := evalAs(c, n.x, n.t)
	if err != nil {
		return nil, err
	}
	defer xa.Release()
	found := make([]bool, c.n)
	sawNull := make([]bool, c.n)
	for _, item := range n.list {
		ia, err := evalAs(c, item, n.t)
		if err != nil {
			return nil, err
		}
		cmp, err := comparer(xa, ia)
		if err != nil {
			ia.Release()
			return nil, err
		}
		for i := 0; i < c.n; i++ {
			switch {
			case found[i]:
			case ia.IsNull(i) || xa.IsNull(i):
				sawNull[i] = true
			case cmp(i) == 0:
				found[i] = true
			}
		}
		ia.Release()
	}
	for i := 0; i < c.n; i++ {
		switch {
		case found[i]:
			out.UnsafeAppend(!n.not)
		case sawNull[i] || xa.IsNull(i):
			out.UnsafeAppendBoolToBitmap(false)
		default:
			out.UnsafeAppend(n.not)
		}
	}
	return out.NewArray(), nil
}

// --- CASE -------------------------------------------------------------------------------

type caseNode struct {
	t     expr.Type
	conds []node
	thens []node
	els   node
}

func (n *caseNode) typ() expr.Type { return n.t }

// eval evaluates every branch over the whole batch and picks per row: the expressions have no
// side effects (errors such as division by zero are NULL, as in Spark), so this is exact.
func (n *caseNode) eval(c *evalCtx) (arrow.Array, error) {
	choice := make([]int32, c.n)
	for i := range choice {
		choice[i] = -1
	}
	for k, cond := range n.conds {
		a, err := evalAs(c, cond, expr.TBoolean)
		if err != nil {
			return nil, err
		}
		b := a.(*array.Boolean)
		for i := 0; i < c.n; i++ {
			if choice[i] < 0 && b.IsValid(i) && b.Value(i) {
				choice[i] = int32(k)
			}
		}
		a.Release()
	}
	srcs := make([]arrow.Array, len(n.thens)+1)
	defer releaseAll(srcs)
	for k, then := range n.thens {
		var err error
		if srcs[k], err = evalAs(c, then, n.t); err != nil {
			return nil, err
		}
	}
	if n.els != nil {
		var err error
		if srcs[len(n.thens)], err = evalAs(c, n.els, n.t); err != nil {
			return nil, err
		}
		for i := range choice {
			if choice[i] < 0 {
				choice[i] = int32(len(n.thens))
			}
		}
	}
	return pick(c.mem, n.t, srcs, choice)
}

// pick builds an array of type t whose row i is row i of srcs[choice[i]] (NULL for -1).
func pick(mem memory.Allocator, t expr.Type, srcs []arrow.Array, choice []int32) (arrow.Array, error) {
	dt, err := arrowOf(t)
	if err != nil {
		return nil, err
	}
	if t.Kind == expr.Null || t.IsComplex() {
		return array.MakeArrayOfNull(mem, dt, len(choice)), nil
	}
	bld := array.NewBuilder(mem, dt)
	defer bld.Release()
	bld.Reserve(len(choice))
	switch b := bld.(type) {
	case *array.BooleanBuilder:
		pickInto(b, srcs, choice, (*array.Boolean).Value)
	case *array.Int8Builder:
		pickInto(b, srcs, choice, (*array.Int8).Value)
	case *array.Int16Builder:
		pickInto(b, srcs, choice, (*array.Int16).Value)
	case *array.Int32Builder:
		pickInto(b, srcs, choice, (*array.Int32).Value)
	case *array.Int64Builder:
		pickInto(b, srcs, choice, (*array.Int64).Value)
	case *array.Float32Builder:
		pickInto(b, srcs, choice, (*array.Float32).Value)
	case *array.Float64Builder:
		pickInto(b, srcs, choice, (*array.Float64).Value)
	case *array.Decimal128Builder:
		pickInto(b, srcs, choice, (*array.Decimal128).Value)
	case *array.Date32Builder:
		pickInto(b, srcs, choice, (*array.Date32).Value)
	case *array.TimestampBuilder:
		pickInto(b, srcs, choice, (*array.Timestamp).Value)
	case *array.StringBuilder:
		pickInto(b, srcs, choice, (*array.String).Value)
	case *array.BinaryBuilder:
		pickInto(b, srcs, choice, (*array.Binary).Value)
	default:
		return nil, unsupportedf("CASE over %s values", t)
	}
	return bld.NewArray(), nil
}

type appender[T any] interface {
	Append(T)
	AppendNull()
}

func pickInto[T any, A arrow.Array, B appender[T]](b B, srcs []arrow.Array, choice []int32, value func(A, int) T) {
	for i, k := range choice {
		if k < 0 || srcs[k] == nil || srcs[k].IsNull(i) {
			b.AppendNull()
			continue
		}
		b.Append(value(srcs[k].(A), i))
	}
}

// --- arithmetic -------------------------------------------------------------------------

type negNode struct {
	x node
	t expr.Type
}

func (n *negNode) typ() expr.Type { return n.t }
func (n *negNode) eval(c *evalCtx) (arrow.Array, error) {
	a, err := evalAs(c, n.x, n.t)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	if f, ok := a.(*array.Float64); ok {
		// Negation, not 0 - x: -(0.0) is -0.0.
		b := array.NewFloat64Builder(c.mem)
		defer b.Release()
		b.Reserve(c.n)
		for i := 0; i < c.n; i++ {
			if f.IsNull(i) {
				b.UnsafeAppendBoolToBitmap(false)
			} else {
				b.UnsafeAppend(-f.Value(i))
			}
		}
		return b.NewArray(), nil
	}
	zero, err := zeroArray(c.mem, n.t, c.n)
	if err != nil {
		return nil, err
	}
	defer zero.Release()
	return arith(c.mem, "-", zero, a, n.t, c.n)
}

func zeroArray(mem memory.Allocator, t expr.Type, n int) (arrow.Array, error) {
	dt, err := arrowOf(t)
	if err != nil {
		return nil, err
	}
	if t.Kind == expr.Null {
		return array.NewNull(n), nil
	}
	bld := array.NewBuilder(mem, dt)
	defer bld.Release()
	bld.Reserve(n)
	for i := 0; i < n; i++ {
		switch b := bld.(type) {
		case *array.Int64Builder:
			b.Append(0)
		case *array.Float32Builder:
			b.Append(0)
		case *array.Float64Builder:
			b.Append(0)
		case *array.Decimal128Builder:
			b.Append(decimal128.Num{})
		default:
			return nil, unsupportedf("negation of %s", t)
		}
	}
	return bld.NewArray(), nil
}

type arithNode struct {
	op   string
	l, r node
	t    expr.Type
}

func (n *arithNode) typ() expr.Type { return n.t }
func (n *arithNode) eval(c *evalCtx) (arrow.Array, error) {
	if n.inFloat() {
		return n.evalFloat(c)
	}
	la, err := evalAs(c, n.l, n.t)
	if err != nil {
		return nil, err
	}
	defer la.Release()
	ra, err := evalAs(c, n.r, n.t)
	if err != nil {
		return nil, err
	}
	defer ra.Release()
	return arith(c.mem, n.op, la, ra, n.t, c.n)
}

// arith computes l op r in type t (both operands already of t). Integers wrap on overflow (Spark's
// non-ANSI behaviour), a decimal result that does not fit t is NULL (as in Spark), and division
// (always in double) by zero is NULL (as in Spark).
func arith(mem memory.Allocator, op string, l, r arrow.Array, t expr.Type, n int) (arrow.Array, error) {
	if t.Kind == expr.Null {
		return array.NewNull(n), nil
	}
	switch l := l.(type) {
	case *array.Int64:
		x, y := l.Int64Values(), r.(*array.Int64).Int64Values()
		b := array.NewInt64Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if l.IsNull(i) || r.IsNull(i) {
				b.UnsafeAppendBoolToBitmap(false)
				continue
			}
			switch op {
			case "+":
				b.UnsafeAppend(x[i] + y[i])
			case "-":
				b.UnsafeAppend(x[i] - y[i])
			default:
				b.UnsafeAppend(x[i] * y[i])
			}
		}
		return b.NewArray(), nil
	case *array.Float64:
		x, y := l.Float64Values(), r.(*array.Float64).Float64Values()
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if l.IsNull(i) || r.IsNull(i) || op == "/" && y[i] == 0 {
				b.UnsafeAppendBoolToBitmap(false)
				continue
			}
			b.UnsafeAppend(floatOp(op, x[i], y[i]))
		}
		return b.NewArray(), nil
	case *array.Float32:
		x, y := l.Float32Values(), r.(*array.Float32).Float32Values()
		b := array.NewFloat32Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if l.IsNull(i) || r.IsNull(i) {
				b.UnsafeAppendBoolToBitmap(false)
				continue
			}
			b.UnsafeAppend(float32op(op, x[i], y[i]))
		}
		return b.NewArray(), nil
	case *array.Decimal128:
		x, y := l.Values(), r.(*array.Decimal128).Values()
		dt, _ := arrowOf(t)
		b := array.NewDecimal128Builder(mem, dt.(*arrow.Decimal128Type))
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if l.IsNull(i) || r.IsNull(i) {
				b.AppendNull()
				continue
			}
			var v decimal128.Num
			switch op {
			case "+":
				v = x[i].Add(y[i])
			case "-":
				v = x[i].Sub(y[i])
			default:
				p := new(big.Int).Mul(x[i].BigInt(), y[i].BigInt())
				p = roundHalfUp(p, t.Scale)
				if p.BitLen() > 126 {
					b.AppendNull()
					continue
				}
				v = decimal128.FromBigInt(p)
			}
			if !v.FitsInPrecision(int32(t.Precision)) {
				b.AppendNull()
				continue
			}
			b.Append(v)
		}
		return b.NewArray(), nil
	}
	return nil, unsupportedf("arithmetic on %s", t)
}

func floatOp(op string, x, y float64) float64 {
	switch op {
	case "+":
		return x + y
	case "-":
		return x - y
	case "*":
		return x * y
	}
	return x / y
}

func float32op(op string, x, y float32) float32 {
	switch op {
	case "+":
		return x + y
	case "-":
		return x - y
	}
	return x * y
}

var bigTen = big.NewInt(10)

func pow10(n int) *big.Int { return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil) }

// roundHalfUp divides v by 10^digits, rounding half away from zero (Java's HALF_UP).
func roundHalfUp(v *big.Int, digits int) *big.Int {
	if digits <= 0 {
		return new(big.Int).Mul(v, pow10(-digits))
	}
	d := pow10(digits)
	q, r := new(big.Int).QuoRem(v, d, new(big.Int))
	r.Abs(r).Mul(r, big.NewInt(2))
	if r.Cmp(d) >= 0 {
		if v.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// inFloat: float with float or an integer is computed in float by Spark (real in Trino), though
// the checker types it double; the worker computes in float too and widens the result through
// its shortest text, so 0.1f + 1 is 1.1 as Spark prints it.
func (n *arithNode) inFloat() bool {
	l, r := n.l.typ(), n.r.typ()
	fl := func(t expr.Type) bool { return t.Kind == expr.Float }
	ok := func(t expr.Type) bool { return t.Kind == expr.Float || t.IsInteger() || t.Kind == expr.Null }
	return n.op != "/" && n.t.Kind == expr.Double && (fl(l) || fl(r)) && ok(l) && ok(r)
}

func (n *arithNode) evalFloat(c *evalCtx) (arrow.Array, error) {
	f32 := expr.Type{Kind: expr.Float}
	la, err := evalAs(c, n.l, f32)
	if err != nil {
		return nil, err
	}
	defer la.Release()
	ra, err := evalAs(c, n.r, f32)
	if err != nil {
		return nil, err
	}
	defer ra.Release()
	res, err := arith(c.mem, n.op, la, ra, f32, c.n)
	if err != nil {
		return nil, err
	}
	defer res.Release()
	f := res.(*array.Float32)
	b := array.NewFloat64Builder(c.mem)
	defer b.Release()
	b.Reserve(c.n)
	for i := 0; i < c.n; i++ {
		if f.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f.Value(i)), 'g', -1, 32), 64)
		b.UnsafeAppend(v)
	}
	return b.NewArray(), nil
}
