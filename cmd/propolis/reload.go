package main

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/propolis/propolis/config"
	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/federation"
)

// federationLive is the reloadable part of a running server: the router, its backends and
// their caches. A reload builds a complete new generation beside the old one and swaps it in;
// open client connections keep going, calls in flight finish on the old generation, which is
// closed after a grace period. A reload that fails leaves the running generation untouched.
type federationLive struct {
	store   hms.Backend
	handler *hms.Handler
	log     *slog.Logger
	load    func() (*config.Config, error)
	started *config.Config
	grace   time.Duration

	mu      sync.Mutex // serializes reloads
	router  atomic.Pointer[federation.Router]
	closers []closer
	metrics generationGatherer
}

// generationGatherer serves the metrics of the current generation: each generation registers
// its collectors in a fresh registry, so a reload never collides with the old names.
type generationGatherer struct {
	p atomic.Pointer[prometheus.Registry]
}

func (g *generationGatherer) Gather() ([]*dto.MetricFamily, error) {
	if r := g.p.Load(); r != nil {
		return r.Gather()
	}
	return nil, nil
}

func (l *federationLive) build(ctx context.Context, cfg *config.Config) (*federation.Router, error) {
	reg := prometheus.NewRegistry()
	router, closers, err := buildFederation(ctx, cfg.Federation, cfg.Warehouse, l.store, l.log, reg)
	if err != nil {
		return nil, err
	}
	l.router.Store(router)
	l.metrics.p.Store(reg)
	old := l.closers
	l.closers = closers
	if len(old) > 0 {
		go func() {
			time.Sleep(l.grace)
			for _, c := range old {
				c.Close()
			}
		}()
	}
	return router, nil
}

// Reload re-reads the configuration and swaps in a new federation generation.
func (l *federationLive) Reload(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	cfg, err := l.load()
	if err != nil {
		return fmt.Errorf("reload: configuration rejected, still serving the previous one: %w", err)
	}
	for _, f := range restartOnly(l.started, cfg) {
		l.log.Warn("reload: this setting changes only on restart", "field", f)
	}
	router, err := l.build(ctx, cfg)
	if err != nil {
		return fmt.Errorf("reload: still serving the previous federation: %w", err)
	}
	l.handler.SetBackend(router)
	l.log.Info("configuration reloaded", "backends", len(cfg.Federation.Backends), "primary", cfg.Federation.Primary)
	return nil
}

// restartOnly names the settings that differ but cannot change while serving.
func restartOnly(a, b *config.Config) []string {
	var out []string
	for _, f := range []struct {
		name string
		x, y any
	}{
		{"listen", a.Listen, b.Listen},
		{"data_dir", a.DataDir, b.DataDir},
		{"warehouse", a.Warehouse, b.Warehouse},
		{"store", a.Store, b.Store},
		{"thrift", a.Thrift, b.Thrift},
		{"admin", a.Admin, b.Admin},
		{"log", a.Log, b.Log},
		{"locks", a.Locks, b.Locks},
		{"metastore", a.Metastore, b.Metastore},
	} {
		if !reflect.DeepEqual(f.x, f.y) {
			out = append(out, f.name)
		}
	}
	return out
}

func (l *federationLive) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.closers {
		c.Close()
	}
	l.closers = nil
}
