package policy

import (
	"fmt"
	"strings"
	"testing"
)

// bigPolicy has n grants, n/10 masks and n/10 row filters over n distinct databases, plus the
// rules that reach the benchmarked table, so a decision scans every rule.
func bigPolicy(b *testing.B, n int) *Policy {
	var s strings.Builder
	s.WriteString("tags:\n  - {match: {name: \"*email*\"}, tags: [pii.email]}\ngrants:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&s, "  - {to: [\"group:g%d\"], privileges: [select], on: \"db%d.*\"}\n", i, i)
	}
	s.WriteString("  - {to: [group:analysts], privileges: [select], on: \"sales.*\"}\nmasks:\n")
	for i := 0; i < n/10; i++ {
		fmt.Fprintf(&s, "  - {column: \"db%d.t.c\", mask: hash}\n", i)
	}
	s.WriteString("  - {tag: pii.email, mask: hash}\nrow_filters:\n")
	for i := 0; i < n/10; i++ {
		fmt.Fprintf(&s, "  - {on: \"db%d.t\", filter: \"x = 1\"}\n", i)
	}
	s.WriteString("  - {on: \"sales.orders\", to: [group:analysts], filter: \"region = 'EU'\"}\n")
	p, err := Parse("big", []byte(s.String()))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkDecideTable10k(b *testing.B) {
	p := bigPolicy(b, 10000)
	who := Principal{User: "alice", Groups: []string{"analysts"}}
	t := TableRef{DB: "sales", Table: "orders", Columns: []Column{{"id", "bigint"}, {"email", "string"}, {"region", "string"}}}
	b.ReportAllocs()
	for b.Loop() {
		d, err := p.DecideTable(who, t)
		if err != nil || d.Outcome != Restricted {
			b.Fatal(d, err)
		}
	}
}

func BenchmarkTableVisible10k(b *testing.B) {
	p := bigPolicy(b, 10000)
	who := Principal{User: "alice", Groups: []string{"analysts"}}
	b.ReportAllocs()
	for b.Loop() {
		if !p.TableVisible(who, "sales", "orders") {
			b.Fatal("not visible")
		}
	}
}
