package s3api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/propolis/propolis/internal/errs"
)

// fakeCatalog holds objects in memory; key prefixes trigger errors of each kind.
type fakeCatalog struct {
	buckets map[string]map[string][]byte
	mod     time.Time
}

func (c *fakeCatalog) kindFor(key string) error {
	switch {
	case strings.HasPrefix(key, "denied/"):
		return errs.Denied("token for another table")
	case strings.HasPrefix(key, "busy/"):
		return errs.Unavailable("query over its memory budget of 128 MiB (needed 3 MiB more with 127 MiB in use)")
	case strings.HasPrefix(key, "bad/"):
		return errs.Invalid("malformed token")
	case strings.HasPrefix(key, "boom/"):
		return fmt.Errorf("secret internal detail")
	}
	return nil
}

func (c *fakeCatalog) List(ctx context.Context, bucket, prefix string) ([]ObjectInfo, error) {
	objs, ok := c.buckets[bucket]
	if !ok {
		return nil, errs.NotFound("no bucket %s", bucket)
	}
	if err := c.kindFor(prefix); err != nil {
		return nil, err
	}
	var out []ObjectInfo
	for k, v := range objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, ObjectInfo{Key: k, Size: int64(len(v)), LastModified: c.mod, ETag: fmt.Sprintf("etag-%d", len(v))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (c *fakeCatalog) Open(ctx context.Context, bucket, key string) (Object, error) {
	if err := c.kindFor(key); err != nil {
		return nil, err
	}
	v, ok := c.buckets[bucket][key]
	if !ok {
		return nil, errs.NotFound("no key %s", key)
	}
	o := &fakeObject{info: ObjectInfo{Key: key, Size: int64(len(v)), LastModified: c.mod, ETag: fmt.Sprintf("etag-%d", len(v))}, data: v}
	if strings.HasPrefix(key, "midfail/") {
		o.failAfter = 1 << 20
	}
	return o, nil
}

type fakeObject struct {
	info      ObjectInfo
	data      []byte
	failAfter int64
	closed    bool
}

func (o *fakeObject) Info() ObjectInfo { return o.info }
func (o *fakeObject) Close() error     { o.closed = true; return nil }
func (o *fakeObject) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if o.failAfter > 0 && off >= o.failAfter {
		return 0, errs.Unavailable("source vanished")
	}
	if off >= int64(len(o.data)) {
		return 0, io.EOF
	}
	n := copy(p, o.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func newServer(t *testing.T) (*fakeCatalog, *httptest.Server) {
	t.Helper()
	cat := &fakeCatalog{mod: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC), buckets: map[string]map[string][]byte{
		"wh": {
			"t/tok/part-0.parquet":           payload(1000),
			"t/tok/part-1.parquet":           payload(5000),
			"t/tok/dt=1/part-0.parquet":      payload(10),
			"t/tok/dt=2/part-0.parquet":      payload(20),
			"t/tok/dt=2/part-1.parquet":      payload(30),
			"t/other/x":                      payload(1),
			"odd/a b+c%d.parquet":            payload(3),
			"big/file":                       payload(3 << 20),
			"midfail/file":                   payload(3 << 20),
			"empty/file":                     {},
			"t/tok/zz/part-0.parquet":        payload(4),
			"t/tok/zz/deeper/part-0.parquet": payload(5),
		},
	}}
	srv := httptest.NewServer(New(cat, Options{VirtualHostSuffixes: []string{"s3.workers.test"}, Region: "eu-west-1"}))
	t.Cleanup(srv.Close)
	return cat, srv
}

// client is the AWS SDK v2 client as an engine configures it: any credentials (signatures
// are not checked), path-style or virtual-hosted.
func client(t *testing.T, srv *httptest.Server, pathStyle bool) *s3.Client {
	t.Helper()
	endpoint := srv.URL
	hc := &http.Client{}
	if !pathStyle {
		// bucket.s3.workers.test resolves nowhere: dial the test server whatever the host.
		addr := srv.Listener.Addr().String()
		hc.Transport = &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
		endpoint = "http://s3.workers.test:" + strings.Split(addr, ":")[1]
	}
	return s3.New(s3.Options{
		Region:           "eu-west-1",
		BaseEndpoint:     aws.String(endpoint),
		UsePathStyle:     pathStyle,
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:       hc,
		RetryMaxAttempts: 1,
	})
}

func keysOf(out *s3.ListObjectsV2Output) (keys, prefixes []string) {
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	for _, p := range out.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(p.Prefix))
	}
	return
}

func TestListObjectsV2(t *testing.T) {
	_, srv := newServer(t)
	for _, pathStyle := range []bool{true, false} {
		c := client(t, srv, pathStyle)
		cases := []struct {
			name, prefix, delim, startAfter string
			maxKeys                         int32
			keys, prefixes                  []string
			truncated                       bool
		}{
			{name: "dir with delimiter (s3a listStatus)", prefix: "t/tok/", delim: "/",
				keys: []string{"t/tok/part-0.parquet", "t/tok/part-1.parquet"}, prefixes: []string{"t/tok/dt=1/", "t/tok/dt=2/", "t/tok/zz/"}},
			{name: "recursive (Trino)", prefix: "t/tok/dt=",
				keys: []string{"t/tok/dt=1/part-0.parquet", "t/tok/dt=2/part-0.parquet", "t/tok/dt=2/part-1.parquet"}},
			{name: "s3a dir probe max-keys 2", prefix: "t/tok/part-0.parquet/", delim: "/", maxKeys: 2},
			{name: "max-keys counts prefixes", prefix: "t/tok/", delim: "/", maxKeys: 2,
				prefixes: []string{"t/tok/dt=1/", "t/tok/dt=2/"}, truncated: true},
			{name: "start-after", prefix: "t/tok/", startAfter: "t/tok/dt=2/part-0.parquet", maxKeys: 2,
				keys: []string{"t/tok/dt=2/part-1.parquet", "t/tok/part-0.parquet"}, truncated: true},
			{name: "no match", prefix: "nothing/"},
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/pathStyle=%v", tc.name, pathStyle), func(t *testing.T) {
				in := &s3.ListObjectsV2Input{Bucket: aws.String("wh"), Prefix: aws.String(tc.prefix)}
				if tc.delim != "" {
					in.Delimiter = aws.String(tc.delim)
				}
				if tc.maxKeys > 0 {
					in.MaxKeys = aws.Int32(tc.maxKeys)
				}
				if tc.startAfter != "" {
					in.StartAfter = aws.String(tc.startAfter)
				}
				out, err := c.ListObjectsV2(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				keys, prefixes := keysOf(out)
				if fmt.Sprint(keys) != fmt.Sprint(tc.keys) || fmt.Sprint(prefixes) != fmt.Sprint(tc.prefixes) {
					t.Fatalf("keys %v prefixes %v; want %v %v", keys, prefixes, tc.keys, tc.prefixes)
				}
				if aws.ToBool(out.IsTruncated) != tc.truncated || int(aws.ToInt32(out.KeyCount)) != len(keys)+len(prefixes) {
					t.Fatalf("truncated %v keycount %d", aws.ToBool(out.IsTruncated), aws.ToInt32(out.KeyCount))
				}
			})
		}
	}
}

// TestListPagination: every page size walks the same listing, with and without delimiter.
func TestListPagination(t *testing.T) {
	_, srv := newServer(t)
	c := client(t, srv, true)
	for _, delim := range []string{"", "/"} {
		full, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("wh"), Prefix: aws.String("t/"), Delimiter: aws.String(delim)})
		if err != nil {
			t.Fatal(err)
		}
		wantK, wantP := keysOf(full)
		for page := int32(1); page <= 4; page++ {
			var gotK, gotP []string
			p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("wh"), Prefix: aws.String("t/"),
				Delimiter: aws.String(delim), MaxKeys: aws.Int32(page)})
			for p.HasMorePages() {
				out, err := p.NextPage(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				k, pr := keysOf(out)
				gotK, gotP = append(gotK, k...), append(gotP, pr...)
			}
			if fmt.Sprint(gotK, gotP) != fmt.Sprint(wantK, wantP) {
				t.Fatalf("delim %q page %d: %v %v, want %v %v", delim, page, gotK, gotP, wantK, wantP)
			}
		}
		// v1 with markers.
		var gotK, gotP []string
		marker := ""
		for {
			out, err := c.ListObjects(context.Background(), &s3.ListObjectsInput{Bucket: aws.String("wh"), Prefix: aws.String("t/"),
				Delimiter: aws.String(delim), MaxKeys: aws.Int32(2), Marker: aws.String(marker)})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out.Contents {
				gotK = append(gotK, aws.ToString(o.Key))
				marker = aws.ToString(o.Key)
			}
			for _, p := range out.CommonPrefixes {
				gotP = append(gotP, aws.ToString(p.Prefix))
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			if out.NextMarker != nil {
				marker = aws.ToString(out.NextMarker)
			}
		}
		if fmt.Sprint(gotK, gotP) != fmt.Sprint(wantK, wantP) {
			t.Fatalf("v1 delim %q: %v %v, want %v %v", delim, gotK, gotP, wantK, wantP)
		}
	}
}

// TestListEncodingTypeURL: SDK v1 (s3a) asks for encoding-type=url and decodes with Java's
// URLDecoder, which reads "+" as a space.
func TestListEncodingTypeURL(t *testing.T) {
	_, srv := newServer(t)
	resp, err := http.Get(srv.URL + "/wh?list-type=2&prefix=odd%2F&encoding-type=url")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"<Key>odd/a%20b%2Bc%25d.parquet</Key>", "<EncodingType>url</EncodingType>", "<Prefix>odd/</Prefix>", "<KeyCount>1</KeyCount>"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Fatalf("missing %s in\n%s", want, body)
		}
	}
	// Without it, the SDK gets the raw key.
	c := client(t, srv, true)
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("wh"), Prefix: aws.String("odd/")})
	if err != nil || len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "odd/a b+c%d.parquet" {
		t.Fatalf("%v %v", out, err)
	}
	// And the key opens.
	h, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("wh"), Key: aws.String("odd/a b+c%d.parquet")})
	if err != nil || aws.ToInt64(h.ContentLength) != 3 {
		t.Fatalf("head of an odd key: %v %v", h, err)
	}
}

func TestHeadAndGetObject(t *testing.T) {
	cat, srv := newServer(t)
	data := cat.buckets["wh"]["t/tok/part-1.parquet"]
	size := int64(len(data))
	for _, pathStyle := range []bool{true, false} {
		c := client(t, srv, pathStyle)
		h, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("wh"), Key: aws.String("t/tok/part-1.parquet")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt64(h.ContentLength) != size || aws.ToString(h.ETag) != `"etag-5000"` || !aws.ToTime(h.LastModified).Equal(cat.mod) {
			t.Fatalf("head: %d %s %s", aws.ToInt64(h.ContentLength), aws.ToString(h.ETag), aws.ToTime(h.LastModified))
		}
		cases := []struct {
			rng        string
			start, end int64
			partial    bool
		}{
			{"", 0, size, false},
			{"bytes=0-99", 0, 100, true},
			{"bytes=4992-", 4992, size, true},
			{"bytes=-8", size - 8, size, true}, // the Parquet footer read
			{"bytes=-99999", 0, size, true},
			{"bytes=100-999999", 100, size, true},
			{"bytes=4999-4999", 4999, 5000, true},
			{"bytes=1-2,5-6", 0, size, false}, // several ranges: S3 serves the object
			{"bytes=x-y", 0, size, false},     // malformed: ignored
		}
		for _, tc := range cases {
			in := &s3.GetObjectInput{Bucket: aws.String("wh"), Key: aws.String("t/tok/part-1.parquet")}
			if tc.rng != "" {
				in.Range = aws.String(tc.rng)
			}
			out, err := c.GetObject(context.Background(), in)
			if err != nil {
				t.Fatalf("%q: %v", tc.rng, err)
			}
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || !bytes.Equal(got, data[tc.start:tc.end]) || aws.ToInt64(out.ContentLength) != tc.end-tc.start {
				t.Fatalf("%q: %d bytes (length %d), want [%d,%d): %v", tc.rng, len(got), aws.ToInt64(out.ContentLength), tc.start, tc.end, err)
			}
			wantCR := ""
			if tc.partial {
				wantCR = fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end-1, size)
			}
			if aws.ToString(out.ContentRange) != wantCR {
				t.Fatalf("%q: Content-Range %q, want %q", tc.rng, aws.ToString(out.ContentRange), wantCR)
			}
		}
		// Unsatisfiable ranges.
		for _, rng := range []string{"bytes=5000-", "bytes=6000-7000", "bytes=-0"} {
			_, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("wh"), Key: aws.String("t/tok/part-1.parquet"), Range: aws.String(rng)})
			wantAPIError(t, rng, err, "InvalidRange", 416)
		}
	}
	// A large object streams in chunks.
	c := client(t, srv, true)
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("wh"), Key: aws.String("big/file"), Range: aws.String("bytes=1000-")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	if !bytes.Equal(got, cat.buckets["wh"]["big/file"][1000:]) {
		t.Fatalf("big object: %d bytes", len(got))
	}
	// Empty object.
	out, err = c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("wh"), Key: aws.String("empty/file")})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(out.Body); len(got) != 0 {
		t.Fatal("empty object has bytes")
	}
}

func wantAPIError(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("%s: want %s, got %v", what, code, err)
	}
	var re interface{ HTTPStatusCode() int }
	if api.ErrorCode() != code || !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Fatalf("%s: got %s (%v), want %s %d", what, api.ErrorCode(), err, code, status)
	}
}

func TestErrors(t *testing.T) {
	_, srv := newServer(t)
	c := client(t, srv, true)
	ctx := context.Background()
	get := func(bucket, key string) error {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	head := func(bucket, key string) error {
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		return err
	}
	cases := []struct {
		name   string
		err    error
		code   string
		status int
	}{
		{"missing key", get("wh", "t/tok/nope"), "NoSuchKey", 404},
		{"missing key, head", head("wh", "t/tok/"), "NotFound", 404}, // s3a's directory probe
		{"denied", get("wh", "denied/x"), "AccessDenied", 403},
		{"denied, head", head("wh", "denied/x"), "Forbidden", 403},
		{"over budget", get("wh", "busy/x"), "ServiceUnavailable", 503},
		{"invalid", get("wh", "bad/x"), "InvalidArgument", 400},
		{"internal", get("wh", "boom/x"), "InternalError", 500},
	}
	for _, tc := range cases {
		wantAPIError(t, tc.name, tc.err, tc.code, tc.status)
	}
	_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("nobucket")})
	wantAPIError(t, "missing bucket", err, "NoSuchBucket", 404)
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("wh"), Prefix: aws.String("denied/")})
	wantAPIError(t, "denied list", err, "AccessDenied", 403)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("wh"), Key: aws.String("t/x"), Body: strings.NewReader("data")})
	wantAPIError(t, "put", err, "NotImplemented", 501)
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("wh"), Key: aws.String("t/tok/part-0.parquet")})
	wantAPIError(t, "delete", err, "NotImplemented", 501)
	_, err = c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("wh"), Key: aws.String("t/tok/part-0.parquet")})
	wantAPIError(t, "acl", err, "NotImplemented", 501)

	// The messages: the budget's reason reaches the client, internal details do not.
	for _, tc := range []struct{ path, want, not string }{
		{"/wh/busy/x", "query over its memory budget of 128 MiB", ""},
		{"/wh/boom/x", "<Code>InternalError</Code>", "secret"},
		{"/wh/t/tok/nope", "<Key>t/tok/nope</Key>", ""},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), tc.want) || (tc.not != "" && strings.Contains(string(body), tc.not)) || resp.Header.Get("x-amz-request-id") == "" {
			t.Fatalf("%s: %s", tc.path, body)
		}
	}
}

// TestMidBodyFailureIsNotSilent: once the status is sent, a failed read cuts the connection;
// the client sees an error, never a short object that looks whole.
func TestMidBodyFailureIsNotSilent(t *testing.T) {
	_, srv := newServer(t)
	c := client(t, srv, true)
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("wh"), Key: aws.String("midfail/file")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(out.Body)
	if err == nil {
		t.Fatalf("read %d of %d bytes without an error", len(got), aws.ToInt64(out.ContentLength))
	}
}

func TestBucketCalls(t *testing.T) {
	_, srv := newServer(t)
	c := client(t, srv, false)
	ctx := context.Background()
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("wh")}); err != nil {
		t.Fatal(err)
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("wh")})
	if err != nil || string(loc.LocationConstraint) != "eu-west-1" {
		t.Fatalf("location %v %v", loc, err)
	}
	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(lb.Buckets) != 0 {
		t.Fatalf("list buckets %v %v", lb, err)
	}
}

func TestConditionalGets(t *testing.T) {
	cat, srv := newServer(t)
	c := client(t, srv, true)
	ctx := context.Background()
	key := aws.String("t/tok/part-0.parquet")
	// s3a's change detection: If-Match with the ETag it saw.
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("wh"), Key: key, IfMatch: aws.String(`"etag-1000"`), Range: aws.String("bytes=0-9")})
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("wh"), Key: key, IfMatch: aws.String(`"other"`)})
	wantAPIError(t, "if-match", err, "PreconditionFailed", 412)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("wh"), Key: key, IfNoneMatch: aws.String(`"etag-1000"`)})
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != 304 {
		t.Fatalf("if-none-match: %v", err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("wh"), Key: key, IfUnmodifiedSince: aws.Time(cat.mod.Add(-time.Hour))})
	wantAPIError(t, "if-unmodified-since", err, "PreconditionFailed", 412)
}

// TestChunkedAndSignedHeaders: headers of SigV4 streaming uploads and odd signatures do not
// break reads.
func TestChunkedAndSignedHeaders(t *testing.T) {
	_, srv := newServer(t)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/wh/t/tok/part-0.parquet", nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=garbage, SignedHeaders=host, Signature=00")
	req.Header.Set("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("x-amz-decoded-content-length", "0")
	req.Header.Set("Range", "bytes=10-19")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || len(body) != 10 || resp.Header.Get("Content-Range") != "bytes 10-19/1000" {
		t.Fatalf("%s %d %q", resp.Status, len(body), resp.Header.Get("Content-Range"))
	}
}
