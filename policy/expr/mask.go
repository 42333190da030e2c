package expr

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/propolis/propolis/internal/errs"
)

// Masks lists the mask specs Mask accepts, with what each renders to. Every mask maps NULL to
// NULL, and is built only from functions whose results are identical in Spark 3.5 and Trino
// 476 for the column types it accepts; elsewhere it refuses, or (hash, round of floating
// point) is marked for the worker path by NeedsWorker.
var Masks = []struct{ Spec, Doc string }{
	{"null", "CAST(NULL AS <type>): the column's type, so a view's schema does not change"},
	{"redact", "strings: '****' (NULL stays NULL); other types: CAST(NULL AS <type>)"},
	{"constant(<literal>)", "the literal, cast to the column's type (NULL stays NULL)"},
	{"hash", "lower-case hex SHA-256 of the value's text: Spark/Hive sha2(CAST(x AS STRING), 256), Trino lower(to_hex(sha256(to_utf8(CAST(x AS varchar))))); float, double, timestamp, char(n) and decimal with scale > 6 print differently in the two engines and take the worker path"},
	{"show_first(n)", "first n characters, the rest replaced by '*', length kept: rpad(substr(s, 1, n), length(s), '*')"},
	{"show_last(n)", "last n characters, the rest replaced by '*', length kept: CASE WHEN length(s) <= n THEN s ELSE lpad(substr(s, length(s) - n + 1), length(s), '*') END (no negative substr positions: Spark clamps them, Trino returns '')"},
	{"year", "date or timestamp truncated to January 1st of its year: Hive/Spark CAST(trunc(x, 'YEAR') AS <type>), Trino date_trunc('year', x)"},
	{"round(n)", "integers and decimals rounded half away from zero to n digits (n may be negative): round(x, n); decimals cast to decimal(p+1,s) in both dialects; integers rounded to negative digits one size up (int in bigint, bigint in decimal(19,0)) so overflow cannot differ; float/double take the worker path"},
	{"expr(<expression>)", "any policy expression over the column, referenced by name"},
}

// Mask builds the checked expression for a mask spec (see Masks) applied to column, whose Hive
// type is hiveType. A bad spec, or one that does not apply to the type, is errs.Invalid.
func Mask(spec, column, hiveType string) (Expr, error) {
	t, err := ParseType(hiveType)
	if err != nil {
		return nil, errs.Invalid("mask %q on column %q: %w", spec, column, err)
	}
	e, err := buildMask(strings.TrimSpace(spec), strings.ToLower(column), t)
	if err != nil {
		return nil, errs.Invalid("mask %q on column %q (%s): %w", spec, column, t, err)
	}
	if _, err := Check(e, map[string]string{column: t.String()}); err != nil {
		return nil, errs.Invalid("mask %q on column %q (%s): %w", spec, column, t, err)
	}
	return e, nil
}

var maskCall = regexp.MustCompile(`^(?i)([a-z_]+)\s*(?:\((.*)\))?$`)

func buildMask(spec, column string, t Type) (Expr, error) {
	m := maskCall.FindStringSubmatch(strings.TrimSpace(spec))
	if m == nil {
		return nil, errs.Invalid("not a mask (want one of null, redact, constant(x), hash, show_first(n), show_last(n), year, round(n), expr(...))")
	}
	name, arg, hasArg := strings.ToLower(m[1]), strings.TrimSpace(m[2]), strings.Contains(spec, "(")
	col := func() Expr { return &Column{Name: column} }
	noArg := func() error {
		if hasArg {
			return errs.Invalid("%s takes no argument", name)
		}
		return nil
	}
	switch name {
	case "null":
		if err := noArg(); err != nil {
			return nil, err
		}
		return &Cast{X: nullLit(), To: t}, nil
	case "redact":
		if err := noArg(); err != nil {
			return nil, err
		}
		if t.IsString() {
			return keepNull(col(), strLit("****")), nil
		}
		return &Cast{X: nullLit(), To: t}, nil
	case "constant":
		if !hasArg {
			return nil, errs.Invalid("constant needs a value: constant('x')")
		}
		v, err := Parse(arg)
		if err != nil {
			return nil, err
		}
		lit, ok := v.(*Literal)
		if !ok {
			return nil, errs.Invalid("constant takes a literal, got %s", v)
		}
		if err := constantFits(lit, t); err != nil {
			return nil, err
		}
		if lit.Kind == LitNull {
			return &Cast{X: nullLit(), To: t}, nil
		}
		if t.IsString() && lit.Kind == LitString {
			return keepNull(col(), lit), nil
		}
		return keepNull(col(), &Cast{X: lit, To: t}), nil
	case "hash":
		if err := noArg(); err != nil {
			return nil, err
		}
		if t.IsComplex() {
			return nil, errs.Invalid("hash applies to primitive types")
		}
		return call("sha256", col()), nil
	case "show_first", "show_last":
		n, err := intArg(name, arg, hasArg, 0, 1<<20)
		if err != nil {
			return nil, err
		}
		s, err := asText(col(), t, name)
		if err != nil {
			return nil, err
		}
		if name == "show_first" {
			// rpad truncates when the target is shorter, but length(s) >= the prefix here.
			return call("rpad", call("substr", s, intLiteral(1), intLiteral(n)), call("length", s), strLit("*")), nil
		}
		// Only positive substr positions: Spark clamps a position before the start, Trino
		// returns ''. (Subtrees may be shared: Check gives a node the same type every time.)
		start := &BinaryExpr{Op: "+", L: &BinaryExpr{Op: "-", L: call("length", s), R: intLiteral(n)}, R: intLiteral(1)}
		return &Case{
			Whens: []When{{Cond: &BinaryExpr{Op: "<=", L: call("length", s), R: intLiteral(n)}, Then: s}},
			Else:  call("lpad", call("substr", s, start), call("length", s), strLit("*")),
		}, nil
	case "year":
		if err := noArg(); err != nil {
			return nil, err
		}
		if !t.IsDatetime() {
			return nil, errs.Invalid("year applies to date and timestamp columns")
		}
		return call("date_trunc", strLit("year"), col()), nil
	case "round":
		n, err := intArg(name, arg, hasArg, -38, 38)
		if err != nil {
			return nil, err
		}
		if !t.IsNumeric() {
			return nil, errs.Invalid("round applies to numeric columns")
		}
		return call("round", col(), intLiteral(n)), nil
	case "expr":
		if !hasArg || arg == "" {
			return nil, errs.Invalid("expr needs an expression: expr(lower(%s))", column)
		}
		return Parse(arg)
	}
	return nil, errs.Invalid("unknown mask %q (want one of null, redact, constant(x), hash, show_first(n), show_last(n), year, round(n), expr(...))", name)
}

// asText is the column as text for the character masks: strings as they are, integers cast to
// string (identical text in Spark and Trino). char(n) is cast too, which makes the mask take the
// worker path: the engines disagree on its padding.
func asText(c Expr, t Type, mask string) (Expr, error) {
	switch {
	case t.Kind == String || t.Kind == Varchar:
		return c, nil
	case t.Kind == Char || t.IsInteger():
		return &Cast{X: c, To: TString}, nil
	}
	return nil, errs.Invalid("%s applies to string and integer columns", mask)
}

func intArg(name, arg string, has bool, lo, hi int64) (int64, error) {
	if !has || arg == "" {
		return 0, errs.Invalid("%s needs a number: %s(4)", name, name)
	}
	n, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, errs.Invalid("%s(%s): want an integer from %d to %d", name, arg, lo, hi)
	}
	return n, nil
}

var (
	dateRe      = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	timestampRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,3})?$`)
)

// constantFits refuses constants an engine would convert differently (Spark makes a bad cast
// NULL, Trino fails the query).
func constantFits(l *Literal, t Type) error {
	if l.Kind == LitNull {
		return nil
	}
	ok := false
	switch {
	case t.IsComplex():
		return errs.Invalid("a complex column can only be masked with null")
	case t.IsString():
		ok = l.Kind == LitString
	case t.Kind == Boolean:
		ok = l.Kind == LitBool
	case t.IsInteger():
		ok = l.Kind == LitInt
	case t.IsNumeric():
		ok = l.Kind == LitInt || l.Kind == LitDecimal
	case t.Kind == Date:
		ok = l.Kind == LitString && dateRe.MatchString(l.Text)
	case t.Kind == Timestamp:
		ok = l.Kind == LitString && (timestampRe.MatchString(l.Text) || dateRe.MatchString(l.Text))
	case t.Kind == Binary:
		ok = l.Kind == LitString
	}
	if !ok {
		return errs.Invalid("constant %s does not fit a %s column", l, t)
	}
	return nil
}

// keepNull is CASE WHEN col IS NULL THEN NULL ELSE v END: masks of NULL stay NULL.
func keepNull(col, v Expr) Expr {
	return &Case{Whens: []When{{Cond: &IsNull{X: col}, Then: nullLit()}}, Else: v}
}

func call(name string, args ...Expr) Expr { return &Call{Name: name, Args: args} }
func nullLit() Expr                       { return &Literal{Kind: LitNull, Text: "NULL"} }
func strLit(s string) Expr                { return &Literal{Kind: LitString, Text: s} }
func intLiteral(n int64) Expr             { return &Literal{Kind: LitInt, Text: strconv.FormatInt(n, 10)} }
