package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/propolis/propolis/policy/expr"
)

// callNode applies a function to its arguments, each evaluated and cast to argTypes[i].
type callNode struct {
	t        expr.Type
	args     []node
	argTypes []expr.Type // nil: each argument as it is
	fn       func(c *evalCtx, args []arrow.Array) (arrow.Array, error)
}

func (n *callNode) typ() expr.Type { return n.t }
func (n *callNode) eval(c *evalCtx) (arrow.Array, error) {
	args := make([]arrow.Array, len(n.args))
	defer releaseAll(args)
	for i, a := range n.args {
		var err error
		if n.argTypes != nil {
			args[i], err = evalAs(c, a, n.argTypes[i])
		} else {
			args[i], err = a.eval(c)
		}
		if err != nil {
			return nil, err
		}
	}
	return n.fn(c, args)
}

func intLit(e expr.Expr) (int64, bool) {
	l, ok := e.(*expr.Literal)
	if !ok || l.Kind != expr.LitInt {
		return 0, false
	}
	n, err := strconv.ParseInt(l.Text, 10, 64)
	return n, err == nil
}

func stringLit(e expr.Expr) (string, bool) {
	l, ok := e.(*expr.Literal)
	if !ok || l.Kind != expr.LitString {
		return "", false
	}
	return l.Text, true
}

func repeatString(t expr.Type, s string) node {
	return &constNode{t: t, sc: scalar.NewStringScalar(s)}
}

func (c *compiler) call(e *expr.Call) (node, error) {
	args := make([]node, len(e.Args))
	for i, a := range e.Args {
		if e.Name == "is_member" {
			break
		}
		var err error
		if args[i], err = c.compile(a); err != nil {
			return nil, err
		}
	}
	t := e.Type()
	n := &callNode{t: t, args: args}
	str := expr.TString
	switch e.Name {
	case "current_user":
		if c.env.User == "" {
			return nil, invalidf("current_user(): no caller to evaluate for")
		}
		return repeatString(t, c.env.User), nil
	case "is_member":
		g, _ := stringLit(e.Args[0])
		member := false
		for _, m := range c.env.Groups {
			member = member || m == g
		}
		return &constNode{t: expr.TBoolean, sc: scalar.NewBooleanScalar(member)}, nil
	case "lower", "upper":
		n.argTypes = []expr.Type{str}
		f := strings.ToLower
		if e.Name == "upper" {
			f = strings.ToUpper
		}
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) {
			return mapStrings(c.mem, a[0].(*array.String), func(v string, buf []byte) ([]byte, bool) {
				return append(buf, f(v)...), true
			}), nil
		}
	case "length":
		n.argTypes = []expr.Type{str}
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) {
			s := a[0].(*array.String)
			b := array.NewInt32Builder(c.mem)
			defer b.Release()
			b.Reserve(s.Len())
			for i := 0; i < s.Len(); i++ {
				if s.IsNull(i) {
					b.UnsafeAppendBoolToBitmap(false)
				} else {
					b.UnsafeAppend(int32(utf8.RuneCountInString(s.Value(i))))
				}
			}
			return b.NewArray(), nil
		}
	case "substr":
		n.argTypes = []expr.Type{str, expr.TBigInt, expr.TBigInt}[:len(args)]
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) {
			return substr(c.mem, a), nil
		}
	case "lpad", "rpad":
		n.argTypes = []expr.Type{str, expr.TBigInt, str}
		left := e.Name == "lpad"
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) {
			return pad(c.mem, a, left), nil
		}
	case "concat":
		n.argTypes = make([]expr.Type, len(args))
		for i := range args {
			n.argTypes[i] = str
		}
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) { return concat(c.mem, a, c.n), nil }
	case "coalesce":
		n.argTypes = make([]expr.Type, len(args))
		for i := range args {
			n.argTypes[i] = t
		}
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) {
			choice := make([]int32, c.n)
			for i := range choice {
				choice[i] = -1
				for k := range a {
					if a[k].IsValid(i) {
						choice[i] = int32(k)
						break
					}
				}
			}
			return pick(c.mem, t, a, choice)
		}
	case "abs":
		n.argTypes = []expr.Type{t}
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) { return abs(c.mem, a[0], t) }
	case "round":
		digits := int64(0)
		if len(e.Args) == 2 {
			digits, _ = intLit(e.Args[1])
		}
		return c.round(args[0], t, int(digits))
	case "year":
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) { return year(c.mem, a[0], c.n), nil }
	case "date_trunc":
		unit, _ := stringLit(e.Args[0])
		unit = strings.ToLower(unit)
		n.args = args[1:]
		n.argTypes = []expr.Type{t}
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) { return dateTrunc(c.mem, unit, a[0], t) }
	case "sha256":
		in := args[0].typ()
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) { return sha256Hex(c.mem, a[0], in) }
	case "tokenize", "encrypt", "fpe_digits", "dp_noise":
		return c.keyed(e, n)
	default:
		return nil, unsupportedf("function %s()", e.Name)
	}
	return n, nil
}

// mapStrings applies f to every non-NULL string; f returning false makes the row NULL.
func mapStrings(mem memory.Allocator, s *array.String, f func(v string, buf []byte) ([]byte, bool)) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	n := s.Len()
	b.Reserve(n)
	b.ReserveData(len(s.ValueBytes()))
	var buf []byte
	for i := 0; i < n; i++ {
		if s.IsNull(i) {
			b.AppendNull()
			continue
		}
		out, ok := f(s.Value(i), buf[:0])
		if !ok {
			b.AppendNull()
			continue
		}
		b.BinaryBuilder.Append(out)
		buf = out
	}
	return b.NewArray()
}

// substr is Spark's substringSQL over code points: positions are 1-based, 0 reads as 1, a
// negative position counts from the end, a negative length gives ”.
func substr(mem memory.Allocator, a []arrow.Array) arrow.Array {
	s := a[0].(*array.String)
	pos := a[1].(*array.Int64)
	var length *array.Int64
	if len(a) == 3 {
		length = a[2].(*array.Int64)
	}
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(s.Len())
	for i := 0; i < s.Len(); i++ {
		if s.IsNull(i) || pos.IsNull(i) || length != nil && length.IsNull(i) {
			b.AppendNull()
			continue
		}
		v := s.Value(i)
		chars := int64(utf8.RuneCountInString(v))
		p := pos.Value(i)
		var start int64
		switch {
		case p > 0:
			start = p - 1
		case p < 0:
			start = chars + p
		}
		end := int64(math.MaxInt64)
		if length != nil {
			l := length.Value(i)
			end = start + l
			if l > 0 && end < start {
				end = math.MaxInt64
			}
		}
		start = max(start, 0)
		if start >= end || start >= chars {
			b.Append("")
			continue
		}
		end = min(end, chars)
		lo := byteOffset(v, int(start))
		hi := lo + byteOffset(v[lo:], int(end-start))
		b.Append(v[lo:hi])
	}
	return b.NewArray()
}

// pad is Spark's lpad/rpad: a string longer than the target is cut to it, a target below 1
// gives ”, an empty pad leaves the string (cut to the target) as it is.
func pad(mem memory.Allocator, a []arrow.Array, left bool) arrow.Array {
	s, ln, p := a[0].(*array.String), a[1].(*array.Int64), a[2].(*array.String)
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(s.Len())
	var buf []byte
	for i := 0; i < s.Len(); i++ {
		if s.IsNull(i) || ln.IsNull(i) || p.IsNull(i) {
			b.AppendNull()
			continue
		}
		v, target, padding := s.Value(i), ln.Value(i), p.Value(i)
		if target <= 0 {
			b.Append("")
			continue
		}
		chars := int64(utf8.RuneCountInString(v))
		if chars >= target || padding == "" {
			b.Append(v[:byteOffset(v, int(min(target, chars)))])
			continue
		}
		need := target - chars
		buf = buf[:0]
		if !left {
			buf = append(buf, v...)
		}
		padChars := int64(utf8.RuneCountInString(padding))
		for need > 0 {
			if need >= padChars {
				buf = append(buf, padding...)
				need -= padChars
				continue
			}
			buf = append(buf, padding[:byteOffset(padding, int(need))]...)
			need = 0
		}
		if left {
			buf = append(buf, v...)
		}
		b.BinaryBuilder.Append(buf)
	}
	return b.NewArray()
}

func concat(mem memory.Allocator, a []arrow.Array, n int) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(n)
	var buf []byte
	ss := make([]*array.String, len(a))
	for k := range a {
		ss[k] = a[k].(*array.String)
	}
rows:
	for i := 0; i < n; i++ {
		buf = buf[:0]
		for _, s := range ss {
			if s.IsNull(i) {
				b.AppendNull()
				continue rows
			}
			buf = append(buf, s.Value(i)...)
		}
		b.BinaryBuilder.Append(buf)
	}
	return b.NewArray()
}

var concatFn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) {
	for k := range a {
		if _, ok := a[k].(*array.String); !ok {
			s, err := castArray(c.mem, a[k], expr.TNull, expr.TString)
			if err != nil {
				return nil, err
			}
			defer s.Release()
			a = append([]arrow.Array(nil), a...)
			a[k] = s
		}
	}
	return concat(c.mem, a, c.n), nil
}

func abs(mem memory.Allocator, a arrow.Array, t expr.Type) (arrow.Array, error) {
	switch src := a.(type) {
	case *array.Int64:
		vals, valid := make([]int64, src.Len()), make([]bool, src.Len())
		for i := range vals {
			v := src.Value(i)
			if v < 0 {
				v = -v
			}
			vals[i], valid[i] = v, src.IsValid(i)
		}
		return buildInts(mem, t, vals, func(i int) bool { return valid[i] })
	case *array.Float64:
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		for i := 0; i < src.Len(); i++ {
			if src.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(math.Abs(src.Value(i)))
			}
		}
		return b.NewArray(), nil
	case *array.Float32:
		b := array.NewFloat32Builder(mem)
		defer b.Release()
		for i := 0; i < src.Len(); i++ {
			if src.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(float32(math.Abs(float64(src.Value(i)))))
			}
		}
		return b.NewArray(), nil
	case *array.Decimal128:
		dt, _ := arrowOf(t)
		b := array.NewDecimal128Builder(mem, dt.(*arrow.Decimal128Type))
		defer b.Release()
		for i := 0; i < src.Len(); i++ {
			if src.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(src.Value(i).Abs())
			}
		}
		return b.NewArray(), nil
	case *array.Null:
		return array.NewNull(a.Len()), nil
	}
	return nil, unsupportedf("abs() of %s", t)
}

// round rounds half away from zero. Decimals keep their scale in a result one digit wider;
// integers rounded to negative digits are computed one size up (bigint, or decimal(19,0) for
// bigint); floating point rounds its shortest decimal text, as Spark does (round(1.005, 2) is
// 1.01).
func (c *compiler) round(x node, t expr.Type, digits int) (node, error) {
	in := x.typ()
	n := &callNode{t: t, args: []node{x}}
	switch {
	case in.Kind == expr.Null:
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) { return castArray(c.mem, a[0], in, t) }
	case in.IsInteger() && digits >= 0:
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) { a[0].Retain(); return a[0], nil }
	case in.IsInteger() || in.Kind == expr.Decimal:
		// Integers to negative digits: as decimals of scale 0 in the result type.
		work := in
		if in.IsInteger() {
			work = expr.Type{Kind: expr.Decimal, Precision: 20}
		}
		n.argTypes = []expr.Type{work}
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) {
			src := a[0].(*array.Decimal128)
			dt, _ := arrowOf(work)
			b := array.NewDecimal128Builder(c.mem, dt.(*arrow.Decimal128Type))
			defer b.Release()
			for i := 0; i < src.Len(); i++ {
				if src.IsNull(i) {
					b.AppendNull()
					continue
				}
				v := src.Value(i)
				if drop := work.Scale - digits; drop > 0 {
					r := roundHalfUp(v.BigInt(), drop)
					r.Mul(r, pow10(drop))
					if r.BitLen() > 127 {
						b.AppendNull()
						continue
					}
					v = decimal128.FromBigInt(r)
				}
				b.Append(v)
			}
			res := b.NewArray()
			defer res.Release()
			return castArray(c.mem, res, work, t)
		}
	case in.Kind == expr.Float || in.Kind == expr.Double:
		bits := 64
		if in.Kind == expr.Float {
			bits = 32
		}
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) {
			vals, valid, err := toFloat64s(a[0], in)
			if err != nil {
				return nil, err
			}
			for i, f := range vals {
				if valid[i] && !math.IsNaN(f) && !math.IsInf(f, 0) {
					vals[i] = roundFloat(f, digits, bits)
				}
			}
			b := array.NewFloat64Builder(c.mem)
			defer b.Release()
			b.AppendValues(vals, valid)
			res := b.NewArray()
			defer res.Release()
			return castArray(c.mem, res, expr.TDouble, t)
		}
	default:
		return nil, unsupportedf("round() of %s", in)
	}
	return n, nil
}

func roundFloat(f float64, digits, bits int) float64 {
	v, ok := parseNumber(strconv.FormatFloat(f, 'e', -1, bits))
	if !ok {
		return f
	}
	r := roundHalfUp(v.unscaled, v.scale-digits)
	s := r.String() + "e" + strconv.Itoa(-digits)
	out, _ := strconv.ParseFloat(s, 64)
	if bits == 32 {
		out, _ = strconv.ParseFloat(s, 32)
	}
	if out == 0 && math.Signbit(f) {
		return math.Copysign(0, -1)
	}
	return out
}

var _ = big.NewInt

func daysOfValue(a arrow.Array, i int) int64 {
	switch a := a.(type) {
	case *array.Date32:
		return int64(a.Value(i))
	case *array.Timestamp:
		return floorDiv(int64(a.Value(i)), usPerDay)
	}
	return 0
}

func year(mem memory.Allocator, a arrow.Array, n int) arrow.Array {
	b := array.NewInt32Builder(mem)
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		y, _, _ := civil(daysOfValue(a, i))
		b.UnsafeAppend(int32(y))
	}
	return b.NewArray()
}

func truncDays(days int64, unit string) int64 {
	y, m, _ := civil(days)
	switch unit {
	case "year":
		return daysOf(y, 1, 1)
	case "quarter":
		return daysOf(y, (m-1)/3*3+1, 1)
	case "month":
		return daysOf(y, m, 1)
	}
	return days
}

func dateTrunc(mem memory.Allocator, unit string, a arrow.Array, t expr.Type) (arrow.Array, error) {
	n := a.Len()
	switch src := a.(type) {
	case *array.Date32:
		b := array.NewDate32Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if src.IsNull(i) {
				b.UnsafeAppendBoolToBitmap(false)
			} else {
				b.UnsafeAppend(arrow.Date32(truncDays(int64(src.Value(i)), unit)))
			}
		}
		return b.NewArray(), nil
	case *array.Timestamp:
		b := array.NewTimestampBuilder(mem, tsUS)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if src.IsNull(i) {
				b.UnsafeAppendBoolToBitmap(false)
			} else {
				b.UnsafeAppend(arrow.Timestamp(truncDays(daysOfValue(src, i), unit) * usPerDay))
			}
		}
		return b.NewArray(), nil
	}
	return castArray(mem, a, expr.TNull, t)
}

// sha256Hex is the lower-case hex SHA-256 of each value's text (of the bytes, for binary).
func sha256Hex(mem memory.Allocator, a arrow.Array, t expr.Type) (arrow.Array, error) {
	var raw func(i int) []byte
	var text *array.String
	if bin, ok := a.(*array.Binary); ok {
		raw = bin.Value
	} else {
		var err error
		if text, err = textArray(mem, a, t); err != nil {
			return nil, err
		}
		defer text.Release()
		raw = func(i int) []byte { return unsafeBytes(text.Value(i)) }
	}
	n := a.Len()
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(n)
	b.ReserveData(n * 64)
	var out [64]byte
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			b.AppendNull()
			continue
		}
		sum := sha256.Sum256(raw(i))
		hex.Encode(out[:], sum[:])
		b.BinaryBuilder.Append(out[:])
	}
	return b.NewArray(), nil
}
