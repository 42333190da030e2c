package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urfave/cli/v2"

	"github.com/propolis/propolis/config"
	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/embedded"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy/enforce"
	pthrift "github.com/propolis/propolis/thrift"
	wplan "github.com/propolis/propolis/workers/plan"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the Hive Metastore Thrift endpoint (embedded catalog by default)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "YAML configuration file (see config/example.yaml)"},
			&cli.StringFlag{Name: "listen", Usage: "Thrift listen address (default 127.0.0.1:9083)"},
			&cli.StringFlag{Name: "data-dir", Usage: "directory for the embedded catalog (default ./.propolis)"},
			&cli.StringFlag{Name: "warehouse", Usage: "warehouse root URI for managed tables (default file://<data-dir>/warehouse)"},
			&cli.StringFlag{Name: "admin-listen", Usage: `admin HTTP address for /metrics, /healthz, /readyz (default 127.0.0.1:9084; "" disables)`},
			&cli.StringFlag{Name: "ready-file", Usage: "write the bound addresses as JSON to this file once serving"},
			&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Usage: "text or json"},
		},
		Action: serve,
	}
}

func loadConfig(c *cli.Context) (*config.Config, error) {
	cfg, err := config.Load(c.String("config"))
	if err != nil {
		return nil, err
	}
	if c.IsSet("listen") {
		cfg.Listen = c.String("listen")
	}
	if c.IsSet("data-dir") {
		// Values derived from the old data directory follow it to the new one; values the
		// file set explicitly stay.
		derived := *cfg
		derived.Warehouse, derived.Store.DSN, derived.Policy.AuditLog = "", "", ""
		if err := derived.ApplyDefaults(); err != nil {
			return nil, err
		}
		if cfg.Warehouse == derived.Warehouse {
			cfg.Warehouse = ""
		}
		if cfg.Store.Driver == "sqlite" && cfg.Store.DSN == derived.Store.DSN {
			cfg.Store.DSN = ""
		}
		if cfg.Policy.AuditLog == derived.Policy.AuditLog {
			cfg.Policy.AuditLog = ""
		}
		cfg.DataDir = c.String("data-dir")
	}
	if c.IsSet("warehouse") {
		cfg.Warehouse = c.String("warehouse")
	}
	if c.IsSet("admin-listen") {
		cfg.Admin.Listen = c.String("admin-listen")
	}
	if c.IsSet("log-level") {
		cfg.Log.Level = c.String("log-level")
	}
	if c.IsSet("log-format") {
		cfg.Log.Format = c.String("log-format")
	}
	if err := cfg.ApplyDefaults(); err != nil {
		return nil, err
	}
	return cfg, cfg.Validate()
}

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(c *cli.Context) error {
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, os.Stderr)

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	store, err := embedded.Open(ctx, embedded.Config{
		Driver:      cfg.Store.Driver,
		DSN:         cfg.Store.DSN,
		Warehouse:   cfg.Warehouse,
		LockTimeout: cfg.Locks.Timeout,
	}, log.With("component", "embedded"))
	if err != nil {
		return fmt.Errorf("open catalog store: %w", err)
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := hms.NewMetrics(reg)

	values := map[string]string{"hive.metastore.warehouse.dir": cfg.Warehouse}
	for k, v := range cfg.Metastore.ConfigValues {
		values[k] = v
	}
	handler := hms.NewHandler(nil, hms.HandlerConfig{
		Version:      buildVersion(),
		Warehouse:    cfg.Warehouse,
		ConfigValues: values,
		TrustSetUGI:  cfg.Metastore.TrustSetUGI,
	}, log)
	fed := &federationLive{
		store: store, handler: handler, log: log, started: cfg, grace: 30 * time.Second,
		load: func() (*config.Config, error) { return loadConfig(c) },
	}
	router, err := fed.build(ctx, cfg)
	if err != nil {
		return err
	}
	defer fed.Close()
	handler.SetBackend(router)
	// Methods Propolis does not model are passed, verbatim, to the upstream metastore that owns
	// the database they name, so newer clients keep working.
	fwdCfg := hms.ForwarderConfig{Registerer: reg, Log: log.With("component", "forward")}
	var fleet http.Handler // the workers' plan endpoint, with the worker path on
	if cfg.Policy.Enabled {
		pol, err := startPolicy(ctx, cfg, func(ctx context.Context, db, table string) (*hm.Table, error) {
			return fed.router.Load().GetTable(ctx, db, table)
		}, func(ctx context.Context, db, table string) ([]*hm.Partition, error) {
			return fed.router.Load().ListPartitions(ctx, db, table, hms.PartitionQuery{})
		}, log)
		if err != nil {
			return err
		}
		defer pol.Close()
		handler.SetGuard(pol.guard)
		if cfg.Workers.Enabled {
			fleet = wplan.Handler(pol.guard, cfg.Workers.FleetKey)
		}
		// No policy can be applied to an opaque reply: with policy on, unmodeled methods answer
		// UNKNOWN_METHOD and clients fall back to calls Propolis models, where policy applies.
		fwdCfg.Deny = func(method string) error {
			return errs.Unsupported("%s is not served while access policy is enforced", method)
		}
	}
	fwd := hms.NewForwarder(fwdCfg)
	proc := hms.NewForwardingProcessor(handler, fwd, log, metrics.Interceptor(), hms.LogInterceptor(log))

	// The generated processors poll the transport every few milliseconds during each call to
	// cancel it if the client went away; our transport cannot tell, so the polling is waste.
	athrift.ServerConnectivityCheckInterval = 0

	connWait := cfg.Thrift.ConnectionWait
	if connWait == 0 {
		connWait = -1 // the config's "refuse at once"; pthrift's zero means its default
	}
	srv := pthrift.NewServer(pthrift.Config{
		MaxMessageBytes:         cfg.Thrift.MaxMessageBytes,
		MaxConnections:          cfg.Thrift.MaxConnections,
		MaxConnectionsPerSource: cfg.Thrift.MaxConnectionsPerSource,
		ConnectionWait:          connWait,
		HandshakeTimeout:        cfg.Thrift.HandshakeTimeout,
		IdleTimeout:             cfg.Thrift.IdleTimeout,
		ReadTimeout:             cfg.Thrift.ReadTimeout,
		WriteTimeout:            cfg.Thrift.WriteTimeout,
		WrapOutput:              hms.WireOutput,
	}, proc, log.With("component", "thrift"), hms.NewThriftObserver(reg))

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	ready := map[string]string{"thrift": ln.Addr().String()}

	var admin *http.Server
	if cfg.Admin.Listen != "" {
		aln, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("admin listen on %s: %w", cfg.Admin.Listen, err)
		}
		ready["admin"] = aln.Addr().String()
		admin = &http.Server{Handler: adminMux(prometheus.Gatherers{reg, &fed.metrics}, store, fed, fleet), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := admin.Serve(aln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("admin server stopped", "err", err)
			}
		}()
	}

	errc := make(chan error, 1+len(cfg.Policy.Profiles))
	go func() { errc <- srv.Serve(enforce.WithProfile(ctx, cfg.Policy.DefaultProfile), ln) }()
	// Engine profiles with a listener of their own: every connection there has that profile.
	for _, p := range cfg.Policy.Profiles {
		if p.Listen == "" {
			continue
		}
		pln, err := net.Listen("tcp", p.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s for engine profile %s: %w", p.Listen, p.Name, err)
		}
		ready["thrift_"+p.Name] = pln.Addr().String()
		go func() { errc <- srv.Serve(enforce.WithProfile(ctx, p.Name), pln) }()
	}
	log.Info("propolis serving", "thrift", ready["thrift"], "admin", ready["admin"],
		"store", cfg.Store.Driver, "warehouse", cfg.Warehouse, "version", buildVersion())
	if path := c.String("ready-file"); path != "" {
		if err := writeReady(path, ready); err != nil {
			return err
		}
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
wait:
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			break wait
		case <-hup:
			if err := fed.Reload(ctx); err != nil {
				log.Error("SIGHUP", "err", err)
			}
		case err := <-errc:
			if err != nil {
				return err
			}
			break wait
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if admin != nil {
		admin.Shutdown(sctx)
	}
	return srv.Shutdown(sctx)
}

// writeReady writes the addresses atomically, so a reader never sees half a file.
func writeReady(path string, addrs map[string]string) error {
	b, err := json.Marshal(addrs)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("ready file: %w", err)
	}
	return os.Rename(tmp, path)
}

type pinger interface{ Ping(context.Context) error }

func adminMux(metrics prometheus.Gatherer, store pinger, fed *federationLive, fleet http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	if fleet != nil {
		mux.Handle("POST "+wplan.Path, fleet)
		mux.Handle("POST "+wplan.IssuePath, fleet)
		mux.Handle("POST "+wplan.AuthorizePath, fleet)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			http.Error(w, "catalog store unavailable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	// /backends reports each backend's health as calls have seen it: open circuits, the last
	// failure, and how often a listing had to omit it.
	mux.HandleFunc("/backends", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(fed.router.Load().Status())
	})
	// POST /-/reload re-reads the configuration file, as SIGHUP does.
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := fed.Reload(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, "reloaded\n")
	})
	return mux
}
