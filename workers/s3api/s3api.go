package s3api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/propolis/propolis/internal/errs"
)

// ObjectInfo describes one object as S3 lists it.
type ObjectInfo struct {
	Key          string
	Size         int64
	LastModified time.Time
	ETag         string // stable for the object's content; quoted on the wire
}

// Catalog resolves buckets and keys. Errors carry errs kinds: NotFound, Denied, Invalid,
// Unavailable, Unsupported.
type Catalog interface {
	// List returns every object whose key starts with prefix, sorted by key.
	List(ctx context.Context, bucket, prefix string) ([]ObjectInfo, error)
	// Open returns one object. If the Object is also an io.Closer, the handler closes it
	// when the request ends.
	Open(ctx context.Context, bucket, key string) (Object, error)
}

// BucketChecker is implemented by a Catalog that knows which buckets exist; without it every
// bucket answers HeadBucket (its keys are still checked one by one).
type BucketChecker interface {
	HeadBucket(ctx context.Context, bucket string) error
}

// Object is an openable object: exact size in Info, ranged reads with ReadAt (io.ReaderAt
// semantics).
type Object interface {
	Info() ObjectInfo
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
}

// Options configure a Handler.
type Options struct {
	// VirtualHostSuffixes are host names under which the bucket is the first label
	// ("bucket.s3.workers.local" with suffix "s3.workers.local"). Other hosts are path-style.
	VirtualHostSuffixes []string
	// Region is what GetBucketLocation answers (default us-east-1).
	Region string
	// ChunkSize is how much of an object one ReadAt fetches while streaming (default 1 MiB).
	ChunkSize int
	Log       *slog.Logger
}

// Handler serves the S3 read API over a Catalog.
type Handler struct {
	cat  Catalog
	opts Options
	log  *slog.Logger
}

// New returns the handler.
func New(cat Catalog, opts Options) *Handler {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 1 << 20
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{cat: cat, opts: opts, log: log}
}

const maxKeysLimit = 1000

// request is one parsed S3 call.
type request struct {
	w        http.ResponseWriter
	r        *http.Request
	id       string
	bucket   string
	key      string
	hasKey   bool // the path names an object (even "bucket/" has none)
	query    url.Values
	resource string
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &request{w: w, r: r, id: requestID()}
	w.Header().Set("x-amz-request-id", req.id)
	w.Header().Set("x-amz-id-2", req.id)
	w.Header().Set("Server", "Propolis")
	if err := h.parse(req); err != nil {
		h.fail(req, err)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	default:
		h.fail(req, errs.Unsupported("%s is not supported: this endpoint is read-only", r.Method))
		return
	}
	switch {
	case req.bucket == "":
		h.listBuckets(req)
	case !req.hasKey:
		h.bucket(req)
	default:
		h.object(req)
	}
}

func requestID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// parse finds bucket and key, path-style or virtual-hosted.
func (h *Handler) parse(req *request) error {
	raw := req.r.URL.EscapedPath()
	p, err := url.PathUnescape(raw)
	if err != nil {
		return errs.Invalid("malformed path %q", raw)
	}
	req.query = req.r.URL.Query()
	host := req.r.Host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	host = strings.ToLower(host)
	for _, suf := range h.opts.VirtualHostSuffixes {
		suf = strings.ToLower(suf)
		if strings.HasSuffix(host, "."+suf) {
			req.bucket = strings.TrimSuffix(host, "."+suf)
			req.key = strings.TrimPrefix(p, "/")
			req.hasKey = req.key != ""
			req.resource = "/" + req.bucket + "/" + req.key
			return nil
		}
	}
	p = strings.TrimPrefix(p, "/")
	b, k, _ := strings.Cut(p, "/")
	req.bucket, req.key, req.hasKey = b, k, k != ""
	req.resource = "/" + p
	return nil
}

// subresources are S3's query-string operations other than listing and reading; any of them
// is NotImplemented. Other parameters (x-id, response-*, presigning) do not change what a GET
// or HEAD means and are ignored, as S3 ignores unknown ones.
var subresources = []string{"accelerate", "acl", "analytics", "attributes", "cors", "delete",
	"encryption", "intelligent-tiering", "inventory", "legal-hold", "lifecycle", "logging",
	"metadataTable", "metrics", "notification", "object-lock", "ownershipControls", "policy",
	"policyStatus", "publicAccessBlock", "replication", "requestPayment", "restore", "retention",
	"select", "tagging", "torrent", "uploadId", "uploads", "versioning", "versions", "website"}

func unsupportedSub(q url.Values) string {
	for _, s := range subresources {
		if q.Has(s) {
			return s
		}
	}
	return ""
}

func (h *Handler) listBuckets(req *request) {
	// Buckets are not enumerable: their contents are reached through keys the catalog grants.
	writeXML(req, http.StatusOK, listAllMyBucketsResult{Owner: owner{ID: "propolis", DisplayName: "propolis"}})
}

func (h *Handler) bucket(req *request) {
	q := req.query
	ctx := req.r.Context()
	switch {
	case q.Has("location"):
		loc := h.opts.Region
		if loc == "us-east-1" {
			loc = ""
		}
		writeXML(req, http.StatusOK, locationConstraint{Region: loc})
	case req.r.Method == http.MethodHead:
		if bc, ok := h.cat.(BucketChecker); ok {
			if err := bc.HeadBucket(ctx, req.bucket); err != nil {
				h.fail(req, err)
				return
			}
		}
		req.w.Header().Set("x-amz-bucket-region", h.opts.Region)
		req.w.WriteHeader(http.StatusOK)
	default:
		if s := unsupportedSub(q); s != "" {
			h.fail(req, errs.Unsupported("bucket operation %q is not supported", s))
			return
		}
		h.list(req)
	}
}

func (h *Handler) object(req *request) {
	if s := unsupportedSub(req.query); s != "" {
		h.fail(req, errs.Unsupported("object operation %q is not supported", s))
		return
	}
	if v := req.query.Get("versionId"); v != "" && v != "null" {
		h.fail(req, errs.Unsupported("object versions are not supported"))
		return
	}
	if pn := req.query.Get("partNumber"); pn != "" && pn != "1" {
		h.fail(req, errs.Invalid("partNumber %q: objects here have one part", pn))
		return
	}
	ctx := req.r.Context()
	obj, err := h.cat.Open(ctx, req.bucket, req.key)
	if err != nil {
		h.fail(req, err)
		return
	}
	if c, ok := obj.(io.Closer); ok {
		defer c.Close()
	}
	info := obj.Info()
	hdr := req.w.Header()
	etag := quoteETag(info.ETag)
	if status := preconditions(req.r, etag, info.LastModified); status != 0 {
		if status == http.StatusPreconditionFailed {
			h.fail(req, preconditionFailed{})
			return
		}
		hdr.Set("ETag", etag)
		req.w.WriteHeader(status)
		return
	}
	hdr.Set("ETag", etag)
	hdr.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	hdr.Set("Accept-Ranges", "bytes")
	hdr.Set("Content-Type", "application/octet-stream")
	start, end, status, err := parseRange(req.r.Header.Get("Range"), info.Size)
	if err != nil {
		hdr.Set("Content-Range", fmt.Sprintf("bytes */%d", info.Size))
		h.fail(req, err)
		return
	}
	if status == http.StatusPartialContent {
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, info.Size))
	}
	hdr.Set("Content-Length", strconv.FormatInt(end-start, 10))
	if req.r.Method == http.MethodHead {
		req.w.WriteHeader(status)
		return
	}
	// The first chunk is read before the status is sent, so most failures (over budget,
	// source gone) are still proper S3 errors.
	buf := make([]byte, min(int64(h.opts.ChunkSize), end-start))
	n, err := readFull(ctx, obj, buf, start, end)
	if err != nil {
		hdr.Del("Content-Range")
		hdr.Del("Content-Length")
		h.fail(req, err)
		return
	}
	req.w.WriteHeader(status)
	if _, err := req.w.Write(buf[:n]); err != nil {
		return
	}
	for off := start + int64(n); off < end; {
		n, err := readFull(ctx, obj, buf[:min(int64(len(buf)), end-off)], off, end)
		if err != nil {
			// The status is sent: cutting the connection makes the client see a short body
			// (and retry), never a wrong one.
			h.log.Warn("s3api: object read failed mid-body", "bucket", req.bucket, "key", req.key, "offset", off, "err", err)
			panic(http.ErrAbortHandler)
		}
		if _, err := req.w.Write(buf[:n]); err != nil {
			return
		}
		off += int64(n)
	}
}

// readFull fills p from off; an early EOF before end is an error (the size changed).
func readFull(ctx context.Context, obj Object, p []byte, off, end int64) (int, error) {
	n, err := obj.ReadAt(ctx, p, off)
	if err == io.EOF && n == len(p) {
		err = nil
	}
	if err == nil && n != len(p) {
		err = errs.Unavailable("object shorter than its listed size")
	}
	if err == io.EOF {
		err = errs.Unavailable("object shorter than its listed size (%d bytes at %d, expected up to %d)", n, off, end)
	}
	return n, err
}

func quoteETag(e string) string {
	if e == "" {
		return `""`
	}
	if strings.HasPrefix(e, `"`) || strings.HasPrefix(e, `W/"`) {
		return e
	}
	return `"` + e + `"`
}

// preconditions applies If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since
// as S3 does: 0 to proceed, else 304 or 412. s3a's change detection sends If-Match.
func preconditions(r *http.Request, etag string, mod time.Time) int {
	mod = mod.Truncate(time.Second)
	im := r.Header.Get("If-Match")
	if im != "" && !etagListMatch(im, etag) {
		return http.StatusPreconditionFailed
	}
	if im == "" {
		if t, err := http.ParseTime(r.Header.Get("If-Unmodified-Since")); err == nil && mod.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	inm := r.Header.Get("If-None-Match")
	if inm != "" && etagListMatch(inm, etag) {
		return http.StatusNotModified
	}
	if inm == "" {
		if t, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !mod.After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

func etagListMatch(list, etag string) bool {
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "*" || strings.TrimPrefix(e, "W/") == etag || quoteETag(e) == etag {
			return true
		}
	}
	return false
}

// parseRange returns [start, end) and the status. A header S3 would ignore (malformed, or
// several ranges) serves the whole object; an unsatisfiable one is InvalidRange.
func parseRange(h string, size int64) (start, end int64, status int, err error) {
	whole := func() (int64, int64, int, error) { return 0, size, http.StatusOK, nil }
	if h == "" {
		return whole()
	}
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return whole()
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return whole()
	}
	invalid := errs.Invalid("range %q is not satisfiable for an object of %d bytes", h, size)
	invalid = invalidRange{invalid}
	switch {
	case a == "":
		n, perr := strconv.ParseInt(b, 10, 64)
		if perr != nil || n < 0 {
			return whole()
		}
		if n == 0 {
			return 0, 0, 0, invalid
		}
		start = max(0, size-n)
		end = size
	default:
		s, perr := strconv.ParseInt(a, 10, 64)
		if perr != nil || s < 0 {
			return whole()
		}
		e := size - 1
		if b != "" {
			if e, perr = strconv.ParseInt(b, 10, 64); perr != nil || e < s {
				return whole()
			}
		}
		if s >= size {
			return 0, 0, 0, invalid
		}
		// e may be any int64 up to MaxInt64: compare before adding, never add then compare.
		start, end = s, size
		if e < size-1 {
			end = e + 1
		}
	}
	return start, end, http.StatusPartialContent, nil
}

// invalidRange and preconditionFailed are the two errors that are not errs kinds.
type invalidRange struct{ error }
type preconditionFailed struct{}

func (preconditionFailed) Error() string {
	return "at least one of the pre-conditions you specified did not hold"
}

// s3Error is an error as S3 reports it.
type s3Error struct {
	status  int
	code    string
	message string
}

// toS3 maps an error to S3's code and status: the one place kinds meet the wire. Messages of
// internal errors stay in the log.
func toS3(err error, objectOp bool) s3Error {
	var ir invalidRange
	if errors.As(err, &ir) {
		return s3Error{http.StatusRequestedRangeNotSatisfiable, "InvalidRange", err.Error()}
	}
	if errors.As(err, new(preconditionFailed)) {
		return s3Error{http.StatusPreconditionFailed, "PreconditionFailed", err.Error()}
	}
	switch errs.KindOf(err) {
	case errs.KindNotFound:
		if objectOp {
			return s3Error{http.StatusNotFound, "NoSuchKey", "The specified key does not exist."}
		}
		return s3Error{http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist."}
	case errs.KindDenied:
		return s3Error{http.StatusForbidden, "AccessDenied", err.Error()}
	case errs.KindInvalid:
		return s3Error{http.StatusBadRequest, "InvalidArgument", err.Error()}
	case errs.KindUnavailable:
		if errors.Is(err, errs.ErrBusy) {
			// S3 clients back off and retry on SlowDown.
			return s3Error{http.StatusServiceUnavailable, "SlowDown", err.Error()}
		}
		return s3Error{http.StatusServiceUnavailable, "ServiceUnavailable", err.Error()}
	case errs.KindUnsupported:
		return s3Error{http.StatusNotImplemented, "NotImplemented", err.Error()}
	case errs.KindExists, errs.KindConflict:
		return s3Error{http.StatusConflict, "OperationAborted", err.Error()}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return s3Error{http.StatusServiceUnavailable, "ServiceUnavailable", "request cancelled"}
	}
	return s3Error{http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."}
}

func (h *Handler) fail(req *request, err error) {
	e := toS3(err, req.hasKey)
	if e.status >= 500 {
		h.log.Warn("s3api: request failed", "method", req.r.Method, "resource", req.resource, "code", e.code, "err", err)
	}
	if req.r.Method == http.MethodHead {
		// HEAD responses have no body; the status says it all.
		req.w.WriteHeader(e.status)
		return
	}
	body := errorBody{Code: e.code, Message: e.message, Resource: req.resource, RequestID: req.id}
	if req.hasKey {
		body.Key = req.key
	}
	if e.code == "NoSuchBucket" {
		body.BucketName = req.bucket
	}
	writeXML(req, e.status, body)
}
