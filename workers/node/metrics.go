package node

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/propolis/propolis/workers/scan"
)

// Metrics are a node's own: queries held, queries rejected (by stage), memory in use across
// queries; the scan's bytes, rows, batches and stage times ride along. A nil *Metrics records
// nothing.
type Metrics struct {
	rejectedQ *prometheus.CounterVec
	held      prometheus.Gauge
	Scan      *scan.Prom
}

// NewMetrics registers a node's metrics on reg. memInUse reports the bytes queries hold.
func NewMetrics(reg prometheus.Registerer, memInUse func() float64) (*Metrics, error) {
	m := &Metrics{
		rejectedQ: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "propolis_worker_rejected_queries_total",
			Help: "Queries refused, by stage: token (invalid, expired, tampered), plan (refused by the server), compile, budget (over the query's memory budget), busy (the worker's memory cap reached), storage.",
		}, []string{"stage"}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "propolis_worker_queries",
			Help: "Queries (tokens) this worker holds compiled.",
		}),
		Scan: scan.NewProm(),
	}
	mem := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "propolis_worker_memory_in_use_bytes",
		Help: "Bytes allocated by queries against their memory budgets.",
	}, memInUse)
	for _, c := range []prometheus.Collector{m.rejectedQ, m.held, mem, m.Scan} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) rejected(stage string) {
	if m != nil {
		m.rejectedQ.WithLabelValues(stage).Inc()
	}
}

func (m *Metrics) queries(n int) {
	if m != nil {
		m.held.Set(float64(n))
	}
}

func (m *Metrics) scan() scan.Metrics {
	if m == nil || m.Scan == nil {
		return nil
	}
	return m.Scan
}

// MemoryInUse is the bytes every held query has allocated.
func (n *Node) MemoryInUse() float64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	var total int64
	for _, q := range n.queries {
		total += q.budget.Used()
	}
	return float64(total)
}
