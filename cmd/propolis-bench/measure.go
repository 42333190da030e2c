package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

type measurement struct {
	ops      int
	elapsed  time.Duration
	rate     float64 // calls per second, summed over the connections (see sample)
	p50, p99 time.Duration
	err      string
}

func (m measurement) opsPerSec() float64 {
	if m.rate > 0 {
		return m.rate
	}
	if m.elapsed <= 0 {
		return 0
	}
	return float64(m.ops) / m.elapsed.Seconds()
}

type opResult struct {
	op, detail string
	clients    int
	m          [2]measurement // Propolis, Hive Metastore
}

// ratio is Propolis's throughput over the Hive Metastore's: > 1 means Propolis is faster.
func (r opResult) ratio() float64 {
	if r.m[1].opsPerSec() == 0 {
		return 0
	}
	return r.m[0].opsPerSec() / r.m[1].opsPerSec()
}

// measure runs op on `clients` connections (one goroutine each, calls back to back): warm-up
// first, unmeasured, then `duration` measured. Every connection is opened before the clock
// starts.
func measure(ctx context.Context, addr string, op operation, clients int, warmup, duration time.Duration) measurement {
	return measureRaw(ctx, addr, op, clients, warmup, duration).summary()
}

// sample is one measurement's raw figures; samples of the same thing add up.
//
// Throughput is measured per connection, as its measured calls over the time from the first
// one's start to the last one's end, and summed over the connections. Dividing every call by
// the time from the window's start to the last call's end instead would charge each slow call
// that straddles the window's end a whole call's time for nothing, underestimating a server
// whose calls take a sizeable part of the window (the HMS's second-long listings).
type sample struct {
	lat     []time.Duration
	elapsed time.Duration
	calls   []int           // per connection
	spans   []time.Duration // per connection
	err     string
}

func (s *sample) add(o sample) {
	s.lat = append(s.lat, o.lat...)
	s.elapsed += o.elapsed
	for len(s.calls) < len(o.calls) {
		s.calls, s.spans = append(s.calls, 0), append(s.spans, 0)
	}
	for i := range o.calls {
		s.calls[i] += o.calls[i]
		s.spans[i] += o.spans[i]
	}
	if s.err == "" {
		s.err = o.err
	}
}

func (s sample) summary() measurement {
	m := measurement{ops: len(s.lat), elapsed: s.elapsed, err: s.err}
	for i := range s.calls {
		if s.calls[i] > 0 && s.spans[i] > 0 {
			m.rate += float64(s.calls[i]) / s.spans[i].Seconds()
		}
	}
	if len(s.lat) > 0 {
		lat := slices.Clone(s.lat)
		slices.Sort(lat)
		m.p50 = lat[len(lat)*50/100]
		m.p99 = lat[min(len(lat)*99/100, len(lat)-1)]
	}
	return m
}

func measureRaw(ctx context.Context, addr string, op operation, clients int, warmup, duration time.Duration) sample {
	conns := make([]*client, clients)
	for i := range conns {
		c, err := dial(addr)
		if err != nil {
			return sample{err: fmt.Sprintf("connect: %v", err)}
		}
		defer c.Close()
		conns[i] = c
	}
	var (
		mu       sync.Mutex
		lat      []time.Duration
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(duration)
	calls := make([]int, clients)
	spans := make([]time.Duration, clients)
	for w := range conns {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w)+1, uint64(start.UnixNano())))
			local := make([]time.Duration, 0, 4096)
			var first, last time.Time
			for seq := 0; ; seq++ {
				t0 := time.Now()
				if t0.After(end) || ctx.Err() != nil {
					break
				}
				err := op.call(ctx, conns[w], w, seq, rng)
				t1 := time.Now()
				if err != nil {
					mu.Lock()
					if firstErr == "" {
						firstErr = err.Error()
					}
					mu.Unlock()
					break
				}
				// Calls that start in the warm-up are not counted; calls that finish after the
				// end are (they were started inside the window).
				if !t0.Before(measureFrom) {
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
	// The window is from measureFrom to the last call's end (at least `duration`).
	return sample{lat: lat, elapsed: time.Since(measureFrom), calls: calls, spans: spans, err: firstErr}
}
