package filter

import (
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// node is one element of a parsed filter. Evaluation is three-valued (SQL NULL semantics), so
// nodes report a tri rather than a bool.
type node interface {
	eval(r *row) tri
	// check reports the first problem that makes the node unevaluable against these keys.
	check(r *row) error
	write(b *strings.Builder)
	keys(add func(string))
}

type tri int8

const (
	triFalse tri = iota
	triUnknown
	triTrue
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

type op int

const (
	opEQ op = iota
	opNE
	opLT
	opLE
	opGT
	opGE
	opLike
)

var opText = [...]string{opEQ: "=", opNE: "<>", opLT: "<", opLE: "<=", opGT: ">", opGE: ">=", opLike: "LIKE"}

func opFrom(text string) op {
	switch text {
	case "=":
		return opEQ
	case "!=", "<>":
		return opNE
	case "<":
		return opLT
	case "<=":
		return opLE
	case ">":
		return opGT
	case ">=":
		return opGE
	}
	return opLike
}

// flip turns `literal op key` into the equivalent `key op' literal`.
func (o op) flip() op {
	switch o {
	case opLT:
		return opGT
	case opLE:
		return opGE
	case opGT:
		return opLT
	case opGE:
		return opLE
	}
	return o
}

// holds applies the operator to the result of a three-way comparison.
func (o op) holds(c int) bool {
	switch o {
	case opEQ:
		return c == 0
	case opNE:
		return c != 0
	case opLT:
		return c < 0
	case opLE:
		return c <= 0
	case opGT:
		return c > 0
	case opGE:
		return c >= 0
	}
	return false
}

type litKind int

const (
	litString litKind = iota
	litInt
	litDate
	litTimestamp
)

// literal is a constant of the filter, with its readings under each key type worked out once
// at parse time so evaluation per partition does no parsing of the literal.
type literal struct {
	kind litKind
	text string // the value as text: string contents, decimal digits, date or timestamp text
	pos  int

	intOK  bool
	intVal int64
	rat    *big.Rat // nil when the text is not a number
	dateOK bool
	date   time.Time
	tsOK   bool
	ts     time.Time
}

func newLiteral(kind litKind, text string, pos int) *literal {
	l := &literal{kind: kind, text: text, pos: pos}
	if kind == litString || kind == litInt {
		if v, err := strconv.ParseInt(text, 10, 64); err == nil {
			l.intOK, l.intVal = true, v
		}
		l.rat = parseRat(text)
	}
	if kind == litString || kind == litDate {
		l.date, l.dateOK = parseDate(text)
	}
	if kind == litString || kind == litTimestamp {
		l.ts, l.tsOK = parseTimestamp(text)
	}
	return l
}

func (l *literal) write(b *strings.Builder) {
	switch l.kind {
	case litString:
		b.WriteString(quoteString(l.text))
	case litInt:
		b.WriteString(l.text)
	case litDate:
		b.WriteString("DATE ")
		b.WriteString(quoteString(l.text))
	case litTimestamp:
		b.WriteString("TIMESTAMP ")
		b.WriteString(quoteString(l.text))
	}
}

func (l *literal) String() string {
	var b strings.Builder
	l.write(&b)
	return b.String()
}

// quoteString renders s as a single-quoted literal that lexString reads back as s.
func quoteString(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' || s[i] == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// quoteIdent renders a key name so that it lexes back as the same identifier.
func quoteIdent(name string) string {
	plain := name != "" && !keywords[strings.ToUpper(name)] && strings.Trim(name, "0123456789") != "" &&
		dateLen(name) == 0
	for i := 0; plain && i < len(name); i++ {
		plain = isIdentByte(name[i])
	}
	if plain {
		return name
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// cmpNode is `key op literal` (or `literal op key` when reverse).
type cmpNode struct {
	key     string
	op      op
	lit     *literal
	reverse bool
	like    *regexp.Regexp
}

func (n *cmpNode) write(b *strings.Builder) {
	if n.reverse {
		n.lit.write(b)
		b.WriteString(" " + opText[n.op] + " ")
		b.WriteString(quoteIdent(n.key))
		return
	}
	b.WriteString(quoteIdent(n.key))
	b.WriteString(" " + opText[n.op] + " ")
	n.lit.write(b)
}

func (n *cmpNode) keys(add func(string)) { add(n.key) }

// evalOp is the operator as seen from the key's side.
func (n *cmpNode) evalOp() op {
	if n.reverse {
		return n.op.flip()
	}
	return n.op
}

// inNode is `key [NOT] IN (v1, v2, ...)`.
type inNode struct {
	key    string
	not    bool
	values []*literal
}

func (n *inNode) write(b *strings.Builder) {
	b.WriteString(quoteIdent(n.key))
	if n.not {
		b.WriteString(" NOT")
	}
	b.WriteString(" IN (")
	for i, v := range n.values {
		if i > 0 {
			b.WriteString(", ")
		}
		v.write(b)
	}
	b.WriteString(")")
}

func (n *inNode) keys(add func(string)) { add(n.key) }

// structInNode is Hive's multi-column IN: `(STRUCT(k1, k2)) [NOT] IN (STRUCT(v1, v2), ...)`.
type structInNode struct {
	keyNames []string
	not      bool
	tuples   [][]*literal
}

func (n *structInNode) write(b *strings.Builder) {
	b.WriteString("(STRUCT(")
	for i, k := range n.keyNames {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(k))
	}
	b.WriteString("))")
	if n.not {
		b.WriteString(" NOT")
	}
	b.WriteString(" IN (")
	for i, t := range n.tuples {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("STRUCT(")
		for j, v := range t {
			if j > 0 {
				b.WriteString(", ")
			}
			v.write(b)
		}
		b.WriteString(")")
	}
	b.WriteString(")")
}

func (n *structInNode) keys(add func(string)) {
	for _, k := range n.keyNames {
		add(k)
	}
}

// betweenNode is `key [NOT] BETWEEN lo AND hi`, inclusive as in Hive.
type betweenNode struct {
	key    string
	not    bool
	lo, hi *literal
}

func (n *betweenNode) write(b *strings.Builder) {
	b.WriteString(quoteIdent(n.key))
	if n.not {
		b.WriteString(" NOT")
	}
	b.WriteString(" BETWEEN ")
	n.lo.write(b)
	b.WriteString(" AND ")
	n.hi.write(b)
}

func (n *betweenNode) keys(add func(string)) { add(n.key) }

type notNode struct{ x node }

func (n *notNode) write(b *strings.Builder) {
	b.WriteString("NOT ")
	writeOperand(b, n.x, true)
}

func (n *notNode) keys(add func(string)) { n.x.keys(add) }

// logicNode is a flattened AND or OR of two or more operands.
type logicNode struct {
	and bool
	xs  []node
}

func (n *logicNode) write(b *strings.Builder) {
	sep := " OR "
	if n.and {
		sep = " AND "
	}
	for i, x := range n.xs {
		if i > 0 {
			b.WriteString(sep)
		}
		writeOperand(b, x, n.and)
	}
}

func (n *logicNode) keys(add func(string)) {
	for _, x := range n.xs {
		x.keys(add)
	}
}

// writeOperand parenthesizes x where the grammar's precedence would otherwise regroup it.
// Struct IN starts with '(' of its own and needs no extra parentheses.
func writeOperand(b *strings.Builder, x node, tight bool) {
	l, isLogic := x.(*logicNode)
	if isLogic && (tight || !l.and) {
		b.WriteString("(")
		x.write(b)
		b.WriteString(")")
		return
	}
	x.write(b)
}
