package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

// Router routes every Backend call to the member that owns the database named in it.
type Router struct {
	members []*Member
	primary *Member
	log     *slog.Logger

	omissions *prometheus.CounterVec
	failures  *prometheus.CounterVec

	mu     sync.Mutex
	status map[string]*memberStatus
}

var _ hms.Backend = (*Router)(nil)

// lock ids carry the index of the member that issued them in their low bits, so check_lock,
// unlock and heartbeat find their way back without shared state.
const (
	lockIDBits = 8
	maxMembers = 1 << lockIDBits
)

// New validates the members and returns their router. reg may be nil.
func New(members []*Member, primary string, bc BreakerConfig, log *slog.Logger, reg prometheus.Registerer) (*Router, error) {
	if len(members) == 0 {
		return nil, errs.Invalid("federation: no backends")
	}
	if len(members) > maxMembers {
		return nil, errs.Invalid("federation: at most %d backends", maxMembers)
	}
	r := &Router{members: members, log: log, status: map[string]*memberStatus{}}
	exposed := map[string]string{}
	for _, m := range members {
		if m.Name == "" || m.Backend == nil {
			return nil, errs.Invalid("federation: a backend needs a name and an implementation")
		}
		if _, dup := r.status[m.Name]; dup {
			return nil, errs.Invalid("federation: backend name %s used twice", m.Name)
		}
		m.Prefix = strings.ToLower(m.Prefix)
		if err := m.init(bc); err != nil {
			return nil, errs.Invalid("federation: %w", err)
		}
		for e := range m.Mapping {
			if other, dup := exposed[e]; dup {
				return nil, errs.Invalid("federation: database name %s is mapped by both %s and %s", e, other, m.Name)
			}
			exposed[e] = m.Name
		}
		r.status[m.Name] = &memberStatus{}
		if m.Name == primary {
			r.primary = m
			m.primary = true
		}
	}
	if r.primary == nil {
		return nil, errs.Invalid("federation: primary backend %q is not among the backends", primary)
	}
	for _, m := range members {
		if m != r.primary && m.Prefix == "" && len(m.Mapping) == 0 {
			return nil, errs.Invalid("federation: backend %s needs a prefix or a mapping: only the primary (%s) serves unqualified names", m.Name, r.primary.Name)
		}
	}
	r.omissions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "propolis_federation_omissions_total",
		Help: "Listings that left out an unavailable backend (its on_unavailable rule is omit).",
	}, []string{"backend"})
	r.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "propolis_federation_unavailable_total",
		Help: "Calls that found a backend unavailable (including fast failures of an open circuit).",
	}, []string{"backend"})
	if reg != nil {
		reg.MustRegister(r.omissions, r.failures)
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "propolis_federation_open_circuits",
			Help: "Backends whose circuit breaker is open.",
		}, func() float64 {
			n := 0
			for _, m := range r.members {
				if m.breaker.isOpen() {
					n++
				}
			}
			return float64(n)
		}))
	}
	return r, nil
}

// --- resolution ---

// resolve maps an exposed database name to its member and the member's own name. A name the
// routing rules hide is NotFound, exactly like a name that does not exist.
func (r *Router) resolve(db string) (*Member, string, error) {
	db = strings.ToLower(db)
	for _, m := range r.members {
		if own, ok := m.Mapping[db]; ok {
			if !m.Databases.permits(own) {
				return nil, "", hms.DatabaseNotFound(db)
			}
			return m, own, nil
		}
	}
	var best *Member
	for _, m := range r.members {
		if m.Prefix != "" && len(db) > len(m.Prefix) && strings.HasPrefix(db, m.Prefix) &&
			(best == nil || len(m.Prefix) > len(best.Prefix)) {
			best = m
		}
	}
	if best == nil {
		best = r.primary
		if best.Prefix != "" {
			return nil, "", hms.DatabaseNotFound(db)
		}
	}
	own := strings.TrimPrefix(db, best.Prefix)
	if e, ok := best.reverse[own]; ok && e != db {
		// An explicitly mapped database is reachable under its mapped name only.
		return nil, "", hms.DatabaseNotFound(db)
	}
	if !best.Databases.permits(own) {
		return nil, "", hms.DatabaseNotFound(db)
	}
	return best, own, nil
}

// resolveTable is resolve plus the member's table filter.
func (r *Router) resolveTable(db, table string) (*Member, string, error) {
	m, own, err := r.resolve(db)
	if err != nil {
		return nil, "", err
	}
	if !m.tableVisible(own, strings.ToLower(table)) {
		return nil, "", hms.TableNotFound(strings.ToLower(db), strings.ToLower(table))
	}
	return m, own, nil
}

// --- calling a member ---

type memberStatus struct {
	lastErr     string
	lastErrAt   time.Time
	omissions   int64
	lastOmitted time.Time
}

// MemberStatus is what the health endpoint reports per backend.
type MemberStatus struct {
	Name        string    `json:"name"`
	Primary     bool      `json:"primary"`
	CircuitOpen bool      `json:"circuit_open"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Omissions   int64     `json:"omissions"`
	LastOmitted time.Time `json:"last_omitted,omitzero"`
}

// Status reports every member's health as last seen by calls.
func (r *Router) Status() []MemberStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]MemberStatus, 0, len(r.members))
	for _, m := range r.members {
		s := r.status[m.Name]
		out = append(out, MemberStatus{
			Name: m.Name, Primary: m == r.primary, CircuitOpen: m.breaker.isOpen(),
			LastError: s.lastErr, LastErrorAt: s.lastErrAt, Omissions: s.omissions, LastOmitted: s.lastOmitted,
		})
	}
	return out
}

// call runs fn against m through its circuit breaker. Deadline and cancellation errors that
// escape a backend are unavailability too: a slow backend must never look like a missing object.
func (r *Router) call(ctx context.Context, m *Member, fn func(context.Context) error) error {
	if !m.breaker.allow() {
		err := errs.Unavailable("backend %s is unavailable: failing fast after repeated failures (circuit open)", m.Name)
		r.noteFailure(m, err)
		return err
	}
	err := fn(ctx)
	if err != nil && errs.KindOf(err) == errs.KindUnknown &&
		(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		err = errs.Unavailable("backend %s did not answer in time: %w", m.Name, err)
	}
	m.breaker.record(err)
	if errs.KindOf(err) == errs.KindUnavailable {
		r.noteFailure(m, err)
	}
	return err
}

func (r *Router) noteFailure(m *Member, err error) {
	r.failures.WithLabelValues(m.Name).Inc()
	r.mu.Lock()
	s := r.status[m.Name]
	s.lastErr, s.lastErrAt = err.Error(), time.Now()
	r.mu.Unlock()
}

// fanOut runs fn on every member in parallel, each within its ListTimeout, and applies the
// members' failure rules: an unavailable member with Omit is left out (logged, counted,
// reported); any other failure fails the call, naming the member.
func (r *Router) fanOut(ctx context.Context, what string, fn func(ctx context.Context, m *Member) error) error {
	errc := make([]error, len(r.members))
	var wg sync.WaitGroup
	for i, m := range r.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, m.ListTimeout)
			defer cancel()
			errc[i] = r.call(cctx, m, func(ctx context.Context) error { return fn(ctx, m) })
		}()
	}
	wg.Wait()
	var failed []error
	for i, err := range errc {
		if err == nil {
			continue
		}
		m := r.members[i]
		if errs.KindOf(err) == errs.KindUnavailable && m.OnUnavailable == Omit {
			r.omissions.WithLabelValues(m.Name).Inc()
			r.mu.Lock()
			s := r.status[m.Name]
			s.omissions++
			s.lastOmitted = time.Now()
			r.mu.Unlock()
			r.log.Warn("listing omits an unavailable backend", "what", what, "backend", m.Name, "err", err)
			continue
		}
		failed = append(failed, fmt.Errorf("%s: backend %s: %w", what, m.Name, err))
	}
	if len(failed) == 1 {
		return failed[0]
	}
	if len(failed) > 1 {
		return errs.Unavailable("%s: %d backends failed: %w", what, len(failed), errors.Join(failed...))
	}
	return nil
}

func (r *Router) memberIndex(m *Member) int64 {
	for i, x := range r.members {
		if x == m {
			return int64(i)
		}
	}
	panic("federation: member not in router")
}
