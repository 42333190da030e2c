package expr

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/propolis/propolis/internal/errs"
)

// MaxLen is the longest expression Parse accepts, and MaxDepth the deepest nesting: policy
// expressions are short, and the limits keep a hostile policy file from exhausting the stack.
const (
	MaxLen   = 64 << 10
	MaxDepth = 200
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tQuoted // `x` or "x": always an identifier, never a keyword
	tString
	tNumber
	tOp
)

type token struct {
	kind tokKind
	text string // identifier (as written), unquoted identifier/string, number digits, operator
	pos  int
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string '" + t.text + "'"
	case tQuoted:
		return "identifier \"" + t.text + "\""
	}
	return "\"" + t.text + "\""
}

func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			start := i
			for i < len(s) && (s[i] == '_' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9') {
				i++
			}
			out = append(out, token{tIdent, s[start:i], start})
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			start := i
			dot := false
			for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' && !dot) {
				if s[i] == '.' {
					dot = true
				}
				i++
			}
			if i < len(s) && (s[i] == '_' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] == '.') {
				return nil, errs.Invalid("expression: at offset %d: malformed number %q (exponents and suffixes are not supported)", start, s[start:min(i+1, len(s))])
			}
			out = append(out, token{tNumber, s[start:i], start})
		case c == '\'' || c == '`' || c == '"':
			start := i
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					what := "string"
					if c != '\'' {
						what = "quoted identifier"
					}
					return nil, errs.Invalid("expression: at offset %d: unterminated %s", start, what)
				}
				if s[i] == c {
					if i+1 < len(s) && s[i+1] == c {
						b.WriteByte(c)
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			kind := tString
			if c != '\'' {
				kind = tQuoted
				if b.Len() == 0 {
					return nil, errs.Invalid("expression: at offset %d: empty quoted identifier", start)
				}
			}
			if !utf8.ValidString(b.String()) {
				return nil, errs.Invalid("expression: at offset %d: invalid UTF-8", start)
			}
			out = append(out, token{kind, b.String(), start})
		default:
			start := i
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "<=", ">=", "<>", "!=", "||":
				out = append(out, token{tOp, two, start})
				i += 2
				continue
			}
			switch c {
			case '=', '<', '>', '+', '-', '*', '/', '(', ')', ',', ':', '.':
				out = append(out, token{tOp, string(c), start})
				i++
			default:
				r, _ := utf8.DecodeRuneInString(s[i:])
				return nil, errs.Invalid("expression: at offset %d: unexpected character %q", start, r)
			}
		}
	}
	out = append(out, token{tEOF, "", len(s)})
	return out, nil
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

// Parse parses a policy expression. Errors are errs.Invalid and name the byte offset.
func Parse(s string) (Expr, error) {
	if len(s) > MaxLen {
		return nil, errs.Invalid("expression: longer than %d bytes", MaxLen)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{src: s, toks: toks}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, "unexpected %s after a complete expression", t.describe())
	}
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return errs.Invalid("expression: at offset %d: "+format, append([]any{t.pos}, args...)...)
}

// keyword reports whether t is the (unquoted, case-insensitive) keyword kw.
func keyword(t token, kw string) bool { return t.kind == tIdent && strings.EqualFold(t.text, kw) }

func (p *parser) accept(kw string) bool {
	if keyword(p.peek(), kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) acceptOp(op string) bool {
	if t := p.peek(); t.kind == tOp && t.text == op {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectOp(op string) error {
	if !p.acceptOp(op) {
		t := p.peek()
		return p.errAt(t, "expected %q, found %s", op, t.describe())
	}
	return nil
}

func (p *parser) expectKw(kw string) error {
	if !p.accept(kw) {
		t := p.peek()
		return p.errAt(t, "expected %s, found %s", kw, t.describe())
	}
	return nil
}

var reserved = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "between": true, "is": true, "null": true,
	"like": true, "true": true, "false": true, "case": true, "when": true, "then": true,
	"else": true, "end": true, "cast": true, "as": true,
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errAt(p.peek(), "nested more than %d levels", MaxDepth)
	}
	return nil
}

func (p *parser) expr() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	return p.or()
}

func (p *parser) or() (Expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !p.accept("OR") {
			return l, nil
		}
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{base: base{pos: t.pos}, Op: "OR", L: l, R: r}
	}
}

func (p *parser) and() (Expr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !p.accept("AND") {
			return l, nil
		}
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{base: base{pos: t.pos}, Op: "AND", L: l, R: r}
	}
}

func (p *parser) not() (Expr, error) {
	t := p.peek()
	if p.accept("NOT") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		x, err := p.not()
		p.depth--
		if err != nil {
			return nil, err
		}
		return &UnaryExpr{base: base{pos: t.pos}, Op: "NOT", X: x}, nil
	}
	return p.predicate()
}

var comparisons = map[string]bool{"=": true, "<>": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

func (p *parser) predicate() (Expr, error) {
	l, err := p.concat()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind == tOp && comparisons[t.text] {
		p.i++
		r, err := p.concat()
		if err != nil {
			return nil, err
		}
		op := t.text
		if op == "!=" {
			op = "<>"
		}
		return &BinaryExpr{base: base{pos: t.pos}, Op: op, L: l, R: r}, nil
	}
	if p.accept("IS") {
		not := p.accept("NOT")
		if err := p.expectKw("NULL"); err != nil {
			return nil, err
		}
		return &IsNull{base: base{pos: t.pos}, X: l, Not: not}, nil
	}
	not := false
	if keyword(t, "NOT") {
		n := p.toks[p.i+1]
		if keyword(n, "IN") || keyword(n, "BETWEEN") || keyword(n, "LIKE") {
			p.i++
			not = true
		}
	}
	switch {
	case p.accept("IN"):
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		if p.lookupAhead() {
			return p.inSelect(t, l, not)
		}
		in := &In{base: base{pos: t.pos}, X: l, Not: not}
		for {
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			in.List = append(in.List, x)
			if p.acceptOp(",") {
				continue
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return in, nil
		}
	case p.accept("BETWEEN"):
		lo, err := p.concat()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("AND"); err != nil {
			return nil, err
		}
		hi, err := p.concat()
		if err != nil {
			return nil, err
		}
		return &Between{base: base{pos: t.pos}, X: l, Lo: lo, Hi: hi, Not: not}, nil
	case p.accept("LIKE"):
		pat, err := p.concat()
		if err != nil {
			return nil, err
		}
		return &Like{base: base{pos: t.pos}, X: l, Pattern: pat, Not: not}, nil
	}
	return l, nil
}

func (p *parser) concat() (Expr, error) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !p.acceptOp("||") {
			return l, nil
		}
		r, err := p.additive()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{base: base{pos: t.pos}, Op: "||", L: l, R: r}
	}
}

func (p *parser) additive() (Expr, error) {
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !p.acceptOp("+") && !p.acceptOp("-") {
			return l, nil
		}
		r, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{base: base{pos: t.pos}, Op: t.text, L: l, R: r}
	}
}

func (p *parser) multiplicative() (Expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !p.acceptOp("*") && !p.acceptOp("/") {
			return l, nil
		}
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &BinaryExpr{base: base{pos: t.pos}, Op: t.text, L: l, R: r}
	}
}

func (p *parser) unary() (Expr, error) {
	t := p.peek()
	if p.acceptOp("-") || p.acceptOp("+") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		x, err := p.unary()
		p.depth--
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return x, nil
		}
		// Fold -<number> into a negative literal, so literals keep their range and
		// canonical form (-5, not (-5)).
		if lit, ok := x.(*Literal); ok && (lit.Kind == LitInt || lit.Kind == LitDecimal) && !strings.HasPrefix(lit.Text, "-") {
			return &Literal{base: base{pos: t.pos}, Kind: lit.Kind, Text: "-" + lit.Text}, nil
		}
		return &UnaryExpr{base: base{pos: t.pos}, Op: "-", X: x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (Expr, error) {
	t := p.next()
	switch t.kind {
	case tNumber:
		if strings.Contains(t.text, ".") {
			text := t.text
			if strings.HasPrefix(text, ".") {
				text = "0" + text
			}
			if strings.HasSuffix(text, ".") {
				text += "0"
			}
			return &Literal{base: base{pos: t.pos}, Kind: LitDecimal, Text: text}, nil
		}
		text := strings.TrimLeft(t.text, "0")
		if text == "" {
			text = "0"
		}
		return &Literal{base: base{pos: t.pos}, Kind: LitInt, Text: text}, nil
	case tString:
		return &Literal{base: base{pos: t.pos}, Kind: LitString, Text: t.text}, nil
	case tQuoted:
		return &Column{base: base{pos: t.pos}, Name: strings.ToLower(t.text)}, nil
	case tOp:
		if t.text == "(" {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return e, nil
		}
	case tIdent:
		kw := strings.ToLower(t.text)
		switch kw {
		case "null":
			return &Literal{base: base{pos: t.pos}, Kind: LitNull, Text: "NULL"}, nil
		case "true", "false":
			return &Literal{base: base{pos: t.pos}, Kind: LitBool, Text: strings.ToUpper(kw)}, nil
		case "case":
			return p.caseExpr(t)
		case "cast":
			return p.castExpr(t)
		}
		if reserved[kw] {
			return nil, p.errAt(t, "unexpected keyword %s (quote it to use it as a column name)", strings.ToUpper(kw))
		}
		if p.acceptOp("(") {
			call := &Call{base: base{pos: t.pos}, Name: kw}
			if p.acceptOp(")") {
				return call, nil
			}
			for {
				a, err := p.expr()
				if err != nil {
					return nil, err
				}
				call.Args = append(call.Args, a)
				if p.acceptOp(",") {
					continue
				}
				if err := p.expectOp(")"); err != nil {
					return nil, err
				}
				return call, nil
			}
		}
		return &Column{base: base{pos: t.pos}, Name: kw}, nil
	}
	if t.kind == tEOF {
		return nil, p.errAt(t, "unexpected end of expression")
	}
	return nil, p.errAt(t, "unexpected %s", t.describe())
}

func (p *parser) caseExpr(t token) (Expr, error) {
	c := &Case{base: base{pos: t.pos}}
	if !keyword(p.peek(), "WHEN") {
		return nil, p.errAt(p.peek(), "expected WHEN after CASE (only searched CASE WHEN cond THEN ... is supported)")
	}
	for p.accept("WHEN") {
		cond, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("THEN"); err != nil {
			return nil, err
		}
		then, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.Whens = append(c.Whens, When{Cond: cond, Then: then})
	}
	if p.accept("ELSE") {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.Else = e
	}
	if err := p.expectKw("END"); err != nil {
		return nil, err
	}
	return c, nil
}

func (p *parser) castExpr(t token) (Expr, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	if err := p.expectKw("AS"); err != nil {
		return nil, err
	}
	// The type runs to the matching close parenthesis; ParseType validates it.
	start := p.peek()
	depth := 0
	for {
		n := p.peek()
		if n.kind == tEOF {
			return nil, p.errAt(n, "unterminated CAST")
		}
		if n.kind == tOp && n.text == ")" {
			if depth == 0 {
				break
			}
			depth--
		}
		if n.kind == tOp && n.text == "(" {
			depth++
		}
		switch n.kind {
		case tString, tQuoted:
			return nil, p.errAt(n, "unexpected %s in a type", n.describe())
		}
		p.i++
	}
	to, err := ParseType(p.src[start.pos:p.peek().pos])
	p.i++ // )
	if err != nil {
		return nil, errs.Invalid("expression: at offset %d: %w", start.pos, err)
	}
	return &Cast{base: base{pos: t.pos}, X: x, To: to}, nil
}

// intLit returns the value of an integer literal (optionally negated by unary minus).
func intLit(e Expr) (int64, bool) {
	l, ok := e.(*Literal)
	if !ok || l.Kind != LitInt {
		return 0, false
	}
	n, err := strconv.ParseInt(l.Text, 10, 64)
	return n, err == nil
}

// stringLit returns the value of a string literal.
func stringLit(e Expr) (string, bool) {
	l, ok := e.(*Literal)
	if !ok || l.Kind != LitString {
		return "", false
	}
	return l.Text, true
}

// lookupAhead reports whether the list after IN ( is a subquery: SELECT, a column name, FROM.
// SELECT alone is not reserved (it may name a column), but "select x from" is no expression.
func (p *parser) lookupAhead() bool {
	if p.i+2 >= len(p.toks) || !keyword(p.toks[p.i], "SELECT") {
		return false
	}
	c := p.toks[p.i+1]
	return (c.kind == tQuoted || c.kind == tIdent && !reserved[strings.ToLower(c.text)]) && keyword(p.toks[p.i+2], "FROM")
}

// name reads an identifier (bare or quoted) where only a name may stand.
func (p *parser) name(what string) (string, error) {
	t := p.next()
	if t.kind == tQuoted || t.kind == tIdent && !reserved[strings.ToLower(t.text)] {
		return strings.ToLower(t.text), nil
	}
	return "", p.errAt(t, "expected %s, found %s", what, t.describe())
}

// inSelect parses the rest of x [NOT] IN (SELECT col FROM db.table [WHERE cond]).
func (p *parser) inSelect(t token, x Expr, not bool) (Expr, error) {
	p.i++ // SELECT
	in := &InSelect{base: base{pos: t.pos}, X: x, Not: not}
	var err error
	if in.Col, err = p.name("a column name"); err != nil {
		return nil, err
	}
	p.i++ // FROM
	if in.DB, err = p.name("a database name"); err != nil {
		return nil, err
	}
	if err := p.expectOp("."); err != nil {
		return nil, p.errAt(p.toks[p.i], "the lookup table must be qualified: db.table")
	}
	if in.Table, err = p.name("a table name"); err != nil {
		return nil, err
	}
	if p.accept("WHERE") {
		if in.Where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return in, nil
}
