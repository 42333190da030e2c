package scan

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/propolis/propolis/internal/errs"
)

// Confine returns a Storage that reads only under roots: every location listed or opened, and
// every file a listing returns, must lie under one of them. It is what keeps the worker from
// being a confused deputy: the worker reads with its own credentials whatever location a
// table's metadata names, and a user allowed to alter a table could otherwise point it at
// files they may not read and have the worker serve them. Roots are URIs or absolute paths
// (s3://, s3a:// and s3n:// name the same bucket); a location with "." or ".." segments is
// refused rather than interpreted. log (nil: discarded) receives the refused locations, which
// the error returned to the client does not name.
func Confine(s Storage, roots []string, log *slog.Logger) (Storage, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := confined{s: s, log: log}
	for _, r := range roots {
		p, err := canonLocation(r)
		if err != nil {
			return nil, err
		}
		if p.scheme == "file" {
			if real, ok := realPath(p.path); ok {
				p.path = real
			}
		}
		c.roots = append(c.roots, p)
	}
	return c, nil
}

type confined struct {
	s     Storage
	roots []place
	log   *slog.Logger
}

// place is a location in a form that compares by prefix.
type place struct{ scheme, host, path string }

// CheckLocation reports whether location is a well-formed absolute location Confine accepts
// as a root (for validating configuration).
func CheckLocation(location string) error {
	_, err := canonLocation(location)
	return err
}

func canonLocation(location string) (place, error) {
	if strings.HasPrefix(location, "/") || strings.HasPrefix(strings.ToLower(location), "file:") {
		p, err := localPath(location)
		if err != nil {
			return place{}, err
		}
		return place{scheme: "file", path: p}, nil
	}
	u, err := url.Parse(location)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return place{}, errs.Invalid("location %q is not an absolute path or a URI with a host", location)
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "s3a", "s3n":
		scheme = "s3"
	}
	p := "/" + strings.TrimPrefix(u.Path, "/")
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return place{}, errs.Invalid("location %q has a %q segment", location, seg)
		}
	}
	return place{scheme: scheme, host: strings.ToLower(u.Host), path: p}, nil
}

func (c confined) allowed(location string) bool {
	p, err := canonLocation(location)
	if err != nil {
		return false
	}
	if p.scheme == "file" {
		// A link inside an allowed directory must not lead out of it.
		real, ok := realPath(p.path)
		if !ok {
			return false
		}
		p.path = real
	}
	for _, r := range c.roots {
		if r.scheme != p.scheme || r.host != p.host {
			continue
		}
		root := strings.TrimSuffix(r.path, "/")
		if p.path == root || strings.HasPrefix(p.path, root+"/") {
			return true
		}
	}
	return false
}

// realPath resolves the links in p's longest existing ancestor, so a path that does not exist
// (yet) is judged by where it would be.
func realPath(p string) (string, bool) {
	rest := ""
	for {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(real, rest), true
		}
		if !os.IsNotExist(err) {
			return "", false
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", false
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

func (c confined) refuse(op, location string) error {
	c.log.Warn("refused a read outside the allowed locations (workers.allowed_locations)", "op", op, "location", location)
	return errs.Denied("the table's storage location is outside the locations this worker may read")
}

func (c confined) List(ctx context.Context, location string) ([]ObjectInfo, error) {
	if !c.allowed(location) {
		return nil, c.refuse("list", location)
	}
	infos, err := c.s.List(ctx, location)
	if err != nil {
		return nil, err
	}
	for _, info := range infos {
		if !c.allowed(info.Location) {
			return nil, c.refuse("list", info.Location)
		}
	}
	return infos, nil
}

func (c confined) Open(ctx context.Context, location string) (Reader, error) {
	if !c.allowed(location) {
		return nil, c.refuse("open", location)
	}
	return c.s.Open(ctx, location)
}
