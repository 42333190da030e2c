package expr

import (
	"encoding/json"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestCrossEngineQueries writes, for every mask that renders natively for a column type, one
// Spark and one Trino query applying it to sample values of that type (NULL, empty, extremes),
// to $PROPOLIS_CROSSENGINE_OUT. testdata/crossengine.py runs them in Spark 3.5 and Trino and
// reports every difference: the proof that native masks give identical results in both.
func TestCrossEngineQueries(t *testing.T) {
	out := os.Getenv("PROPOLIS_CROSSENGINE_OUT")
	if out == "" {
		t.Skip("set PROPOLIS_CROSSENGINE_OUT to write the cross-engine queries (see testdata/crossengine.py)")
	}
	values := map[string][]string{
		"string":        {"NULL", "''", "'a'", "'abcd'", "'abcdefgh'", "'héllo wörld'", "'it''s'", "'5551234567'"},
		"varchar(20)":   {"NULL", "'ab'", "'alice@example.com'"},
		"char(4)":       {"NULL", "'ab'", "'abcd'"},
		"int":           {"NULL", "0", "7", "-15", "12345", "2147483647", "-2147483648", "1500", "-2500"},
		"bigint":        {"NULL", "5551234567", "-1", "9223372036854775807"},
		"smallint":      {"NULL", "-32768", "45"},
		"decimal(10,2)": {"NULL", "0.00", "1.25", "-1.25", "9.99", "12345678.95", "-0.05"},
		"decimal(12,6)": {"NULL", "0.000001", "0", "-123456.123456"},
		"date":          {"NULL", "'2024-05-06'", "'1999-12-31'", "'0001-01-01'"},
		"timestamp":     {"NULL", "'2024-05-06 10:11:12.345'", "'1970-01-01 00:00:00'"},
		"boolean":       {"NULL", "TRUE", "FALSE"},
	}
	type q struct{ Mask, Type, Hive, Trino string }
	var qs []q
	specs := []string{"null", "redact", "hash", "show_first(3)", "show_first(0)", "show_last(4)", "show_last(0)", "year", "round(1)", "round(-3)", "round(0)", "constant('x')", "constant(42)", "constant('2000-01-01')", "expr(substr(c, 2, 3))", "expr(lpad(c, 3, '#'))", "expr(c / 4)", "expr(concat(c, '|', c))", "expr(date_trunc('quarter', c))", "expr(date_trunc('day', c))", "expr(year(c))", "expr(length(c))", "expr(upper(c) || lower(c))", "expr(abs(c))", "expr(c LIKE 'a%')"}
	types := make([]string, 0, len(values))
	for typ := range values {
		types = append(types, typ)
	}
	sort.Strings(types)
	for _, typ := range types {
		vals := values[typ]
		for _, spec := range specs {
			e, err := Mask(spec, "c", typ)
			if err != nil {
				continue
			}
			h, err1 := Render(e, Hive, env)
			tr, err2 := Render(e, Trino, env)
			if err1 != nil || err2 != nil {
				continue
			}
			ty, _ := ParseType(typ)
			var hs, ts []string
			for i, v := range vals {
				hv := v
				if strings.HasPrefix(v, "'") {
					hv = "'" + strings.ReplaceAll(v[1:len(v)-1], "''", `\'`) + "'"
				}
				hs = append(hs, "SELECT "+itoa(i)+" AS i, CAST("+hv+" AS "+ty.hiveName()+") AS c")
				ts = append(ts, "SELECT "+itoa(i)+" AS i, CAST("+v+" AS "+ty.TrinoName()+") AS c")
			}
			qs = append(qs, q{spec, typ,
				"SELECT i, " + h + " AS m FROM (" + strings.Join(hs, " UNION ALL ") + ") t ORDER BY i",
				"SELECT i, " + tr + " AS m FROM (" + strings.Join(ts, " UNION ALL ") + ") t ORDER BY i"})
		}
	}
	b, err := json.MarshalIndent(qs, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
