package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// warehouse does the directory work HMS does for managed data, on local file systems only:
// object stores (s3a://, hdfs://) are the engines' business, which hold the credentials.
type warehouse struct{ log *slog.Logger }

// localPath returns the file system path of a file: URI or bare absolute path.
func localPath(loc string) (string, bool) {
	if strings.HasPrefix(loc, "/") {
		return filepath.Clean(loc), true
	}
	u, err := url.Parse(loc)
	if err != nil || u.Scheme != "file" || u.Path == "" {
		return "", false
	}
	return filepath.Clean(u.Path), true
}

func (w warehouse) mkdirs(ctx context.Context, loc string) error {
	p, ok := w.local(ctx, "mkdirs", loc)
	if !ok {
		return nil
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", p, err)
	}
	return nil
}

func (w warehouse) remove(ctx context.Context, loc string) error {
	p, ok := w.local(ctx, "remove", loc)
	if !ok {
		return nil
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("remove directory %s: %w", p, err)
	}
	return nil
}

// rename moves a directory; a missing source is not an error (nothing was written yet).
func (w warehouse) rename(ctx context.Context, from, to string) error {
	src, ok1 := w.local(ctx, "rename", from)
	dst, ok2 := w.local(ctx, "rename", to)
	if !ok1 || !ok2 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", filepath.Dir(dst), err)
	}
	if err := os.Rename(src, dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("move %s to %s: %w", src, dst, err)
	}
	return nil
}

func (w warehouse) local(ctx context.Context, op, loc string) (string, bool) {
	if loc == "" {
		return "", false
	}
	p, ok := localPath(loc)
	if !ok {
		w.log.DebugContext(ctx, "not a local location, left to the engines", "op", op, "location", loc)
	}
	return p, ok
}
