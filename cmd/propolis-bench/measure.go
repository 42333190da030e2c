package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/propolis/propolis/internal/benchreport"
)

type (
	measurement = benchreport.Measurement
	sample      = benchreport.Sample
)

type opResult struct {
	op, detail string
	clients    int
	m          [2]measurement // Propolis, Hive Metastore
}

// ratio is Propolis's throughput over the Hive Metastore's: > 1 means Propolis is faster.
func (r opResult) ratio() float64 {
	if r.m[1].OpsPerSec() == 0 {
		return 0
	}
	return r.m[0].OpsPerSec() / r.m[1].OpsPerSec()
}

// measure runs op on `clients` connections (one goroutine each, calls back to back): warm-up
// first, unmeasured, then `duration` measured. Every connection is opened before the clock
// starts.
func measure(ctx context.Context, addr string, op operation, clients int, warmup, duration time.Duration) measurement {
	return measureRaw(ctx, addr, op, clients, warmup, duration).Summary()
}

func measureRaw(ctx context.Context, addr string, op operation, clients int, warmup, duration time.Duration) sample {
	conns := make([]*client, clients)
	for i := range conns {
		c, err := dial(addr)
		if err != nil {
			return sample{Err: fmt.Sprintf("connect: %v", err)}
		}
		defer c.Close()
		conns[i] = c
	}
	win := benchreport.Window{Warmup: warmup, Duration: duration, Seed: uint64(time.Now().UnixNano())}
	return benchreport.Run(ctx, clients, win, func(ctx context.Context, w, seq int, rng *rand.Rand) error {
		return op.call(ctx, conns[w], w, seq, rng)
	})
}
