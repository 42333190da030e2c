package expr

import (
	"reflect"
	"testing"
)

func TestLookups(t *testing.T) {
	tests := []struct {
		src  string
		want []LookupRef
	}{
		{"region = 'EU'", nil},
		{"region IN (SELECT region FROM acl.user_regions WHERE user = current_user())",
			[]LookupRef{{DB: "acl", Table: "user_regions", Columns: []string{"region", "user"}}}},
		{"region IN (SELECT r FROM acl.m WHERE u = 'x') OR age NOT IN (SELECT a FROM acl.ages) OR name IN (SELECT n FROM acl.m WHERE r = 'y')",
			[]LookupRef{
				{DB: "acl", Table: "m", Columns: []string{"r", "u", "n"}},
				{DB: "acl", Table: "ages", Columns: []string{"a"}},
			}},
	}
	for _, tt := range tests {
		e, err := Parse(tt.src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Check(e, schema); err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if got := Lookups(e); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Lookups(%s) = %+v, want %+v", tt.src, got, tt.want)
		}
		// The lookup's columns are not the outer table's.
		for _, c := range Columns(e) {
			if _, ok := schema[c]; !ok {
				t.Errorf("Columns(%s) lists %q, not a column of the table", tt.src, c)
			}
		}
		if len(tt.want) > 0 {
			for _, d := range Dialects {
				if !NeedsWorker(e, d) {
					t.Errorf("%s: NeedsWorker(%s) = false", tt.src, d)
				}
			}
		}
	}
}
