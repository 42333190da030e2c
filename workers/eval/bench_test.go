package eval

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/workers/plan"
)

// benchRows strings, evaluated in batches of 64Ki rows as a scanner hands them over.
const benchRows, benchBatch = 1 << 20, 1 << 16

func benchEmails(mem memory.Allocator) []arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	var recs []arrow.RecordBatch
	for start := 0; start < benchRows; start += benchBatch {
		b := array.NewStringBuilder(mem)
		for i := start; i < start+benchBatch; i++ {
			b.Append(fmt.Sprintf("user%07d@example.com", i))
		}
		a := b.NewArray()
		b.Release()
		recs = append(recs, array.NewRecordBatch(schema, []arrow.Array{a}, benchBatch))
		a.Release()
	}
	return recs
}

func benchMask(b *testing.B, spec string) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	recs := benchEmails(mem)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	e, err := expr.Mask(spec, "email", "string")
	if err != nil {
		b.Fatal(err)
	}
	p, err := Compile(e, recs[0].Schema(), testEnv(b))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for _, r := range recs {
			a, err := p.Eval(ctx, mem, r, plan.Pos{File: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			a.Release()
		}
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkHashMask: the hash mask (sha256 of the text) over 1M strings.
func BenchmarkHashMask(b *testing.B) { benchMask(b, "hash") }

// BenchmarkTokenize: keyed tokenization over 1M strings.
func BenchmarkTokenize(b *testing.B) { benchMask(b, "expr(tokenize(email, 'pii'))") }
