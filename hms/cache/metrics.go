package cache

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	hits, misses  *prometheus.CounterVec
	evictions     prometheus.Counter
	invalidations *prometheus.CounterVec
	events        prometheus.Counter
	pollErrors    prometheus.Counter
	// hot-path children, resolved once
	hitBy, missBy map[string]prometheus.Counter
}

var kinds = []string{"database", "databases", "table", "tables", "partition", "partitions", "partition_names"}

// newMetrics registers the cache's metrics, labelled backend=name, so one registry holds the
// caches of several backends.
func newMetrics(name string, reg prometheus.Registerer, s *store) *metrics {
	cl := prometheus.Labels{"backend": name}
	m := &metrics{
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "propolis_cache_hits_total", Help: "Metadata cache lookups answered from the cache, by kind of object.", ConstLabels: cl,
		}, []string{"kind"}),
		misses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "propolis_cache_misses_total", Help: "Metadata cache lookups that went to the backend, by kind of object.", ConstLabels: cl,
		}, []string{"kind"}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "propolis_cache_evictions_total", Help: "Entries evicted to stay within max_bytes.", ConstLabels: cl,
		}),
		invalidations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "propolis_cache_invalidations_total", Help: "Entries dropped as stale: write (through Propolis), event (notification log), gap (log gap: whole cache), ttl.", ConstLabels: cl,
		}, []string{"reason"}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "propolis_cache_events_total", Help: "Notification log events applied.", ConstLabels: cl,
		}),
		pollErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "propolis_cache_poll_errors_total", Help: "Failed reads of the notification log.", ConstLabels: cl,
		}),
		hitBy:  map[string]prometheus.Counter{},
		missBy: map[string]prometheus.Counter{},
	}
	for _, k := range kinds {
		m.hitBy[k] = m.hits.WithLabelValues(k)
		m.missBy[k] = m.misses.WithLabelValues(k)
	}
	if reg != nil {
		reg.MustRegister(m.hits, m.misses, m.evictions, m.invalidations, m.events, m.pollErrors,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "propolis_cache_bytes", Help: "Serialized size of the cached objects (bounded by max_bytes).", ConstLabels: cl,
			}, func() float64 { n, _ := s.stats(); return float64(n) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "propolis_cache_entries", Help: "Cached entries.", ConstLabels: cl,
			}, func() float64 { _, n := s.stats(); return float64(n) }))
	}
	return m
}

func (m *metrics) hit(kind string)  { m.hitBy[kind].Inc() }
func (m *metrics) miss(kind string) { m.missBy[kind].Inc() }
