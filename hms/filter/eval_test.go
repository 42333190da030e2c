package filter

import (
	"strings"
	"testing"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

var testKeys = []*hm.FieldSchema{
	{Name: "ds", Type: "string"},
	{Name: "hr", Type: "int"},
	{Name: "d", Type: "date"},
	{Name: "ts", Type: "timestamp"},
	{Name: "amt", Type: "decimal(10,2)"},
	{Name: "Region", Type: "VARCHAR(10)"},
}

// testParts are the partitions every eval case runs against, by name.
var testParts = []struct {
	name   string
	values []string
}{
	{"p1", []string{"2024-01-01", "1", "2024-01-01", "2024-01-01 00:00:00", "1.50", "eu"}},
	{"p2", []string{"2024-01-02", "2", "2024-01-02", "2024-01-02 12:30:00", "10", "us"}},
	{"p3", []string{"2024-02-01", "10", "2024-02-01", "2024-02-01 23:59:59.5", "-3", "eu-west"}},
	{"p4", []string{"2023-12-31", "-5", "2023-12-31", "2023-12-31 08:00:00", "100.001", "a_b"}},
	// Default partitions: NULL on typed keys, plain text on string keys.
	{"pdef", []string{DefaultPartitionName, DefaultPartitionName, DefaultPartitionName, DefaultPartitionName, DefaultPartitionName, DefaultPartitionName}},
	// Stored values that are not valid for their type behave as NULL too.
	{"pbad", []string{"x", "abc", "not-a-date", "noon", "1/2", "x.y"}},
	{"ppig", []string{"2024-03-01", "007", "2024-03-01 10:00:00", "2024-03-01 10:00:00", "2", "a.b"}},
}

func TestEval(t *testing.T) {
	tests := []struct {
		filter string
		want   string // space-separated names of matching partitions
	}{
		// String keys compare text byte-wise.
		{"ds = '2024-01-01'", "p1"},
		{"ds > '2024-01-01'", "p2 p3 pdef pbad ppig"},
		{"ds >= '2024-01-01' AND ds < '2024-02'", "p1 p2"},
		{"'2024-01-01' < ds AND ds < '2024-02'", "p2"},
		{"'2024-01-02' >= ds", "p1 p2 p4"},
		{"ds != '2024-01-01'", "p2 p3 p4 pdef pbad ppig"},
		{"ds <> '2024-01-01' and ds <> 'x'", "p2 p3 p4 pdef ppig"},
		{"ds = '__HIVE_DEFAULT_PARTITION__'", "pdef"},
		// Integral keys compare numerically: 10 > 2, 007 = 7, -5 < 1.
		{"hr > 2", "p3 ppig"},
		{"hr < 2", "p1 p4"},
		{"hr = 7", "ppig"},
		{"hr = '7'", "ppig"},
		{"2 <= hr", "p2 p3 ppig"},
		{"hr >= -5", "p1 p2 p3 p4 ppig"},
		{"hr != 1", "p2 p3 p4 ppig"},
		{"(hr) IN (1, 10)", "p1 p3"},
		{"hr IN (1, '10')", "p1 p3"},
		{"(hr) NOT IN (1, 10)", "p2 p4 ppig"},
		{"hr BETWEEN 1 AND 7", "p1 p2 ppig"},
		{"hr NOT BETWEEN 1 AND 7", "p3 p4"},
		{"hr = '__HIVE_DEFAULT_PARTITION__'", "pdef"},
		{"hr != '__HIVE_DEFAULT_PARTITION__'", "p1 p2 p3 p4 pbad ppig"},
		// NULL never satisfies a comparison, and NOT of unknown is unknown.
		{"NOT hr = 1", "p2 p3 p4 ppig"},
		{"NOT (hr = 1 OR ds = 'x')", "p2 p3 p4 ppig"},
		{"hr = 1 OR ds = 'x'", "p1 pbad"},
		{"NOT (hr = 1 AND ds = 'x')", "p1 p2 p3 p4 pdef ppig"},
		{"NOT NOT hr = 1", "p1"},
		// An integer literal against a string key compares its decimal text.
		{"region = 1", ""},
		{"ds > 2024", "p1 p2 p3 pdef pbad ppig"},
		// Date keys compare as dates; a time part in the stored value is ignored.
		{"d = DATE '2024-03-01'", "ppig"},
		{"d >= '2024-01-02'", "p2 p3 ppig"},
		{"d < 2024-01-01", "p4"},
		{"d BETWEEN DATE '2024-01-01' AND DATE '2024-01-31'", "p1 p2"},
		{"d IN ('2024-01-01', 2024-02-01)", "p1 p3"},
		// Timestamp keys compare as timestamps; a date literal is midnight.
		{"ts > TIMESTAMP '2024-01-01 00:00:00'", "p2 p3 ppig"},
		{"ts >= '2024-02-01 23:59:59'", "p3 ppig"},
		{"ts < DATE '2024-01-02'", "p1 p4"},
		{"ts = '2024-02-01 23:59:59.500'", "p3"},
		// Decimal keys compare numerically.
		{"amt > '2'", "p2 p4"},
		{"amt <= 2", "p1 p3 ppig"},
		{"amt = '10.000'", "p2"},
		// LIKE: Hive's regex translation, whole-value match, on the stored text.
		{"ds LIKE '2024-01-%'", "p1 p2"},
		{"ds LIKE '2024-0_-01'", "p1 p3 ppig"},
		{"region LIKE 'eu'", "p1"},
		{"region LIKE 'EU'", ""},
		{"region LIKE 'eu%'", "p1 p3"},
		{"region LIKE 'a\\_b'", "p4"},
		{"region LIKE 'a_b'", "p4 ppig"},
		{"region LIKE 'a.b'", "p4 ppig"},
		{"region LIKE 'a\\\\.b'", "ppig"},
		{"region LIKE 'eu|us'", "p1 p2"},
		{"ds LIKE '\\d{4}-01-.*'", "p1 p2"},
		{"hr LIKE '1%'", "p1 p3"},
		{"hr LIKE '%'", "p1 p2 p3 p4 pbad ppig"},
		{"ds NOT LIKE '2024%'", "p4 pdef pbad"},
		// Multi-column IN.
		{"(STRUCT(ds, hr)) IN (CONST STRUCT('2024-01-01', 1), CONST STRUCT('2024-02-01', 10))", "p1 p3"},
		{"(STRUCT(ds, hr)) IN (STRUCT('2024-01-01', 2))", ""},
		{"(STRUCT(ds, hr)) NOT IN (STRUCT('2024-01-01', 1))", "p2 p3 p4 pdef pbad ppig"},
		// Key names are case-insensitive, and so are keywords.
		{"REGION = 'eu' or HR = 2", "p1 p2"},
		{"`Region` = 'eu'", "p1"},
		{"ds = 'a' OR ds = 'b' OR (hr > 1 AND hr < 3)", "p2"},
	}
	for _, tt := range tests {
		e, err := Parse(tt.filter)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.filter, err)
			continue
		}
		var got []string
		for _, p := range testParts {
			ok, err := e.Eval(testKeys, p.values)
			if err != nil {
				t.Errorf("%q on %s: %v", tt.filter, p.name, err)
				continue
			}
			if ok {
				got = append(got, p.name)
			}
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("%q matches [%s], want [%s]", tt.filter, g, tt.want)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	tests := []struct {
		filter string
		want   string
	}{
		{"nope = 1", `"nope" is not a partitioning column`},
		{"ds = 'a' OR nope = 1", `"nope" is not a partitioning column`},
		{"hr = 'abc'", `cannot compare int partition key "hr" with 'abc'`},
		{"hr IN (1, 'x')", `cannot compare int partition key "hr" with 'x'`},
		{"hr = DATE '2024-01-01'", `cannot compare int partition key "hr" with DATE '2024-01-01'`},
		{"d = 'yesterday'", `cannot compare date partition key "d" with 'yesterday'`},
		{"d > 5", `cannot compare date partition key "d" with 5`},
		{"ts BETWEEN 'a' AND 'b'", `cannot compare timestamp partition key "ts" with 'a'`},
		{"amt < 'lots'", `cannot compare decimal(10,2) partition key "amt" with 'lots'`},
		{"(STRUCT(ds, nope)) IN (STRUCT('a', 1))", `"nope" is not a partitioning column`},
	}
	for _, tt := range tests {
		e, err := Parse(tt.filter)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.filter, err)
			continue
		}
		_, err = e.Eval(testKeys, testParts[0].values)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.filter, err, tt.want)
			continue
		}
		if errs.KindOf(err) != errs.KindInvalid {
			t.Errorf("%q: kind %v, want invalid", tt.filter, errs.KindOf(err))
		}
	}
	e, _ := Parse("ds = 'a'")
	if _, err := e.Eval(testKeys, []string{"a"}); errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("Eval with too few values: %v, want invalid", err)
	}
}

func TestKeys(t *testing.T) {
	tests := []struct{ filter, want string }{
		{"ds = 'a'", "ds"},
		{"DS = 'a' AND hr = 1 OR ds = 'b'", "ds hr"},
		{"(STRUCT(B, a)) IN (STRUCT(1, 2)) AND c BETWEEN 1 AND 2 AND NOT (d) IN (1)", "b a c d"},
		{"`X Y` LIKE 'a'", "x y"},
	}
	for _, tt := range tests {
		e, err := Parse(tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(Keys(e), " "); got != tt.want {
			t.Errorf("Keys(%q) = %q, want %q", tt.filter, got, tt.want)
		}
	}
}

func BenchmarkEval(b *testing.B) {
	e, err := Parse("ds >= '2024-01-01' AND hr IN (1, 2, 10) AND region LIKE 'eu%'")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := e.Eval(testKeys, testParts[2].values); err != nil {
			b.Fatal(err)
		}
	}
}
