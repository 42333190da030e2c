package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// operation is one measured call, made as the restricted user.
type operation struct {
	name   string
	detail string
	// scale multiplies the measured time: listings take hundreds of milliseconds a call, so
	// they get longer slices to make enough calls.
	scale int
	call  func(ctx context.Context, c *client, rng *rand.Rand) error
}

func operations(n int) []operation {
	return []operation{
		{
			name:   "get_table (restricted)",
			detail: "`get_table(sales, customers)`: policy on, a Trino view with email hashed, phone showing its last 4 digits and `region IN ('EU')` (decision + rewrite); policy off, the raw table",
			call: func(ctx context.Context, c *client, _ *rand.Rand) error {
				t, err := c.GetTable(ctx, salesDB, "customers")
				if err == nil && t == nil {
					err = fmt.Errorf("no table")
				}
				return err
			},
		},
		{
			name:   "get_table (unrestricted)",
			detail: "`get_table(big, pub_NNNNN)`, a random table alice reads raw: the decision alone, no rewrite",
			call: func(ctx context.Context, c *client, rng *rand.Rand) error {
				_, err := c.GetTable(ctx, bigDB, bigTable(2*rng.IntN((n+1)/2)))
				return err
			},
		},
		{
			name:   fmt.Sprintf("get_all_tables (%s)", short(n)),
			scale:  2,
			detail: fmt.Sprintf("`get_all_tables(big)`: %d tables; policy on, alice may see half of them", n),
			call: func(ctx context.Context, c *client, _ *rand.Rand) error {
				names, err := c.GetAllTables(ctx, bigDB)
				if err == nil && len(names) == 0 {
					err = fmt.Errorf("empty listing")
				}
				return err
			},
		},
		{
			name:   "get_table_meta",
			scale:  2,
			detail: "`get_table_meta(\"*\", \"*\", [])`: every database (big, sales, the department databases) and every table alice may see",
			call: func(ctx context.Context, c *client, _ *rand.Rand) error {
				m, err := c.GetTableMeta(ctx, "*", "*", nil)
				if err == nil && len(m) == 0 {
					err = fmt.Errorf("empty listing")
				}
				return err
			},
		},
	}
}

// sample is one server's raw figures for one operation and concurrency, added up over slices.
//
// Throughput is per connection: its measured calls over the time from its first measured
// call's start to its last one's end, summed over slices, then summed over the connections.
type sample struct {
	lat   []time.Duration
	calls []int
	spans []time.Duration
	err   string
}

func (s *sample) add(o sample) {
	s.lat = append(s.lat, o.lat...)
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

type measurement struct {
	ops      int
	rate     float64
	p50, p99 time.Duration
	err      string
}

func (s sample) summary() measurement {
	m := measurement{ops: len(s.lat), err: s.err}
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

// slice runs op on `clients` connections for warmup (not counted) then d. Connections are
// opened (and set_ugi sent) before the clock starts.
func slice(ctx context.Context, addr string, op operation, clients int, warmup, d time.Duration, seed uint64) sample {
	conns := make([]*client, clients)
	for i := range conns {
		c, err := dial(addr, benchUser, benchGroups)
		if err != nil {
			return sample{err: fmt.Sprintf("connect: %v", err)}
		}
		defer c.Close()
		conns[i] = c
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr string
		lat      []time.Duration
	)
	calls := make([]int, clients)
	spans := make([]time.Duration, clients)
	start := time.Now()
	from := start.Add(warmup)
	end := from.Add(d)
	hardEnd := end.Add(10 * d)
	for w := range conns {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			local := make([]time.Duration, 0, 1024)
			var first, last time.Time
			for {
				t0 := time.Now()
				// A connection goes on past the end until it has made one measured call (a
				// slow listing under load may take longer than a slice), up to hardEnd.
				if ctx.Err() != nil || t0.After(end) && (len(local) > 0 || t0.After(hardEnd)) {
					break
				}
				err := op.call(ctx, conns[w], rng)
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
	return sample{lat: lat, calls: calls, spans: spans, err: firstErr}
}

type opResult struct {
	op      operation
	clients int
	m       [2]measurement // policy off, policy on
}

// ratio is policy-on throughput over policy-off throughput: 1 means no overhead.
func (r opResult) ratio() float64 {
	if r.m[0].rate == 0 {
		return 0
	}
	return r.m[1].rate / r.m[0].rate
}

func fmtRate(r float64) string {
	switch {
	case r <= 0:
		return "-"
	case r < 10:
		return fmt.Sprintf("%.1f", r)
	default:
		return fmt.Sprintf("%.0f", r)
	}
}

// short is 10000 as "10k".
func short(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
