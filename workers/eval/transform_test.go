package eval

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/workers/plan"
)

func checked(t testing.TB, src string, cols map[string]string) expr.Expr {
	t.Helper()
	e, err := expr.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := expr.Check(e, cols); err != nil {
		t.Fatal(err)
	}
	return e
}

func stringCol(mem memory.Allocator, vals ...string) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for _, v := range vals {
		if v == "<null>" {
			b.AppendNull()
		} else {
			b.Append(v)
		}
	}
	return b.NewArray()
}

func rowsOf(t testing.TB, rec arrow.RecordBatch) []string {
	t.Helper()
	var out []string
	for i := 0; i < int(rec.NumRows()); i++ {
		var parts []string
		for c := 0; c < int(rec.NumCols()); c++ {
			col := rec.Column(c)
			if col.IsNull(i) {
				parts = append(parts, "NULL")
				continue
			}
			parts = append(parts, col.ValueStr(i))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

var customersHive = map[string]string{"id": "bigint", "email": "string", "region": "string", "salary": "int", "dt": "date"}

func customers(mem memory.Allocator) arrow.RecordBatch {
	ids := array.NewInt64Builder(mem)
	defer ids.Release()
	ids.AppendValues([]int64{1, 2, 3, 4, 5}, nil)
	idA := ids.NewArray()
	defer idA.Release()
	email := stringCol(mem, "a@x.com", "b@x.com", "<null>", "d@x.com", "a@x.com")
	defer email.Release()
	region := stringCol(mem, "EU", "US", "EU", "<null>", "APAC")
	defer region.Release()
	sal := array.NewInt32Builder(mem)
	defer sal.Release()
	sal.AppendValues([]int32{100, 200, 300, 400, 500}, nil)
	salA := sal.NewArray()
	defer salA.Release()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "salary", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "unused", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{idA, email, region, salA, salA}, 5)
}

var regions = mapLookups{"acl.user_regions": {
	"user":   {"alice", "alice", "bob", "alice"},
	"region": {"EU", "APAC", "US", ""},
}}

// TestTransform: the policy: tokenized email, a lookup-join filter for the caller, a
// partition column, and only the source columns needed are read.
func TestTransform(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := customers(mem)
	defer rec.Release()
	tests := []struct {
		user   string
		filter string
		dt     string
		want   []string
	}{
		// alice's regions are EU and APAC (and a NULL, which only matters for NOT IN).
		{"alice", "region IN (SELECT region FROM acl.user_regions WHERE user = current_user())", "2024-01-02",
			[]string{"1|tok.pii.v1.%s|EU|2024-01-02", "3|NULL|EU|2024-01-02", "5|tok.pii.v1.%s|APAC|2024-01-02"}},
		{"bob", "region IN (SELECT region FROM acl.user_regions WHERE user = current_user())", HiveDefaultPartition,
			[]string{"2|tok.pii.v1.%s|US|NULL"}},
		{"carol", "region IN (SELECT region FROM acl.user_regions WHERE user = current_user())", "2024-01-02", nil},
		// NOT IN over a set holding NULL is never TRUE.
		{"alice", "region NOT IN (SELECT region FROM acl.user_regions)", "2024-01-02", nil},
		{"alice", "region NOT IN (SELECT region FROM acl.user_regions WHERE user = 'bob') AND dt = CAST('2024-01-02' AS date)", "2024-01-02",
			[]string{"1|tok.pii.v1.%s|EU|2024-01-02", "3|NULL|EU|2024-01-02", "5|tok.pii.v1.%s|APAC|2024-01-02"}},
	}
	for _, tt := range tests {
		env := testEnv(t)
		env.User = tt.user
		env.Lookups = regions
		spec := TransformSpec{
			Source: rec.Schema(),
			Columns: []OutputColumn{
				{Name: "id", Type: "bigint", Source: "id"},
				{Name: "email", Type: "string", Expr: checked(t, "tokenize(email, 'pii')", customersHive)},
				{Name: "region", Type: "string", Source: "region"},
				{Name: "dt", Type: "date", Source: "dt"},
			},
			Partitions: []PartitionKey{{Name: "dt", Type: "date"}},
			Filter:     checked(t, tt.filter, customersHive),
		}
		tr, err := NewTransform(spec, env)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(tr.Columns(), ","); got != "id,email,region" {
			t.Errorf("Columns() = %s, want id,email,region", got)
		}
		out, err := tr.Apply(context.Background(), mem, rec, plan.Pos{File: "f", Partition: map[string]string{"dt": tt.dt}})
		if err != nil {
			t.Fatalf("%s: %v", tt.filter, err)
		}
		got := rowsOf(t, out)
		if len(got) != len(tt.want) {
			t.Errorf("%s as %s: %d rows %v, want %d", tt.filter, tt.user, len(got), got, len(tt.want))
		}
		for i := range got {
			if i >= len(tt.want) {
				break
			}
			w := strings.Replace(tt.want[i], "%s", "", 1)
			prefix, _, _ := strings.Cut(w, "tok.pii.v1.")
			if !strings.HasPrefix(got[i], prefix) || strings.Contains(got[i], "@x.com") {
				t.Errorf("%s as %s: row %d = %s, want %s", tt.filter, tt.user, i, got[i], tt.want[i])
			}
		}
		if !out.Schema().Equal(tr.Schema()) {
			t.Errorf("schema %s, want %s", out.Schema(), tr.Schema())
		}
		out.Release()
		tr.(interface{ Close() error }).Close()
	}
}

// budget is a checked allocator that is also a plan.Reserver with a limit.
type budget struct {
	*memory.CheckedAllocator
	mu       sync.Mutex
	limit    int64
	reserved int64
}

func (b *budget) Reserve(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reserved+n > b.limit {
		return errs.Unavailable("query memory budget of %d bytes exceeded", b.limit)
	}
	b.reserved += n
	return nil
}

func (b *budget) Release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reserved -= n
}

// TestLookupBudget: a build side over the budget is the Reserve error, and Close gives back
// what a build side reserved.
func TestLookupBudget(t *testing.T) {
	big := mapLookups{"acl.big": {"v": nil}}
	for i := 0; i < 50000; i++ {
		big["acl.big"]["v"] = append(big["acl.big"]["v"], fmt.Sprintf("value-%06d", i))
	}
	for _, tt := range []struct {
		limit   int64
		wantErr bool
	}{{1 << 20, true}, {64 << 20, false}} {
		mem := &budget{CheckedAllocator: memory.NewCheckedAllocator(memory.NewGoAllocator()), limit: tt.limit}
		rec := customers(mem)
		env := testEnv(t)
		env.Lookups = big
		p, err := Compile(checked(t, "email IN (SELECT v FROM acl.big)", customersHive), rec.Schema(), env)
		if err != nil {
			t.Fatal(err)
		}
		a, err := p.Eval(context.Background(), mem, rec, plan.Pos{})
		if tt.wantErr {
			if err == nil || errs.KindOf(err) != errs.KindUnavailable || !strings.Contains(err.Error(), "budget") {
				t.Errorf("limit %d: err %v, want the budget's error", tt.limit, err)
			}
		} else {
			if err != nil {
				t.Fatalf("limit %d: %v", tt.limit, err)
			}
			if mem.reserved < 50000*10 {
				t.Errorf("reserved %d bytes for 50,000 values", mem.reserved)
			}
			a.Release()
		}
		p.Close()
		rec.Release()
		if mem.reserved != 0 {
			t.Errorf("limit %d: %d bytes still reserved after Close", tt.limit, mem.reserved)
		}
		mem.AssertSize(t, 0)
	}
}

// TestNoRawValues: over random values, no mask on a protected string column lets a value
// through: masks that reveal nothing never output the value (nor contain it), show_first and
// show_last reveal at most n characters.
func TestNoRawValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	env := testEnv(t)
	rng := rand.New(rand.NewSource(1))
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789012345678901234567890123456789@._-é"
	vals := make([]string, 2000)
	for i := range vals {
		var b strings.Builder
		for n := 8 + rng.Intn(24); n > 0; n-- {
			r := []rune(alphabet)
			b.WriteRune(r[rng.Intn(len(r))])
		}
		vals[i] = "'" + b.String() + "'"
	}
	hidden := []string{"null", "redact", "hash", "constant('x')", "expr(tokenize(c, 'pii'))", "expr(encrypt(c, 'k1'))", "expr(fpe_digits(c, 0))", "expr(sha256(lower(c)))"}
	for _, typ := range []string{"string", "varchar(40)", "char(40)"} {
		for _, spec := range hidden {
			e, err := expr.Mask(spec, "c", typ)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := evalExpr(t, mem, env, e, typ, vals)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				raw := strings.TrimRight(v[1:len(v)-1], " ")
				// fpe_digits keeps non-digits by design: only values with enough digits count.
				if strings.Contains(got[i], raw) && (spec != "expr(fpe_digits(c, 0))" || digitCount(raw) >= 6) {
					t.Fatalf("%s on %s: raw value %q appears in %q", spec, typ, raw, got[i])
				}
			}
		}
		for _, n := range []int{0, 2, 4} {
			for _, spec := range []string{fmt.Sprintf("show_first(%d)", n), fmt.Sprintf("show_last(%d)", n)} {
				e, err := expr.Mask(spec, "c", typ)
				if err != nil {
					t.Fatal(err)
				}
				got, _, err := evalExpr(t, mem, env, e, typ, vals)
				if err != nil {
					t.Fatal(err)
				}
				for i := range vals {
					if shown := len([]rune(strings.ReplaceAll(got[i], "*", ""))); shown > n {
						t.Fatalf("%s on %s: %q shows %d characters", spec, typ, got[i], shown)
					}
				}
			}
		}
	}
}

// TestTokensAcrossTables: tokenize gives the same token for the same email in two tables of
// different shapes (column order, type, other columns, batch position).
func TestTokensAcrossTables(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	env := testEnv(t)
	tokens := func(hiveType string, emails []string, extra arrow.Array, pos plan.Pos) map[string]string {
		e := stringCol(mem, emails...)
		defer e.Release()
		schema := arrow.NewSchema([]arrow.Field{{Name: "other", Type: extra.DataType()}, {Name: "EMAIL", Type: arrow.BinaryTypes.String}}, nil)
		rec := array.NewRecordBatch(schema, []arrow.Array{extra, e}, int64(len(emails)))
		defer rec.Release()
		tr, err := NewTransform(TransformSpec{Source: schema, Columns: []OutputColumn{
			{Name: "t", Type: "string", Expr: checked(t, "tokenize(email, 'pii')", map[string]string{"email": hiveType})},
		}}, env)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.(interface{ Close() error }).Close()
		out, err := tr.Apply(context.Background(), mem, rec, pos)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Release()
		m := map[string]string{}
		for i, v := range emails {
			m[v] = out.Column(0).(*array.String).Value(i)
		}
		return m
	}
	ib := array.NewInt64Builder(mem)
	ib.AppendValues([]int64{1, 2, 3}, nil)
	ids := ib.NewArray()
	ib.Release()
	defer ids.Release()
	names := stringCol(mem, "x", "y")
	defer names.Release()
	a := tokens("string", []string{"a@x.com", "b@x.com", "c@x.com"}, ids, plan.Pos{File: "customers/1.parquet"})
	b := tokens("varchar(100)", []string{"c@x.com", "a@x.com"}, names, plan.Pos{File: "orders/7.parquet", FirstRow: 1000})
	for _, email := range []string{"a@x.com", "c@x.com"} {
		if a[email] != b[email] || !strings.HasPrefix(a[email], "tok.pii.v1.") {
			t.Errorf("%s: %q in customers, %q in orders", email, a[email], b[email])
		}
	}
	if a["a@x.com"] == a["b@x.com"] {
		t.Error("two emails share a token")
	}
}

func TestEncryptDecrypt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	env := testEnv(t)
	vals := []string{"'alice@example.com'", "''", "'héllo'"}
	got, _, err := evalOn(t, mem, env, "encrypt(c, 'k1')", "string", vals)
	if err != nil {
		t.Fatal(err)
	}
	for i, tok := range got {
		if !strings.HasPrefix(tok, "enc.k1.v2.") {
			t.Errorf("token %q: want the active version 2 of k1", tok)
		}
		plain, err := Decrypt(env.Keys, tok)
		if want := strings.Trim(vals[i], "'"); err != nil || plain != want {
			t.Errorf("Decrypt(%q) = %q, %v; want %q", tok, plain, err, want)
		}
		// Flip one payload character: authentication fails.
		b := []byte(tok)
		j := len("enc.k1.v2.") + 3
		b[j] ^= 1
		if b[j] == '.' {
			b[j] = 'A'
		}
		if _, err := Decrypt(env.Keys, string(b)); errs.KindOf(err) != errs.KindInvalid {
			t.Errorf("tampered %q: err %v, want invalid", b, err)
		}
		// Claiming another key version fails too.
		if _, err := Decrypt(env.Keys, strings.Replace(tok, ".v2.", ".v1.", 1)); errs.KindOf(err) != errs.KindInvalid {
			t.Errorf("other version: err %v, want invalid", err)
		}
	}
	// Rotation: a keyring where v3 is the new active version still decrypts v2 tokens.
	rotated, err := NewStaticKeyring([]KeySpec{
		{ID: "k1", Version: 2, Secret: []byte("0123456789abcdef-secret-two")},
		{ID: "k1", Version: 3, Secret: []byte("0123456789abcdef-secret-333")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := Decrypt(rotated, got[0]); err != nil || plain != "alice@example.com" {
		t.Errorf("after rotation: %q, %v", plain, err)
	}
	env.Keys = rotated
	again, _, err := evalOn(t, mem, env, "tokenize(c, 'k1')", "string", vals[:1])
	if err != nil || !strings.HasPrefix(again[0], "tok.k1.v3.") {
		t.Errorf("after rotation tokenize = %v, %v; want version 3", again, err)
	}
	for _, bad := range []string{"", "enc.", "tok.k1.v2.AAAA", "enc.k1.vx.AAAA", "enc.k1.v2.!!"} {
		if _, err := Decrypt(rotated, bad); errs.KindOf(err) != errs.KindInvalid {
			t.Errorf("Decrypt(%q): %v, want invalid", bad, err)
		}
	}
}

func TestKeyringConfig(t *testing.T) {
	s := []byte("0123456789abcdef")
	for _, tt := range []struct {
		specs []KeySpec
		ok    bool
	}{
		{[]KeySpec{{ID: "a", Version: 1, Secret: s}}, true},
		{[]KeySpec{{ID: "a.b", Version: 1, Secret: s}}, false},
		{[]KeySpec{{ID: "a", Version: 0, Secret: s}}, false},
		{[]KeySpec{{ID: "a", Version: 1, Secret: s[:8]}}, false},
		{[]KeySpec{{ID: "a", Version: 1, Secret: s}, {ID: "a", Version: 1, Secret: s}}, false},
		{[]KeySpec{{ID: "a", Version: 1, Secret: s, Active: true}, {ID: "a", Version: 2, Secret: s, Active: true}}, false},
	} {
		_, err := NewStaticKeyring(tt.specs)
		if (err == nil) != tt.ok {
			t.Errorf("%+v: err %v", tt.specs, err)
		}
	}
	k, _ := NewStaticKeyring([]KeySpec{{ID: "a", Version: 1, Secret: s, Active: true}, {ID: "a", Version: 2, Secret: s}})
	if key, _ := k.Active("a"); key.Version != 1 {
		t.Errorf("active version %d, want the one marked", key.Version)
	}
	if _, err := k.Active("nope"); errs.KindOf(err) != errs.KindNotFound {
		t.Errorf("unknown key: %v", err)
	}
}

// TestDeterministic: re-evaluating gives identical values (noise included), noise depends on
// the row's position in the file, and missing secrets fail at compile time.
func TestDeterministic(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	env := testEnv(t)
	vals := []string{"10", "10", "10", "NULL"}
	a, _, err := evalOn(t, mem, env, "dp_noise(c, 0.5)", "int", vals)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := evalOn(t, mem, env, "dp_noise(c, 0.5)", "int", vals)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("noise not deterministic: %v then %v", a, b)
	}
	if a[0] == a[1] || a[3] != "NULL" {
		t.Errorf("noise per row: %v", a)
	}
	noSecret := env
	noSecret.NoiseSecret = nil
	if _, _, err := evalOn(t, mem, noSecret, "dp_noise(c, 1)", "int", vals); errs.KindOf(err) != errs.KindUnavailable {
		t.Errorf("no noise secret: %v", err)
	}
	if _, _, err := evalOn(t, mem, env, "tokenize(c, 'nokey')", "int", vals); errs.KindOf(err) != errs.KindUnavailable {
		t.Errorf("unknown key: %v", err)
	}
	noUser := env
	noUser.User = ""
	if _, _, err := evalOn(t, mem, noUser, "current_user() = CAST(c AS string)", "int", vals); errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("no user: %v", err)
	}
}

// TestFPE: length, non-digits and the kept tail stay; the rest changes and stays digits.
func TestFPE(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	env := testEnv(t)
	vals := []string{"'555-123-4567'", "'4111 1111 1111 1111'", "'12'", "'x'", "'123456789012345678901234567890123456789012'"}
	got, _, err := evalOn(t, mem, env, "fpe_digits(c, 4)", "string", vals)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		in, out := strings.Trim(v, "'"), got[i]
		if len(out) != len(in) {
			t.Errorf("%s -> %s: length changed", in, out)
			continue
		}
		digits := 0
		for j := range in {
			isDigit := in[j] >= '0' && in[j] <= '9'
			if isDigit != (out[j] >= '0' && out[j] <= '9') || !isDigit && in[j] != out[j] {
				t.Errorf("%s -> %s: shape changed at %d", in, out, j)
			}
			if isDigit {
				digits++
			}
		}
		if digits > 4 && in[len(in)-4:] != out[len(out)-4:] {
			t.Errorf("%s -> %s: last 4 digits not kept", in, out)
		}
		if digits > 8 && in == out {
			t.Errorf("%s unchanged", in)
		}
	}
}

func digitCount(s string) int {
	n := 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			n++
		}
	}
	return n
}
