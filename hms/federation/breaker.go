package federation

import (
	"sync"
	"time"

	"github.com/propolis/propolis/internal/errs"
)

// BreakerConfig tunes the per-backend circuit breaker.
type BreakerConfig struct {
	// Failures is how many consecutive unavailable errors open the circuit (0 disables it).
	Failures int
	// Cooldown is how long an open circuit refuses calls before letting one probe through.
	Cooldown time.Duration
}

// breaker is closed (calls flow), open (calls fail fast) or half-open (one probe in flight).
type breaker struct {
	cfg      BreakerConfig
	now      func() time.Time
	mu       sync.Mutex
	failures int
	openedAt time.Time
	open     bool
	probing  bool
}

func newBreaker(cfg BreakerConfig) *breaker { return &breaker{cfg: cfg, now: time.Now} }

// allow reports whether a call may go to the backend now.
func (b *breaker) allow() bool {
	if b.cfg.Failures <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return true
	}
	if b.probing || b.now().Sub(b.openedAt) < b.cfg.Cooldown {
		return false
	}
	b.probing = true
	return true
}

// record notes a call's outcome. Only unavailability counts: a "not found" is a healthy answer.
func (b *breaker) record(err error) {
	if b.cfg.Failures <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if errs.KindOf(err) == errs.KindUnavailable {
		b.failures++
		if b.probing || b.failures >= b.cfg.Failures {
			b.open, b.openedAt = true, b.now()
		}
		b.probing = false
		return
	}
	b.failures, b.open, b.probing = 0, false, false
}

func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}
