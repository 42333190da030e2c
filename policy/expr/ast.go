package expr

import (
	"strings"
)

// Expr is a node of a policy expression. Its String form is canonical: it parses back to the
// same tree, and is what error messages and explain output show.
//
// Check annotates every node with its type; Render needs those types (division, hashing and
// truncation render differently per argument type), so a tree must be checked before it is
// rendered, and must not be checked concurrently with other uses. Checked trees are read-only.
type Expr interface {
	// Pos is the byte offset of the node in the source it was parsed from.
	Pos() int
	// Type is the type Check gave the node; Kind Invalid before Check.
	Type() Type
	String() string
	node() *base
}

type base struct {
	pos int
	t   Type
}

func (b *base) Pos() int       { return b.pos }
func (b *base) Type() Type     { return b.t }
func (b *base) node() *base    { return b }
func (b *base) setType(t Type) { b.t = t }

// Column is a reference to a column of the table the policy applies to. Names are
// case-insensitive, as in the metastore; Name is lower-case.
type Column struct {
	base
	Name string
}

// LitKind is the kind of a literal.
type LitKind int

const (
	LitNull LitKind = iota
	LitBool
	LitInt
	LitDecimal
	LitString
)

// Literal is a constant. Text is the value: the digits of a number, the unquoted text of a
// string, "TRUE"/"FALSE", or "NULL".
type Literal struct {
	base
	Kind LitKind
	Text string
}

// UnaryExpr is NOT x or -x.
type UnaryExpr struct {
	base
	Op string
	X  Expr
}

// BinaryExpr is an infix operator: AND OR = <> < <= > >= + - * / ||.
type BinaryExpr struct {
	base
	Op   string
	L, R Expr
}

// In is x [NOT] IN (list).
type In struct {
	base
	X    Expr
	List []Expr
	Not  bool
}

// Between is x [NOT] BETWEEN lo AND hi.
type Between struct {
	base
	X, Lo, Hi Expr
	Not       bool
}

// IsNull is x IS [NOT] NULL.
type IsNull struct {
	base
	X   Expr
	Not bool
}

// Like is x [NOT] LIKE pattern, with backslash as the escape character in every dialect.
type Like struct {
	base
	X, Pattern Expr
	Not        bool
}

// When is one branch of a CASE.
type When struct {
	Cond, Then Expr
}

// Case is CASE WHEN c THEN r ... [ELSE e] END.
type Case struct {
	base
	Whens []When
	Else  Expr // nil: ELSE NULL
}

// Cast is CAST(x AS type).
type Cast struct {
	base
	X  Expr
	To Type
}

// Call is a call of a function from the registry. Name is lower-case.
type Call struct {
	base
	Name string
	Args []Expr
}

func (e *Column) String() string { return quoteHiveIdent(e.Name) }

func (e *Literal) String() string {
	if e.Kind == LitString {
		return "'" + strings.ReplaceAll(e.Text, "'", "''") + "'"
	}
	return e.Text
}

func (e *UnaryExpr) String() string {
	if e.Op == "NOT" {
		return "(NOT " + e.X.String() + ")"
	}
	return "(" + e.Op + e.X.String() + ")"
}

func (e *BinaryExpr) String() string {
	return "(" + e.L.String() + " " + e.Op + " " + e.R.String() + ")"
}

func (e *In) String() string {
	var b strings.Builder
	b.WriteString("(" + e.X.String())
	if e.Not {
		b.WriteString(" NOT")
	}
	b.WriteString(" IN (")
	for i, x := range e.List {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x.String())
	}
	b.WriteString("))")
	return b.String()
}

func (e *Between) String() string {
	not := ""
	if e.Not {
		not = " NOT"
	}
	return "(" + e.X.String() + not + " BETWEEN " + e.Lo.String() + " AND " + e.Hi.String() + ")"
}

func (e *IsNull) String() string {
	if e.Not {
		return "(" + e.X.String() + " IS NOT NULL)"
	}
	return "(" + e.X.String() + " IS NULL)"
}

func (e *Like) String() string {
	not := ""
	if e.Not {
		not = " NOT"
	}
	return "(" + e.X.String() + not + " LIKE " + e.Pattern.String() + ")"
}

func (e *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, w := range e.Whens {
		b.WriteString(" WHEN " + w.Cond.String() + " THEN " + w.Then.String())
	}
	if e.Else != nil {
		b.WriteString(" ELSE " + e.Else.String())
	}
	b.WriteString(" END")
	return b.String()
}

func (e *Cast) String() string { return "CAST(" + e.X.String() + " AS " + e.To.String() + ")" }

func (e *Call) String() string {
	var b strings.Builder
	b.WriteString(e.Name + "(")
	for i, a := range e.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	b.WriteString(")")
	return b.String()
}

// Walk calls f for e and every node below it, parents first, stopping early when f returns false.
func Walk(e Expr, f func(Expr) bool) bool {
	if e == nil {
		return true
	}
	if !f(e) {
		return false
	}
	for _, c := range children(e) {
		if !Walk(c, f) {
			return false
		}
	}
	return true
}

func children(e Expr) []Expr {
	switch e := e.(type) {
	case *UnaryExpr:
		return []Expr{e.X}
	case *BinaryExpr:
		return []Expr{e.L, e.R}
	case *In:
		return append([]Expr{e.X}, e.List...)
	case *Between:
		return []Expr{e.X, e.Lo, e.Hi}
	case *IsNull:
		return []Expr{e.X}
	case *Like:
		return []Expr{e.X, e.Pattern}
	case *Case:
		var out []Expr
		for _, w := range e.Whens {
			out = append(out, w.Cond, w.Then)
		}
		if e.Else != nil {
			out = append(out, e.Else)
		}
		return out
	case *Cast:
		return []Expr{e.X}
	case *Call:
		return e.Args
	}
	return nil
}

// Columns lists the distinct columns e references, in order of first use.
func Columns(e Expr) []string {
	var out []string
	seen := map[string]bool{}
	Walk(e, func(x Expr) bool {
		if c, ok := x.(*Column); ok && !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c.Name)
		}
		return true
	})
	return out
}
