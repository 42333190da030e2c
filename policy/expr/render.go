package expr

import (
	"strings"

	"github.com/propolis/propolis/internal/errs"
)

// Dialect is an engine's SQL dialect.
type Dialect int

const (
	// Hive is HiveQL and Spark SQL: backquoted identifiers, backslash escapes in strings,
	// STRING type names.
	Hive Dialect = iota + 1
	// Trino is Trino and Presto SQL: double-quoted identifiers, doubled quotes in strings, varchar.
	Trino
)

// Dialects lists every dialect.
var Dialects = []Dialect{Hive, Trino}

func (d Dialect) String() string {
	switch d {
	case Hive:
		return "hive"
	case Trino:
		return "trino"
	}
	return "unknown dialect"
}

// ParseDialect accepts hive, spark, trino and presto (any case).
func ParseDialect(s string) (Dialect, error) {
	switch strings.ToLower(s) {
	case "hive", "spark", "hiveql", "sparksql":
		return Hive, nil
	case "trino", "presto":
		return Trino, nil
	}
	return 0, errs.Invalid("unknown dialect %q (want hive, spark, trino or presto)", s)
}

// RenderEnv is the caller an expression is rendered for: current_user() and is_member()
// become literals from it.
type RenderEnv struct {
	User   string
	Groups []string
}

// Render renders a checked expression in dialect d for the caller in env. A function that is
// not native in d (or not for these argument types) is errs.Unsupported: the policy needs the
// worker path there.
func Render(e Expr, d Dialect, env RenderEnv) (string, error) {
	if d != Hive && d != Trino {
		return "", errs.Invalid("render: %s", d)
	}
	if e == nil || e.Type().Kind == Invalid {
		return "", errs.Invalid("render: expression is not type-checked (call Check first)")
	}
	r := &renderer{d: d, env: env}
	return r.expr(e)
}

// NeedsWorker reports whether e uses a function that d cannot evaluate natively, for the
// argument types Check found (a tree that was not checked is judged by function names only).
func NeedsWorker(e Expr, d Dialect) bool {
	return nonNative(e, d) != nil
}

// nonNative returns the first reason e cannot be rendered natively in d.
func nonNative(e Expr, d Dialect) error {
	var reason error
	Walk(e, func(x Expr) bool {
		switch x := x.(type) {
		case *InSelect:
			reason = lookupNative(d)
		case *Call:
			reason = callNative(x, d)
		case *Cast:
			reason = castNative(x, d)
		}
		return reason == nil
	})
	return reason
}

// charNative refuses char(n) values as function or CAST arguments: Spark pads char columns on
// read but not char literals or casts, Trino keeps the padding and has no concat or to_utf8 for
// char, so lengths, substrings and hashes of a char differ between the engines (recorded from
// Spark 3.5.9 and Trino 476). The worker applies such masks.
func charNative(what string, t Type, d Dialect) error {
	if t.Kind == Char {
		return errs.Unsupported("%s is not native in %s: char(n) padding differs between Spark and Trino; it needs the worker path", what, d)
	}
	return nil
}

// lookupNative refuses every lookup subquery: rendered into a view, the lookup table would be
// read by the engine as the caller, and its rows (who may see which region) are policy data.
func lookupNative(d Dialect) error {
	return errs.Unsupported("a lookup (IN (SELECT ...)) is not native in %s: it needs the worker path", d)
}

func castNative(c *Cast, d Dialect) error {
	return charNative("CAST of "+c.X.Type().String(), c.X.Type(), d)
}

func callNative(c *Call, d Dialect) error {
	f, ok := registry[c.Name]
	if !ok {
		return errs.Invalid("unknown function %s()", c.Name)
	}
	if f.renderer(d) == nil {
		return errs.Unsupported("%s() is not native in %s: it needs the worker path", c.Name, d)
	}
	for _, a := range c.Args {
		if err := charNative(c.Name+"() of "+a.Type().String(), a.Type(), d); err != nil {
			return err
		}
	}
	if f.Native != nil {
		args := make([]Type, len(c.Args))
		checked := true
		for i, a := range c.Args {
			args[i] = a.Type()
			checked = checked && args[i].Kind != Invalid
		}
		if checked {
			if err := f.Native(args); err != nil {
				return errs.Unsupported("%s() is not native in %s: %w; it needs the worker path", c.Name, d, err)
			}
		}
	}
	return nil
}

type renderer struct {
	d   Dialect
	env RenderEnv
}

func (r *renderer) ident(name string) string {
	if r.d == Trino {
		return quoteTrinoIdent(name)
	}
	return quoteHiveIdent(name)
}

func quoteHiveIdent(s string) string  { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
func quoteTrinoIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// stringLiteral quotes s. Spark and Hive read backslash escapes and, in Spark, 'a”b' is two
// adjacent literals ("ab"), so the Hive dialect escapes quotes with a backslash. Trino has no
// backslash escapes and doubles quotes.
func (r *renderer) stringLiteral(s string) string {
	if r.d == Trino {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func (r *renderer) typeName(t Type) string {
	if r.d == Trino {
		return t.TrinoName()
	}
	return t.hiveName()
}

// widened casts a tinyint, smallint or int operand of arithmetic to bigint (see arith). Integer
// literals are left alone: engines type them by value.
func (r *renderer) widened(e Expr, s string) string {
	if _, lit := e.(*Literal); lit {
		return s
	}
	if t := e.Type(); t.IsInteger() && t.Kind != BigInt {
		return "CAST(" + s + " AS " + r.typeName(TBigInt) + ")"
	}
	return s
}

func (r *renderer) all(es []Expr) ([]string, error) {
	out := make([]string, len(es))
	for i, e := range es {
		s, err := r.expr(e)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func (r *renderer) expr(e Expr) (string, error) {
	if e.Type().Kind == Invalid {
		return "", errs.Invalid("render: expression is not type-checked (call Check first)")
	}
	switch e := e.(type) {
	case *Column:
		return r.ident(e.Name), nil
	case *Literal:
		if e.Kind == LitString {
			return r.stringLiteral(e.Text), nil
		}
		return e.Text, nil
	case *UnaryExpr:
		x, err := r.expr(e.X)
		if err != nil {
			return "", err
		}
		if e.Op == "NOT" {
			return "(NOT " + x + ")", nil
		}
		// The space keeps "- -5" from becoming the comment "--5".
		return "(- " + r.widened(e.X, x) + ")", nil
	case *BinaryExpr:
		l, err := r.expr(e.L)
		if err != nil {
			return "", err
		}
		rr, err := r.expr(e.R)
		if err != nil {
			return "", err
		}
		switch e.Op {
		case "/":
			if e.L.Type().Kind != Double {
				l = "CAST(" + l + " AS " + r.typeName(TDouble) + ")"
			}
			if e.R.Type().Kind != Double {
				rr = "CAST(" + rr + " AS " + r.typeName(TDouble) + ")"
			}
		case "+", "-", "*":
			l, rr = r.widened(e.L, l), r.widened(e.R, rr)
		}
		return "(" + l + " " + e.Op + " " + rr + ")", nil
	case *In:
		x, err := r.expr(e.X)
		if err != nil {
			return "", err
		}
		items, err := r.all(e.List)
		if err != nil {
			return "", err
		}
		not := ""
		if e.Not {
			not = " NOT"
		}
		return "(" + x + not + " IN (" + strings.Join(items, ", ") + "))", nil
	case *InSelect:
		return "", lookupNative(r.d)
	case *Between:
		parts, err := r.all([]Expr{e.X, e.Lo, e.Hi})
		if err != nil {
			return "", err
		}
		not := ""
		if e.Not {
			not = " NOT"
		}
		return "(" + parts[0] + not + " BETWEEN " + parts[1] + " AND " + parts[2] + ")", nil
	case *IsNull:
		x, err := r.expr(e.X)
		if err != nil {
			return "", err
		}
		if e.Not {
			return "(" + x + " IS NOT NULL)", nil
		}
		return "(" + x + " IS NULL)", nil
	case *Like:
		parts, err := r.all([]Expr{e.X, e.Pattern})
		if err != nil {
			return "", err
		}
		not := ""
		if e.Not {
			not = " NOT"
		}
		s := "(" + parts[0] + not + " LIKE " + parts[1]
		if r.d == Trino {
			// Spark and Hive escape with backslash by default; Trino has no default escape.
			s += ` ESCAPE '\'`
		}
		return s + ")", nil
	case *Case:
		var b strings.Builder
		b.WriteString("CASE")
		for _, w := range e.Whens {
			parts, err := r.all([]Expr{w.Cond, w.Then})
			if err != nil {
				return "", err
			}
			b.WriteString(" WHEN " + parts[0] + " THEN " + parts[1])
		}
		if e.Else != nil {
			x, err := r.expr(e.Else)
			if err != nil {
				return "", err
			}
			b.WriteString(" ELSE " + x)
		}
		b.WriteString(" END")
		return b.String(), nil
	case *Cast:
		if err := castNative(e, r.d); err != nil {
			return "", err
		}
		x, err := r.expr(e.X)
		if err != nil {
			return "", err
		}
		return "CAST(" + x + " AS " + r.typeName(e.To) + ")", nil
	case *Call:
		if err := callNative(e, r.d); err != nil {
			return "", err
		}
		args, err := r.all(e.Args)
		if err != nil {
			return "", err
		}
		return registry[e.Name].renderer(r.d)(r, e, args)
	}
	return "", errs.Invalid("render: unknown node %T", e)
}
