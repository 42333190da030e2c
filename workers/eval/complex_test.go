package eval

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/workers/plan"
)

// TestComplexColumns: a complex column is served as the file holds it, or masked whole (null),
// and a file's other encodings (timestamp[ns] as pqarrow reads Spark's INT96, dictionary
// strings, int32 under a bigint column) read as the table's types.
func TestComplexColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	lb := array.NewListBuilder(mem, arrow.BinaryTypes.String)
	vb := lb.ValueBuilder().(*array.StringBuilder)
	lb.Append(true)
	vb.Append("a")
	lb.AppendNull()
	tags := lb.NewArray()
	lb.Release()
	defer tags.Release()
	tsb := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Nanosecond})
	tsb.AppendValues([]arrow.Timestamp{1_700_000_000_123_456_789, -1}, nil)
	ts := tsb.NewArray()
	tsb.Release()
	defer ts.Release()
	db := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
	db.AppendString("EU")
	db.AppendNull()
	dict := db.NewArray()
	db.Release()
	defer dict.Release()
	ib := array.NewInt32Builder(mem)
	ib.AppendValues([]int32{7, 8}, nil)
	ints := ib.NewArray()
	ib.Release()
	defer ints.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "tags", Type: tags.DataType()}, {Name: "ts", Type: ts.DataType()}, {Name: "region", Type: dict.DataType()}, {Name: "n", Type: ints.DataType()}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{tags, ts, dict, ints}, 2)
	defer rec.Release()
	hive := map[string]string{"tags": "array<string>", "ts": "timestamp", "region": "string", "n": "bigint"}
	nullTags, err := expr.Mask("null", "tags", "array<string>")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTransform(TransformSpec{Source: schema, Columns: []OutputColumn{
		{Name: "tags", Type: "array<string>", Source: "tags"},
		{Name: "masked", Type: "array<string>", Expr: nullTags},
		{Name: "ts", Type: "timestamp", Source: "ts"},
		{Name: "ts_text", Type: "string", Expr: checked(t, "CAST(ts AS string)", hive)},
		{Name: "region", Type: "string", Expr: checked(t, "lower(region)", hive)},
		{Name: "n", Type: "bigint", Source: "n"},
	}}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.(interface{ Close() error }).Close()
	out, err := tr.Apply(context.Background(), mem, rec, plan.Pos{})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	got := rowsOf(t, out)
	want := []string{`["a"]|NULL|2023-11-14T22:13:20.123456|2023-11-14 22:13:20.123456|eu|7`, `NULL|NULL|1969-12-31T23:59:59.999999|1969-12-31 23:59:59.999999|NULL|8`}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Errorf("rows %q, want %q", got, want)
			break
		}
	}
}
