package expr

import (
	"strconv"
	"strings"

	"github.com/propolis/propolis/internal/errs"
)

// Kind is the family of a Hive column type.
type Kind int

const (
	// Invalid is the zero Kind: a node that was never type-checked.
	Invalid Kind = iota
	// Null is the type of the NULL literal: assignable to every type.
	Null
	Boolean
	TinyInt
	SmallInt
	Int
	BigInt
	Float
	Double
	Decimal
	String
	Varchar
	Char
	Date
	Timestamp
	Binary
	Array
	Map
	Struct
)

// Type is a Hive column type. Complex types (array, map, struct) are known, parsed and printed,
// but no function or operator accepts them: they can only be masked whole (null).
type Type struct {
	Kind Kind
	// Precision and Scale for decimal; Length for varchar and char.
	Precision, Scale, Length int
	// Elem holds the element type of an array, key and value of a map, field types of a struct.
	Elem []Type
	// Fields holds the field names of a struct, parallel to Elem.
	Fields []string
}

var (
	TNull      = Type{Kind: Null}
	TBoolean   = Type{Kind: Boolean}
	TInt       = Type{Kind: Int}
	TBigInt    = Type{Kind: BigInt}
	TDouble    = Type{Kind: Double}
	TString    = Type{Kind: String}
	TDate      = Type{Kind: Date}
	TTimestamp = Type{Kind: Timestamp}
)

// IsNumeric reports integer, floating point and decimal types.
func (t Type) IsNumeric() bool {
	return t.IsInteger() || t.Kind == Float || t.Kind == Double || t.Kind == Decimal
}

// IsInteger reports tinyint, smallint, int and bigint.
func (t Type) IsInteger() bool { return t.Kind >= TinyInt && t.Kind <= BigInt }

// IsString reports string, varchar and char.
func (t Type) IsString() bool { return t.Kind == String || t.Kind == Varchar || t.Kind == Char }

// IsDatetime reports date and timestamp.
func (t Type) IsDatetime() bool { return t.Kind == Date || t.Kind == Timestamp }

// IsComplex reports array, map and struct.
func (t Type) IsComplex() bool { return t.Kind == Array || t.Kind == Map || t.Kind == Struct }

// Equal reports whether two types are the same Hive type.
func (t Type) Equal(u Type) bool { return t.String() == u.String() }

var simpleNames = map[Kind]string{
	Null: "void", Boolean: "boolean", TinyInt: "tinyint", SmallInt: "smallint", Int: "int",
	BigInt: "bigint", Float: "float", Double: "double", String: "string", Date: "date",
	Timestamp: "timestamp", Binary: "binary",
}

// String is the canonical Hive type string, as a metastore stores it (lower case, no spaces).
func (t Type) String() string {
	if n, ok := simpleNames[t.Kind]; ok {
		return n
	}
	switch t.Kind {
	case Decimal:
		return "decimal(" + strconv.Itoa(t.Precision) + "," + strconv.Itoa(t.Scale) + ")"
	case Varchar:
		return "varchar(" + strconv.Itoa(t.Length) + ")"
	case Char:
		return "char(" + strconv.Itoa(t.Length) + ")"
	case Array:
		return "array<" + t.Elem[0].String() + ">"
	case Map:
		return "map<" + t.Elem[0].String() + "," + t.Elem[1].String() + ">"
	case Struct:
		var b strings.Builder
		b.WriteString("struct<")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f + ":" + t.Elem[i].String())
		}
		b.WriteByte('>')
		return b.String()
	}
	return "invalid"
}

// ParseType parses a Hive type string such as "decimal(10,2)" or "map<string,array<int>>".
// Names are case-insensitive; "integer" is accepted for int and "dec"/"numeric" for decimal.
// "decimal" alone is decimal(10,0), Hive's default.
func ParseType(s string) (Type, error) {
	p := &typeParser{s: s}
	t, err := p.parse(0)
	if err != nil {
		return Type{}, errs.Invalid("type %q: %w", s, err)
	}
	p.space()
	if p.i != len(p.s) {
		return Type{}, errs.Invalid("type %q: unexpected %q at offset %d", s, p.s[p.i:], p.i)
	}
	return t, nil
}

type typeParser struct {
	s string
	i int
}

func (p *typeParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *typeParser) word() string {
	p.space()
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

func (p *typeParser) expect(c byte) error {
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != c {
		return errs.Invalid("expected %q at offset %d", string(c), p.i)
	}
	p.i++
	return nil
}

func (p *typeParser) peek(c byte) bool {
	p.space()
	return p.i < len(p.s) && p.s[p.i] == c
}

func (p *typeParser) number() (int, error) {
	p.space()
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	n, err := strconv.Atoi(p.s[start:p.i])
	if err != nil || p.i-start > 9 {
		return 0, errs.Invalid("expected a number at offset %d", start)
	}
	return n, nil
}

const maxTypeDepth = 64

func (p *typeParser) parse(depth int) (Type, error) {
	if depth > maxTypeDepth {
		return Type{}, errs.Invalid("nested more than %d levels", maxTypeDepth)
	}
	at := p.i
	w := strings.ToLower(p.word())
	switch w {
	case "boolean":
		return TBoolean, nil
	case "tinyint":
		return Type{Kind: TinyInt}, nil
	case "smallint":
		return Type{Kind: SmallInt}, nil
	case "int", "integer":
		return TInt, nil
	case "bigint":
		return TBigInt, nil
	case "float":
		return Type{Kind: Float}, nil
	case "double":
		if save := p.i; strings.EqualFold(p.word(), "precision") {
			return TDouble, nil
		} else {
			p.i = save
		}
		return TDouble, nil
	case "string":
		return TString, nil
	case "date":
		return TDate, nil
	case "timestamp":
		return TTimestamp, nil
	case "binary":
		return Type{Kind: Binary}, nil
	case "decimal", "dec", "numeric":
		t := Type{Kind: Decimal, Precision: 10}
		if !p.peek('(') {
			return t, nil
		}
		p.i++
		var err error
		if t.Precision, err = p.number(); err != nil {
			return Type{}, err
		}
		t.Scale = 0
		if p.peek(',') {
			p.i++
			if t.Scale, err = p.number(); err != nil {
				return Type{}, err
			}
		}
		if err := p.expect(')'); err != nil {
			return Type{}, err
		}
		if t.Precision < 1 || t.Precision > 38 || t.Scale > t.Precision {
			return Type{}, errs.Invalid("decimal(%d,%d): precision must be 1..38 and scale 0..precision", t.Precision, t.Scale)
		}
		return t, nil
	case "varchar", "char":
		t := Type{Kind: Varchar}
		max := 65535
		if w == "char" {
			t.Kind, max = Char, 255
		}
		if err := p.expect('('); err != nil {
			return Type{}, err
		}
		var err error
		if t.Length, err = p.number(); err != nil {
			return Type{}, err
		}
		if err := p.expect(')'); err != nil {
			return Type{}, err
		}
		if t.Length < 1 || t.Length > max {
			return Type{}, errs.Invalid("%s(%d): length must be 1..%d", w, t.Length, max)
		}
		return t, nil
	case "array":
		if err := p.expect('<'); err != nil {
			return Type{}, err
		}
		e, err := p.parse(depth + 1)
		if err != nil {
			return Type{}, err
		}
		if err := p.expect('>'); err != nil {
			return Type{}, err
		}
		return Type{Kind: Array, Elem: []Type{e}}, nil
	case "map":
		if err := p.expect('<'); err != nil {
			return Type{}, err
		}
		k, err := p.parse(depth + 1)
		if err != nil {
			return Type{}, err
		}
		if err := p.expect(','); err != nil {
			return Type{}, err
		}
		v, err := p.parse(depth + 1)
		if err != nil {
			return Type{}, err
		}
		if err := p.expect('>'); err != nil {
			return Type{}, err
		}
		return Type{Kind: Map, Elem: []Type{k, v}}, nil
	case "struct":
		if err := p.expect('<'); err != nil {
			return Type{}, err
		}
		t := Type{Kind: Struct}
		for {
			p.space()
			start := p.i
			for p.i < len(p.s) && p.s[p.i] != ':' && p.s[p.i] != ',' && p.s[p.i] != '<' && p.s[p.i] != '>' {
				p.i++
			}
			name := strings.TrimSpace(p.s[start:p.i])
			if len(name) >= 2 && name[0] == '`' && name[len(name)-1] == '`' {
				name = strings.ReplaceAll(name[1:len(name)-1], "``", "`")
			}
			if name == "" {
				return Type{}, errs.Invalid("expected a struct field name at offset %d", start)
			}
			if err := p.expect(':'); err != nil {
				return Type{}, err
			}
			ft, err := p.parse(depth + 1)
			if err != nil {
				return Type{}, err
			}
			t.Fields = append(t.Fields, strings.ToLower(name))
			t.Elem = append(t.Elem, ft)
			if p.peek(',') {
				p.i++
				continue
			}
			if err := p.expect('>'); err != nil {
				return Type{}, err
			}
			return t, nil
		}
	case "":
		return Type{}, errs.Invalid("expected a type name at offset %d", at)
	}
	return Type{}, errs.Invalid("unknown type %q at offset %d", w, at)
}

// TrinoName is the Trino type signature of a Hive type, as Trino's Hive connector maps it and
// writes it into view definitions (int -> integer, float -> real, string -> varchar, binary ->
// varbinary, timestamp -> timestamp(3) at the connector's default precision, struct -> row with
// quoted field names; no spaces after commas, as recorded from Trino 476).
func (t Type) TrinoName() string {
	switch t.Kind {
	case Boolean:
		return "boolean"
	case TinyInt:
		return "tinyint"
	case SmallInt:
		return "smallint"
	case Int:
		return "integer"
	case BigInt:
		return "bigint"
	case Float:
		return "real"
	case Double:
		return "double"
	case Decimal:
		return "decimal(" + strconv.Itoa(t.Precision) + "," + strconv.Itoa(t.Scale) + ")"
	case String:
		return "varchar"
	case Varchar:
		return "varchar(" + strconv.Itoa(t.Length) + ")"
	case Char:
		return "char(" + strconv.Itoa(t.Length) + ")"
	case Date:
		return "date"
	case Timestamp:
		return "timestamp(3)"
	case Binary:
		return "varbinary"
	case Array:
		return "array(" + t.Elem[0].TrinoName() + ")"
	case Map:
		return "map(" + t.Elem[0].TrinoName() + "," + t.Elem[1].TrinoName() + ")"
	case Struct:
		var b strings.Builder
		b.WriteString("row(")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quoteTrinoIdent(f) + " " + t.Elem[i].TrinoName())
		}
		b.WriteByte(')')
		return b.String()
	case Null:
		return "unknown"
	}
	return "invalid"
}

// hiveName is the Hive/Spark spelling of a type in CAST: upper-case, as both parsers accept.
func (t Type) hiveName() string {
	switch t.Kind {
	case Array:
		return "ARRAY<" + t.Elem[0].hiveName() + ">"
	case Map:
		return "MAP<" + t.Elem[0].hiveName() + ", " + t.Elem[1].hiveName() + ">"
	case Struct:
		var b strings.Builder
		b.WriteString("STRUCT<")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quoteHiveIdent(f) + ": " + t.Elem[i].hiveName())
		}
		b.WriteByte('>')
		return b.String()
	}
	return strings.ToUpper(t.String())
}

// common returns the type both a and b convert to without loss of meaning (for CASE branches,
// IN lists, COALESCE, comparisons), or false when they belong to different families.
func common(a, b Type) (Type, bool) {
	switch {
	case a.Kind == Null:
		return b, true
	case b.Kind == Null:
		return a, true
	case a.Equal(b):
		return a, true
	case a.IsString() && b.IsString():
		return TString, true
	case a.IsDatetime() && b.IsDatetime():
		return TTimestamp, true
	case a.IsNumeric() && b.IsNumeric():
		return widen(a, b), true
	}
	return Type{}, false
}

// widen is the numeric result type of combining a and b: integers widen to the larger
// integer, any floating point makes double, decimals combine to a decimal holding both.
func widen(a, b Type) Type {
	if a.Kind == Null {
		return b
	}
	if b.Kind == Null {
		return a
	}
	if a.Kind == Double || b.Kind == Double || a.Kind == Float || b.Kind == Float {
		if a.Kind == Float && b.Kind == Float {
			return a
		}
		return TDouble
	}
	if a.IsInteger() && b.IsInteger() {
		if a.Kind > b.Kind {
			return a
		}
		return b
	}
	da, db := asDecimal(a), asDecimal(b)
	scale := max(da.Scale, db.Scale)
	whole := max(da.Precision-da.Scale, db.Precision-db.Scale)
	return Type{Kind: Decimal, Precision: min(38, whole+scale), Scale: scale}
}

// asDecimal is the decimal type that holds every value of an integer type exactly.
func asDecimal(t Type) Type {
	switch t.Kind {
	case TinyInt:
		return Type{Kind: Decimal, Precision: 3}
	case SmallInt:
		return Type{Kind: Decimal, Precision: 5}
	case Int:
		return Type{Kind: Decimal, Precision: 10}
	case BigInt:
		return Type{Kind: Decimal, Precision: 19}
	}
	return t
}
