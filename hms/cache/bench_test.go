package cache

import (
	"fmt"
	"testing"

	"github.com/propolis/propolis/hms"
)

// BenchmarkGetTable: the embedded store (SQLite, in process: no network, so the cheapest
// backend there is) against the same store behind the cache. An upstream metastore adds a
// network round trip to every uncached call.
func BenchmarkGetTable(b *testing.B) {
	e := newEnv(b, Config{})
	seed(b, e.store, 1)
	for _, bc := range []struct {
		name string
		be   hms.Backend
	}{{"uncached", e.store}, {"cached", e.c}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.be.GetTable(ctx, "sales", "orders"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := bc.be.GetTable(ctx, "sales", "orders"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGetPartitionsByNames: 100 partitions per call, as a planner asks for a pruned scan.
func BenchmarkGetPartitionsByNames(b *testing.B) {
	e := newEnv(b, Config{})
	seed(b, e.store, 50)
	var names []string
	for d := 1; d <= 50; d++ {
		names = append(names, fmt.Sprintf("region=eu/day=%d", d), fmt.Sprintf("region=us/day=%d", d))
	}
	for _, bc := range []struct {
		name string
		be   hms.Backend
	}{{"uncached", e.store}, {"cached", e.c}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ps, err := bc.be.GetPartitionsByNames(ctx, "sales", "orders", names)
				if err != nil || len(ps) != 100 {
					b.Fatal(len(ps), err)
				}
			}
		})
	}
}
