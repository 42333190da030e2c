package hivename

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/propolis/propolis/internal/errs"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestEscapeGolden records how every ASCII character and a few longer values escape, so any
// change to Hive-compatible escaping shows up as a reviewable diff.
func TestEscapeGolden(t *testing.T) {
	var b strings.Builder
	for c := 0; c < 128; c++ {
		fmt.Fprintf(&b, "0x%02X %q -> %s\n", c, string(rune(c)), EscapePathName(string(rune(c))))
	}
	for _, s := range []string{
		"", "2024-01-01", "2024-01-01 10:11:12", "a/b", "a=b", "100%", "C:\\dir", "é", "日本",
		"{x}[y]^z", "it's \"quoted\"", "#tag?q=1*", "tab\there", "__HIVE_DEFAULT_PARTITION__",
	} {
		fmt.Fprintf(&b, "%q -> %q\n", s, EscapePathName(s))
	}
	compareGolden(t, "testdata/escape.golden", b.String())
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
		t.Errorf("%s differs; run with -update and review the diff", path)
	}
}

func TestEscapeSetMatchesHive(t *testing.T) {
	// FileUtils.charToEscape, spelled out independently of the implementation.
	hive := "\"#%'*/:=?\\\x7F{[]^"
	for c := 0; c < 256; c++ {
		want := c < 0x20 || strings.ContainsRune(hive, rune(c))
		if c >= 0x80 {
			want = false
		}
		s := string([]byte{byte(c)})
		got := EscapePathName(s) != s
		if got != want {
			t.Errorf("byte 0x%02X escaped = %v, want %v", c, got, want)
		}
	}
}

func TestUnescapePathName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"a%2Fb", "a/b"},
		{"a%2fb", "a/b"},
		{"%3D", "="},
		{"100%25", "100%"},
		{"100%", "100%"},
		{"%2", "%2"},
		{"a%zzb", "a%zzb"},
		{"%%2F", "%/"},
		{"%+F", "\x0F"},  // Java's Integer.parseInt accepts a sign
		{"%-1", "%-1"},   // but a negative code is not an escape
		{"%C3%A9", "Ã©"}, // codes are characters, not UTF-8 bytes, as in Hive
		{"é%20é", "é é"}, // non-ASCII passes through
		{"%00x", "\x00x"},
		{"a%2Fb%3Dc%25", "a/b=c%"},
	}
	for _, tt := range tests {
		if got := UnescapePathName(tt.in); got != tt.want {
			t.Errorf("UnescapePathName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMakePartName(t *testing.T) {
	tests := []struct {
		keys, values []string
		want, err    string
	}{
		{[]string{"ds"}, []string{"2024-01-01"}, "ds=2024-01-01", ""},
		{[]string{"DS", "Hr"}, []string{"2024-01-01", "10"}, "ds=2024-01-01/hr=10", ""},
		{[]string{"ts"}, []string{"2024-01-01 10:11:12"}, "ts=2024-01-01 10%3A11%3A12", ""},
		{[]string{"p"}, []string{"a/b=c"}, "p=a%2Fb%3Dc", ""},
		{[]string{"k=1"}, []string{"v"}, "k%3D1=v", ""},
		{[]string{"p"}, []string{"é"}, "p=é", ""},
		{[]string{"p"}, []string{DefaultPartitionName}, "p=__HIVE_DEFAULT_PARTITION__", ""},
		{[]string{"a", "b"}, []string{"1"}, "", "invalid partition key & values; keys [a, b], values [1]"},
		{nil, nil, "", "invalid partition key & values"},
		{[]string{"a"}, []string{""}, "", `value of partition key "a" is empty`},
		{[]string{""}, []string{"1"}, "", "partition key 1 is empty"},
	}
	for _, tt := range tests {
		got, err := MakePartName(tt.keys, tt.values)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || errs.KindOf(err) != errs.KindInvalid {
				t.Errorf("MakePartName(%q, %q) error = %v, want invalid %q", tt.keys, tt.values, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("MakePartName(%q, %q) = %q, %v, want %q", tt.keys, tt.values, got, err, tt.want)
		}
	}
}

func TestParsePartName(t *testing.T) {
	tests := []struct {
		name         string
		keys, values string // joined with "|"
		err          string
	}{
		{"ds=2024-01-01", "ds", "2024-01-01", ""},
		{"ds=2024-01-01/hr=10", "ds|hr", "2024-01-01|10", ""},
		{"ts=2024-01-01 10%3A11%3A12", "ts", "2024-01-01 10:11:12", ""},
		{"p=a%2Fb%3Dc", "p", "a/b=c", ""},
		{"p=a=b", "p", "a=b", ""}, // split at the first '=', as makeValsFromName does
		{"DS=X", "DS", "X", ""},
		{"", "", "", "empty"},
		{"ds", "", "", `unexpected component "ds"`},
		{"=1", "", "", `unexpected component "=1"`},
		{"ds=1//hr=2", "", "", `unexpected component ""`},
		{"ds=1/", "", "", `unexpected component ""`},
		{"ds=", "", "", "empty value"},
		{"ds=1/ds=2", "", "", `key "ds" appears twice`},
	}
	for _, tt := range tests {
		keys, values, err := ParsePartName(tt.name)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || errs.KindOf(err) != errs.KindInvalid {
				t.Errorf("ParsePartName(%q) error = %v, want invalid %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || strings.Join(keys, "|") != tt.keys || strings.Join(values, "|") != tt.values {
			t.Errorf("ParsePartName(%q) = %q, %q, %v, want %s / %s", tt.name, keys, values, err, tt.keys, tt.values)
		}
	}
}

func TestPartNameRoundTrip(t *testing.T) {
	values := []string{"2024-01-01", "a/b", "=", "%", "%25", "100%", "x y", "é", "\x01\x1f\x7f", "{[^]}", `"'\`, "?*:#", DefaultPartitionName}
	for _, v := range values {
		for _, k := range []string{"k", "weird/key=", "ключ"} {
			name, err := MakePartName([]string{k, "z"}, []string{v, v})
			if err != nil {
				t.Fatal(err)
			}
			keys, vals, err := ParsePartName(name)
			if err != nil {
				t.Fatalf("ParsePartName(%q): %v", name, err)
			}
			if keys[0] != strings.ToLower(k) || vals[0] != v || vals[1] != v {
				t.Errorf("round trip of %q=%q via %q gave %q=%q", k, v, name, keys[0], vals[0])
			}
			if got := UnescapePathName(EscapePathName(v)); got != v {
				t.Errorf("UnescapePathName(EscapePathName(%q)) = %q", v, got)
			}
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"a", "a/b=c", "%", "%25", "é", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		_ = UnescapePathName(v)
		if v == "" || !isASCIIOrValidUTF8(v) {
			return
		}
		name, err := MakePartName([]string{"k"}, []string{v})
		if err != nil {
			t.Fatal(err)
		}
		_, vals, err := ParsePartName(name)
		if err != nil || vals[0] != v {
			t.Fatalf("round trip of %q via %q = %q, %v", v, name, vals, err)
		}
	})
}

// isASCIIOrValidUTF8 excludes byte strings Java could not have held as a String in the first
// place (invalid UTF-8 bytes >= 0x80 come back from UnescapePathName as U+0080-U+00FF).
func isASCIIOrValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"", "anything", true},
		{"  ", "anything", true},
		{"*", "sales", true},
		{"sales", "sales", true},
		{"sales", "SALES", true},
		{"SALES", "sales", true},
		{"sales", "sales2", false},
		{"sales", "presales", false},
		{"sal*", "sales", true},
		{"*les", "sales", true},
		{"s*s", "sales", true},
		{"s*s", "salesx", false},
		{"a*|b*", "beta", true},
		{"a*|b*", "alpha", true},
		{"a*|b*", "gamma", false},
		{" a*|b* ", "beta", true},
		{"x|sales", "sales", true},
		{"sales|", "sales", true},
		{"|", "x", false},
		{"sa.es", "sales", true}, // '.' keeps its regex meaning, as in Hive
		{"sa.es", "sa.es", true},
		{"sal[ae]s", "sales", true},
		{"sale?s", "sals", true},
		{"sales(", "sales(", false}, // not a regular expression: matches nothing
		{"sales(|sales", "sales", true},
		{"*_dim", "date_dim", true},
		{"Ünï*", "ünïcode", true},
	}
	for _, tt := range tests {
		if got := MatchPattern(tt.pattern, tt.name); got != tt.want {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
		// The cached and uncached paths agree.
		if got := CompilePattern(tt.pattern).Match(tt.name); got != tt.want {
			t.Errorf("CompilePattern(%q).Match(%q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestMatchPatternCacheBounded(t *testing.T) {
	for i := 0; i < 3*patternCacheSize; i++ {
		if !MatchPattern(fmt.Sprintf("t%d*", i), fmt.Sprintf("t%dx", i)) {
			t.Fatalf("pattern %d did not match", i)
		}
	}
	patternCache.Lock()
	n := len(patternCache.m)
	patternCache.Unlock()
	if n > patternCacheSize {
		t.Errorf("pattern cache holds %d entries, limit %d", n, patternCacheSize)
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"sales", true},
		{"Sales_2024", true},
		{"_tmp", true},
		{"123", true},
		{"", false},
		{"a-b", false},
		{"a.b", false},
		{"a b", false},
		{"é", false},
		{"a/b", false},
		{"`a`", false},
	}
	for _, tt := range tests {
		if got := ValidName(tt.name); got != tt.want {
			t.Errorf("ValidName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func BenchmarkMatchPattern(b *testing.B) {
	for b.Loop() {
		MatchPattern("sales*|*_dim", "store_sales")
	}
}
