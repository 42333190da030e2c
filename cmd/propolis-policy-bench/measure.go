package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/propolis/propolis/internal/benchreport"
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

type (
	measurement = benchreport.Measurement
	sample      = benchreport.Sample
)

// slice runs op on `clients` connections for warmup (not counted) then d. Connections are
// opened (and set_ugi sent) before the clock starts. A connection goes on past the end until
// it has made one measured call: a slow listing under load may take longer than a slice.
func slice(ctx context.Context, addr string, op operation, clients int, warmup, d time.Duration, seed uint64) sample {
	conns := make([]*client, clients)
	for i := range conns {
		c, err := dial(addr, benchUser, benchGroups)
		if err != nil {
			return sample{Err: fmt.Sprintf("connect: %v", err)}
		}
		defer c.Close()
		conns[i] = c
	}
	win := benchreport.Window{Warmup: warmup, Duration: d, Seed: seed, AtLeastOne: true}
	return benchreport.Run(ctx, clients, win, func(ctx context.Context, w, _ int, rng *rand.Rand) error {
		return op.call(ctx, conns[w], rng)
	})
}

type opResult struct {
	op      operation
	clients int
	m       [2]measurement // policy off, policy on
}

// ratio is policy-on throughput over policy-off throughput: 1 means no overhead.
func (r opResult) ratio() float64 {
	if r.m[0].Rate == 0 {
		return 0
	}
	return r.m[1].Rate / r.m[0].Rate
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
