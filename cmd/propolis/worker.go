package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urfave/cli/v2"

	"github.com/propolis/propolis/config"
	"github.com/propolis/propolis/workers/eval"
	"github.com/propolis/propolis/workers/flight"
	"github.com/propolis/propolis/workers/node"
	"github.com/propolis/propolis/workers/plan"
	"github.com/propolis/propolis/workers/s3api"
	"github.com/propolis/propolis/workers/scan"
)

func workerCommand() *cli.Command {
	return &cli.Command{
		Name:  "worker",
		Usage: "serve protected tables to engines as an Arrow worker (S3-compatible endpoint and Arrow Flight)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "YAML configuration file shared with the servers (its workers section)"},
			&cli.StringFlag{Name: "listen", Usage: "S3-compatible endpoint address (default 127.0.0.1:9090)"},
			&cli.StringFlag{Name: "flight-listen", Usage: `Arrow Flight address (default 127.0.0.1:9091; "" disables)`},
			&cli.StringFlag{Name: "admin-listen", Usage: `/metrics and /healthz address (default 127.0.0.1:9092; "" disables)`},
			&cli.StringSliceFlag{Name: "server", Usage: "a Propolis server's admin URL to ask for plans (repeatable; default from the config)"},
			&cli.StringFlag{Name: "ready-file", Usage: "write the bound addresses as JSON to this file once serving"},
			&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Usage: "text or json"},
		},
		Action: worker,
	}
}

func loadWorkerConfig(c *cli.Context) (*config.Config, error) {
	cfg, err := config.Load(c.String("config"))
	if err != nil {
		return nil, err
	}
	w := &cfg.Workers
	for flag, field := range map[string]*string{"listen": &w.Listen, "flight-listen": &w.FlightListen, "admin-listen": &w.AdminListen, "log-level": &cfg.Log.Level, "log-format": &cfg.Log.Format} {
		if c.IsSet(flag) {
			*field = c.String(flag)
		}
	}
	if c.IsSet("server") {
		w.Servers = c.StringSlice("server")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case len(w.TokenKeys) == 0:
		return nil, fmt.Errorf("%s: workers.token_keys: a worker verifies tokens with the servers' keys; none are configured", c.String("config"))
	case len(w.Servers) == 0:
		return nil, fmt.Errorf("%s: workers.servers: a worker needs a Propolis server to ask for plans", c.String("config"))
	}
	return cfg, nil
}

func worker(c *cli.Context) error {
	cfg, err := loadWorkerConfig(c)
	if err != nil {
		return err
	}
	w := cfg.Workers
	log := newLogger(cfg.Log, os.Stderr).With("component", "worker")
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Every worker of a fleet encodes alike: the fast snappy encoder, before any file.
	if err := scan.UseFastSnappy(); err != nil {
		return err
	}
	signer, err := tokenSigner(w)
	if err != nil {
		return err
	}
	s3, err := scan.NewS3(ctx, scan.S3Config{
		Endpoint: w.Storage.Endpoint, Region: w.Storage.Region, PathStyle: w.Storage.PathStyle,
		AccessKeyID: w.Storage.AccessKey, SecretAccessKey: w.Storage.SecretKey,
	})
	if err != nil {
		return err
	}
	// The worker reads with its own credentials whatever a table's metadata names: only under
	// the roots the operator allowed.
	storage, err := scan.Confine(scan.Mux{"file": scan.Local{}, "s3": s3, "s3a": s3, "s3n": s3}, cfg.WorkerAllowedLocations(), log)
	if err != nil {
		return fmt.Errorf("workers.allowed_locations: %w", err)
	}
	maxMemory := w.MaxMemory
	if maxMemory == 0 {
		maxMemory = max(node.DefaultMaxMemory(), w.MemoryBudget)
	}
	keys := make([]eval.KeySpec, len(w.Keys))
	for i, k := range w.Keys {
		keys[i] = eval.KeySpec{ID: k.ID, Version: k.Version, Secret: []byte(k.Secret)}
	}
	keyring, err := eval.NewStaticKeyring(keys)
	if err != nil {
		return fmt.Errorf("workers.keys: %w", err)
	}
	noise := []byte(w.NoiseSecret)
	if len(noise) == 0 {
		// Derived, not the token key itself: knowing the noise must not help forge tokens.
		sum := sha256.Sum256(append([]byte("propolis dp_noise\x00"), w.TokenKeys[0].Secret...))
		noise = sum[:]
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var n *node.Node
	metrics, err := node.NewMetrics(reg, func() float64 { return n.MemoryInUse() })
	if err != nil {
		return err
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "propolis_worker_memory_limit_bytes",
		Help: "The worker's memory cap for all queries together (workers.max_memory).",
	}, func() float64 { return float64(maxMemory) }))
	n, err = node.New(node.Config{
		Plans:       &plan.Client{Servers: w.Servers, FleetKey: w.FleetKey},
		Signer:      signer,
		Storage:     storage,
		Keys:        keyring,
		NoiseSecret: noise,
		Budget:      w.MemoryBudget,
		MaxMemory:   maxMemory,
		Bucket:      w.Bucket,
		Metrics:     metrics,
		Log:         log,
	})
	if err != nil {
		return err
	}
	defer n.Close()

	ready := map[string]string{}
	errc := make(chan error, 3)
	s3ln, err := net.Listen("tcp", w.Listen)
	if err != nil {
		return fmt.Errorf("worker S3 endpoint: %w", err)
	}
	ready["s3"] = s3ln.Addr().String()
	// Engines keep pooled connections and reopen one the server closed; an idle one is not
	// kept forever, and a request's headers are bounded (S3 requests carry a few KiB).
	s3srv := &http.Server{Handler: s3api.New(n.S3(), s3api.Options{Log: log.With("component", "s3api")}),
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go func() { errc <- serveHTTP(s3srv, s3ln) }()
	defer shutdownHTTP(s3srv)

	if w.FlightListen != "" {
		fln, err := net.Listen("tcp", w.FlightListen)
		if err != nil {
			return fmt.Errorf("worker Flight endpoint: %w", err)
		}
		ready["flight"] = fln.Addr().String()
		// The fleet's locations; without a list, this worker alone.
		locs := w.FlightLocations
		if len(locs) == 0 {
			locs = []string{"grpc://" + fln.Addr().String()}
		}
		fs, err := flight.New(flight.Config{
			Backend: n.Flight(), Locations: locs, TrustAssertedIdentity: w.TrustAssertedUser,
			Registerer: reg, Logger: log.With("component", "flight"),
		})
		if err != nil {
			return err
		}
		go func() { errc <- fs.Serve(ctx, fln) }()
		defer fs.Close()
	}
	if w.AdminListen != "" {
		aln, err := net.Listen("tcp", w.AdminListen)
		if err != nil {
			return fmt.Errorf("worker admin endpoint: %w", err)
		}
		ready["admin"] = aln.Addr().String()
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
		admin := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- serveHTTP(admin, aln) }()
		defer shutdownHTTP(admin)
	}
	if p := c.String("ready-file"); p != "" {
		if err := writeReady(p, ready); err != nil {
			return err
		}
	}
	log.Info("worker serving", "s3", ready["s3"], "flight", ready["flight"], "admin", ready["admin"], "servers", w.Servers, "memory_budget", w.MemoryBudget, "max_memory", maxMemory, "allowed_locations", cfg.WorkerAllowedLocations())
	select {
	case <-ctx.Done():
		log.Info("worker stopping")
		return nil
	case err := <-errc:
		return err
	}
}

func serveHTTP(s *http.Server, ln net.Listener) error {
	if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func shutdownHTTP(s *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Shutdown(ctx)
}
