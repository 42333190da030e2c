package eval

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/workers/plan"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func testKeys(t testing.TB) *StaticKeyring {
	t.Helper()
	k, err := NewStaticKeyring([]KeySpec{
		{ID: "k1", Version: 1, Secret: []byte("0123456789abcdef-secret-one")},
		{ID: "k1", Version: 2, Secret: []byte("0123456789abcdef-secret-two")},
		{ID: "pii", Version: 1, Secret: []byte("another secret of 32 bytes......")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testEnv(t testing.TB) Env {
	return Env{User: "alice", Groups: []string{"analysts"}, Keys: testKeys(t), DefaultKey: "pii",
		NoiseSecret: []byte("noise secret, 16+ bytes"), Lookups: mapLookups{}}
}

// column builds one column of Hive type typ from SQL literal texts ('x', 12, NULL), through
// the worker's own string casts (which the Spark comparison checks too).
func column(t testing.TB, mem memory.Allocator, typ string, vals []string) arrow.Array {
	t.Helper()
	ht, err := expr.ParseType(typ)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for _, v := range vals {
		switch {
		case v == "NULL":
			b.AppendNull()
		case strings.HasPrefix(v, "'"):
			b.Append(strings.ReplaceAll(v[1:len(v)-1], "''", "'"))
		default:
			b.Append(v)
		}
	}
	s := b.NewArray()
	defer s.Release()
	if ht.IsString() {
		s.Retain()
		return s
	}
	if ht.Kind == expr.Binary {
		out, err := castArray(mem, s, expr.TString, ht)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out, err := castArray(mem, s, expr.TString, ht)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func record(t testing.TB, mem memory.Allocator, cols map[string]string, vals map[string][]string) arrow.RecordBatch {
	t.Helper()
	var fields []arrow.Field
	var arrs []arrow.Array
	n := -1
	for _, name := range sortedKeys(cols) {
		a := column(t, mem, cols[name], vals[name])
		dt, _ := ArrowType(cols[name])
		fields = append(fields, arrow.Field{Name: name, Type: dt, Nullable: true})
		arrs = append(arrs, a)
		n = a.Len()
	}
	defer releaseAll(arrs)
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(n))
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// texts renders an array as one text per row (NULL for null), through the worker's own CAST
// to string.
func texts(t testing.TB, mem memory.Allocator, a arrow.Array, typ expr.Type) []string {
	t.Helper()
	if typ.IsComplex() {
		out := make([]string, a.Len())
		for i := range out {
			out[i] = "NULL"
			if a.IsValid(i) {
				out[i] = "<value>"
			}
		}
		return out
	}
	s, err := castArray(mem, a, typ, expr.TString)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	out := make([]string, a.Len())
	for i := range out {
		if s.IsNull(i) {
			out[i] = "NULL"
		} else {
			out[i] = s.(*array.String).Value(i)
		}
	}
	return out
}

// evalOn evaluates src over one column c of type typ holding vals.
func evalOn(t testing.TB, mem memory.Allocator, env Env, src, typ string, vals []string) ([]string, expr.Type, error) {
	t.Helper()
	e, err := expr.Parse(src)
	if err != nil {
		return nil, expr.Type{}, err
	}
	if _, err := expr.Check(e, map[string]string{"c": typ}); err != nil {
		return nil, expr.Type{}, err
	}
	return evalExpr(t, mem, env, e, typ, vals)
}

func evalExpr(t testing.TB, mem memory.Allocator, env Env, e expr.Expr, typ string, vals []string) ([]string, expr.Type, error) {
	t.Helper()
	rec := record(t, mem, map[string]string{"c": typ}, map[string][]string{"c": vals})
	defer rec.Release()
	p, err := Compile(e, rec.Schema(), env)
	if err != nil {
		return nil, expr.Type{}, err
	}
	defer p.Close()
	a, err := p.Eval(context.Background(), mem, rec, plan.Pos{File: "f.parquet"})
	if err != nil {
		return nil, expr.Type{}, err
	}
	defer a.Release()
	if dt, _ := arrowOf(p.Type()); !arrow.TypeEqual(dt, a.DataType()) {
		t.Errorf("%s: result type %s, want %s", e, a.DataType(), dt)
	}
	return texts(t, mem, a, p.Type()), p.Type(), nil
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run with -update if intended)", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length (run with -update if intended)", path)
	}
}

// sampleValues are the inputs of the golden and Spark tests, per column type.
var sampleValues = map[string][]string{
	"string":        {"NULL", "''", "'a'", "'abcd'", "'abcdefgh'", "'héllo wörld'", "'it''s'", "'5551234567'", "'alice@example.com'"},
	"varchar(20)":   {"NULL", "'ab'", "'alice@example.com'"},
	"char(4)":       {"NULL", "'ab'", "'abcd'"},
	"int":           {"NULL", "0", "7", "-15", "12345", "2147483647", "-2147483648", "1500", "-2500"},
	"bigint":        {"NULL", "5551234567", "-1", "9223372036854775807"},
	"smallint":      {"NULL", "-32768", "45"},
	"tinyint":       {"NULL", "-128", "127", "5"},
	"decimal(10,2)": {"NULL", "0.00", "1.25", "-1.25", "9.99", "12345678.95", "-0.05"},
	"decimal(12,6)": {"NULL", "0.000001", "0", "-123456.123456"},
	"decimal(12,8)": {"NULL", "0.00000001", "1.5", "-0.00012345"},
	"double":        {"NULL", "0", "1.5", "-2.5", "1e20", "0.1", "1.005", "123456789.125", "NaN"},
	"float":         {"NULL", "1.5", "0.1", "-3.25"},
	"date":          {"NULL", "'2024-05-06'", "'1999-12-31'", "'0001-01-01'"},
	"timestamp":     {"NULL", "'2024-05-06 10:11:12.345'", "'1970-01-01 00:00:00'", "'1969-12-31 23:59:59.999999'"},
	"boolean":       {"NULL", "TRUE", "FALSE"},
	"binary":        {"NULL", "'abc'", "''"},
}

var sampleTypes = sortedKeys(func() map[string]string {
	m := map[string]string{}
	for k := range sampleValues {
		m[k] = k
	}
	return m
}())

// maskSpecs are the masks of expr.Masks with the arguments the golden files use.
var maskSpecs = []string{"null", "redact", "hash", "show_first(3)", "show_first(0)", "show_last(4)", "show_last(0)", "year", "round(1)", "round(-3)", "round(0)", "round(2)", "constant('x')", "constant(42)", "constant('2000-01-01')", "constant(1.5)", "constant(TRUE)"}

// funcCases are expressions over a column c, evaluated for every sample type they check for.
var funcCases = []string{
	"expr(substr(c, 2, 3))", "expr(substr(c, 3))", "expr(substr(c, 1, 0))", "expr(lpad(c, 3, '#'))", "expr(rpad(c, 6, 'xy'))", "expr(lpad(c, 12, 'ab'))",
	"expr(c / 4)", "expr(c + 1)", "expr(c - 2)", "expr(c * 3)", "expr(-c)", "expr(concat(c, '|', c))", "expr(c || '!')",
	"expr(date_trunc('quarter', c))", "expr(date_trunc('month', c))", "expr(date_trunc('day', c))", "expr(year(c))",
	"expr(length(c))", "expr(upper(c) || lower(c))", "expr(abs(c))", "expr(c LIKE 'a%')", "expr(c LIKE '%\\_%')", "expr(c NOT LIKE '_b%')",
	"expr(coalesce(c, c))", "expr(CASE WHEN c IS NULL THEN 'none' ELSE 'some' END)", "expr(c IN ('a', 'abcd', NULL))", "expr(c IN (0, 7, 1.25))",
	"expr(c BETWEEN 0 AND 10)", "expr(c = c)", "expr(c <> 7)", "expr(c > CAST('2000-01-01' AS date))", "expr(NOT c)", "expr(c AND NULL)", "expr(c OR NULL)",
	"expr(CAST(c AS string))", "expr(CAST(c AS int))", "expr(CAST(c AS double))", "expr(CAST(c AS decimal(8,1)))", "expr(CAST(c AS date))", "expr(CAST(c AS timestamp))", "expr(CAST(c AS boolean))",
	"expr(sha256(c))", "expr(is_member('analysts') AND c IS NOT NULL)", "expr(current_user() || ':' || CAST(c AS string))",
	"expr(tokenize(c, 'pii'))", "expr(tokenize(c, 'k1'))", "expr(encrypt(c, 'pii'))", "expr(fpe_digits(c, 4))", "expr(fpe_digits(c, 0, 'k1'))", "expr(dp_noise(c, 1))", "expr(dp_noise(c, 0.1))",
}

// TestGolden: every mask and function over every sample type it applies to.
func TestGolden(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	env := testEnv(t)
	for _, file := range []struct {
		name  string
		specs []string
	}{{"masks", maskSpecs}, {"funcs", funcCases}} {
		var out strings.Builder
		for _, spec := range file.specs {
			for _, typ := range sampleTypes {
				e, err := expr.Mask(spec, "c", typ)
				if err != nil {
					continue
				}
				vals := sampleValues[typ]
				got, rt, err := evalExpr(t, mem, env, e, typ, vals)
				fmt.Fprintf(&out, "%s | %s\n", spec, typ)
				if err != nil {
					fmt.Fprintf(&out, "  error: %v\n", err)
					continue
				}
				fmt.Fprintf(&out, "  type: %s\n", rt)
				for i, v := range vals {
					fmt.Fprintf(&out, "  %s -> %s\n", v, got[i])
				}
			}
		}
		compareGolden(t, "testdata/"+file.name+".golden", out.String())
	}
}
