package benchreport

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Sample is the raw figures of one measurement of a call; samples of the same thing (slices
// of one measurement, made at different times) add up.
//
// Throughput is measured per worker (one connection each), as its measured calls over the
// time from its first measured call's start to its last one's end, and summed over the
// workers. Dividing every call by the time from the window's start to the last call's end
// instead would charge each slow call that straddles the window's end a whole call's time for
// nothing, underestimating a server whose calls take a sizeable part of the window (a Hive
// Metastore's second-long listings).
type Sample struct {
	Lat     []time.Duration // every measured call's latency
	Elapsed time.Duration   // from the window's start to the last call's end
	Calls   []int           // measured calls, per worker
	Spans   []time.Duration // per worker
	Err     string          // the first error; a worker stops at its first
}

// Add adds o's figures to s.
func (s *Sample) Add(o Sample) {
	s.Lat = append(s.Lat, o.Lat...)
	s.Elapsed += o.Elapsed
	for len(s.Calls) < len(o.Calls) {
		s.Calls, s.Spans = append(s.Calls, 0), append(s.Spans, 0)
	}
	for i := range o.Calls {
		s.Calls[i] += o.Calls[i]
		s.Spans[i] += o.Spans[i]
	}
	if s.Err == "" {
		s.Err = o.Err
	}
}

// Measurement is a Sample summed up.
type Measurement struct {
	Ops      int
	Elapsed  time.Duration
	Rate     float64 // calls per second, summed over the workers (see Sample)
	P50, P99 time.Duration
	Err      string
}

// OpsPerSec is Rate, or for a sample without per-worker spans, calls over the elapsed time.
func (m Measurement) OpsPerSec() float64 {
	if m.Rate > 0 {
		return m.Rate
	}
	if m.Elapsed <= 0 {
		return 0
	}
	return float64(m.Ops) / m.Elapsed.Seconds()
}

// Summary sums s up: rate per worker, summed, and the latencies' median and 99th percentile.
func (s Sample) Summary() Measurement {
	m := Measurement{Ops: len(s.Lat), Elapsed: s.Elapsed, Err: s.Err}
	for i := range s.Calls {
		if s.Calls[i] > 0 && s.Spans[i] > 0 {
			m.Rate += float64(s.Calls[i]) / s.Spans[i].Seconds()
		}
	}
	if len(s.Lat) > 0 {
		lat := slices.Clone(s.Lat)
		slices.Sort(lat)
		m.P50 = lat[len(lat)*50/100]
		m.P99 = lat[min(len(lat)*99/100, len(lat)-1)]
	}
	return m
}

// Window is when Run measures.
type Window struct {
	Warmup   time.Duration // calls that start in it are made but not counted
	Duration time.Duration // calls that start in it are counted, even if they end after it
	Seed     uint64        // worker w's random source is PCG(Seed, w)
	// AtLeastOne keeps a worker calling past the window's end until it has made one measured
	// call (a slow listing under load may take longer than a window), for at most ten more
	// windows.
	AtLeastOne bool
}

// Run makes calls back to back on `workers` goroutines for the window and returns their
// figures. Anything a call needs (a connection per worker) is made before Run, so that the
// clock starts with the calls.
func Run(ctx context.Context, workers int, win Window, call func(ctx context.Context, worker, seq int, rng *rand.Rand) error) Sample {
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr string
		lat      []time.Duration
	)
	calls := make([]int, workers)
	spans := make([]time.Duration, workers)
	from := time.Now().Add(win.Warmup)
	end := from.Add(win.Duration)
	hardEnd := end
	if win.AtLeastOne {
		hardEnd = end.Add(10 * win.Duration)
	}
	for w := range workers {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(win.Seed, uint64(w)))
			local := make([]time.Duration, 0, 1024)
			var first, last time.Time
			for seq := 0; ; seq++ {
				t0 := time.Now()
				if ctx.Err() != nil || t0.After(end) && (len(local) > 0 || t0.After(hardEnd)) {
					break
				}
				err := call(ctx, w, seq, rng)
				t1 := time.Now()
				if err != nil {
					mu.Lock()
					if firstErr == "" {
						firstErr = err.Error()
					}
					mu.Unlock()
					break
				}
				if !t0.Before(from) {
					local = append(local, t1.Sub(t0))
					if first.IsZero() {
						first = t0
					}
					last = t1
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			calls[w], spans[w] = len(local), last.Sub(first)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	return Sample{Lat: lat, Elapsed: time.Since(from), Calls: calls, Spans: spans, Err: firstErr}
}
