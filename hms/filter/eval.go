package filter

import (
	"math/big"
	"strings"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

// DefaultPartitionName is Hive's hive.exec.default.partition.name: the value stored for a NULL
// partition key.
const DefaultPartitionName = "__HIVE_DEFAULT_PARTITION__"

// keyClass is how a key's stored text is compared, derived from its Hive type.
type keyClass int

const (
	classString keyClass = iota
	classIntegral
	classDecimal
	classDate
	classTimestamp
)

var classNames = [...]string{classString: "string", classIntegral: "integral", classDecimal: "numeric", classDate: "date", classTimestamp: "timestamp"}

func classOf(hiveType string) keyClass {
	t := strings.ToLower(strings.TrimSpace(hiveType))
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	switch t {
	case "tinyint", "smallint", "int", "integer", "bigint":
		return classIntegral
	case "decimal", "numeric", "float", "double", "double precision":
		return classDecimal
	case "date":
		return classDate
	case "timestamp":
		return classTimestamp
	}
	return classString
}

// row is one partition being evaluated.
type row struct {
	keys   []*hm.FieldSchema
	values []string
}

func (r *row) lookup(key string) (int, bool) {
	for i, k := range r.keys {
		if k != nil && strings.EqualFold(k.Name, key) {
			return i, true
		}
	}
	return -1, false
}

func (r *row) checkLiteral(key string, l *literal) error {
	i, ok := r.lookup(key)
	if !ok {
		return errs.Invalid("invalid partition filter: %q is not a partitioning column of the table", key)
	}
	if l == nil || l.text == DefaultPartitionName {
		return nil
	}
	class := classOf(r.keys[i].Type)
	ok = true
	switch class {
	case classIntegral:
		ok = l.intOK
	case classDecimal:
		ok = l.rat != nil
	case classDate:
		ok = l.dateOK
	case classTimestamp:
		ok = l.tsOK || l.dateOK
	}
	if !ok {
		return errs.Invalid("invalid partition filter: cannot compare %s partition key %q with %s", r.keys[i].Type, key, l)
	}
	return nil
}

// compare evaluates `key o l` for the current row.
func (r *row) compare(key string, o op, l *literal, like func(string) bool) tri {
	i, _ := r.lookup(key)
	v := r.values[i]
	class := classOf(r.keys[i].Type)
	if class != classString && v == DefaultPartitionName && l.text != DefaultPartitionName {
		return triUnknown
	}
	if like != nil {
		return triOf(like(v))
	}
	if class == classString || l.text == DefaultPartitionName {
		return triOf(o.holds(strings.Compare(v, l.text)))
	}
	var c int
	switch class {
	case classIntegral:
		n, ok := parseInt(v)
		if !ok {
			return triUnknown
		}
		switch {
		case n < l.intVal:
			c = -1
		case n > l.intVal:
			c = 1
		}
	case classDecimal:
		x := parseRat(v)
		if x == nil {
			return triUnknown
		}
		c = x.Cmp(l.rat)
	case classDate:
		d, ok := parseDatePrefix(v)
		if !ok {
			return triUnknown
		}
		c = d.Compare(l.date)
	case classTimestamp:
		t, ok := parseTimestamp(v)
		if !ok {
			return triUnknown
		}
		lt := l.ts
		if !l.tsOK {
			lt = l.date
		}
		c = t.Compare(lt)
	}
	return triOf(o.holds(c))
}

func (n *cmpNode) check(r *row) error { return r.checkLiteral(n.key, n.likeOrLit()) }

// likeOrLit is the literal to type-check: LIKE always reads the stored text, so its pattern
// needs no type check.
func (n *cmpNode) likeOrLit() *literal {
	if n.op == opLike {
		return nil
	}
	return n.lit
}

func (n *cmpNode) eval(r *row) tri {
	if n.like != nil {
		return r.compare(n.key, opLike, n.lit, n.like.MatchString)
	}
	return r.compare(n.key, n.evalOp(), n.lit, nil)
}

func (n *inNode) check(r *row) error {
	for _, v := range n.values {
		if err := r.checkLiteral(n.key, v); err != nil {
			return err
		}
	}
	return nil
}

// eval is the OR of equalities (AND of inequalities for NOT IN), as Hive expands it.
func (n *inNode) eval(r *row) tri {
	acc := triFalse
	for _, v := range n.values {
		acc = or(acc, r.compare(n.key, opEQ, v, nil))
		if acc == triTrue {
			break
		}
	}
	if n.not {
		return not(acc)
	}
	return acc
}

func (n *structInNode) check(r *row) error {
	for _, t := range n.tuples {
		for j, v := range t {
			if err := r.checkLiteral(n.keyNames[j], v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (n *structInNode) eval(r *row) tri {
	acc := triFalse
	for _, t := range n.tuples {
		all := triTrue
		for j, v := range t {
			all = and(all, r.compare(n.keyNames[j], opEQ, v, nil))
		}
		acc = or(acc, all)
		if acc == triTrue {
			break
		}
	}
	if n.not {
		return not(acc)
	}
	return acc
}

func (n *betweenNode) check(r *row) error {
	if err := r.checkLiteral(n.key, n.lo); err != nil {
		return err
	}
	return r.checkLiteral(n.key, n.hi)
}

func (n *betweenNode) eval(r *row) tri {
	in := and(r.compare(n.key, opGE, n.lo, nil), r.compare(n.key, opLE, n.hi, nil))
	if n.not {
		return not(in)
	}
	return in
}

func (n *notNode) check(r *row) error { return n.x.check(r) }
func (n *notNode) eval(r *row) tri    { return not(n.x.eval(r)) }

func (n *logicNode) check(r *row) error {
	for _, x := range n.xs {
		if err := x.check(r); err != nil {
			return err
		}
	}
	return nil
}

func (n *logicNode) eval(r *row) tri {
	acc := triOf(n.and)
	for _, x := range n.xs {
		if n.and {
			acc = and(acc, x.eval(r))
			if acc == triFalse {
				return acc
			}
		} else {
			acc = or(acc, x.eval(r))
			if acc == triTrue {
				return acc
			}
		}
	}
	return acc
}

func and(a, b tri) tri { return min(a, b) }
func or(a, b tri) tri  { return max(a, b) }
func not(a tri) tri    { return triTrue - a }

func parseInt(s string) (int64, bool) {
	// Hive casts to decimal(21,0); a value with a fraction or outside int64 is not an integer
	// partition value Hive itself would have written.
	var n int64
	neg := false
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	if i == len(s) {
		return 0, false
	}
	for ; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		d := int64(s[i] - '0')
		if neg {
			if n < (-1<<63+d)/10 {
				return 0, false
			}
			n = n*10 - d
		} else {
			if n > (1<<63-1-d)/10 {
				return 0, false
			}
			n = n*10 + d
		}
	}
	return n, true
}

func parseRat(s string) *big.Rat {
	if s == "" || len(s) > 400 {
		return nil
	}
	for i := 0; i < len(s); i++ {
		// big.Rat also reads fractions ("1/2") and hex; Hive's decimals are plain digits.
		c := s[i]
		if !isDigit(c) && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return nil
		}
	}
	// A huge exponent would make big.Rat materialize an enormous number.
	if i := strings.IndexAny(s, "eE"); i >= 0 && len(strings.TrimLeft(s[i+1:], "+-")) > 3 {
		return nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil
	}
	return r
}

func parseDate(s string) (time.Time, bool) {
	if len(s) != len("2006-01-02") {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02", s)
	return t, err == nil
}

// parseDatePrefix reads a stored date value. Some writers (Pig) store a date with a time part,
// which Hive's cast to date ignores.
func parseDatePrefix(s string) (time.Time, bool) {
	if len(s) > 10 && (s[10] == ' ' || s[10] == 'T') {
		s = s[:10]
	}
	return parseDate(s)
}

func parseTimestamp(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02 15:04:05") || len(s) > 40 {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02 15:04:05.999999999", s)
	return t, err == nil
}
