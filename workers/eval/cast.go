package eval

import (
	"encoding/binary"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/propolis/propolis/policy/expr"
)

// Casts follow Spark 3.5 with ANSI mode off, the engine whose results a worker must match
// where Trino and Spark agree: a string that does not parse is NULL, a decimal that does not
// fit is NULL, integers narrow by wrapping, floating point to integer truncates and saturates.

type castNode struct {
	x  node
	to expr.Type
}

func (n *castNode) typ() expr.Type { return n.to }
func (n *castNode) eval(c *evalCtx) (arrow.Array, error) {
	a, err := n.x.eval(c)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	return castArray(c.mem, a, n.x.typ(), n.to)
}

// castable refuses, at compile time, the conversions castArray does not do.
func castable(from, to expr.Type) error {
	switch {
	case from.Kind == expr.Null || from.Equal(to):
		return nil
	case from.IsComplex() || to.IsComplex():
		return unsupportedf("CAST from %s to %s", from, to)
	case to.Kind == expr.Binary && !(from.IsString() || from.IsInteger()):
		return unsupportedf("CAST from %s to binary", from)
	case from.Kind == expr.Binary && !to.IsString():
		return unsupportedf("CAST from binary to %s", to)
	}
	return nil
}

// canonical converts the other Arrow encodings of a value to the one a worker computes with:
// large, view and dictionary strings to utf8, other binaries to binary, any timestamp unit to
// microseconds, date64 to date32, unsigned integers to the next signed width.
func canonical(mem memory.Allocator, a arrow.Array) (arrow.Array, error) {
	n := a.Len()
	switch src := a.(type) {
	case *array.LargeString, *array.StringView:
		b := array.NewStringBuilder(mem)
		defer b.Release()
		b.Reserve(n)
		vs := src.(interface{ Value(int) string })
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(vs.Value(i))
			}
		}
		return b.NewArray(), nil
	case *array.LargeBinary, *array.BinaryView, *array.FixedSizeBinary:
		b := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
		defer b.Release()
		b.Reserve(n)
		vs := src.(interface{ Value(int) []byte })
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(vs.Value(i))
			}
		}
		return b.NewArray(), nil
	case *array.Dictionary:
		dict, err := canonical(mem, src.Dictionary())
		if err != nil {
			return nil, err
		}
		defer dict.Release()
		t, err := hiveOf(dict.DataType())
		if err != nil {
			return nil, err
		}
		return takeIndices(mem, dict, t, n, func(i int) int {
			if src.IsNull(i) {
				return -1
			}
			return src.GetValueIndex(i)
		})
	case *array.Timestamp:
		unit := src.DataType().(*arrow.TimestampType).Unit
		if unit == arrow.Microsecond {
			if tz := src.DataType().(*arrow.TimestampType).TimeZone; tz == "" {
				a.Retain()
				return a, nil
			}
		}
		b := array.NewTimestampBuilder(mem, tsUS)
		defer b.Release()
		b.Reserve(n)
		vs := src.TimestampValues()
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				b.UnsafeAppendBoolToBitmap(false)
				continue
			}
			v := int64(vs[i])
			switch unit {
			case arrow.Second:
				v *= 1_000_000
			case arrow.Millisecond:
				v *= 1000
			case arrow.Nanosecond:
				v = floorDiv(v, 1000)
			}
			b.UnsafeAppend(arrow.Timestamp(v))
		}
		return b.NewArray(), nil
	case *array.Date64:
		b := array.NewDate32Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				b.UnsafeAppendBoolToBitmap(false)
				continue
			}
			b.UnsafeAppend(arrow.Date32(floorDiv(int64(src.Value(i)), 86_400_000)))
		}
		return b.NewArray(), nil
	case *array.Uint8:
		return widenInts(mem, n, a, func(i int) int64 { return int64(src.Value(i)) }, expr.Type{Kind: expr.SmallInt})
	case *array.Uint16:
		return widenInts(mem, n, a, func(i int) int64 { return int64(src.Value(i)) }, expr.TInt)
	case *array.Uint32:
		return widenInts(mem, n, a, func(i int) int64 { return int64(src.Value(i)) }, expr.TBigInt)
	}
	a.Retain()
	return a, nil
}

func widenInts(mem memory.Allocator, n int, a arrow.Array, v func(int) int64, t expr.Type) (arrow.Array, error) {
	vals := make([]int64, n)
	for i := range vals {
		if a.IsValid(i) {
			vals[i] = v(i)
		}
	}
	return buildInts(mem, t, vals, func(i int) bool { return a.IsValid(i) })
}

// takeIndices builds an array of n rows, row i being row idx(i) of src (NULL for -1).
func takeIndices(mem memory.Allocator, src arrow.Array, t expr.Type, n int, idx func(int) int) (arrow.Array, error) {
	dt, err := arrowOf(t)
	if err != nil {
		return nil, err
	}
	bld := array.NewBuilder(mem, dt)
	defer bld.Release()
	bld.Reserve(n)
	for i := 0; i < n; i++ {
		k := idx(i)
		if k < 0 || src.IsNull(k) {
			bld.AppendNull()
			continue
		}
		switch s := src.(type) {
		case *array.String:
			bld.(*array.StringBuilder).Append(s.Value(k))
		case *array.Binary:
			bld.(*array.BinaryBuilder).Append(s.Value(k))
		case *array.Int8:
			bld.(*array.Int8Builder).Append(s.Value(k))
		case *array.Int16:
			bld.(*array.Int16Builder).Append(s.Value(k))
		case *array.Int32:
			bld.(*array.Int32Builder).Append(s.Value(k))
		case *array.Int64:
			bld.(*array.Int64Builder).Append(s.Value(k))
		case *array.Float32:
			bld.(*array.Float32Builder).Append(s.Value(k))
		case *array.Float64:
			bld.(*array.Float64Builder).Append(s.Value(k))
		case *array.Decimal128:
			bld.(*array.Decimal128Builder).Append(s.Value(k))
		case *array.Date32:
			bld.(*array.Date32Builder).Append(s.Value(k))
		case *array.Timestamp:
			bld.(*array.TimestampBuilder).Append(s.Value(k))
		case *array.Boolean:
			bld.(*array.BooleanBuilder).Append(s.Value(k))
		default:
			return nil, unsupportedf("dictionary of %s values", src.DataType())
		}
	}
	return bld.NewArray(), nil
}

// castArray converts a (canonical values of Hive type from) to Hive type to.
func castArray(mem memory.Allocator, a arrow.Array, from, to expr.Type) (arrow.Array, error) {
	n := a.Len()
	if from.Kind == expr.Null || a.DataType().ID() == arrow.NULL {
		dt, err := arrowOf(to)
		if err != nil {
			return nil, err
		}
		if to.Kind == expr.Null {
			return array.NewNull(n), nil
		}
		return array.MakeArrayOfNull(mem, dt, n), nil
	}
	if from.Equal(to) || from.IsString() && to.Kind == expr.String {
		a.Retain()
		return a, nil
	}
	if err := castable(from, to); err != nil {
		return nil, err
	}
	switch {
	case to.IsString():
		s, err := textArray(mem, a, from)
		if err != nil {
			return nil, err
		}
		switch to.Kind {
		case expr.Char:
			defer s.Release()
			return padChar(mem, s, to.Length, true)
		case expr.Varchar:
			defer s.Release()
			return truncate(mem, s, to.Length)
		}
		return s, nil
	case to.Kind == expr.Boolean:
		return castToBool(mem, a, from)
	case to.IsInteger():
		vals, valid, err := toInt64s(a, from)
		if err != nil {
			return nil, err
		}
		// A string out of the target's range is NULL; floating point saturates at its limits
		// (the JVM's d2i); integers and decimals wrap.
		if lo, hi := intRange(to); from.IsString() || from.Kind == expr.Float || from.Kind == expr.Double {
			for i, v := range vals {
				switch {
				case !valid[i] || v >= lo && v <= hi:
				case from.IsString():
					valid[i] = false
				case v < lo:
					vals[i] = lo
				default:
					vals[i] = hi
				}
			}
		}
		return buildInts(mem, to, vals, func(i int) bool { return valid[i] })
	case to.Kind == expr.Float || to.Kind == expr.Double:
		return castToFloat(mem, a, from, to)
	case to.Kind == expr.Decimal:
		return castToDecimal(mem, a, from, to)
	case to.Kind == expr.Date:
		return castToDate(mem, a, from)
	case to.Kind == expr.Timestamp:
		return castToTimestamp(mem, a, from)
	case to.Kind == expr.Binary:
		return castToBinary(mem, a, from)
	}
	return nil, unsupportedf("CAST from %s to %s", from, to)
}

// padChar pads (and, for a cast, truncates) strings to n characters, as char(n) values.
func padChar(mem memory.Allocator, s *array.String, n int, trunc bool) (arrow.Array, error) {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(s.Len())
	buf := []byte{}
	for i := 0; i < s.Len(); i++ {
		if s.IsNull(i) {
			b.AppendNull()
			continue
		}
		v := s.Value(i)
		chars := utf8.RuneCountInString(v)
		if trunc && chars > n {
			v = v[:byteOffset(v, n)]
			chars = n
		}
		buf = append(buf[:0], v...)
		for ; chars < n; chars++ {
			buf = append(buf, ' ')
		}
		b.BinaryBuilder.Append(buf)
	}
	return b.NewArray(), nil
}

func truncate(mem memory.Allocator, s *array.String, n int) (arrow.Array, error) {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(s.Len())
	for i := 0; i < s.Len(); i++ {
		if s.IsNull(i) {
			b.AppendNull()
			continue
		}
		v := s.Value(i)
		b.Append(v[:byteOffset(v, n)])
	}
	return b.NewArray(), nil
}

// byteOffset is the byte offset of character (code point) n of s, or len(s).
func byteOffset(s string, n int) int {
	if n <= 0 {
		return 0
	}
	k := 0
	for i := range s {
		if k == n {
			return i
		}
		k++
	}
	return len(s)
}

func buildInts(mem memory.Allocator, to expr.Type, vals []int64, valid func(int) bool) (arrow.Array, error) {
	n := len(vals)
	switch to.Kind {
	case expr.TinyInt:
		b := array.NewInt8Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for i, v := range vals {
			if valid(i) {
				b.UnsafeAppend(int8(v))
			} else {
				b.UnsafeAppendBoolToBitmap(false)
			}
		}
		return b.NewArray(), nil
	case expr.SmallInt:
		b := array.NewInt16Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for i, v := range vals {
			if valid(i) {
				b.UnsafeAppend(int16(v))
			} else {
				b.UnsafeAppendBoolToBitmap(false)
			}
		}
		return b.NewArray(), nil
	case expr.Int:
		b := array.NewInt32Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for i, v := range vals {
			if valid(i) {
				b.UnsafeAppend(int32(v))
			} else {
				b.UnsafeAppendBoolToBitmap(false)
			}
		}
		return b.NewArray(), nil
	case expr.BigInt:
		b := array.NewInt64Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for i, v := range vals {
			if valid(i) {
				b.UnsafeAppend(v)
			} else {
				b.UnsafeAppendBoolToBitmap(false)
			}
		}
		return b.NewArray(), nil
	}
	return nil, unsupportedf("integers of type %s", to)
}

// toInt64s reads any numeric, boolean, string or timestamp array as int64 (truncating), with a
// validity per row (a string that is no number is invalid).
func toInt64s(a arrow.Array, from expr.Type) ([]int64, []bool, error) {
	n := a.Len()
	vals, valid := make([]int64, n), make([]bool, n)
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			continue
		}
		valid[i] = true
		switch a := a.(type) {
		case *array.Int8:
			vals[i] = int64(a.Value(i))
		case *array.Int16:
			vals[i] = int64(a.Value(i))
		case *array.Int32:
			vals[i] = int64(a.Value(i))
		case *array.Int64:
			vals[i] = a.Value(i)
		case *array.Boolean:
			if a.Value(i) {
				vals[i] = 1
			}
		case *array.Float32:
			vals[i] = saturate(float64(a.Value(i)))
		case *array.Float64:
			vals[i] = saturate(a.Value(i))
		case *array.Decimal128:
			q := new(big.Int).Quo(a.Value(i).BigInt(), pow10(from.Scale))
			if !q.IsInt64() {
				valid[i] = false
				continue
			}
			vals[i] = q.Int64()
		case *array.Timestamp:
			vals[i] = floorDiv(int64(a.Value(i)), 1_000_000)
		case *array.String:
			d, ok := parseNumber(strings.TrimSpace(a.Value(i)))
			if !ok {
				valid[i] = false
				continue
			}
			q := new(big.Int).Quo(d.unscaled, pow10(d.scale))
			if !q.IsInt64() {
				valid[i] = false
				continue
			}
			vals[i] = q.Int64()
		case *array.Date32:
			valid[i] = false
		default:
			return nil, nil, unsupportedf("CAST of %s to an integer", from)
		}
	}
	return vals, valid, nil
}

// saturate converts as the JVM's d2l does: truncation, NaN to 0, out of range to the limits.
func saturate(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

func castToBool(mem memory.Allocator, a arrow.Array, from expr.Type) (arrow.Array, error) {
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	n := a.Len()
	b.Reserve(n)
	if s, ok := a.(*array.String); ok {
		for i := 0; i < n; i++ {
			if s.IsNull(i) {
				b.AppendNull()
				continue
			}
			switch strings.ToLower(strings.TrimSpace(s.Value(i))) {
			case "t", "true", "y", "yes", "1":
				b.Append(true)
			case "f", "false", "n", "no", "0":
				b.Append(false)
			default:
				b.AppendNull()
			}
		}
		return b.NewArray(), nil
	}
	if from.Kind == expr.Float || from.Kind == expr.Double || from.Kind == expr.Decimal {
		fs, valid, err := toFloat64s(a, from)
		if err != nil {
			return nil, err
		}
		for i := range fs {
			if valid[i] {
				b.Append(fs[i] != 0)
			} else {
				b.AppendNull()
			}
		}
		return b.NewArray(), nil
	}
	vals, valid, err := toInt64s(a, from)
	if err != nil {
		return nil, err
	}
	for i := range vals {
		if valid[i] {
			b.Append(vals[i] != 0)
		} else {
			b.AppendNull()
		}
	}
	return b.NewArray(), nil
}

func toFloat64s(a arrow.Array, from expr.Type) ([]float64, []bool, error) {
	n := a.Len()
	vals, valid := make([]float64, n), make([]bool, n)
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			continue
		}
		valid[i] = true
		switch a := a.(type) {
		case *array.Float32:
			vals[i] = float64(a.Value(i))
		case *array.Float64:
			vals[i] = a.Value(i)
		case *array.Decimal128:
			// Through the decimal text: correctly rounded, as Java's BigDecimal.doubleValue.
			f, _ := strconv.ParseFloat(string(appendPlainDecimal(nil, a.Value(i), from.Scale)), 64)
			vals[i] = f
		case *array.Timestamp:
			vals[i] = float64(a.Value(i)) / 1e6
		case *array.String:
			f, ok := parseFloat(strings.TrimSpace(a.Value(i)))
			vals[i], valid[i] = f, ok
		case *array.Date32:
			valid[i] = false
		default:
			ints, ok, err := toInt64s(a, from)
			if err != nil {
				return nil, nil, err
			}
			for j := range ints {
				vals[j], valid[j] = float64(ints[j]), ok[j]
			}
			return vals, valid, nil
		}
	}
	return vals, valid, nil
}

func parseFloat(s string) (float64, bool) {
	switch s {
	case "NaN":
		return math.NaN(), true
	case "Infinity", "+Infinity", "inf", "+inf":
		return math.Inf(1), true
	case "-Infinity", "-inf":
		return math.Inf(-1), true
	}
	s = strings.TrimSuffix(strings.TrimSuffix(s, "d"), "D")
	s = strings.TrimSuffix(strings.TrimSuffix(s, "f"), "F")
	if s == "" || strings.ContainsAny(s, "xXpP_") || strings.EqualFold(s, "nan") || strings.Contains(strings.ToLower(s), "inf") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil || strings.Contains(err.Error(), "range") && !math.IsNaN(f)
}

func castToFloat(mem memory.Allocator, a arrow.Array, from, to expr.Type) (arrow.Array, error) {
	vals, valid, err := toFloat64s(a, from)
	if err != nil {
		return nil, err
	}
	n := len(vals)
	if to.Kind == expr.Float {
		b := array.NewFloat32Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for i, v := range vals {
			if valid[i] {
				b.UnsafeAppend(float32(v))
			} else {
				b.UnsafeAppendBoolToBitmap(false)
			}
		}
		return b.NewArray(), nil
	}
	b := array.NewFloat64Builder(mem)
	defer b.Release()
	b.Reserve(n)
	for i, v := range vals {
		if valid[i] {
			b.UnsafeAppend(v)
		} else {
			b.UnsafeAppendBoolToBitmap(false)
		}
	}
	return b.NewArray(), nil
}

// number is a parsed decimal: unscaled × 10^-scale.
type number struct {
	unscaled *big.Int
	scale    int
}

// parseNumber parses [+-]digits[.digits][(e|E)[+-]digits].
func parseNumber(s string) (number, bool) {
	if s == "" {
		return number{}, false
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 1000 || e < -1000 {
			return number{}, false
		}
		mant, exp = s[:i], e
	}
	neg := false
	switch {
	case strings.HasPrefix(mant, "-"):
		neg, mant = true, mant[1:]
	case strings.HasPrefix(mant, "+"):
		mant = mant[1:]
	}
	whole, frac, _ := strings.Cut(mant, ".")
	if whole == "" && frac == "" {
		return number{}, false
	}
	digits := whole + frac
	for _, c := range digits {
		if c < '0' || c > '9' {
			return number{}, false
		}
	}
	u, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return number{}, false
	}
	if neg {
		u.Neg(u)
	}
	return number{unscaled: u, scale: len(frac) - exp}, true
}

// rescale returns v at scale s (rounding half up), or false when it does not fit precision p.
func (v number) rescale(p, s int) (decimal128.Num, bool) {
	u := roundHalfUp(v.unscaled, v.scale-s)
	if u.BitLen() > 127 {
		return decimal128.Num{}, false
	}
	d := decimal128.FromBigInt(u)
	return d, d.FitsInPrecision(int32(p))
}

// parseDecimal parses a decimal literal into decimal(p,s).
func parseDecimal(s string, p, scale int) (decimal128.Num, bool) {
	v, ok := parseNumber(s)
	if !ok {
		return decimal128.Num{}, false
	}
	return v.rescale(p, scale)
}

// appendPlainDecimal appends a decimal without exponent (BigDecimal.toPlainString).
func appendPlainDecimal(b []byte, n decimal128.Num, scale int) []byte {
	s := n.BigInt().String()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if neg {
		b = append(b, '-')
	}
	if scale <= 0 {
		b = append(b, s...)
		for i := 0; i < -scale; i++ {
			b = append(b, '0')
		}
		return b
	}
	for len(s) <= scale {
		s = "0" + s
	}
	b = append(b, s[:len(s)-scale]...)
	b = append(b, '.')
	return append(b, s[len(s)-scale:]...)
}

func castToDecimal(mem memory.Allocator, a arrow.Array, from, to expr.Type) (arrow.Array, error) {
	dt, _ := arrowOf(to)
	b := array.NewDecimal128Builder(mem, dt.(*arrow.Decimal128Type))
	defer b.Release()
	n := a.Len()
	b.Reserve(n)
	var ints []int64
	var intOK []bool
	if from.IsInteger() || from.Kind == expr.Boolean {
		var err error
		if ints, intOK, err = toInt64s(a, from); err != nil {
			return nil, err
		}
	}
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			b.AppendNull()
			continue
		}
		var v number
		ok := true
		switch src := a.(type) {
		case *array.Decimal128:
			v = number{unscaled: src.Value(i).BigInt(), scale: from.Scale}
		case *array.Float32, *array.Float64:
			f := 0.0
			bits := 64
			if f32, is := src.(*array.Float32); is {
				f, bits = float64(f32.Value(i)), 32
			} else {
				f = src.(*array.Float64).Value(i)
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				ok = false
				break
			}
			// Spark converts through the shortest decimal text (BigDecimal(Double.toString)).
			v, ok = parseNumber(strconv.FormatFloat(f, 'e', -1, bits))
		case *array.String:
			v, ok = parseNumber(strings.TrimSpace(src.Value(i)))
		case *array.Timestamp:
			v = number{unscaled: big.NewInt(int64(src.Value(i))), scale: 6}
		case *array.Date32:
			ok = false
		default:
			ok = intOK[i]
			v = number{unscaled: big.NewInt(ints[i])}
		}
		if !ok {
			b.AppendNull()
			continue
		}
		d, fits := v.rescale(to.Precision, to.Scale)
		if !fits {
			b.AppendNull()
			continue
		}
		b.Append(d)
	}
	return b.NewArray(), nil
}

// parseDate reads yyyy-[m]m-[d]d, optionally followed by a time part (' ' or 'T'), as Spark.
func parseDate(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " T"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, "-")
	if len(parts) < 1 || len(parts) > 3 {
		return 0, false
	}
	nums := []int{0, 1, 1}
	for i, p := range parts {
		if p == "" || len(p) > 4 || i > 0 && len(p) > 2 {
			return 0, false
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return 0, false
		}
		nums[i] = v
	}
	if len(parts[0]) != 4 {
		return 0, false
	}
	y, m, d := nums[0], nums[1], nums[2]
	if m < 1 || m > 12 || d < 1 || d > daysIn(int64(y), m) {
		return 0, false
	}
	return daysOf(int64(y), m, d), true
}

func daysIn(y int64, m int) int {
	switch m {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}

// parseTimestamp reads a date with an optional [ T]HH:mm[:ss[.fraction]] part.
func parseTimestamp(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	datePart, timePart := s, ""
	if i := strings.IndexAny(s, " T"); i >= 0 {
		datePart, timePart = s[:i], s[i+1:]
	}
	days, ok := parseDate(datePart)
	if !ok {
		return 0, false
	}
	us := days * usPerDay
	if timePart == "" {
		return us, true
	}
	hms, frac, hasFrac := strings.Cut(timePart, ".")
	f := strings.Split(hms, ":")
	if len(f) < 2 || len(f) > 3 {
		return 0, false
	}
	lim := []int{23, 59, 59}
	var secs int64
	for i, p := range f {
		v, err := strconv.Atoi(p)
		if err != nil || len(p) > 2 || v < 0 || v > lim[i] {
			return 0, false
		}
		secs = secs*60 + int64(v)
	}
	if len(f) == 2 {
		secs *= 60
	}
	us += secs * 1_000_000
	if hasFrac {
		if frac == "" || len(frac) > 9 {
			return 0, false
		}
		for len(frac) < 6 {
			frac += "0"
		}
		v, err := strconv.Atoi(frac[:6])
		if err != nil {
			return 0, false
		}
		us += int64(v)
	}
	return us, true
}

func castToDate(mem memory.Allocator, a arrow.Array, from expr.Type) (arrow.Array, error) {
	b := array.NewDate32Builder(mem)
	defer b.Release()
	n := a.Len()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			b.AppendNull()
			continue
		}
		switch src := a.(type) {
		case *array.String:
			if d, ok := parseDate(src.Value(i)); ok {
				b.Append(arrow.Date32(d))
			} else {
				b.AppendNull()
			}
		case *array.Timestamp:
			b.Append(arrow.Date32(floorDiv(int64(src.Value(i)), usPerDay)))
		default:
			b.AppendNull()
		}
	}
	return b.NewArray(), nil
}

func castToTimestamp(mem memory.Allocator, a arrow.Array, from expr.Type) (arrow.Array, error) {
	b := array.NewTimestampBuilder(mem, tsUS)
	defer b.Release()
	n := a.Len()
	b.Reserve(n)
	var secs []float64
	var secsOK []bool
	if from.IsNumeric() {
		var err error
		if secs, secsOK, err = toFloat64s(a, from); err != nil {
			return nil, err
		}
	}
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			b.AppendNull()
			continue
		}
		switch src := a.(type) {
		case *array.String:
			if t, ok := parseTimestamp(src.Value(i)); ok {
				b.Append(arrow.Timestamp(t))
			} else {
				b.AppendNull()
			}
		case *array.Date32:
			b.Append(arrow.Timestamp(int64(src.Value(i)) * usPerDay))
		case *array.Boolean:
			// Spark reads true as one microsecond.
			if src.Value(i) {
				b.Append(1)
			} else {
				b.Append(0)
			}
		default:
			if secs == nil || !secsOK[i] || math.IsNaN(secs[i]) || math.IsInf(secs[i], 0) {
				b.AppendNull()
				continue
			}
			b.Append(arrow.Timestamp(saturate(secs[i] * 1e6)))
		}
	}
	return b.NewArray(), nil
}

// castToBinary: strings as their UTF-8 bytes, integers as big-endian bytes of their width (as
// Spark).
func castToBinary(mem memory.Allocator, a arrow.Array, from expr.Type) (arrow.Array, error) {
	b := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
	defer b.Release()
	n := a.Len()
	b.Reserve(n)
	var buf [8]byte
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			b.AppendNull()
			continue
		}
		switch src := a.(type) {
		case *array.String:
			b.Append([]byte(src.Value(i)))
		case *array.Int8:
			b.Append([]byte{byte(src.Value(i))})
		case *array.Int16:
			binary.BigEndian.PutUint16(buf[:], uint16(src.Value(i)))
			b.Append(buf[:2])
		case *array.Int32:
			binary.BigEndian.PutUint32(buf[:], uint32(src.Value(i)))
			b.Append(buf[:4])
		case *array.Int64:
			binary.BigEndian.PutUint64(buf[:], uint64(src.Value(i)))
			b.Append(buf[:8])
		default:
			return nil, unsupportedf("CAST from %s to binary", from)
		}
	}
	return b.NewArray(), nil
}

func intRange(t expr.Type) (int64, int64) {
	switch t.Kind {
	case expr.TinyInt:
		return math.MinInt8, math.MaxInt8
	case expr.SmallInt:
		return math.MinInt16, math.MaxInt16
	case expr.Int:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}
