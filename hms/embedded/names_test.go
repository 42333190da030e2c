package embedded

import (
	"reflect"
	"testing"

	"github.com/propolis/propolis/internal/errs"
)

func TestPartNames(t *testing.T) {
	keys := cols("DT", "k")
	for _, tc := range []struct {
		vals []string
		name string
	}{
		{[]string{"2024-01-01", "x"}, "dt=2024-01-01/k=x"},
		{[]string{"a/b", "c=d"}, "dt=a%2Fb/k=c%3Dd"},
		{[]string{`q"#%'*:?\`, "{[]^"}, "dt=q%22%23%25%27%2A%3A%3F%5C/k=%7B%5B%5D%5E"},
		{[]string{"tab\there\x7f", "é ü"}, "dt=tab%09here%7F/k=é ü"},
		{[]string{"", "x"}, "dt=__HIVE_DEFAULT_PARTITION__/k=x"},
	} {
		got, err := makePartName(keys, tc.vals)
		must(t, err)
		if got != tc.name {
			t.Errorf("makePartName(%q) = %q, want %q", tc.vals, got, tc.name)
		}
		back, err := parsePartName(keys, got)
		must(t, err)
		want := tc.vals
		if tc.vals[0] == "" {
			want = []string{defaultPartitionName, "x"}
		}
		if !reflect.DeepEqual(back, want) {
			t.Errorf("parsePartName(%q) = %q, want %q", got, back, want)
		}
	}
	_, err := makePartName(keys, []string{"1"})
	wantKind(t, err, errs.KindInvalid)
	for _, bad := range []string{"dt=1", "dt=1/x=2", "dt1/k=2"} {
		_, err := parsePartName(keys, bad)
		wantKind(t, err, errs.KindInvalid)
	}
	if got := unescapePathName("100%ZZ%4"); got != "100%ZZ%4" {
		t.Errorf("malformed escapes must stay: %q", got)
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{"abc": true, "A_1": true, "_": true, "": false, "a-b": false, "a b": false, "a.b": false, "é": false} {
		if validName(name) != want {
			t.Errorf("validName(%q) = %v", name, !want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for loc, want := range map[string]string{"file:///a/b": "/a/b", "/x/y/": "/x/y", "file:/c": "/c", "s3a://b/k": "", "hdfs://nn/p": "", "rel/p": ""} {
		got, ok := localPath(loc)
		if got != want || ok != (want != "") {
			t.Errorf("localPath(%q) = %q %v", loc, got, ok)
		}
	}
}
