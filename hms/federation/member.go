package federation

import (
	"fmt"
	"strings"
	"time"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/internal/errs"
)

// WriteMode says which writes a backend accepts through Propolis.
type WriteMode int

const (
	ReadOnly  WriteMode = iota
	ReadWrite           // every database
	AllowList           // only the databases in Member.WriteDatabases
)

// OnUnavailable says what an unavailable backend does to a listing that spans backends.
type OnUnavailable int

const (
	// Fail fails the whole listing with an error naming the backend.
	Fail OnUnavailable = iota
	// Omit leaves the backend's entries out; the omission is logged, counted and reported.
	Omit
)

// Patterns allow and deny names with Hive listing patterns ('*' wildcard, '|' alternatives).
// An empty Allow allows everything; Deny wins over Allow.
type Patterns struct {
	Allow []string
	Deny  []string
}

func (p Patterns) permits(name string) bool {
	for _, d := range p.Deny {
		if hivename.MatchPattern(d, name) {
			return false
		}
	}
	if len(p.Allow) == 0 {
		return true
	}
	for _, a := range p.Allow {
		if hivename.MatchPattern(a, name) {
			return true
		}
	}
	return false
}

// Member is one backend with its routing rules.
type Member struct {
	Name    string
	Backend hms.Backend
	// Prefix is prepended to the backend's database names ("legacy_" exposes sales as
	// legacy_sales). The primary usually has none.
	Prefix string
	// Mapping maps exposed database names to the backend's own, explicitly; it wins over Prefix.
	Mapping map[string]string
	// Databases filters the backend's own database names; Tables filters "db.table" names
	// (backend-side names).
	Databases, Tables Patterns
	Write             WriteMode
	WriteDatabases    []string // backend-side names, for AllowList
	OnUnavailable     OnUnavailable
	// ListTimeout bounds this backend's share of a fanned-out listing.
	ListTimeout time.Duration

	reverse map[string]string // backend name -> exposed name, from Mapping
	breaker *breaker
	primary bool
}

func (m *Member) init(b BreakerConfig) error {
	m.reverse = make(map[string]string, len(m.Mapping))
	for exposed, own := range m.Mapping {
		exposed, own = strings.ToLower(exposed), strings.ToLower(own)
		if prev, dup := m.reverse[own]; dup {
			return fmt.Errorf("backend %s: database %s is mapped twice (as %s and %s)", m.Name, own, prev, exposed)
		}
		m.reverse[own] = exposed
	}
	lower := make(map[string]string, len(m.Mapping))
	for exposed, own := range m.Mapping {
		lower[strings.ToLower(exposed)] = strings.ToLower(own)
	}
	m.Mapping = lower
	if m.ListTimeout <= 0 {
		m.ListTimeout = 10 * time.Second
	}
	m.breaker = newBreaker(b)
	return nil
}

// expose returns the exposed name of one of the backend's databases, or false when the
// routing rules hide it.
func (m *Member) expose(own string) (string, bool) {
	if !m.Databases.permits(own) {
		return "", false
	}
	if e, ok := m.reverse[own]; ok {
		return e, true
	}
	if m.Prefix == "" && !m.primary {
		// A secondary without a prefix exposes only what it maps explicitly.
		return "", false
	}
	return m.Prefix + own, true
}

func (m *Member) tableVisible(own, table string) bool {
	return m.Tables.permits(own + "." + table)
}

func (m *Member) checkWrite(own string) error {
	switch m.Write {
	case ReadWrite:
		return nil
	case AllowList:
		for _, d := range m.WriteDatabases {
			if hivename.MatchPattern(d, own) {
				return nil
			}
		}
		return errs.Denied("backend %s accepts no writes to database %s through Propolis", m.Name, own)
	default:
		return errs.Denied("backend %s is read-only through Propolis", m.Name)
	}
}
