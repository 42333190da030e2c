package scan

import (
	"context"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/workers/eval"
	"github.com/propolis/propolis/workers/plan"
)

// hidePassthrough hides a Transform's plan.Passthrough: the reference (re-encoding) path.
type hidePassthrough struct{ plan.Transform }

// TestCopiedColumnsWithPolicyTransform: the worker's own Transform (Hive types, a partition
// key, a dp_noise mask that depends on row positions) copies what it serves unchanged and
// gives the values of the re-encoding path; a row filter turns copies off.
func TestCopiedColumnsWithPolicyTransform(t *testing.T) {
	ctx := context.Background()
	loc := writeCopySource(t, t.TempDir(), "dt=2024-01-02/part-0.parquet", compress.Codecs.Snappy, 7000, 2000, 3)
	hive := map[string]string{"id": "bigint", "email": "string", "region": "string", "amount": "double", "dt": "string"}
	check := func(src string) expr.Expr {
		e, err := expr.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := expr.Check(e, hive); err != nil {
			t.Fatal(err)
		}
		return e
	}
	cases := []struct {
		name   string
		filter string
		copies []string
	}{
		{"no filter", "", []string{"id", "region", "note"}},
		{"row filter", "region = 'eu'", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := eval.TransformSpec{Source: copySchema, Columns: []eval.OutputColumn{
				{Name: "id", Type: "bigint", Source: "id"},
				{Name: "region", Type: "string", Source: "region"},
				{Name: "noisy", Type: "double", Expr: check("dp_noise(amount, 1)")},
				{Name: "ts", Type: "timestamp", Source: "ts"},
				{Name: "note", Type: "string", Source: "note"},
				{Name: "req", Type: "int", Source: "req"},
				{Name: "dt", Type: "string", Source: "dt"},
			}, Partitions: []eval.PartitionKey{{Name: "dt", Type: "string"}}}
			if tc.filter != "" {
				spec.Filter = check(tc.filter)
			}
			tr, err := eval.NewTransform(spec, eval.Env{NoiseSecret: []byte("a noise secret of 16+ bytes")})
			if err != nil {
				t.Fatal(err)
			}
			b := checked(t, 0)
			fast, err := Open(ctx, Local{}, loc, tr, b, Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer fast.Close()
			slow, err := Open(ctx, Local{}, loc, hidePassthrough{tr}, b, Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer slow.Close()
			if tc.copies == nil {
				if fast.copy != nil {
					t.Fatalf("copies %v under a row filter", fast.copy.copied)
				}
				return
			}
			var got []string
			if fast.copy != nil {
				for n := range fast.copy.copied {
					got = append(got, n)
				}
			}
			if !sameSet(got, tc.copies) {
				t.Fatalf("copied %v, want %v", got, tc.copies)
			}
			want, have := decodeAll(t, fullEncode(t, slow)), decodeAll(t, fullEncode(t, fast))
			if len(have) != 7000 || !reflect.DeepEqual(have, want) {
				t.Fatalf("%d rows; differ from the re-encoding path's %d", len(have), len(want))
			}
		})
	}
}
