package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"github.com/propolis/propolis/internal/errs"
)

const xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type listAllMyBucketsResult struct {
	XMLName xml.Name `xml:"ListAllMyBucketsResult"`
	Xmlns   string   `xml:"xmlns,attr"`
	Owner   owner    `xml:"Owner"`
	Buckets struct{} `xml:"Buckets"`
}

type locationConstraint struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	Xmlns   string   `xml:"xmlns,attr"`
	Region  string   `xml:",chardata"`
}

type errorBody struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	Key        string   `xml:"Key,omitempty"`
	BucketName string   `xml:"BucketName,omitempty"`
	Resource   string   `xml:"Resource"`
	RequestID  string   `xml:"RequestId"`
}

type content struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// listResult is both shapes of ListBucketResult: v2 (KeyCount, tokens, StartAfter) and v1
// (Marker, NextMarker); fields of the other shape are omitted.
type listResult struct {
	XMLName               xml.Name       `xml:"ListBucketResult"`
	Xmlns                 string         `xml:"xmlns,attr"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Marker                *string        `xml:"Marker,omitempty"`
	NextMarker            string         `xml:"NextMarker,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	KeyCount              *int           `xml:"KeyCount,omitempty"`
	MaxKeys               int            `xml:"MaxKeys"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	IsTruncated           bool           `xml:"IsTruncated"`
	Contents              []content      `xml:"Contents"`
	CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
}

func writeXML(req *request, status int, v any) {
	switch t := v.(type) {
	case listAllMyBucketsResult:
		t.Xmlns = xmlns
		v = t
	case locationConstraint:
		t.Xmlns = xmlns
		v = t
	case listResult:
		t.Xmlns = xmlns
		v = t
	}
	b, err := xml.Marshal(v)
	if err != nil {
		req.w.WriteHeader(http.StatusInternalServerError)
		return
	}
	out := append([]byte(xml.Header), b...)
	req.w.Header().Set("Content-Type", "application/xml")
	req.w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	req.w.WriteHeader(status)
	if req.r.Method != http.MethodHead {
		req.w.Write(out)
	}
}

// s3Escape is S3's encoding-type=url: percent-encoding except unreserved characters and "/".
// "+" and " " are encoded too, so both RFC 3986 decoders and Java's URLDecoder (SDK v1, which
// turns "+" into a space) get the key back.
func s3Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(strconv.FormatInt(int64(c)>>4, 16)) + strings.ToUpper(strconv.FormatInt(int64(c)&15, 16)))
	}
	return b.String()
}

func (h *Handler) list(req *request) {
	q := req.query
	v2 := q.Get("list-type") == "2"
	if lt := q.Get("list-type"); lt != "" && lt != "2" {
		h.fail(req, errs.Invalid("list-type %q: only 2 (and v1 without it) is supported", lt))
		return
	}
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	enc := q.Get("encoding-type")
	if enc != "" && enc != "url" {
		h.fail(req, errs.Invalid("encoding-type %q: only url is supported", enc))
		return
	}
	maxKeys := maxKeysLimit
	if s := q.Get("max-keys"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			h.fail(req, errs.Invalid("max-keys %q is not a non-negative integer", s))
			return
		}
		maxKeys = min(n, maxKeysLimit)
	}
	// after: list keys strictly greater; a continuation token wins over start-after.
	var after, token string
	if v2 {
		after = q.Get("start-after")
		if token = q.Get("continuation-token"); token != "" {
			b, err := base64.RawURLEncoding.DecodeString(token)
			if err != nil || len(b) == 0 {
				h.fail(req, errs.Invalid("the continuation token provided is incorrect"))
				return
			}
			after = string(b)
		}
	} else {
		after = q.Get("marker")
	}
	objs, err := h.cat.List(req.r.Context(), req.bucket, prefix)
	if err != nil {
		h.fail(req, err)
		return
	}
	esc := func(s string) string {
		if enc == "url" {
			return s3Escape(s)
		}
		return s
	}
	res := listResult{Name: req.bucket, Prefix: esc(prefix), MaxKeys: maxKeys, Delimiter: esc(delim), EncodingType: enc}
	var last string // the last key or common prefix returned
	count := 0
	seenPrefix := ""
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, prefix) || o.Key <= after {
			continue
		}
		// After a common prefix, its keys are all skipped.
		if after != "" && delim != "" && strings.HasSuffix(after, delim) && strings.HasPrefix(o.Key, after) {
			continue
		}
		cp := ""
		if delim != "" {
			if i := strings.Index(o.Key[len(prefix):], delim); i >= 0 {
				cp = o.Key[:len(prefix)+i+len(delim)]
			}
		}
		if cp != "" && cp == seenPrefix {
			continue
		}
		if count == maxKeys {
			res.IsTruncated = true
			break
		}
		count++
		if cp != "" {
			seenPrefix = cp
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: esc(cp)})
			last = cp
			continue
		}
		res.Contents = append(res.Contents, content{
			Key: esc(o.Key), LastModified: o.LastModified.UTC().Format("2006-01-02T15:04:05.000Z"),
			ETag: quoteETag(o.ETag), Size: o.Size, StorageClass: "STANDARD",
		})
		last = o.Key
	}
	if v2 {
		res.KeyCount = &count
		res.StartAfter = esc(q.Get("start-after"))
		res.ContinuationToken = token
		if res.IsTruncated {
			res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
		}
	} else {
		m := esc(after)
		res.Marker = &m
		if res.IsTruncated && delim != "" {
			res.NextMarker = esc(last)
		}
	}
	writeXML(req, http.StatusOK, res)
}
