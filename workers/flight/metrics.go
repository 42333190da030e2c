package flight

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's collectors; they exist (unregistered) when no registry is given,
// so the serving code never checks for nil.
type metrics struct {
	rows, batches, bytesOut prometheus.Counter
	active                  prometheus.Gauge
	rejected                *prometheus.CounterVec
	calls                   *prometheus.CounterVec
	streamSeconds           prometheus.Histogram
	firstBatchSeconds       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "propolis_flight_rows_total", Help: "Rows streamed by DoGet.",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "propolis_flight_batches_total", Help: "Record batches streamed by DoGet.",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "propolis_flight_bytes_out_total", Help: "Arrow IPC bytes (headers and bodies) sent by DoGet.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "propolis_flight_active_streams", Help: "DoGet streams in progress.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "propolis_flight_rejected_calls_total", Help: "Calls refused before or while serving, by gRPC code.",
		}, []string{"code"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "propolis_flight_calls_total", Help: "Flight calls by method and gRPC code.",
		}, []string{"method", "code"}),
		streamSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "propolis_flight_stream_seconds", Help: "Duration of DoGet streams, opening the ticket included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		firstBatchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "propolis_flight_first_batch_seconds", Help: "Time from a DoGet call to its first record batch (opening, reading and transforming the first rows).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.rows, m.batches, m.bytesOut, m.active, m.rejected, m.calls, m.streamSeconds, m.firstBatchSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
