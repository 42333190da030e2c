package s3api

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	const size = 100
	for _, tc := range []struct {
		h          string
		start, end int64
		status     int
		invalid    bool
	}{
		{"", 0, size, http.StatusOK, false},
		{"bytes=0-9", 0, 10, http.StatusPartialContent, false},
		{"bytes=90-", 90, size, http.StatusPartialContent, false},
		{"bytes=-10", 90, size, http.StatusPartialContent, false},
		{"bytes=-1000", 0, size, http.StatusPartialContent, false},
		{"bytes=0-9223372036854775807", 0, size, http.StatusPartialContent, false},
		{"bytes=99-9223372036854775807", 99, size, http.StatusPartialContent, false},
		{"bytes=9223372036854775807-9223372036854775807", 0, 0, 0, true},
		{"bytes=-9223372036854775807", 0, size, http.StatusPartialContent, false},
		{"bytes=0-9223372036854775808", 0, size, http.StatusOK, false}, // not an int64: ignored, as S3 does
		{"bytes=100-", 0, 0, 0, true},
		{"bytes=-0", 0, 0, 0, true},
		{"bytes=5-1", 0, size, http.StatusOK, false},
		{"bytes=0-1,3-4", 0, size, http.StatusOK, false},
		{"items=0-1", 0, size, http.StatusOK, false},
	} {
		start, end, status, err := parseRange(tc.h, size)
		if tc.invalid {
			if err == nil {
				t.Errorf("%q: served [%d,%d), want InvalidRange", tc.h, start, end)
			}
			continue
		}
		if err != nil || start != tc.start || end != tc.end || status != tc.status {
			t.Errorf("%q = [%d,%d) %d %v, want [%d,%d) %d", tc.h, start, end, status, err, tc.start, tc.end, tc.status)
		}
	}
}

// FuzzParseRange: any header, any object size: a range inside the object or an error, never
// a panic or an overflow.
func FuzzParseRange(f *testing.F) {
	for _, h := range []string{"", "bytes=0-9", "bytes=-5", "bytes=7-", "bytes=0-9223372036854775807",
		"bytes=-9223372036854775808", "bytes=9223372036854775807-", "bytes= 1 - 2 ", "bytes=1-2,3-4"} {
		f.Add(h, int64(100))
		f.Add(h, int64(0))
		f.Add(h, int64(math.MaxInt64))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		start, end, _, err := parseRange(h, size)
		if err != nil {
			return
		}
		if start < 0 || end < start || end > size {
			t.Fatalf("parseRange(%q, %d) = [%d,%d): outside the object", h, size, start, end)
		}
	})
}

// FuzzParseRequest: any path and host split into a bucket and a key without a panic; a
// path-style bucket never contains a slash. (What a key may name is the catalog's check.)
func FuzzParseRequest(f *testing.F) {
	for _, p := range []string{"/", "/b", "/b/", "/b/k", "/b/a/b/c.parquet", "/b/%2e%2e/x", "/%zz", "//x", "/b/k?acl"} {
		f.Add(p, "127.0.0.1:7070")
		f.Add(p, "b.s3.local:7070")
	}
	h := New(nil, Options{VirtualHostSuffixes: []string{"s3.local"}})
	f.Fuzz(func(t *testing.T, path, host string) {
		r := httptest.NewRequest(http.MethodGet, "http://x/", nil)
		r.URL.RawPath, r.URL.Path = "", path
		r.Host = host
		req := &request{w: httptest.NewRecorder(), r: r}
		if err := h.parse(req); err != nil {
			return
		}
		if req.hasKey != (req.key != "") {
			t.Fatalf("path %q host %q: hasKey %v with key %q", path, host, req.hasKey, req.key)
		}
		if !strings.HasSuffix(strings.ToLower(host), ".s3.local") && strings.Contains(req.bucket, "/") {
			t.Fatalf("path %q host %q: bucket %q has a slash", path, host, req.bucket)
		}
	})
}
