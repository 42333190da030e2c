package eval

import (
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/propolis/propolis/policy/expr"
)

// The text of a value is what CAST(x AS STRING) gives in Spark 3.5 with the session time zone
// UTC, and what sha256(), hash, tokenize and the character masks read: integers in decimal,
// decimals as Java's BigDecimal.toString (scientific below 1E-6), floating point as Java's
// Double.toString / Float.toString (shortest digits), booleans as true/false, dates
// yyyy-MM-dd, timestamps yyyy-MM-dd HH:mm:ss with the fraction's trailing zeros dropped.

// appendJavaFloat appends f as Java's Double.toString (bits 64) or Float.toString (bits 32).
func appendJavaFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	// Shortest digits and the decimal exponent: d.ddd × 10^exp.
	var tmp [32]byte
	s := strconv.AppendFloat(tmp[:0], f, 'e', -1, bits)
	mant, exp := s, 0
	for i, c := range s {
		if c == 'e' {
			mant = s[:i]
			e, _ := strconv.Atoi(string(s[i+1:]))
			exp = e
			break
		}
	}
	digits := make([]byte, 0, len(mant))
	for _, c := range mant {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	if f >= 1e-3 && f < 1e7 {
		if exp >= 0 {
			for i := 0; i <= exp; i++ {
				if i < len(digits) {
					b = append(b, digits[i])
				} else {
					b = append(b, '0')
				}
			}
			b = append(b, '.')
			if exp+1 < len(digits) {
				return append(b, digits[exp+1:]...)
			}
			return append(b, '0')
		}
		b = append(b, "0."...)
		for i := 0; i < -exp-1; i++ {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	b = append(b, digits[0], '.')
	if len(digits) > 1 {
		b = append(b, digits[1:]...)
	} else {
		b = append(b, '0')
	}
	b = append(b, 'E')
	return strconv.AppendInt(b, int64(exp), 10)
}

// appendJavaDecimal appends an unscaled value at a scale as Java's BigDecimal.toString.
func appendJavaDecimal(b []byte, n decimal128.Num, scale int) []byte {
	neg := n.Sign() < 0
	if neg {
		n = n.Negate()
	}
	var digits []byte
	if n.HighBits() == 0 {
		digits = strconv.AppendUint(nil, n.LowBits(), 10)
	} else {
		digits = []byte(n.BigInt().String())
	}
	if neg {
		b = append(b, '-')
	}
	if scale == 0 {
		return append(b, digits...)
	}
	adjusted := -scale + len(digits) - 1
	if scale > 0 && adjusted >= -6 {
		if len(digits) > scale {
			b = append(b, digits[:len(digits)-scale]...)
			b = append(b, '.')
			return append(b, digits[len(digits)-scale:]...)
		}
		b = append(b, "0."...)
		for i := len(digits); i < scale; i++ {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	b = append(b, digits[0])
	if len(digits) > 1 {
		b = append(b, '.')
		b = append(b, digits[1:]...)
	}
	b = append(b, 'E')
	if adjusted >= 0 {
		b = append(b, '+')
	}
	return strconv.AppendInt(b, int64(adjusted), 10)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date (as Spark 3 uses).
func civil(days int64) (y int64, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// daysOf is the inverse of civil.
func daysOf(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mm := int64(m)
	if m > 2 {
		mm -= 3
	} else {
		mm += 9
	}
	doy := (153*mm+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func appendPadded(b []byte, n int64, width int) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], n, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func appendDate(b []byte, days int64) []byte {
	y, m, d := civil(days)
	if y > 9999 {
		b = append(b, '+') // as Java's ISO formatter (and Spark) print years past 9999
	}
	b = appendPadded(b, y, 4)
	b = append(b, '-')
	b = appendPadded(b, int64(m), 2)
	b = append(b, '-')
	return appendPadded(b, int64(d), 2)
}

const usPerDay = 86400 * 1_000_000

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func appendTimestamp(b []byte, us int64) []byte {
	days := floorDiv(us, usPerDay)
	rem := us - days*usPerDay
	b = appendDate(b, days)
	b = append(b, ' ')
	secs := rem / 1_000_000
	b = appendPadded(b, secs/3600, 2)
	b = append(b, ':')
	b = appendPadded(b, secs/60%60, 2)
	b = append(b, ':')
	b = appendPadded(b, secs%60, 2)
	if frac := rem % 1_000_000; frac != 0 {
		b = append(b, '.')
		var tmp [8]byte
		s := appendPadded(tmp[:0], frac, 6)
		for len(s) > 0 && s[len(s)-1] == '0' {
			s = s[:len(s)-1]
		}
		b = append(b, s...)
	}
	return b
}

// textArray returns the text of every value of a (of type t, in its canonical Arrow form) as a
// string array; strings are returned as they are (retained).
func textArray(mem memory.Allocator, a arrow.Array, t expr.Type) (*array.String, error) {
	if s, ok := a.(*array.String); ok {
		s.Retain()
		return s, nil
	}
	n := a.Len()
	bld := array.NewStringBuilder(mem)
	defer bld.Release()
	bld.Reserve(n)
	var buf []byte
	appendOne := func(i int) {
		buf = buf[:0]
		switch a := a.(type) {
		case *array.Boolean:
			if a.Value(i) {
				buf = append(buf, "true"...)
			} else {
				buf = append(buf, "false"...)
			}
		case *array.Int8:
			buf = strconv.AppendInt(buf, int64(a.Value(i)), 10)
		case *array.Int16:
			buf = strconv.AppendInt(buf, int64(a.Value(i)), 10)
		case *array.Int32:
			buf = strconv.AppendInt(buf, int64(a.Value(i)), 10)
		case *array.Int64:
			buf = strconv.AppendInt(buf, a.Value(i), 10)
		case *array.Float32:
			buf = appendJavaFloat(buf, float64(a.Value(i)), 32)
		case *array.Float64:
			buf = appendJavaFloat(buf, a.Value(i), 64)
		case *array.Decimal128:
			buf = appendJavaDecimal(buf, a.Value(i), t.Scale)
		case *array.Date32:
			buf = appendDate(buf, int64(a.Value(i)))
		case *array.Timestamp:
			buf = appendTimestamp(buf, int64(a.Value(i)))
		case *array.Binary:
			buf = append(buf, a.Value(i)...)
		}
		bld.BinaryBuilder.Append(buf)
	}
	switch a.(type) {
	case *array.Null:
		bld.AppendNulls(n)
		return bld.NewStringArray(), nil
	case *array.Boolean, *array.Int8, *array.Int16, *array.Int32, *array.Int64, *array.Float32,
		*array.Float64, *array.Decimal128, *array.Date32, *array.Timestamp, *array.Binary:
	default:
		return nil, unsupportedf("no text form for %s values", t)
	}
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			bld.AppendNull()
			continue
		}
		appendOne(i)
	}
	return bld.NewStringArray(), nil
}
