package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/propolis/propolis/config"
	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/cache"
	"github.com/propolis/propolis/hms/federation"
	"github.com/propolis/propolis/hms/upstream"
)

// closer is what a backend may need to release at shutdown.
type closer interface{ Close() error }

// buildFederation wraps the embedded store and every configured backend in the router.
func buildFederation(ctx context.Context, cfg config.Federation, warehouse string, embedded hms.Backend, log *slog.Logger, reg prometheus.Registerer) (*federation.Router, []closer, error) {
	members := []*federation.Member{member(config.EmbeddedName, embedded, cfg.Embedded)}
	var closers []closer
	for _, b := range cfg.Backends {
		be, c, err := openBackend(ctx, b, warehouse, log.With("backend", b.Name))
		if err != nil {
			for _, c := range closers {
				c.Close()
			}
			return nil, nil, fmt.Errorf("backend %s: %w", b.Name, err)
		}
		// The cache sits in front of the backend, in its own names, and closes first.
		cached := cache.New(be, cache.Config{
			Name:         b.Name,
			MaxBytes:     b.Cache.MaxBytes,
			TTL:          b.Cache.TTL,
			PollInterval: b.Cache.PollInterval,
			PerUser:      b.Cache.PerUser || b.HMS.Impersonate,
			Disabled:     b.Cache.Disabled,
		}, log.With("backend", b.Name, "component", "cache"), reg)
		closers = append(closers, cached, c)
		members = append(members, member(b.Name, cached, b.Routing))
	}
	r, err := federation.New(members, cfg.Primary, federation.BreakerConfig{
		Failures: cfg.Breaker.Failures, Cooldown: cfg.Breaker.Cooldown,
	}, log.With("component", "federation"), reg)
	if err != nil {
		for _, c := range closers {
			c.Close()
		}
		return nil, nil, err
	}
	return r, closers, nil
}

func openBackend(ctx context.Context, b config.Backend, warehouse string, log *slog.Logger) (hms.Backend, closer, error) {
	switch b.Type {
	case "hms":
		c, err := upstream.New(upstream.Config{
			Name:           b.Name,
			Address:        b.HMS.Address,
			Framed:         b.HMS.Framed,
			ConnectTimeout: b.HMS.ConnectTimeout,
			CallTimeout:    b.HMS.CallTimeout,
			MaxConns:       b.HMS.MaxConnections,
			Impersonate:    b.HMS.Impersonate,
		}, log)
		if err != nil {
			return nil, nil, err
		}
		return c, c, nil
	case "glue":
		return openGlue(ctx, b, warehouse, log)
	}
	return nil, nil, errors.New("unknown backend type " + b.Type)
}

func member(name string, b hms.Backend, r config.Routing) *federation.Member {
	m := &federation.Member{
		Name:           name,
		Backend:        b,
		Prefix:         r.Prefix,
		Mapping:        r.Mapping,
		Databases:      federation.Patterns{Allow: r.Databases.Allow, Deny: r.Databases.Deny},
		Tables:         federation.Patterns{Allow: r.Tables.Allow, Deny: r.Tables.Deny},
		WriteDatabases: r.WriteDatabases,
		ListTimeout:    r.ListTimeout,
	}
	switch r.Write {
	case "read-write":
		m.Write = federation.ReadWrite
	case "allow-list":
		m.Write = federation.AllowList
	default:
		m.Write = federation.ReadOnly
	}
	if r.OnUnavailable == "omit" {
		m.OnUnavailable = federation.Omit
	}
	return m
}
