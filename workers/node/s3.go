package node

import (
	"context"
	"errors"
	"strings"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/workers/s3api"
)

// S3 is the node as the S3 endpoint's catalog: a key's first segment is a token, the rest
// names one virtual file of its query.
func (n *Node) S3() s3api.Catalog { return s3Catalog{n} }

type s3Catalog struct{ n *Node }

var _ s3api.Catalog = s3Catalog{}

func (c s3Catalog) bucket(b string) error {
	if b != c.n.cfg.Bucket {
		return errs.NotFound("bucket %s does not exist", b)
	}
	return nil
}

// List lists the virtual files under prefix. A prefix that does not start with a whole token
// lists nothing: the fleet's bucket has no browsable root, and a partial token proves nothing.
func (c s3Catalog) List(ctx context.Context, bucket, prefix string) ([]s3api.ObjectInfo, error) {
	if err := c.bucket(bucket); err != nil {
		return nil, err
	}
	tok, _, _ := strings.Cut(prefix, "/")
	if tok == "" || strings.Count(tok, ".") != 2 {
		return []s3api.ObjectInfo{}, nil
	}
	q, err := c.n.query(ctx, tok)
	if err != nil {
		return nil, err
	}
	objs, err := c.n.list(ctx, q)
	if err != nil {
		c.n.cfg.Metrics.rejected("storage")
		return nil, err
	}
	var want []*object
	for _, o := range objs {
		if strings.HasPrefix(o.key, prefix) {
			want = append(want, o)
		}
	}
	if err := c.n.layouts(ctx, q, want); err != nil {
		c.n.rejectedFor(err)
		return nil, err
	}
	out := make([]s3api.ObjectInfo, 0, len(want))
	for _, o := range want {
		out = append(out, c.info(q, o))
	}
	return out, nil
}

func (c s3Catalog) info(q *query, o *object) s3api.ObjectInfo {
	o.mu.Lock()
	lay := o.lay
	o.mu.Unlock()
	return s3api.ObjectInfo{Key: o.key, Size: lay.Size, ETag: etag(q, o, lay), LastModified: o.src.ModTime}
}

// Open opens one virtual file; its size is exact before any byte is served.
func (c s3Catalog) Open(ctx context.Context, bucket, key string) (s3api.Object, error) {
	if err := c.bucket(bucket); err != nil {
		return nil, err
	}
	tok, _, ok := strings.Cut(key, "/")
	if !ok || strings.Count(tok, ".") != 2 {
		return nil, errs.NotFound("no such key %s", key)
	}
	q, err := c.n.query(ctx, tok)
	if err != nil {
		return nil, err
	}
	objs, err := c.n.list(ctx, q)
	if err != nil {
		c.n.cfg.Metrics.rejected("storage")
		return nil, err
	}
	for _, o := range objs {
		if o.key != key {
			continue
		}
		f, err := c.n.open(ctx, q, o)
		if err != nil {
			c.n.rejectedFor(err)
			return nil, err
		}
		if _, err := c.n.layout(ctx, q, o); err != nil {
			c.n.rejectedFor(err)
			return nil, err
		}
		return &s3Object{info: c.info(q, o), f: f}, nil
	}
	return nil, errs.NotFound("no such key %s", key)
}

type s3Object struct {
	info s3api.ObjectInfo
	f    interface {
		ReadAt(ctx context.Context, p []byte, off int64) (int, error)
	}
}

func (o *s3Object) Info() s3api.ObjectInfo { return o.info }
func (o *s3Object) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	return o.f.ReadAt(ctx, p, off)
}

// rejectedFor counts a failed query by why it failed.
func (n *Node) rejectedFor(err error) {
	if errors.Is(err, errs.ErrBusy) {
		n.cfg.Metrics.rejected("busy")
		return
	}
	if errs.KindOf(err) == errs.KindUnavailable {
		n.cfg.Metrics.rejected("budget")
		return
	}
	n.cfg.Metrics.rejected("storage")
}

var _ s3api.BucketChecker = s3Catalog{}

// HeadBucket answers for the fleet's bucket only.
func (c s3Catalog) HeadBucket(_ context.Context, bucket string) error { return c.bucket(bucket) }
