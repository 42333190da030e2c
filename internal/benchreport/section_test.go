package benchreport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMarkers(t *testing.T) {
	if got := Begin("policy-bench"); got != "<!-- policy-bench:begin -->" {
		t.Errorf("Begin = %q", got)
	}
	if got := End("worker-bench"); got != "<!-- worker-bench:end -->" {
		t.Errorf("End = %q", got)
	}
}

// The section goes between the markers (appended when absent); the rest stays byte for byte.
func TestReplaceSection(t *testing.T) {
	const b, e = "<!-- x:begin -->", "<!-- x:end -->"
	for _, tc := range []struct {
		name, doc, section, want string
		err                      bool
	}{
		{name: "empty file", doc: "", section: "one\n", want: b + "\none\n" + e + "\n"},
		{name: "appended after a blank line", doc: "# B\n\ntext\n", section: "one\n", want: "# B\n\ntext\n\n" + b + "\none\n" + e + "\n"},
		{name: "missing final newline", doc: "# B", section: "one\n", want: "# B\n\n" + b + "\none\n" + e + "\n"},
		{name: "replaced in place", doc: "head\n" + b + "\nold\nlines\n" + e + "\ntail\n", section: "two\n", want: "head\n" + b + "\ntwo\n" + e + "\ntail\n"},
		{name: "other sections kept", doc: "<!-- y:begin -->\ny\n<!-- y:end -->\n" + b + "\nold\n" + e, section: "new\n", want: "<!-- y:begin -->\ny\n<!-- y:end -->\n" + b + "\nnew\n" + e},
		{name: "lone begin", doc: "head\n" + b + "\n", section: "x\n", err: true},
		{name: "lone end", doc: "head\n" + e + "\n", section: "x\n", err: true},
		{name: "end before begin", doc: e + "\n" + b + "\n", section: "x\n", err: true},
	} {
		got, err := ReplaceSection(tc.doc, "x", tc.section)
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), "only one of the markers "+b+" and "+e) {
				t.Errorf("%s: err = %v, want the lone-marker error", tc.name, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v\nwant %q", tc.name, got, err, tc.want)
		}
	}
}

func TestWriteSection(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		initial *string // nil: no file
		want    string
		err     bool
	}{
		{name: "absent file", want: Begin("b") + "\ns\n" + End("b") + "\n"},
		{name: "existing file", initial: ptr("# B\n"), want: "# B\n\n" + Begin("b") + "\ns\n" + End("b") + "\n"},
		{name: "lone marker", initial: ptr(Begin("b") + "\n"), err: true},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".md")
		if tc.initial != nil {
			if err := os.WriteFile(path, []byte(*tc.initial), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		err := WriteSection(path, "b", "s\n")
		got, _ := os.ReadFile(path)
		switch {
		case tc.err:
			if err == nil || !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("%s: err = %v, want one naming the file", tc.name, err)
			}
			if string(got) != *tc.initial {
				t.Errorf("%s: file changed to %q", tc.name, got)
			}
		case err != nil || string(got) != tc.want:
			t.Errorf("%s: got %q, %v\nwant %q", tc.name, got, err, tc.want)
		}
		if _, err := os.Stat(path + ".b.tmp"); !os.IsNotExist(err) {
			t.Errorf("%s: the temporary file is left: %v", tc.name, err)
		}
	}
}

func ptr(s string) *string { return &s }
