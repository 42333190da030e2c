package scan

import (
	"context"
	"io"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/propolis/propolis/internal/errs"
)

// ObjectInfo describes one stored file.
type ObjectInfo struct {
	Location string // the file's full location (URI or absolute path), as Open accepts it
	Size     int64
	ModTime  time.Time
	// ETag identifies the content where the store has one (S3); empty for local files.
	ETag string
}

// Reader is an open file for ranged reads. ReadAt follows io.ReaderAt; it is safe for
// concurrent use.
type Reader interface {
	io.ReaderAt
	Info() ObjectInfo
	Close() error
}

// Storage is where source files live.
type Storage interface {
	// List returns the data files directly under location (a directory or prefix), Hive style:
	// names starting with "_" or "." are skipped, sorted by name. A location naming one file
	// lists that file.
	List(ctx context.Context, location string) ([]ObjectInfo, error)
	// Open opens one file for ranged reads. The reader keeps ctx for its reads.
	Open(ctx context.Context, location string) (Reader, error)
}

// hidden reports whether a file name is one Hive skips (_SUCCESS, .crc files, _temporary).
func hidden(name string) bool {
	return name == "" || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".")
}

func sortInfos(infos []ObjectInfo) {
	sort.Slice(infos, func(i, j int) bool { return infos[i].Location < infos[j].Location })
}

// Mux routes locations to a Storage by scheme. Absolute paths use the "file" scheme.
type Mux map[string]Storage

func (m Mux) route(location string) (Storage, error) {
	scheme := "file"
	if !strings.HasPrefix(location, "/") {
		u, err := url.Parse(location)
		if err != nil || u.Scheme == "" {
			return nil, errs.Invalid("location %q: neither an absolute path nor a URI", location)
		}
		scheme = strings.ToLower(u.Scheme)
	}
	s, ok := m[scheme]
	if !ok {
		return nil, errs.Unsupported("location %q: no storage configured for scheme %q", location, scheme)
	}
	return s, nil
}

func (m Mux) List(ctx context.Context, location string) ([]ObjectInfo, error) {
	s, err := m.route(location)
	if err != nil {
		return nil, err
	}
	return s.List(ctx, location)
}

func (m Mux) Open(ctx context.Context, location string) (Reader, error) {
	s, err := m.route(location)
	if err != nil {
		return nil, err
	}
	return s.Open(ctx, location)
}

// PartitionValues returns the Hive partition values in a file location's directories
// (".../dt=2024-01-01/region=eu/part-0.parquet" gives dt and region), unescaped as Hive
// escapes them (%XX).
func PartitionValues(location string) map[string]string {
	dir := location
	if u, err := url.Parse(location); err == nil && u.Scheme != "" {
		dir = u.EscapedPath() // Hive escapes "/" in values as %2F: split before unescaping
	}
	dir = path.Dir(dir)
	var out map[string]string
	for _, seg := range strings.Split(dir, "/") {
		k, v, ok := strings.Cut(seg, "=")
		if !ok || k == "" {
			continue
		}
		if uk, err := url.PathUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.PathUnescape(v); err == nil {
			v = uv
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}
