package scan

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/propolis/propolis/internal/errs"
)

// Local is the local file system: "file:" URIs (file:/p, file:///p) and absolute paths.
type Local struct{}

func localPath(location string) (string, error) {
	p := location
	if !strings.HasPrefix(location, "/") {
		u, err := url.Parse(location)
		if err != nil || !strings.EqualFold(u.Scheme, "file") {
			return "", errs.Invalid("location %q is not a local path or file: URI", location)
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", errs.Invalid("location %q: file URI with a remote host", location)
		}
		p = u.Path
	}
	if !filepath.IsAbs(p) {
		return "", errs.Invalid("location %q: path is not absolute", location)
	}
	return filepath.Clean(p), nil
}

func fsErr(op, location string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errs.NotFound("%s %s: no such file or directory", op, location)
	case errors.Is(err, fs.ErrPermission):
		return errs.Denied("%s %s: permission denied", op, location)
	default:
		return errs.Unavailable("%s %s: %w", op, location, err)
	}
}

// join keeps the location's own form (URI or path) for the listed file.
func joinLocation(location, name string) string {
	return strings.TrimRight(location, "/") + "/" + name
}

func (Local) List(ctx context.Context, location string) ([]ObjectInfo, error) {
	p, err := localPath(location)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, fsErr("list", location, err)
	}
	if !st.IsDir() {
		return []ObjectInfo{{Location: location, Size: st.Size(), ModTime: st.ModTime()}}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, fsErr("list", location, err)
	}
	var out []ObjectInfo
	for _, e := range entries {
		if hidden(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed since ReadDir
		}
		out = append(out, ObjectInfo{Location: joinLocation(location, e.Name()), Size: info.Size(), ModTime: info.ModTime()})
	}
	sortInfos(out)
	return out, ctx.Err()
}

func (Local) Open(ctx context.Context, location string) (Reader, error) {
	p, err := localPath(location)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fsErr("open", location, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fsErr("stat", location, err)
	}
	if st.IsDir() {
		f.Close()
		return nil, errs.Invalid("open %s: is a directory", location)
	}
	return &localReader{f: f, info: ObjectInfo{Location: location, Size: st.Size(), ModTime: st.ModTime()}}, nil
}

type localReader struct {
	f    *os.File
	info ObjectInfo
}

func (r *localReader) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(p, off) }
func (r *localReader) Info() ObjectInfo                        { return r.info }
func (r *localReader) Close() error                            { return r.f.Close() }
