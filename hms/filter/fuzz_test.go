package filter

import (
	"testing"

	hm "github.com/beltran/gohive/hive_metastore"
)

// FuzzParse checks that no input makes Parse or Eval panic, and that the canonical form of
// anything that parses parses back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"ds = '2024-01-01'", "hr > -5 AND (ds LIKE 'a%' OR NOT hr = 1)", "(hr) NOT IN (1, 2)",
		"hr BETWEEN 1 AND 5", "(STRUCT(ds, hr)) IN (CONST STRUCT('a', 1))", "d = DATE '2024-01-01'",
		"ts >= 2024-01-01 10:11:12", "`a``b` = 'it\\'s'", "x = ", "ds LIKE 'a(b'", "'a' 'b' = ds",
		"ds = \"__HIVE_DEFAULT_PARTITION__\"", "amt < '1e5'",
	} {
		f.Add(s, "a", "1")
	}
	keys := []*hm.FieldSchema{
		{Name: "ds", Type: "string"}, {Name: "hr", Type: "int"}, {Name: "d", Type: "date"},
		{Name: "ts", Type: "timestamp"}, {Name: "amt", Type: "decimal(10,2)"},
	}
	f.Fuzz(func(t *testing.T, s, v1, v2 string) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		canon := e.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form of %q is unstable: %q then %q", s, canon, again.String())
		}
		_ = Keys(e)
		for _, vals := range [][]string{{v1, v2, v1, v2, v1}, {v2, v1, v2, v1, v2}} {
			got, err1 := e.Eval(keys, vals)
			got2, err2 := again.Eval(keys, vals)
			if (err1 == nil) != (err2 == nil) || got != got2 {
				t.Fatalf("%q and its canonical form %q disagree on %q: %v/%v vs %v/%v", s, canon, vals, got, err1, got2, err2)
			}
		}
	})
}
