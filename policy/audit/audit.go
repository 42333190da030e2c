package audit

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"sync"
	"time"

	"github.com/propolis/propolis/internal/errs"
)

// Outcomes and paths as they appear in the log.
const (
	OutcomeHidden     = "hidden"
	OutcomeRaw        = "raw"
	OutcomeRestricted = "restricted"
	OutcomeDenied     = "denied"
	OutcomeError      = "error"

	PathNative = "native"
	PathWorker = "worker"
	PathNone   = "none"
)

// Entry is one decision.
type Entry struct {
	Time          time.Time `json:"time"`
	User          string    `json:"user"`
	Groups        []string  `json:"groups,omitempty"`
	Engine        string    `json:"engine,omitempty"` // engine profile name
	Action        string    `json:"action"`           // e.g. "get_table"
	Object        string    `json:"object,omitempty"` // "db.table" or "db"
	Outcome       string    `json:"outcome"`          // hidden|raw|restricted|denied|error
	PolicyVersion int64     `json:"policy_version"`
	Path          string    `json:"path"` // native|worker|none
	Rules         []string  `json:"rules,omitempty"`
	Reason        string    `json:"reason,omitempty"`
}

// Log writes entries as JSON lines. It is safe for concurrent use. A nil *Log discards.
type Log struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
	now    func() time.Time
	err    error // first write error, reported by Err
}

// New logs to w.
func New(w io.Writer) *Log { return &Log{w: w, now: time.Now} }

// Open appends to the file at path, creating it readable by its owner only (0600).
func Open(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, errs.Unavailable("audit log: %w", err)
	}
	l := New(f)
	l.closer = f
	return l, nil
}

// Record writes e; a zero Time is now, an empty Path is "none". A write failure is returned
// (errs.Unavailable) and also kept for Err; the caller decides whether it fails the request.
func (l *Log) Record(ctx context.Context, e Entry) error {
	if l == nil {
		return nil
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC()
	if e.Path == "" {
		e.Path = PathNone
	}
	line, err := json.Marshal(e)
	if err != nil {
		return errs.Invalid("audit entry: %w", err) // cannot happen: Entry has only plain fields
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(line); err != nil {
		werr := errs.Unavailable("audit log: %w", err)
		if l.err == nil {
			l.err = werr
		}
		return werr
	}
	return nil
}

// Err is the first write error, if any.
func (l *Log) Err() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close closes the file Open opened (nothing for New).
func (l *Log) Close() error {
	if l == nil || l.closer == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closer.Close()
}
