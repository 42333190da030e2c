package eval

import (
	"context"
	"reflect"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/propolis/propolis/workers/plan"
)

// TestPassthrough: only plain reads of a source column at its own type are identities (no
// mask, cast, char padding or partition key), a row filter is reported, and Reads names the
// source columns a computed column needs, so the scanner may give Apply NULLs for the others.
func TestPassthrough(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := customers(mem)
	defer rec.Release()
	cols := []OutputColumn{
		{Name: "id", Type: "bigint", Source: "ID"},
		{Name: "email", Type: "string", Expr: checked(t, "tokenize(email, 'pii')", customersHive)},
		{Name: "region", Type: "string", Source: "region"},
		{Name: "region_c", Type: "char(6)", Source: "region"},
		{Name: "salary", Type: "bigint", Source: "salary"},
		{Name: "salary_i", Type: "int", Source: "salary"},
		{Name: "dt", Type: "date", Source: "dt"},
		{Name: "masked", Type: "string", Expr: checked(t, "CASE WHEN salary > 200 THEN region ELSE 'x' END", customersHive)},
	}
	tests := []struct {
		name    string
		filter  string
		filters bool
	}{
		{"no filter", "", false},
		{"filter", "region = 'EU'", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := TransformSpec{Source: rec.Schema(), Columns: cols, Partitions: []PartitionKey{{Name: "dt", Type: "date"}}}
			if tt.filter != "" {
				spec.Filter = checked(t, tt.filter, customersHive)
			}
			tr, err := NewTransform(spec, testEnv(t))
			if err != nil {
				t.Fatal(err)
			}
			defer tr.(*Transform).Close()
			pt, ok := tr.(plan.Passthrough)
			if !ok {
				t.Fatal("not a plan.Passthrough")
			}
			filters, ids := pt.Identity()
			if filters != tt.filters {
				t.Errorf("filters = %v", filters)
			}
			if want := map[int]string{0: "id", 2: "region", 5: "salary"}; !reflect.DeepEqual(ids, want) {
				t.Errorf("Identity() = %v, want %v", ids, want)
			}
			reads := pt.Reads([]int{1, 7, 6})
			sort.Strings(reads)
			if want := []string{"email", "region", "salary"}; !reflect.DeepEqual(reads, want) {
				t.Errorf("Reads = %v, want %v", reads, want)
			}
			if tt.filters {
				return
			}
			// The computed columns are the same when the columns only identities read are NULL.
			pos := plan.Pos{File: "f", Partition: map[string]string{"dt": "2024-01-02"}}
			full, err := tr.Apply(context.Background(), mem, rec, pos)
			if err != nil {
				t.Fatal(err)
			}
			defer full.Release()
			in := make([]arrow.Array, rec.NumCols())
			for i := range in {
				if rec.Schema().Field(i).Name == "id" {
					in[i] = array.MakeArrayOfNull(mem, rec.Column(i).DataType(), int(rec.NumRows()))
				} else {
					in[i] = rec.Column(i)
					in[i].Retain()
				}
			}
			nulled := array.NewRecordBatch(rec.Schema(), in, rec.NumRows())
			for _, a := range in {
				a.Release()
			}
			defer nulled.Release()
			part, err := tr.Apply(context.Background(), mem, nulled, pos)
			if err != nil {
				t.Fatal(err)
			}
			defer part.Release()
			for _, i := range []int{1, 3, 4, 6, 7} {
				if !array.Equal(full.Column(i), part.Column(i)) {
					t.Errorf("column %d differs with id NULL", i)
				}
			}
		})
	}
}
