package filter

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/propolis/propolis/internal/errs"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestParseGolden parses every line of testdata/parse.txt and compares the canonical form
// (or the error) with testdata/parse.golden. Lines may contain \n, which stands for a newline.
func TestParseGolden(t *testing.T) {
	in, err := os.Open("testdata/parse.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out strings.Builder
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		src := strings.ReplaceAll(line, `\n`, "\n")
		fmt.Fprintf(&out, "%s\n", line)
		e, err := Parse(src)
		if err != nil {
			if errs.KindOf(err) != errs.KindInvalid {
				t.Errorf("Parse(%q): error kind %v, want invalid", src, errs.KindOf(err))
			}
			fmt.Fprintf(&out, "  error: %v\n", err)
			continue
		}
		canon := e.String()
		fmt.Fprintf(&out, "  => %s\n  keys: %s\n", strings.ReplaceAll(canon, "\n", `\n`), strings.Join(Keys(e), ", "))
		// The canonical form must parse back to itself.
		again, err := Parse(canon)
		if err != nil {
			t.Errorf("Parse(%q) canonical form %q does not parse: %v", src, canon, err)
		} else if again.String() != canon {
			t.Errorf("canonical form of %q is not stable: %q then %q", src, canon, again.String())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	compareGolden(t, "testdata/parse.golden", out.String())
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
		t.Errorf("%s differs (run with -update to accept):\n%s", path, lineDiff(string(want), got))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, a, c)
		}
	}
	return b.String()
}

func TestParseErrorMessage(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"x = ", `invalid partition filter "x = ": expected a value at offset 4`},
		{" ", `invalid partition filter " ": expected a condition at offset 1`},
		{"ds = 'a' ds", `invalid partition filter "ds = 'a' ds": unexpected "ds" at offset 9`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q) error = %v, want %s", tt.in, err, tt.want)
		}
		if !errorsIsInvalid(err) {
			t.Errorf("Parse(%q) error is not errs.ErrInvalid", tt.in)
		}
	}
}

func errorsIsInvalid(err error) bool { return errs.KindOf(err) == errs.KindInvalid }

func TestDeepNesting(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("(", 100000) + "a = 1" + strings.Repeat(")", 100000),
		strings.Repeat("NOT ", 100000) + "a = 1",
	} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), "nests deeper") {
			t.Errorf("Parse(deep) error = %v, want nesting error", err)
		}
	}
	ok := strings.Repeat("(", 100) + "a = 1" + strings.Repeat(")", 100)
	if _, err := Parse(ok); err != nil {
		t.Errorf("Parse(100 levels): %v", err)
	}
}

func TestEmptyFilterMatchesAll(t *testing.T) {
	e, err := Parse("")
	if err != nil {
		t.Fatal(err)
	}
	ok, err := e.Eval(nil, nil)
	if !ok || err != nil || e.String() != "" || Keys(e) != nil {
		t.Errorf("empty filter: Eval = %v, %v; String %q; Keys %v", ok, err, e.String(), Keys(e))
	}
}

func TestKeysOfForeignExpr(t *testing.T) {
	if k := Keys(nil); k != nil {
		t.Errorf("Keys(nil) = %v", k)
	}
}
