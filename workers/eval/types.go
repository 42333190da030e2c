package eval

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy/expr"
)

// ArrowType is the Arrow type a worker writes for a Hive column type: string, varchar and char
// as utf8, integers by width, decimal(p,s) as decimal128(p,s), date as date32, timestamp as
// timestamp[us] (no zone: Hive timestamps are wall-clock values), binary, and array, map and
// struct of those.
func ArrowType(hiveType string) (arrow.DataType, error) {
	t, err := expr.ParseType(hiveType)
	if err != nil {
		return nil, err
	}
	return arrowOf(t)
}

var tsUS = &arrow.TimestampType{Unit: arrow.Microsecond}

func arrowOf(t expr.Type) (arrow.DataType, error) {
	switch t.Kind {
	case expr.Null:
		return arrow.Null, nil
	case expr.Boolean:
		return arrow.FixedWidthTypes.Boolean, nil
	case expr.TinyInt:
		return arrow.PrimitiveTypes.Int8, nil
	case expr.SmallInt:
		return arrow.PrimitiveTypes.Int16, nil
	case expr.Int:
		return arrow.PrimitiveTypes.Int32, nil
	case expr.BigInt:
		return arrow.PrimitiveTypes.Int64, nil
	case expr.Float:
		return arrow.PrimitiveTypes.Float32, nil
	case expr.Double:
		return arrow.PrimitiveTypes.Float64, nil
	case expr.Decimal:
		return &arrow.Decimal128Type{Precision: int32(t.Precision), Scale: int32(t.Scale)}, nil
	case expr.String, expr.Varchar, expr.Char:
		return arrow.BinaryTypes.String, nil
	case expr.Date:
		return arrow.FixedWidthTypes.Date32, nil
	case expr.Timestamp:
		return tsUS, nil
	case expr.Binary:
		return arrow.BinaryTypes.Binary, nil
	case expr.Array:
		e, err := arrowOf(t.Elem[0])
		if err != nil {
			return nil, err
		}
		return arrow.ListOf(e), nil
	case expr.Map:
		k, err := arrowOf(t.Elem[0])
		if err != nil {
			return nil, err
		}
		if t.Elem[0].IsComplex() {
			return nil, errs.Unsupported("map keys of type %s", t.Elem[0])
		}
		v, err := arrowOf(t.Elem[1])
		if err != nil {
			return nil, err
		}
		return arrow.MapOf(k, v), nil
	case expr.Struct:
		fs := make([]arrow.Field, len(t.Fields))
		for i, f := range t.Fields {
			ft, err := arrowOf(t.Elem[i])
			if err != nil {
				return nil, err
			}
			fs[i] = arrow.Field{Name: f, Type: ft, Nullable: true}
		}
		return arrow.StructOf(fs...), nil
	}
	return nil, errs.Invalid("no Arrow type for %s", t)
}

// hiveOf is the Hive type of an Arrow type as a Parquet reader presents it: the inverse of
// arrowOf, accepting the other encodings of the same values (large and view strings,
// dictionaries, every timestamp unit, date64).
func hiveOf(dt arrow.DataType) (expr.Type, error) {
	switch dt := dt.(type) {
	case *arrow.NullType:
		return expr.TNull, nil
	case *arrow.BooleanType:
		return expr.TBoolean, nil
	case *arrow.Int8Type:
		return expr.Type{Kind: expr.TinyInt}, nil
	case *arrow.Int16Type, *arrow.Uint8Type:
		return expr.Type{Kind: expr.SmallInt}, nil
	case *arrow.Int32Type, *arrow.Uint16Type:
		return expr.TInt, nil
	case *arrow.Int64Type, *arrow.Uint32Type:
		return expr.TBigInt, nil
	case *arrow.Float32Type:
		return expr.Type{Kind: expr.Float}, nil
	case *arrow.Float64Type:
		return expr.TDouble, nil
	case *arrow.Decimal128Type:
		return expr.Type{Kind: expr.Decimal, Precision: int(dt.Precision), Scale: int(dt.Scale)}, nil
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType:
		return expr.TString, nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.BinaryViewType, *arrow.FixedSizeBinaryType:
		return expr.Type{Kind: expr.Binary}, nil
	case *arrow.Date32Type, *arrow.Date64Type:
		return expr.TDate, nil
	case *arrow.TimestampType:
		return expr.TTimestamp, nil
	case *arrow.DictionaryType:
		return hiveOf(dt.ValueType)
	case *arrow.ListType:
		e, err := hiveOf(dt.Elem())
		if err != nil {
			return expr.Type{}, err
		}
		return expr.Type{Kind: expr.Array, Elem: []expr.Type{e}}, nil
	case *arrow.MapType:
		k, err := hiveOf(dt.KeyType())
		if err != nil {
			return expr.Type{}, err
		}
		v, err := hiveOf(dt.ItemType())
		if err != nil {
			return expr.Type{}, err
		}
		return expr.Type{Kind: expr.Map, Elem: []expr.Type{k, v}}, nil
	case *arrow.StructType:
		t := expr.Type{Kind: expr.Struct}
		for _, f := range dt.Fields() {
			ft, err := hiveOf(f.Type)
			if err != nil {
				return expr.Type{}, err
			}
			t.Fields = append(t.Fields, f.Name)
			t.Elem = append(t.Elem, ft)
		}
		return t, nil
	}
	return expr.Type{}, errs.Unsupported("Arrow type %s has no Hive equivalent", dt)
}
