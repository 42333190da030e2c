package expr

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/propolis/propolis/internal/errs"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// schema is the table every render case is checked against: one column per Hive type.
var schema = map[string]string{
	"name": "string", "email": "string", "phone": "string", "code": "char(4)", "region": "varchar(10)",
	"tiny": "tinyint", "small": "smallint", "age": "int", "big": "bigint",
	"price": "decimal(10,2)", "micro": "decimal(12,8)", "score": "double", "ratio": "float",
	"born": "date", "seen": "timestamp", "active": "boolean", "raw": "binary",
	"tags": "array<string>", "attrs": "map<string,int>", "addr": "struct<city:string,zip:string>",
	"select": "string", "odd name": "string",
}

var env = RenderEnv{User: "alice", Groups: []string{"analysts", "eu_analysts"}}

// cases reads testdata/<name>.txt: one case per line, # comments and blank lines skipped.
func cases(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open("testdata/" + name + ".txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestParseGolden: canonical form (or error) of every line of testdata/parse.txt; the canonical
// form must parse back to itself.
func TestParseGolden(t *testing.T) {
	var out strings.Builder
	for _, src := range cases(t, "parse") {
		fmt.Fprintf(&out, "%s\n", src)
		e, err := Parse(src)
		if err != nil {
			if errs.KindOf(err) != errs.KindInvalid {
				t.Errorf("Parse(%q): error kind %v, want invalid", src, errs.KindOf(err))
			}
			fmt.Fprintf(&out, "  error: %v\n", err)
			continue
		}
		canon := e.String()
		fmt.Fprintf(&out, "  => %s\n", canon)
		again, err := Parse(canon)
		if err != nil {
			t.Errorf("canonical form %q of %q does not parse: %v", canon, src, err)
		} else if again.String() != canon {
			t.Errorf("canonical form of %q not stable: %q then %q", src, canon, again.String())
		}
	}
	compareGolden(t, "testdata/parse.golden", out.String())
}

// TestRenderGolden: type, Hive and Trino rendering (or the reason it needs the worker) of every
// expression of testdata/render.txt, checked against schema.
func TestRenderGolden(t *testing.T) {
	var out strings.Builder
	for _, src := range cases(t, "render") {
		fmt.Fprintf(&out, "%s\n", src)
		e, err := Parse(src)
		if err == nil {
			var typ Type
			if typ, err = Check(e, schema); err == nil {
				fmt.Fprintf(&out, "  type: %s\n", typ)
				writeRenderings(t, &out, e)
				continue
			}
		}
		if errs.KindOf(err) != errs.KindInvalid {
			t.Errorf("%q: error kind %v, want invalid", src, errs.KindOf(err))
		}
		fmt.Fprintf(&out, "  error: %v\n", err)
	}
	compareGolden(t, "testdata/render.golden", out.String())
}

// TestMaskGolden: Hive and Trino rendering of every "spec | hive type" line of testdata/masks.txt,
// applied to a column named c.
func TestMaskGolden(t *testing.T) {
	var out strings.Builder
	for _, line := range cases(t, "masks") {
		spec, typ, ok := strings.Cut(line, "|")
		if !ok {
			t.Fatalf("masks.txt: %q: want spec | type", line)
		}
		spec, typ = strings.TrimSpace(spec), strings.TrimSpace(typ)
		fmt.Fprintf(&out, "%s | %s\n", spec, typ)
		e, err := Mask(spec, "c", typ)
		if err != nil {
			if errs.KindOf(err) != errs.KindInvalid {
				t.Errorf("Mask(%q, %q): error kind %v, want invalid", spec, typ, errs.KindOf(err))
			}
			fmt.Fprintf(&out, "  error: %v\n", err)
			continue
		}
		fmt.Fprintf(&out, "  type: %s\n", e.Type())
		writeRenderings(t, &out, e)
	}
	compareGolden(t, "testdata/masks.golden", out.String())
}

func writeRenderings(t *testing.T, out *strings.Builder, e Expr) {
	t.Helper()
	for _, d := range Dialects {
		s, err := Render(e, d, env)
		worker := NeedsWorker(e, d)
		if err != nil {
			if errs.KindOf(err) != errs.KindUnsupported && errs.KindOf(err) != errs.KindInvalid {
				t.Errorf("Render(%s, %s): error kind %v", e, d, errs.KindOf(err))
			}
			if worker != (errs.KindOf(err) == errs.KindUnsupported) {
				t.Errorf("%s in %s: NeedsWorker=%v but Render error %v", e, d, worker, err)
			}
			fmt.Fprintf(out, "  %s: error: %v\n", d, err)
			continue
		}
		if worker {
			t.Errorf("%s in %s: rendered but NeedsWorker says worker", e, d)
		}
		fmt.Fprintf(out, "  %s: %s\n", d, s)
	}
}

func TestTypesGolden(t *testing.T) {
	var out strings.Builder
	for _, src := range cases(t, "types") {
		fmt.Fprintf(&out, "%s\n", src)
		typ, err := ParseType(src)
		if err != nil {
			if errs.KindOf(err) != errs.KindInvalid {
				t.Errorf("ParseType(%q): kind %v", src, errs.KindOf(err))
			}
			fmt.Fprintf(&out, "  error: %v\n", err)
			continue
		}
		fmt.Fprintf(&out, "  hive: %s\n  trino: %s\n", typ, typ.TrinoName())
		again, err := ParseType(typ.String())
		if err != nil || !again.Equal(typ) {
			t.Errorf("ParseType(%q).String() = %q does not round-trip: %v", src, typ, err)
		}
	}
	compareGolden(t, "testdata/types.golden", out.String())
}

// TestRenderEnv: current_user() and is_member() are per caller, and a missing caller fails.
func TestRenderEnv(t *testing.T) {
	e, err := Parse("current_user() = name OR is_member('finance')")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Check(e, schema); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		env     RenderEnv
		d       Dialect
		want    string
		wantErr errs.Kind
	}{
		{RenderEnv{User: "bob", Groups: []string{"finance"}}, Trino, `(('bob' = "name") OR TRUE)`, 0},
		{RenderEnv{User: "o'brien"}, Hive, "(('o\\'brien' = `name`) OR FALSE)", 0},
		{RenderEnv{User: "o'brien"}, Trino, `(('o''brien' = "name") OR FALSE)`, 0},
		{RenderEnv{}, Hive, "", errs.KindInvalid},
	}
	for _, tt := range tests {
		got, err := Render(e, tt.d, tt.env)
		if tt.wantErr != 0 {
			if errs.KindOf(err) != tt.wantErr {
				t.Errorf("Render(%+v): err %v, want kind %v", tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Render(%+v, %s) = %q, %v; want %q", tt.env, tt.d, got, err, tt.want)
		}
	}
}

// TestUncheckedAndKinds: rendering an unchecked tree is refused; worker-only functions are
// Unsupported (so callers can route them), with the function named.
func TestUncheckedAndKinds(t *testing.T) {
	e, _ := Parse("lower(name)")
	if _, err := Render(e, Hive, env); errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("Render(unchecked) = %v, want invalid", err)
	}
	e, _ = Parse("tokenize(email, 'k1') = 'x'")
	if NeedsWorker(e, Trino) != true {
		t.Error("NeedsWorker(unchecked tokenize) = false")
	}
	if _, err := Check(e, schema); err != nil {
		t.Fatal(err)
	}
	_, err := Render(e, Trino, env)
	if !errors.Is(err, errs.ErrUnsupported) || !strings.Contains(err.Error(), "tokenize()") {
		t.Errorf("Render(tokenize) = %v, want unsupported naming tokenize()", err)
	}
	if _, err := Render(e, Dialect(9), env); errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("Render(bad dialect) = %v", err)
	}
	if _, err := ParseDialect("spark"); err != nil {
		t.Error(err)
	}
	if _, err := ParseDialect("mysql"); errs.KindOf(err) != errs.KindInvalid {
		t.Errorf("ParseDialect(mysql) = %v", err)
	}
}

// TestRegistry: every function has a signature and a checker, and the worker-only functions
// render in no dialect.
func TestRegistry(t *testing.T) {
	workerOnly := map[string]bool{"tokenize": true, "encrypt": true, "fpe_digits": true, "dp_noise": true}
	for _, f := range Functions() {
		if f.Sig == "" || f.Check == nil {
			t.Errorf("%s: missing Sig or Check", f.Name)
		}
		for _, d := range Dialects {
			if native := f.renderer(d) != nil; native == workerOnly[f.Name] {
				t.Errorf("%s in %s: native=%v", f.Name, d, native)
			}
		}
	}
	for _, name := range []string{"current_user", "is_member", "lower", "upper", "length", "substr", "concat", "coalesce", "abs", "round", "year", "date_trunc", "sha256"} {
		if registry[name] == nil {
			t.Errorf("function %s missing", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"region IN ('EU', 'US') AND NOT age < 18", "CASE WHEN a THEN 'x' ELSE 'y' END",
		"CAST(price AS decimal(10,2)) / 3", "`odd name` || \"select\"", "x NOT BETWEEN 1 AND 2",
		"lower(name) LIKE 'a%'", "-(-1.5)", "'it''s'", "f(", "((((", "CAST(x AS map<string,array<int>>)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				panic(fmt.Sprintf("FuzzParse: no result after 3s for %q", s))
			}
		}()
		e, err := Parse(s)
		if err != nil {
			if errs.KindOf(err) != errs.KindInvalid {
				t.Fatalf("Parse(%q): kind %v", s, errs.KindOf(err))
			}
			return
		}
		canon := e.String()
		again, err := Parse(canon)
		if err != nil || again.String() != canon {
			t.Fatalf("canonical form %q of %q: %v", canon, s, err)
		}
		if _, err := Check(e, schema); err == nil {
			for _, d := range Dialects {
				_, _ = Render(e, d, env)
				_ = NeedsWorker(e, d)
			}
		}
	})
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		w, g := strings.Split(string(want), "\n"), strings.Split(got, "\n")
		for i := 0; i < max(len(w), len(g)); i++ {
			var a, b string
			if i < len(w) {
				a = w[i]
			}
			if i < len(g) {
				b = g[i]
			}
			if a != b {
				t.Errorf("%s differs at line %d (run with -update to accept):\n-%s\n+%s", path, i+1, a, b)
				return
			}
		}
	}
}
