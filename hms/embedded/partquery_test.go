package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"testing"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/filter"
)

func TestDecodeVals(t *testing.T) {
	for _, vals := range [][]string{
		{}, {""}, {"a"}, {"a", "b"}, {"a,b", "c"}, {`q"uote`, `back\slash`}, {"<&>"}, {"\u2028", "é", "日本"},
		{"\x00ctl", "tab\t"}, {"\xff\xfe"}, {"[", "]", ","}, {"", "", ""}, nil,
	} {
		b, err := json.Marshal(vals)
		must(t, err)
		got, err := decodeVals(string(b))
		must(t, err)
		want, err := decodeValsJSON(string(b))
		must(t, err)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("decodeVals(%s) = %q, want %q", b, got, want)
		}
	}
	for _, bad := range []string{`["a"`, `["a",]`, `[a]`, `["a" ,"b"]`, `x`} {
		got, err := decodeVals(bad)
		_, werr := decodeValsJSON(bad)
		if (err == nil) != (werr == nil) {
			t.Errorf("decodeVals(%s) = %q, %v; encoding/json says %v", bad, got, err, werr)
		}
	}
}

// testPartitionReadsMatchReference checks the partition reads against a plain evaluation of
// every stored partition: values with every kind of character escaping touches, empty values
// (stored as Hive's default partition), batches larger than one IN list, repeats in by-names.
func testPartitionReadsMatchReference(t *testing.T, s *Store) {
	ctx := context.Background()
	must(t, s.CreateDatabase(ctx, &hm.Database{Name: "db"}))
	tbl := table("db", "t", "a", "b:int", "c")
	tbl.TableType = "EXTERNAL_TABLE"
	tbl.Sd.Location = "s3a://bucket/t"
	must(t, s.CreateTable(ctx, tbl))
	as := []string{"x", "x y", "x/y", "x=y", "é", "%", "__HIVE_DEFAULT_PARTITION__", "", "X"}
	bs := []string{"1", "2", "10", "-3", "", "zz"}
	var parts []*hm.Partition
	for i := 0; i < 1300; i++ {
		a, b := as[i%len(as)], bs[(i/len(as))%len(bs)]
		if a == "" && b == "" {
			continue
		}
		parts = append(parts, part(a, b, fmt.Sprintf("c%04d", i)))
	}
	// "" and __HIVE_DEFAULT_PARTITION__ share a name: only the first of each pair is added.
	_, err := s.AddPartitions(ctx, "db", "t", parts, true)
	must(t, err)
	all, err := s.ListPartitions(ctx, "db", "t", hms.PartitionQuery{})
	must(t, err)
	if len(all) < 1000 {
		t.Fatalf("%d partitions", len(all))
	}
	keys := tbl.PartitionKeys
	names := make([]string, len(all))
	for i, p := range all {
		names[i], err = makePartName(keys, p.Values)
		must(t, err)
	}

	ref := func(q hms.PartitionQuery) []string {
		var f filter.Expr
		if q.Filter != "" {
			f, err = filter.Parse(q.Filter)
			must(t, err)
		}
		var out []string
		for i, p := range all {
			ok := true
			for j, v := range q.Values {
				if v != "" && p.Values[j] != v {
					ok = false
				}
			}
			if ok && f != nil {
				ok, err = f.Eval(keys, p.Values)
				must(t, err)
			}
			if ok {
				out = append(out, names[i])
			}
			if q.Max > 0 && len(out) == q.Max {
				break
			}
		}
		return out
	}
	var queries []hms.PartitionQuery
	for _, a := range append(as, "nope") {
		queries = append(queries,
			hms.PartitionQuery{Values: []string{a}},
			hms.PartitionQuery{Values: []string{a, "10"}},
			hms.PartitionQuery{Values: []string{a, "10", "c0010"}},
			hms.PartitionQuery{Values: []string{a, "", ""}},
			hms.PartitionQuery{Values: []string{a}, Max: 3},
			hms.PartitionQuery{Filter: fmt.Sprintf("a = %q", a)},
		)
	}
	for _, full := range []string{"x y", "x=y", "x"} {
		for _, p := range all {
			if p.Values[0] == full {
				queries = append(queries, hms.PartitionQuery{Values: p.Values})
				break
			}
		}
	}
	queries = append(queries,
		hms.PartitionQuery{},
		hms.PartitionQuery{Max: 7},
		hms.PartitionQuery{Values: []string{"", "2"}},
		hms.PartitionQuery{Values: []string{"", "", "c0100"}},
		hms.PartitionQuery{Filter: "b >= 2"},
		hms.PartitionQuery{Filter: "b >= 2", Max: 600},
		hms.PartitionQuery{Filter: "b < 10 and a like 'x%'"},
		hms.PartitionQuery{Filter: `c > "c0500"`, Values: []string{"x"}},
		hms.PartitionQuery{Filter: `b = "__HIVE_DEFAULT_PARTITION__"`},
		hms.PartitionQuery{Filter: `a <> "x"`},
	)
	for _, q := range queries {
		want := ref(q)
		got, err := s.ListPartitionNames(ctx, "db", "t", q)
		must(t, err)
		if !slices.Equal(got, want) {
			t.Fatalf("ListPartitionNames(%+v) = %d names %.5q, want %d %.5q", q, len(got), got, len(want), want)
		}
		ps, err := s.ListPartitions(ctx, "db", "t", q)
		must(t, err)
		if len(ps) != len(want) {
			t.Fatalf("ListPartitions(%+v) = %d partitions, want %d", q, len(ps), len(want))
		}
		for i, p := range ps {
			if n, _ := makePartName(keys, p.Values); n != want[i] || p.DbName != "db" || p.TableName != "t" {
				t.Fatalf("ListPartitions(%+v)[%d] = %s (%s.%s), want %s", q, i, n, p.DbName, p.TableName, want[i])
			}
		}
		n, err := s.CountPartitions(ctx, "db", "t", q)
		must(t, err)
		if n != len(want) {
			t.Fatalf("CountPartitions(%+v) = %d, want %d", q, n, len(want))
		}
	}

	// By names: asked order, missing names omitted, repeats answered again as separate copies,
	// more names than one IN list holds.
	rng := rand.New(rand.NewSource(1))
	var ask, wantNames []string
	for i := 0; i < 1200; i++ {
		switch rng.Intn(10) {
		case 0:
			ask = append(ask, "a=nope/b=1/c=c0000")
		case 1:
			if len(wantNames) > 0 {
				ask = append(ask, wantNames[rng.Intn(len(wantNames))])
				wantNames = append(wantNames, ask[len(ask)-1])
			}
		default:
			n := names[rng.Intn(len(names))]
			ask = append(ask, n)
			wantNames = append(wantNames, n)
		}
	}
	got, err := s.GetPartitionsByNames(ctx, "db", "t", ask)
	must(t, err)
	if len(got) != len(wantNames) {
		t.Fatalf("GetPartitionsByNames: %d partitions, want %d", len(got), len(wantNames))
	}
	seen := map[*hm.Partition]bool{}
	for i, p := range got {
		if n, _ := makePartName(keys, p.Values); n != wantNames[i] {
			t.Fatalf("GetPartitionsByNames[%d] = %s, want %s", i, n, wantNames[i])
		}
		if seen[p] {
			t.Fatal("GetPartitionsByNames returned one object twice")
		}
		seen[p] = true
	}
	if got, err := s.GetPartitionsByNames(ctx, "db", "t", nil); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("GetPartitionsByNames(nil) = %v, %v; want an empty list", got, err)
	}
	if _, err := s.GetPartitionsByNames(ctx, "db", "t", []string{names[0], "a=1"}); err == nil {
		t.Fatal("GetPartitionsByNames accepted a name that does not match the keys")
	}
}

func TestPartitionReadsMatchReference(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			open := b.fresh(t)
			testPartitionReadsMatchReference(t, open(t, Config{}))
		})
	}
}
