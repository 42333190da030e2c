package expr

import (
	"strconv"
	"strings"

	"github.com/propolis/propolis/internal/errs"
)

// Check type-checks e against a table's columns (name -> Hive type string) and returns the
// type of the whole expression. Every node of e is annotated with its type, which Render needs.
// Unknown columns or functions, wrong arity and wrong argument types are errs.Invalid naming
// the problem and its offset.
func Check(e Expr, cols map[string]string) (Type, error) {
	if e == nil {
		return Type{}, errs.Invalid("expression: empty")
	}
	c := &checker{cols: make(map[string]string, len(cols)), types: map[string]Type{}}
	for n, t := range cols {
		c.cols[strings.ToLower(n)] = t
	}
	return c.check(e)
}

type checker struct {
	cols  map[string]string
	types map[string]Type
}

func fail(e Expr, format string, args ...any) error {
	return errs.Invalid("expression: at offset %d: "+format, append([]any{e.Pos()}, args...)...)
}

func (c *checker) check(e Expr) (Type, error) {
	t, err := c.typeOf(e)
	if err != nil {
		return Type{}, err
	}
	e.node().setType(t)
	return t, nil
}

func (c *checker) typeOf(e Expr) (Type, error) {
	switch e := e.(type) {
	case *Column:
		if t, ok := c.types[e.Name]; ok {
			return t, nil
		}
		s, ok := c.cols[e.Name]
		if !ok {
			return Type{}, fail(e, "unknown column %q", e.Name)
		}
		t, err := ParseType(s)
		if err != nil {
			return Type{}, fail(e, "column %q: %w", e.Name, err)
		}
		c.types[e.Name] = t
		return t, nil
	case *Literal:
		return literalType(e)
	case *UnaryExpr:
		x, err := c.check(e.X)
		if err != nil {
			return Type{}, err
		}
		if e.Op == "NOT" {
			return TBoolean, wantBool(e.X, x, "NOT")
		}
		if x.Kind != Null && !x.IsNumeric() {
			return Type{}, fail(e, "unary - needs a number, got %s", x)
		}
		return arith(x), nil
	case *BinaryExpr:
		l, err := c.check(e.L)
		if err != nil {
			return Type{}, err
		}
		r, err := c.check(e.R)
		if err != nil {
			return Type{}, err
		}
		switch e.Op {
		case "AND", "OR":
			if err := wantBool(e.L, l, e.Op); err != nil {
				return Type{}, err
			}
			return TBoolean, wantBool(e.R, r, e.Op)
		case "=", "<>", "<", "<=", ">", ">=":
			return TBoolean, comparable(e, l, r)
		case "||":
			if !stringish(l) || !stringish(r) {
				return Type{}, fail(e, "|| needs strings, got %s and %s (CAST numbers to string first)", l, r)
			}
			return TString, nil
		case "+", "-", "*", "/":
			if !numberish(l) || !numberish(r) {
				return Type{}, fail(e, "%s needs numbers, got %s and %s", e.Op, l, r)
			}
			if e.Op == "/" {
				// Division is always in double: Spark divides integers into a double and Trino
				// truncates, and their decimal division scales differ, so both render it in double.
				return TDouble, nil
			}
			return arith(widen(l, r)), nil
		}
		return Type{}, fail(e, "unknown operator %s", e.Op)
	case *In:
		x, err := c.check(e.X)
		if err != nil {
			return Type{}, err
		}
		for _, item := range e.List {
			t, err := c.check(item)
			if err != nil {
				return Type{}, err
			}
			if err := comparable(item, x, t); err != nil {
				return Type{}, err
			}
		}
		return TBoolean, nil
	case *InSelect:
		x, err := c.check(e.X)
		if err != nil {
			return Type{}, err
		}
		if x.IsComplex() {
			return Type{}, fail(e, "cannot look up %s values: complex types are not comparable in policies", x)
		}
		if e.Where != nil {
			if err := checkLookupWhere(e.Where); err != nil {
				return Type{}, err
			}
		}
		return TBoolean, nil
	case *Between:
		x, err := c.check(e.X)
		if err != nil {
			return Type{}, err
		}
		for _, b := range []Expr{e.Lo, e.Hi} {
			t, err := c.check(b)
			if err != nil {
				return Type{}, err
			}
			if err := comparable(b, x, t); err != nil {
				return Type{}, err
			}
		}
		return TBoolean, nil
	case *IsNull:
		if _, err := c.check(e.X); err != nil {
			return Type{}, err
		}
		return TBoolean, nil
	case *Like:
		x, err := c.check(e.X)
		if err != nil {
			return Type{}, err
		}
		p, err := c.check(e.Pattern)
		if err != nil {
			return Type{}, err
		}
		if !stringish(x) || !stringish(p) {
			return Type{}, fail(e, "LIKE needs strings, got %s and %s", x, p)
		}
		return TBoolean, nil
	case *Case:
		res := TNull
		for _, w := range e.Whens {
			ct, err := c.check(w.Cond)
			if err != nil {
				return Type{}, err
			}
			if err := wantBool(w.Cond, ct, "WHEN"); err != nil {
				return Type{}, err
			}
			tt, err := c.check(w.Then)
			if err != nil {
				return Type{}, err
			}
			if res, err = unify(w.Then, res, tt, "CASE branches"); err != nil {
				return Type{}, err
			}
		}
		if e.Else != nil {
			et, err := c.check(e.Else)
			if err != nil {
				return Type{}, err
			}
			if res, err = unify(e.Else, res, et, "CASE branches"); err != nil {
				return Type{}, err
			}
		}
		return res, nil
	case *Cast:
		x, err := c.check(e.X)
		if err != nil {
			return Type{}, err
		}
		if x.IsComplex() || (e.To.IsComplex() && x.Kind != Null) {
			return Type{}, fail(e, "cannot CAST %s to %s: only NULL converts to or from a complex type", x, e.To)
		}
		return e.To, nil
	case *Call:
		f, ok := registry[e.Name]
		if !ok {
			return Type{}, fail(e, "unknown function %s()", e.Name)
		}
		if len(e.Args) < f.MinArgs || f.MaxArgs >= 0 && len(e.Args) > f.MaxArgs {
			return Type{}, fail(e, "%s() takes %s, got %d", e.Name, f.arity(), len(e.Args))
		}
		args := make([]Type, len(e.Args))
		for i, a := range e.Args {
			t, err := c.check(a)
			if err != nil {
				return Type{}, err
			}
			args[i] = t
		}
		t, err := f.Check(e, args)
		if err != nil {
			return Type{}, fail(e, "%s(): %w", e.Name, err)
		}
		return t, nil
	}
	return Type{}, errs.Invalid("expression: unknown node %T", e)
}

// arith is the type integer arithmetic is done in: bigint. On overflow Spark wraps silently and
// Trino fails the query, so tinyint, smallint and int operands are widened (and rendered with a
// CAST to bigint) to keep results identical; bigint and decimal overflow still differ at the
// extremes (Spark wraps or returns NULL, Trino fails).
func arith(t Type) Type {
	if t.IsInteger() {
		return TBigInt
	}
	return t
}

func literalType(e *Literal) (Type, error) {
	switch e.Kind {
	case LitNull:
		return TNull, nil
	case LitBool:
		return TBoolean, nil
	case LitString:
		return TString, nil
	case LitInt:
		n, err := strconv.ParseInt(e.Text, 10, 64)
		if err != nil {
			return Type{}, fail(e, "integer %s out of the bigint range", e.Text)
		}
		if n >= -1<<31 && n < 1<<31 {
			return TInt, nil
		}
		return TBigInt, nil
	case LitDecimal:
		digits := strings.TrimPrefix(e.Text, "-")
		whole, frac, _ := strings.Cut(digits, ".")
		whole = strings.TrimLeft(whole, "0")
		p := max(len(whole)+len(frac), 1)
		if p > 38 {
			return Type{}, fail(e, "decimal %s has more than 38 digits", e.Text)
		}
		return Type{Kind: Decimal, Precision: p, Scale: len(frac)}, nil
	}
	return Type{}, fail(e, "unknown literal")
}

func wantBool(e Expr, t Type, op string) error {
	if t.Kind != Boolean && t.Kind != Null {
		return fail(e, "%s needs a boolean, got %s", op, t)
	}
	return nil
}

func stringish(t Type) bool { return t.IsString() || t.Kind == Null }
func numberish(t Type) bool { return t.IsNumeric() || t.Kind == Null }

func comparable(e Expr, a, b Type) error {
	if a.IsComplex() || b.IsComplex() {
		return fail(e, "cannot compare %s with %s: complex types are not comparable in policies", a, b)
	}
	if _, ok := common(a, b); !ok {
		return fail(e, "cannot compare %s with %s (CAST one side; engines disagree on implicit conversions)", a, b)
	}
	return nil
}

func unify(e Expr, a, b Type, what string) (Type, error) {
	t, ok := common(a, b)
	if !ok {
		return Type{}, fail(e, "%s have incompatible types %s and %s", what, a, b)
	}
	return t, nil
}

// checkLookupWhere checks the structure of a lookup's WHERE: known functions with the right
// arity and literal arguments, a boolean result, no nested lookup. Its columns belong to the
// lookup table, whose types are known only when it is read, so the check types every column
// NULL, which every operator accepts (the WHERE's nodes keep those placeholder types); the
// worker checks a fresh copy against the real types when it reads the table.
func checkLookupWhere(where Expr) error {
	var nested Expr
	Walk(where, func(x Expr) bool {
		if _, ok := x.(*InSelect); ok {
			nested = x
		}
		return nested == nil
	})
	if nested != nil {
		return fail(nested, "a lookup's WHERE cannot contain another lookup")
	}
	c := &checker{cols: map[string]string{}, types: map[string]Type{}}
	for _, n := range Columns(where) {
		c.types[n] = TNull
	}
	t, err := c.check(where)
	if err != nil {
		return err
	}
	return wantBool(where, t, "a lookup's WHERE")
}
