package benchreport

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		workers    int
		win        Window
		callTime   time.Duration
		failAt     int // a worker's call seq that fails; -1: none
		wantErr    bool
		minCalls   int // measured calls, per worker, at least
		maxCalls   int // and at most
		atLeastOne bool
	}{
		{name: "fast calls", workers: 3, win: Window{Warmup: 20 * time.Millisecond, Duration: 100 * time.Millisecond},
			callTime: 5 * time.Millisecond, failAt: -1, minCalls: 3, maxCalls: 21},
		{name: "a call longer than the window is counted with AtLeastOne", workers: 2,
			win:      Window{Duration: 10 * time.Millisecond, AtLeastOne: true},
			callTime: 30 * time.Millisecond, failAt: -1, minCalls: 1, maxCalls: 1},
		{name: "first error stops the worker and is kept", workers: 2, win: Window{Duration: 200 * time.Millisecond},
			callTime: time.Millisecond, failAt: 3, wantErr: true, minCalls: 3, maxCalls: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var made atomic.Int64
			s := Run(t.Context(), tc.workers, tc.win, func(ctx context.Context, w, seq int, rng *rand.Rand) error {
				if rng == nil || w < 0 || w >= tc.workers {
					t.Errorf("worker %d, rng %v", w, rng)
				}
				made.Add(1)
				time.Sleep(tc.callTime)
				if seq == tc.failAt {
					return errors.New("boom")
				}
				return nil
			})
			if (s.Err != "") != tc.wantErr {
				t.Fatalf("Err %q, want error %v", s.Err, tc.wantErr)
			}
			if len(s.Calls) != tc.workers || len(s.Spans) != tc.workers {
				t.Fatalf("per worker figures: %d calls, %d spans", len(s.Calls), len(s.Spans))
			}
			total := 0
			for w, n := range s.Calls {
				if n < tc.minCalls || n > tc.maxCalls {
					t.Errorf("worker %d made %d measured calls, want %d..%d", w, n, tc.minCalls, tc.maxCalls)
				}
				total += n
			}
			if len(s.Lat) != total || int64(total) > made.Load() {
				t.Errorf("%d latencies, %d measured calls, %d made", len(s.Lat), total, made.Load())
			}
			for _, l := range s.Lat {
				if l < tc.callTime {
					t.Fatalf("latency %s below the call's %s", l, tc.callTime)
				}
			}
			m := s.Summary()
			if m.Ops != total || m.P50 < tc.callTime || m.P99 < m.P50 {
				t.Errorf("summary %+v", m)
			}
		})
	}
}

func TestSampleAddAndSummary(t *testing.T) {
	ms := time.Millisecond
	var s Sample
	s.Add(Sample{Lat: []time.Duration{1 * ms, 3 * ms}, Elapsed: 10 * ms, Calls: []int{2}, Spans: []time.Duration{4 * ms}})
	s.Add(Sample{Lat: []time.Duration{2 * ms, 2 * ms, 9 * ms}, Elapsed: 10 * ms, Calls: []int{1, 2}, Spans: []time.Duration{4 * ms, 10 * ms}, Err: "first"})
	s.Add(Sample{Err: "second"})
	m := s.Summary()
	// Worker 0: 3 calls in 8 ms; worker 1: 2 calls in 10 ms.
	if want := 3/0.008 + 2/0.010; m.Rate < want-1e-6 || m.Rate > want+1e-6 {
		t.Errorf("rate %f, want %f", m.Rate, want)
	}
	if m.Ops != 5 || m.Elapsed != 20*ms || m.P50 != 2*ms || m.P99 != 9*ms || m.Err != "first" {
		t.Errorf("summary %+v", m)
	}
	if got := (Measurement{Ops: 10, Elapsed: 2 * time.Second}).OpsPerSec(); got != 5 {
		t.Errorf("ops/s without a rate: %f", got)
	}
	if got := m.OpsPerSec(); got != m.Rate {
		t.Errorf("ops/s %f, rate %f", got, m.Rate)
	}
}
