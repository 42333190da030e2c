package scan

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stage is a step of producing output batches.
type Stage string

const (
	StageRead      Stage = "read"      // reading and decoding source row groups
	StageTransform Stage = "transform" // the policy's Transform
	StageEncode    Stage = "encode"    // Parquet encoding of the output
)

// Metrics receives what a scan does. Implementations must be safe for concurrent use.
type Metrics interface {
	SourceBytes(n int64)                // bytes read from source files
	StageTime(s Stage, d time.Duration) // time spent in a stage
	Batch(rowsIn, rowsOut int64)        // one batch through the Transform
	ServedBytes(n int64)                // bytes of virtual files returned to clients
}

type nopMetrics struct{}

func (nopMetrics) SourceBytes(int64)              {}
func (nopMetrics) StageTime(Stage, time.Duration) {}
func (nopMetrics) Batch(int64, int64)             {}
func (nopMetrics) ServedBytes(int64)              {}

// Prom is Metrics as Prometheus collectors; the worker registers it on its own registry.
type Prom struct {
	sourceBytes prometheus.Counter
	servedBytes prometheus.Counter
	rowsIn      prometheus.Counter
	rowsOut     prometheus.Counter
	batches     prometheus.Counter
	copiedBytes prometheus.Counter
	stage       *prometheus.CounterVec
}

var _ prometheus.Collector = (*Prom)(nil)
var _ Metrics = (*Prom)(nil)
var _ CopyMetrics = (*Prom)(nil)

// NewProm returns the collectors, named propolis_worker_scan_*.
func NewProm() *Prom {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "propolis", Subsystem: "worker_scan", Name: name, Help: help})
	}
	return &Prom{
		sourceBytes: c("source_bytes_total", "Bytes read from source files."),
		servedBytes: c("served_bytes_total", "Bytes of virtual Parquet files served."),
		rowsIn:      c("rows_in_total", "Source rows read into the policy transform."),
		rowsOut:     c("rows_out_total", "Rows the policy transform returned."),
		batches:     c("batches_total", "Batches through the policy transform."),
		copiedBytes: c("copied_bytes_total", "Bytes of column chunks copied from source files without re-encoding."),
		stage: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "propolis", Subsystem: "worker_scan", Name: "stage_seconds_total",
			Help: "Time spent per stage (read, transform, encode).",
		}, []string{"stage"}),
	}
}

func (p *Prom) SourceBytes(n int64) { p.sourceBytes.Add(float64(n)) }
func (p *Prom) ServedBytes(n int64) { p.servedBytes.Add(float64(n)) }
func (p *Prom) CopiedBytes(n int64) { p.copiedBytes.Add(float64(n)) }
func (p *Prom) StageTime(s Stage, d time.Duration) {
	p.stage.WithLabelValues(string(s)).Add(d.Seconds())
}
func (p *Prom) Batch(in, out int64) {
	p.rowsIn.Add(float64(in))
	p.rowsOut.Add(float64(out))
	p.batches.Inc()
}

func (p *Prom) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range p.collectors() {
		c.Describe(ch)
	}
}

func (p *Prom) Collect(ch chan<- prometheus.Metric) {
	for _, c := range p.collectors() {
		c.Collect(ch)
	}
}

func (p *Prom) collectors() []prometheus.Collector {
	return []prometheus.Collector{p.sourceBytes, p.servedBytes, p.rowsIn, p.rowsOut, p.batches, p.copiedBytes, p.stage}
}
