package scan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/propolis/propolis/compat-tests/moto/mototest"
	"github.com/propolis/propolis/internal/errs"
)

func TestLocalList(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"part-1.parquet", "part-0.parquet", "_SUCCESS", ".part-0.crc", "_temporary/x", "sub/part-9.parquet"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, loc := range []string{dir, "file://" + dir, "file:" + dir + "/"} {
		got, err := Mux{"file": Local{}}.List(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, o := range got {
			names = append(names, filepath.Base(o.Location)+fmt.Sprintf(":%d", o.Size))
			if !strings.HasPrefix(o.Location, strings.TrimRight(loc, "/")) {
				t.Fatalf("%s keeps not the location's form: %s", loc, o.Location)
			}
		}
		if fmt.Sprint(names) != "[part-0.parquet:14 part-1.parquet:14]" {
			t.Fatalf("%s: %v", loc, names)
		}
	}
	one, err := Local{}.List(ctx, filepath.Join(dir, "part-1.parquet"))
	if err != nil || len(one) != 1 {
		t.Fatalf("single file: %v %v", one, err)
	}
	cases := []struct {
		loc  string
		kind errs.Kind
	}{
		{filepath.Join(dir, "nope"), errs.KindNotFound},
		{"relative/path", errs.KindInvalid},
		{"file://host/x", errs.KindInvalid},
		{"hdfs://nn/x", errs.KindUnsupported},
	}
	for _, tc := range cases {
		_, err := Mux{"file": Local{}}.List(ctx, tc.loc)
		if errs.KindOf(err) != tc.kind {
			t.Fatalf("%s: %v, want %s", tc.loc, err, tc.kind)
		}
	}
}

func TestPartitionValues(t *testing.T) {
	cases := map[string]string{
		"s3://b/wh/t/dt=2024-01-01/region=eu%2Fwest/part-0.parquet": "map[dt:2024-01-01 region:eu/west]",
		"/data/t/part-0.parquet":                                    "map[]",
		"file:///data/t/k=/part-0":                                  "map[k:]",
	}
	for loc, want := range cases {
		if got := fmt.Sprint(PartitionValues(loc)); got != want {
			t.Errorf("%s: %s, want %s", loc, got, want)
		}
	}
}

// TestS3Storage runs against moto's S3 server: listing (Hive rules, pagination past 1000
// keys), ranged reads, change detection, errors, and a virtual file over an S3 source.
func TestS3Storage(t *testing.T) {
	ep := mototest.Start(t)
	ctx := context.Background()
	st, err := NewS3(ctx, S3Config{Endpoint: ep, Region: mototest.Region, PathStyle: true,
		AccessKeyID: mototest.AccessKeyID, SecretAccessKey: mototest.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	c := st.client
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lake")}); err != nil {
		t.Fatal(err)
	}
	put := func(key string, data []byte) {
		t.Helper()
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	src := writeSource(t, t.TempDir(), "part-0.parquet", 6000, 2000, 0, 11)
	pq, _ := os.ReadFile(src)
	put("wh/t/part-0.parquet", pq)
	put("wh/t/part-1.parquet", []byte("0123456789"))
	put("wh/t/_SUCCESS", nil)
	put("wh/t/.hidden", []byte("x"))
	put("wh/t/", nil) // a directory marker
	put("wh/t/sub/part-2.parquet", []byte("nested"))
	for i := 0; i < 1005; i++ {
		put(fmt.Sprintf("many/f%04d", i), []byte("x"))
	}

	for _, scheme := range []string{"s3", "s3a", "s3n"} {
		got, err := Mux{scheme: st}.List(ctx, scheme+"://lake/wh/t")
		if err != nil {
			t.Fatal(err)
		}
		var locs []string
		for _, o := range got {
			locs = append(locs, fmt.Sprintf("%s:%d", o.Location, o.Size))
		}
		want := fmt.Sprintf("[%[1]s://lake/wh/t/part-0.parquet:%d %[1]s://lake/wh/t/part-1.parquet:10]", scheme, len(pq))
		if fmt.Sprint(locs) != want {
			t.Fatalf("%v, want %s", locs, want)
		}
	}
	many, err := st.List(ctx, "s3://lake/many/")
	if err != nil || len(many) != 1005 {
		t.Fatalf("paginated list: %d %v", len(many), err)
	}

	r, err := st.Open(ctx, "s3a://lake/wh/t/part-1.parquet")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		off  int64
		n    int
		want string
		eof  bool
	}{{0, 4, "0123", false}, {6, 4, "6789", false}, {8, 5, "89", true}, {10, 1, "", true}} {
		p := make([]byte, tc.n)
		n, err := r.ReadAt(p, tc.off)
		if string(p[:n]) != tc.want || (err == io.EOF) != tc.eof {
			t.Fatalf("ReadAt(%d,%d): %q %v", tc.off, tc.n, p[:n], err)
		}
	}
	// The object replaced under an open reader: refused, not spliced.
	put("wh/t/part-1.parquet", []byte("abcdefghij"))
	if _, err := r.ReadAt(make([]byte, 2), 0); errs.KindOf(err) != errs.KindUnavailable {
		t.Fatalf("read after replace: %v", err)
	}
	for _, tc := range []struct {
		loc  string
		kind errs.Kind
	}{
		{"s3://lake/wh/t/none.parquet", errs.KindNotFound},
		{"s3://nobucket/x", errs.KindNotFound},
		{"s3://lake/", errs.KindInvalid},
		{"gs://lake/x", errs.KindInvalid},
	} {
		_, err := st.Open(ctx, tc.loc)
		if errs.KindOf(err) != tc.kind {
			t.Fatalf("open %s: %v, want %s", tc.loc, err, tc.kind)
		}
	}

	// A virtual file over the S3 source equals the one over the same local file.
	b := checked(t, 0)
	fs3, err := Open(ctx, st, "s3://lake/wh/t/part-0.parquet", newMaskFilter(false), b, Config{Options: Options{MaxGroupRows: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	defer fs3.Close()
	flocal := openFile(t, src, newMaskFilter(false), b, Config{Options: Options{MaxGroupRows: 1000}})
	if !bytes.Equal(fullEncode(t, fs3), fullEncode(t, flocal)) {
		t.Fatal("S3 and local sources give different virtual files")
	}
}
