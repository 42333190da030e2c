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

// InSelect is x [NOT] IN (SELECT col FROM db.table [WHERE cond]): an uncorrelated lookup of
// another table. Where is evaluated in the lookup table's scope only: every column it names is
// a column of db.table, never of the table the policy applies to. Check types X against the
// outer table and checks Where's structure (functions, arity, literals) but not its columns,
// whose types are known only when the lookup table is read: the worker types them then and
// compares the selected values as X's type (casting each lookup value to it; a value that does
// not convert is NULL). No engine evaluates it natively: NeedsWorker is true in every dialect.
type InSelect struct {
	base
	X         Expr
	Not       bool
	Col       string // the selected column, lower-case
	DB, Table string // lower-case
	Where     Expr   // nil: every row of the lookup table
}

// LookupRef is one table a policy expression reads besides its own: the lookup side of an
// InSelect, with the columns it needs (the selected one first, then those of the WHERE).
type LookupRef struct {
	DB, Table string
	Columns   []string
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

func (e *InSelect) String() string {
	var b strings.Builder
	b.WriteString("(" + e.X.String())
	if e.Not {
		b.WriteString(" NOT")
	}
	b.WriteString(" IN (SELECT " + quoteHiveIdent(e.Col) + " FROM " + quoteHiveIdent(e.DB) + "." + quoteHiveIdent(e.Table))
	if e.Where != nil {
		b.WriteString(" WHERE " + e.Where.String())
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
// It does not enter the WHERE of an InSelect: that runs over another table (see Lookups).
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
	case *InSelect:
		return []Expr{e.X}
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

// Lookups lists the tables e reads through InSelect nodes, in order of first use; a table read
// twice is listed once with the union of its columns.
func Lookups(e Expr) []LookupRef {
	var out []LookupRef
	at := map[string]int{}
	Walk(e, func(x Expr) bool {
		in, ok := x.(*InSelect)
		if !ok {
			return true
		}
		key := in.DB + "." + in.Table
		i, seen := at[key]
		if !seen {
			i = len(out)
			at[key] = i
			out = append(out, LookupRef{DB: in.DB, Table: in.Table})
		}
		cols := append([]string{in.Col}, lookupColumns(in.Where)...)
		for _, c := range cols {
			dup := false
			for _, have := range out[i].Columns {
				dup = dup || have == c
			}
			if !dup {
				out[i].Columns = append(out[i].Columns, c)
			}
		}
		return true
	})
	return out
}

// lookupColumns are the columns a lookup's WHERE names (all of the lookup table).
func lookupColumns(where Expr) []string {
	if where == nil {
		return nil
	}
	return Columns(where)
}
