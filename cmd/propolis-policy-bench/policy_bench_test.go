package main

import (
	"context"
	"fmt"
	"testing"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/policy"
	"github.com/propolis/propolis/policy/enforce"
	pthrift "github.com/propolis/propolis/thrift"
)

// In-process benchmarks of the policy work behind the measured calls, with the very policy the
// program generates: where the time goes when the end-to-end figures say policy costs. Profile
// with
//
//	go test ./cmd/propolis-policy-bench -run x -bench . -cpuprofile /tmp/cpu.out
//	go tool pprof -top /tmp/cpu.out

func benchPolicy(b *testing.B) *policy.Policy {
	b.Helper()
	st := genPolicy(10000)
	p, err := policy.Parse("bench", []byte(st.yaml))
	if err != nil {
		b.Fatal(err)
	}
	return p.WithVersion(1)
}

var who = policy.Principal{User: benchUser, Groups: benchGroups}

func tableRef(t *hm.Table) policy.TableRef {
	ref := policy.TableRef{DB: t.DbName, Table: t.TableName}
	for _, c := range append(append([]*hm.FieldSchema{}, t.Sd.Cols...), t.PartitionKeys...) {
		ref.Columns = append(ref.Columns, policy.Column{Name: c.Name, Type: c.Type})
	}
	return ref
}

func TestGeneratedPolicy(t *testing.T) {
	for _, n := range []int{20, 1000, 10000} {
		st := genPolicy(n)
		if st.rules != n || st.grants+st.denies+st.masks+st.filters != n {
			t.Fatalf("genPolicy(%d): %+v rules", n, st.rules)
		}
		p, err := policy.Parse("gen", []byte(st.yaml))
		if err != nil {
			t.Fatalf("genPolicy(%d) does not parse: %v", n, err)
		}
		d, err := p.DecideTable(who, tableRef(extTable(salesDB, "customers", customersCols(), []*hm.FieldSchema{field("region", "string")})))
		if err != nil || d.Outcome != policy.Restricted || d.RowFilter == "" || len(d.Masks) != 2 {
			t.Fatalf("genPolicy(%d): customers: %+v, %v", n, d, err)
		}
		if !p.TableVisible(who, bigDB, bigTable(0)) || p.TableVisible(who, bigDB, bigTable(1)) {
			t.Fatalf("genPolicy(%d): big's visibility", n)
		}
	}
}

func BenchmarkDecideRestricted(b *testing.B) {
	p := benchPolicy(b)
	ref := tableRef(extTable(salesDB, "customers", customersCols(), []*hm.FieldSchema{field("region", "string")}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.DecideTable(who, ref); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecideUnrestricted(b *testing.B) {
	p := benchPolicy(b)
	ref := tableRef(extTable(bigDB, bigTable(42), bigCols(), []*hm.FieldSchema{field("ds", "string")}))
	b.ReportAllocs()
	for b.Loop() {
		if d, err := p.DecideTable(who, ref); err != nil || d.Outcome != policy.Raw {
			b.Fatal(d, err)
		}
	}
}

// BenchmarkListBig is FilterTables' work for get_all_tables(big): TableVisible per name.
func BenchmarkListBig(b *testing.B) {
	p := benchPolicy(b)
	names := make([]string, 10000)
	for i := range names {
		names[i] = bigTable(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, t := range names {
			if p.TableVisible(who, bigDB, t) {
				n++
			}
		}
		if n != 5000 {
			b.Fatal(n)
		}
	}
}

func BenchmarkDatabaseVisible200(b *testing.B) {
	p := benchPolicy(b)
	b.ReportAllocs()
	for b.Loop() {
		for i := 0; i < 200; i++ {
			p.DatabaseVisible(who, fmt.Sprintf("dept%04d", i))
		}
	}
}

// guardCtx is a context with a session identified as the bench user, as the Thrift server
// builds it.
func guardCtx(b *testing.B) context.Context {
	s := &pthrift.Session{}
	s.SetIdentity(pthrift.Identity{User: benchUser, Groups: benchGroups, Source: "set_ugi"})
	return pthrift.WithSession(context.Background(), s)
}

// BenchmarkGuardTableTrino is the whole get_table enforcement: decision, Trino view, audit
// (discarded).
func BenchmarkGuardTableTrino(b *testing.B) {
	p := benchPolicy(b)
	g, err := enforce.New(enforce.Config{
		Profiles: []enforce.Profile{{Name: "trino", Dialect: "trino", Trusted: true, TrinoCatalog: "hive"}}, Default: "trino",
	}, func() *policy.Policy { return p }, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := guardCtx(b)
	t := extTable(salesDB, "customers", customersCols(), []*hm.FieldSchema{field("region", "string")})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Table(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
}
