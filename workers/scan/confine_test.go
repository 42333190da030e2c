package scan

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/propolis/propolis/internal/errs"
)

// echoStorage lists every location as one file of that name, or the files in listing.
type echoStorage struct{ listing map[string][]ObjectInfo }

func (e echoStorage) List(_ context.Context, loc string) ([]ObjectInfo, error) {
	if l, ok := e.listing[loc]; ok {
		return l, nil
	}
	return []ObjectInfo{{Location: loc}}, nil
}

func (e echoStorage) Open(_ context.Context, loc string) (Reader, error) { return nil, nil }

// TestConfine: the worker reads under the configured roots and nowhere else, however a
// location is spelled.
func TestConfine(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"lake/a", "lake/ab", "secret"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "secret"), filepath.Join(dir, "lake", "a", "link")); err != nil {
		t.Fatal(err)
	}
	under := echoStorage{listing: map[string][]ObjectInfo{
		"s3a://bucket/wh/t":         {{Location: "s3a://bucket/wh/t/part-0"}, {Location: "s3a://other/x"}},
		"file://" + dir + "/lake/a": {{Location: "file://" + dir + "/lake/a/part-0"}},
	}}
	s, err := Confine(under, []string{"file://" + dir + "/lake/a/", "s3a://bucket/wh", "s3://Bucket/wh2/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		loc  string
		list bool // listing it succeeds
		open bool // opening it succeeds
	}{
		{"file://" + dir + "/lake/a", true, true},
		{dir + "/lake/a/part-0", true, true},
		{"file://" + dir + "/lake/ab/x", false, false}, // a sibling sharing the prefix
		{"file://" + dir + "/lake/a/../../secret/x", false, false},
		{"file://" + dir + "/lake/a/link/x", false, false}, // a link leading out
		{"file://" + dir + "/secret", false, false},
		{"s3://bucket/wh/t/part-0", true, true}, // s3, s3a and s3n name one bucket
		{"s3n://bucket/wh2/t", true, true},
		{"s3a://bucket/wh/t", false, true}, // its listing names a file elsewhere
		{"s3a://bucket/whx/t", false, false},
		{"s3a://bucket/wh/../secret/t", false, false},
		{"s3a://bucket/wh/./t", false, false},
		{"s3a://other/wh/t", false, false},
		{"hdfs://bucket/wh/t", false, false},
		{"relative/path", false, false},
	} {
		_, lerr := s.List(ctx, tc.loc)
		_, oerr := s.Open(ctx, tc.loc)
		if (lerr == nil) != tc.list || (oerr == nil) != tc.open {
			t.Errorf("%s: list %v, open %v; want list ok %v, open ok %v", tc.loc, lerr, oerr, tc.list, tc.open)
		}
		for _, err := range []error{lerr, oerr} {
			if err != nil && errs.KindOf(err) != errs.KindDenied {
				t.Errorf("%s: %v is not a denial", tc.loc, err)
			}
		}
	}
	for _, bad := range []string{"relative", "s3a:///nobucket", "s3a://b/../x", "file://host/x"} {
		if _, err := Confine(under, []string{bad}, nil); err == nil {
			t.Errorf("root %q accepted", bad)
		}
	}
}
