package hms

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/propolis/propolis/internal/errs"
	pthrift "github.com/propolis/propolis/thrift"
)

// Metrics counts and times every metastore call.
type Metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the call metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "propolis_thrift_calls_total",
			Help: "Metastore calls by Thrift method and outcome (ok, or the error kind).",
		}, []string{"method", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "propolis_thrift_call_duration_seconds",
			Help:    "Metastore call latency by Thrift method.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method"}),
	}
	reg.MustRegister(m.calls, m.duration)
	return m
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	switch errs.KindOf(err) {
	case errs.KindNotFound:
		return "not_found"
	case errs.KindExists:
		return "exists"
	case errs.KindDenied:
		return "denied"
	case errs.KindInvalid:
		return "invalid"
	case errs.KindConflict:
		return "conflict"
	case errs.KindUnavailable:
		return "unavailable"
	case errs.KindUnsupported:
		return "unsupported"
	}
	return "error"
}

// Interceptor records the call's count, outcome and latency.
func (m *Metrics) Interceptor() Interceptor {
	return func(ctx context.Context, meth *Method, next func(context.Context) error) error {
		start := time.Now()
		err := next(ctx)
		m.duration.WithLabelValues(meth.Name).Observe(time.Since(start).Seconds())
		m.calls.WithLabelValues(meth.Name, outcome(err)).Inc()
		return err
	}
}

// LogInterceptor logs every call at debug level, and failures other than a client's ordinary
// misses (not found, exists) at info, with the caller's identity.
func LogInterceptor(log *slog.Logger) Interceptor {
	return func(ctx context.Context, meth *Method, next func(context.Context) error) error {
		start := time.Now()
		err := next(ctx)
		level := slog.LevelDebug
		switch errs.KindOf(err) {
		case errs.KindNotFound, errs.KindExists:
		case errs.KindUnknown, errs.KindUnavailable:
			if err != nil {
				level = slog.LevelWarn
			}
		default:
			level = slog.LevelInfo
		}
		if !log.Enabled(ctx, level) {
			return err
		}
		attrs := []slog.Attr{slog.String("method", meth.Name), slog.Duration("took", time.Since(start))}
		if s := pthrift.SessionFrom(ctx); s != nil {
			id := s.Identity()
			attrs = append(attrs, slog.Uint64("conn", s.ID), slog.String("user", id.User))
		}
		if err != nil {
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		log.LogAttrs(ctx, level, "metastore call", attrs...)
		return err
	}
}

// ThriftObserver counts connections for the thrift server.
type ThriftObserver struct {
	open     *prometheus.GaugeVec
	rejected *prometheus.CounterVec
}

// NewThriftObserver registers connection metrics with reg.
func NewThriftObserver(reg prometheus.Registerer) *ThriftObserver {
	o := &ThriftObserver{
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "propolis_thrift_connections",
			Help: "Open client connections by transport.",
		}, []string{"transport"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "propolis_thrift_connections_rejected_total",
			Help: "Connections refused, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(o.open, o.rejected)
	return o
}

func (o *ThriftObserver) ConnOpened(t string)   { o.open.WithLabelValues(t).Inc() }
func (o *ThriftObserver) ConnClosed(t string)   { o.open.WithLabelValues(t).Dec() }
func (o *ThriftObserver) ConnRejected(r string) { o.rejected.WithLabelValues(r).Inc() }

var _ pthrift.Observer = (*ThriftObserver)(nil)
