package filter

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

// Expr is a parsed partition filter.
type Expr interface {
	// Eval reports whether the partition whose key values are values (in the order of keys, the
	// table's partition keys) satisfies the filter. It fails with errs.Invalid when the filter
	// names a key the table does not have or compares a key with a literal of an incompatible
	// type.
	Eval(keys []*hm.FieldSchema, values []string) (bool, error)
	// String renders the filter canonically; Parse(e.String()) is equivalent to e.
	String() string
}

// maxLikePattern bounds the cost of matching one LIKE (RE2 runs in pattern x value time).
const maxLikePattern = 1024

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 500

// Parse parses a partition filter. Errors are errs.Invalid and name the offset of the problem.
// The empty filter matches every partition, as in Hive (ExpressionTree.EMPTY_TREE).
func Parse(s string) (Expr, error) {
	if s == "" {
		return &filterExpr{}, nil
	}
	toks, err := lex(s)
	if err == nil {
		p := &parser{toks: toks}
		var root node
		root, err = p.parseOr()
		if err == nil && p.peek().kind != tkEOF {
			err = p.errorf(p.peek(), "unexpected %s", p.peek().describe())
		}
		if err == nil {
			return &filterExpr{root: root}, nil
		}
	}
	var se *syntaxError
	if errors.As(err, &se) {
		return nil, errs.Invalid("invalid partition filter %s: %s", quoteFilter(s), se)
	}
	return nil, errs.Invalid("invalid partition filter %s: %w", quoteFilter(s), err)
}

// quoteFilter quotes the filter for an error message, shortening a long one: the offset
// already says where the problem is.
func quoteFilter(s string) string {
	const limit = 200
	if len(s) <= limit {
		return fmt.Sprintf("%q", s)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q...", s[:cut])
}

// Keys returns the partition key names e references, lower-case, each once, in order of first
// appearance.
func Keys(e Expr) []string {
	f, ok := e.(*filterExpr)
	if !ok {
		return nil
	}
	if f.root == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	f.root.keys(func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	})
	return out
}

// filterExpr is a parsed filter; a nil root is the empty filter.
type filterExpr struct{ root node }

func (f *filterExpr) String() string {
	if f.root == nil {
		return ""
	}
	var b strings.Builder
	f.root.write(&b)
	return b.String()
}

func (f *filterExpr) Eval(keys []*hm.FieldSchema, values []string) (bool, error) {
	if len(keys) != len(values) {
		return false, errs.Invalid("invalid partition filter evaluation: %d partition keys but %d values", len(keys), len(values))
	}
	if f.root == nil {
		return true, nil
	}
	r := &row{keys: keys, values: values}
	if err := f.root.check(r); err != nil {
		return false, err
	}
	return f.root.eval(r) == triTrue, nil
}

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(t token, format string, args ...any) error {
	return &syntaxError{t.pos, fmt.Sprintf(format, args...)}
}

func (p *parser) expect(kind tokKind, what string) (token, error) {
	t := p.next()
	if t.kind != kind {
		return t, p.errorf(t, "expected %s, found %s", what, t.describe())
	}
	return t, nil
}

func (p *parser) expectKeyword(kw string) error {
	t := p.next()
	if !t.isKeyword(kw) {
		return p.errorf(t, "expected %s, found %s", kw, t.describe())
	}
	return nil
}

func (p *parser) parseOr() (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errorf(p.peek(), "filter nests deeper than %d levels", maxDepth)
	}
	return p.parseLogic(false)
}

func (p *parser) parseLogic(and bool) (node, error) {
	sub, kw := p.parseAnd, "OR"
	if and {
		sub, kw = p.parseUnary, "AND"
	}
	first, err := sub()
	if err != nil {
		return nil, err
	}
	xs := []node{first}
	for p.peek().isKeyword(kw) {
		p.next()
		x, err := sub()
		if err != nil {
			return nil, err
		}
		xs = append(xs, x)
	}
	if len(xs) == 1 {
		return first, nil
	}
	// Flatten nested operands of the same kind: (a AND b) AND c is a AND b AND c.
	var flat []node
	for _, x := range xs {
		if l, ok := x.(*logicNode); ok && l.and == and {
			flat = append(flat, l.xs...)
		} else {
			flat = append(flat, x)
		}
	}
	return &logicNode{and: and, xs: flat}, nil
}

func (p *parser) parseAnd() (node, error) { return p.parseLogic(true) }

func (p *parser) parseUnary() (node, error) {
	if p.peek().isKeyword("NOT") {
		p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, p.errorf(p.peek(), "filter nests deeper than %d levels", maxDepth)
		}
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &notNode{x: x}, nil
	}
	return p.parsePrimary()
}

// isKeyToken reports whether t can name a partition key here. DATE and TIMESTAMP are keys
// unless a string follows (then they introduce a literal).
func (p *parser) isKeyToken(n int) bool {
	t := p.peekAt(n)
	switch t.kind {
	case tkQuoted:
		return true
	case tkIdent:
		up := strings.ToUpper(t.text)
		if up == "DATE" || up == "TIMESTAMP" {
			return p.peekAt(n+1).kind != tkString
		}
		return !keywords[up]
	}
	return false
}

func keyName(t token) string { return strings.ToLower(t.text) }

func (p *parser) parsePrimary() (node, error) {
	t := p.peek()
	switch {
	case t.kind == tkLParen:
		// (STRUCT(a, b)) [NOT] IN (...)
		if p.peekAt(1).isKeyword("STRUCT") {
			return p.parseStructIn()
		}
		// (key) [NOT] IN (...), Hive's spelling of IN.
		if p.isKeyToken(1) && p.peekAt(2).kind == tkRParen {
			after := p.peekAt(3)
			if after.isKeyword("IN") || (after.isKeyword("NOT") && p.peekAt(4).isKeyword("IN")) {
				p.next()
				key := keyName(p.next())
				p.next()
				return p.parseIn(key)
			}
		}
		p.next()
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tkRParen, "')'"); err != nil {
			return nil, err
		}
		return x, nil
	case p.isKeyToken(0):
		return p.parseKeyCondition()
	case t.kind == tkEOF:
		return nil, p.errorf(t, "expected a condition")
	case t.kind == tkIdent && keywords[strings.ToUpper(t.text)] && !t.isKeyword("DATE") && !t.isKeyword("TIMESTAMP"):
		return nil, p.errorf(t, "expected a condition, found %s", t.describe())
	}
	// literal op key
	lit, err := p.parseLiteral()
	if err != nil {
		return nil, err
	}
	if lit == nil {
		return nil, p.errorf(t, "expected a partition key, a value or '(', found %s", t.describe())
	}
	opTok := p.next()
	if opTok.kind != tkOp && !opTok.isKeyword("LIKE") {
		return nil, p.errorf(opTok, "expected a comparison operator, found %s", opTok.describe())
	}
	if opTok.isKeyword("LIKE") {
		// Hive: "Value should be on the RHS for LIKE operator".
		return nil, p.errorf(opTok, "the pattern of LIKE must be on its right-hand side")
	}
	if !p.isKeyToken(0) {
		return nil, p.errorf(p.peek(), "expected a partition key, found %s", p.peek().describe())
	}
	key := keyName(p.next())
	return &cmpNode{key: key, op: opFrom(opTok.text), lit: lit, reverse: true}, nil
}

func (p *parser) parseKeyCondition() (node, error) {
	key := keyName(p.next())
	t := p.peek()
	not := false
	if t.isKeyword("NOT") {
		not = true
		p.next()
		t = p.peek()
		if !t.isKeyword("BETWEEN") && !t.isKeyword("IN") && !t.isKeyword("LIKE") {
			return nil, p.errorf(t, "expected BETWEEN, IN or LIKE after NOT, found %s", t.describe())
		}
	}
	switch {
	case t.isKeyword("BETWEEN"):
		p.next()
		lo, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		if err := p.expectKeyword("AND"); err != nil {
			return nil, err
		}
		hi, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		return &betweenNode{key: key, not: not, lo: lo, hi: hi}, nil
	case t.isKeyword("IN"):
		if not {
			p.i-- // let parseIn see NOT
		}
		return p.parseIn(key)
	case t.isKeyword("LIKE"):
		p.next()
		n, err := p.parseLike(key)
		if err != nil || !not {
			return n, err
		}
		return &notNode{x: n}, nil
	case t.kind == tkOp:
		p.next()
		lit, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		return &cmpNode{key: key, op: opFrom(t.text), lit: lit}, nil
	}
	return nil, p.errorf(t, "expected a comparison operator after %s, found %s", quoteIdent(key), t.describe())
}

func (p *parser) parseLike(key string) (node, error) {
	lit, err := p.parseValue()
	if err != nil {
		return nil, err
	}
	if len(lit.text) > maxLikePattern {
		return nil, &syntaxError{lit.pos, fmt.Sprintf("LIKE pattern is longer than %d bytes", maxLikePattern)}
	}
	re, err := regexp.Compile("^(?:" + likeToRegexp(lit.text) + ")$")
	if err != nil {
		return nil, &syntaxError{lit.pos, fmt.Sprintf("LIKE pattern %s is not a regular expression Propolis can evaluate (%v)", lit, unwrapRegexpErr(err))}
	}
	return &cmpNode{key: key, op: opLike, lit: lit, like: re}, nil
}

func unwrapRegexpErr(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// likeToRegexp is Hive's ExpressionTree.makeJdoFilterForLike: % and _ become .* and ., \% and
// \_ are literal, everything else passes through to the regular expression unchanged.
func likeToRegexp(pattern string) string {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c == '\\' && i+1 < len(pattern) && (pattern[i+1] == '_' || pattern[i+1] == '%') {
			b.WriteByte(pattern[i+1])
			i++
			continue
		}
		switch c {
		case '_':
			b.WriteByte('.')
		case '%':
			b.WriteString(".*")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// parseIn parses `[NOT] IN (v, ...)` for key.
func (p *parser) parseIn(key string) (node, error) {
	not := false
	if p.peek().isKeyword("NOT") {
		p.next()
		not = true
	}
	if err := p.expectKeyword("IN"); err != nil {
		return nil, err
	}
	values, err := p.parseValueList()
	if err != nil {
		return nil, err
	}
	return &inNode{key: key, not: not, values: values}, nil
}

func (p *parser) parseValueList() ([]*literal, error) {
	if _, err := p.expect(tkLParen, "'('"); err != nil {
		return nil, err
	}
	var values []*literal
	for {
		v, err := p.parseValue()
		if err != nil {
			return nil, err
		}
		values = append(values, v)
		t := p.next()
		if t.kind == tkRParen {
			return values, nil
		}
		if t.kind != tkComma {
			return nil, p.errorf(t, "expected ',' or ')', found %s", t.describe())
		}
	}
}

func (p *parser) parseStructIn() (node, error) {
	p.next() // (
	p.next() // STRUCT
	if _, err := p.expect(tkLParen, "'('"); err != nil {
		return nil, err
	}
	var names []string
	for {
		if !p.isKeyToken(0) {
			return nil, p.errorf(p.peek(), "expected a partition key, found %s", p.peek().describe())
		}
		names = append(names, keyName(p.next()))
		t := p.next()
		if t.kind == tkRParen {
			break
		}
		if t.kind != tkComma {
			return nil, p.errorf(t, "expected ',' or ')', found %s", t.describe())
		}
	}
	if _, err := p.expect(tkRParen, "')'"); err != nil {
		return nil, err
	}
	not := false
	if p.peek().isKeyword("NOT") {
		p.next()
		not = true
	}
	if err := p.expectKeyword("IN"); err != nil {
		return nil, err
	}
	if _, err := p.expect(tkLParen, "'('"); err != nil {
		return nil, err
	}
	var tuples [][]*literal
	for {
		if p.peek().isKeyword("CONST") {
			p.next()
		}
		t := p.peek()
		if err := p.expectKeyword("STRUCT"); err != nil {
			return nil, err
		}
		vals, err := p.parseValueList()
		if err != nil {
			return nil, err
		}
		if len(vals) != len(names) {
			return nil, p.errorf(t, "STRUCT has %d values but %d keys are compared", len(vals), len(names))
		}
		tuples = append(tuples, vals)
		t = p.next()
		if t.kind == tkRParen {
			break
		}
		if t.kind != tkComma {
			return nil, p.errorf(t, "expected ',' or ')', found %s", t.describe())
		}
	}
	return &structInNode{keyNames: names, not: not, tuples: tuples}, nil
}

// parseValue parses a literal, reporting "expected a value" when there is none.
func (p *parser) parseValue() (*literal, error) {
	t := p.peek()
	lit, err := p.parseLiteral()
	if err != nil {
		return nil, err
	}
	if lit == nil {
		if t.kind == tkEOF {
			return nil, p.errorf(t, "expected a value")
		}
		return nil, p.errorf(t, "expected a value, found %s", t.describe())
	}
	return lit, nil
}

// parseLiteral parses a literal; it returns nil, nil when none starts here and an error only
// for a malformed one.
func (p *parser) parseLiteral() (*literal, error) {
	t := p.peek()
	switch {
	case t.kind == tkString:
		// Adjacent strings concatenate, as in SQL ('a' 'b' is 'ab').
		var b strings.Builder
		for p.peek().kind == tkString {
			b.WriteString(p.next().text)
		}
		return newLiteral(litString, b.String(), t.pos), nil
	case t.kind == tkInt:
		p.next()
		return p.intLiteral(t.text, t)
	case t.kind == tkMinus:
		p.next()
		n := p.peek()
		if n.kind != tkInt {
			return nil, p.errorf(n, "expected digits after '-', found %s", n.describe())
		}
		p.next()
		return p.intLiteral("-"+n.text, t)
	case t.kind == tkDate:
		p.next()
		return p.dateLiteral(t.text, t)
	case t.kind == tkTimestamp:
		p.next()
		return p.timestampLiteral(t.text, t)
	case t.isKeyword("DATE") && p.peekAt(1).kind == tkString:
		p.next()
		return p.dateLiteral(p.next().text, t)
	case t.isKeyword("TIMESTAMP") && p.peekAt(1).kind == tkString:
		p.next()
		return p.timestampLiteral(p.next().text, t)
	}
	return nil, nil
}

func (p *parser) intLiteral(text string, at token) (*literal, error) {
	l := newLiteral(litInt, text, at.pos)
	if !l.intOK {
		return nil, p.errorf(at, "integer %s is out of range", text)
	}
	// Canonical spelling, so 007 and 7 render the same.
	l.text = fmt.Sprint(l.intVal)
	return l, nil
}

func (p *parser) dateLiteral(text string, at token) (*literal, error) {
	if _, ok := parseDate(text); !ok || len(text) != len("2006-01-02") {
		return nil, p.errorf(at, "%q is not a date (yyyy-mm-dd)", text)
	}
	return newLiteral(litDate, text, at.pos), nil
}

func (p *parser) timestampLiteral(text string, at token) (*literal, error) {
	if _, ok := parseTimestamp(text); !ok {
		return nil, p.errorf(at, "%q is not a timestamp (yyyy-mm-dd hh:mm:ss[.fffffffff])", text)
	}
	return newLiteral(litTimestamp, text, at.pos), nil
}
