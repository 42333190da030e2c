package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	hm "github.com/beltran/gohive/hive_metastore"
	"github.com/urfave/cli/v2"

	"github.com/propolis/propolis/config"
	"github.com/propolis/propolis/hms/embedded"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy"
	"github.com/propolis/propolis/policy/audit"
	"github.com/propolis/propolis/policy/enforce"
	"github.com/propolis/propolis/policy/store"
	"github.com/propolis/propolis/presto"
	pthrift "github.com/propolis/propolis/thrift"
	"github.com/propolis/propolis/workers/token"
)

// policyRuntime is the live policy of a serving process: the newest valid version from the
// store (nil until one exists: deny everything), the audit log and the guard.
type policyRuntime struct {
	current atomic.Pointer[policy.Policy]
	store   *store.Store
	audit   *audit.Log
	guard   *enforce.Guard
}

func (p *policyRuntime) Close() error {
	var errsList []error
	if p.audit != nil {
		errsList = append(errsList, p.audit.Close())
	}
	if p.store != nil {
		errsList = append(errsList, p.store.Close())
	}
	return errors.Join(errsList...)
}

// aliasKey returns the configured key, or one kept in the data directory so that a restart
// keeps the aliases of views engines may have cached.
func aliasKey(cfg *config.Config) ([]byte, error) {
	if cfg.Policy.AliasKey != "" {
		return []byte(cfg.Policy.AliasKey), nil
	}
	path := filepath.Join(cfg.DataDir, "alias.key")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, err
	}
	key := []byte(hex.EncodeToString(buf))
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("policy alias key: %w", err)
	}
	return key, nil
}

func openAudit(path string) (*audit.Log, error) {
	if path == "-" {
		return audit.New(os.Stderr), nil
	}
	return audit.Open(path)
}

func enforceProfiles(cfg config.Policy) []enforce.Profile {
	out := make([]enforce.Profile, len(cfg.Profiles))
	for i, p := range cfg.Profiles {
		out[i] = enforce.Profile{Name: p.Name, Dialect: p.Dialect, Trusted: p.Trusted, TrinoCatalog: p.TrinoCatalog}
	}
	return out
}

// startPolicy opens the policy store, starts watching it and builds the guard.
func startPolicy(ctx context.Context, cfg *config.Config, load func(ctx context.Context, db, table string) (*hm.Table, error), parts func(ctx context.Context, db, table string) ([]*hm.Partition, error), log *slog.Logger) (*policyRuntime, error) {
	rt := &policyRuntime{}
	st, err := store.Open(ctx, cfg.Store.Driver, cfg.Store.DSN)
	if err != nil {
		return nil, fmt.Errorf("policy store: %w", err)
	}
	rt.store = st
	if rt.audit, err = openAudit(cfg.Policy.AuditLog); err != nil {
		rt.Close()
		return nil, fmt.Errorf("audit log: %w", err)
	}
	key, err := aliasKey(cfg)
	if err != nil {
		rt.Close()
		return nil, err
	}
	wp, err := workerPath(cfg.Workers, parts)
	if err != nil {
		rt.Close()
		return nil, err
	}
	rt.guard, err = enforce.New(enforce.Config{
		Profiles: enforceProfiles(cfg.Policy), Default: cfg.Policy.DefaultProfile, AliasKey: key, LoadTable: load,
		Workers: wp,
	}, rt.current.Load, rt.audit, log.With("component", "policy"))
	if err != nil {
		rt.Close()
		return nil, err
	}
	go st.Watch(ctx, cfg.Policy.PollInterval, func(p *policy.Policy) {
		rt.current.Store(p)
		if p == nil {
			log.Warn("no access policy in the store: every table is denied until one is applied (propolis policy apply -f FILE)")
			return
		}
		log.Info("access policy in force", "version", p.Version())
	})
	return rt, nil
}

// workerPath is the guard's worker path, nil when the fleet is not enabled.
func workerPath(cfg config.Workers, parts func(ctx context.Context, db, table string) ([]*hm.Partition, error)) (*enforce.WorkerPath, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	signer, err := tokenSigner(cfg)
	if err != nil {
		return nil, err
	}
	return &enforce.WorkerPath{Signer: signer, TTL: cfg.TokenTTL, Base: cfg.Location(), LoadPartitions: parts}, nil
}

func tokenSigner(cfg config.Workers) (*token.Signer, error) {
	keys := make([]token.Key, len(cfg.TokenKeys))
	for i, k := range cfg.TokenKeys {
		keys[i] = token.Key{ID: k.ID, Secret: []byte(k.Secret)}
	}
	return token.NewSigner(keys)
}

func policyCommand() *cli.Command {
	configFlag := &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "the server's configuration file (for the store)"}
	dataDir := &cli.StringFlag{Name: "data-dir", Usage: "the server's data directory (when there is no config file)"}
	openStore := func(c *cli.Context) (*config.Config, *store.Store, error) {
		cfg, err := config.Load(c.String("config"))
		if err != nil {
			return nil, nil, err
		}
		if c.IsSet("data-dir") && c.String("config") == "" {
			cfg.DataDir, cfg.Store.DSN, cfg.Warehouse = c.String("data-dir"), "", ""
			if err := cfg.ApplyDefaults(); err != nil {
				return nil, nil, err
			}
		}
		if err := prepareStore(cfg); err != nil {
			return nil, nil, err
		}
		st, err := store.Open(c.Context, cfg.Store.Driver, cfg.Store.DSN)
		return cfg, st, err
	}
	return &cli.Command{
		Name:  "policy",
		Usage: "manage access policy: apply, explain, show",
		Subcommands: []*cli.Command{
			{
				Name:  "apply",
				Usage: "validate a policy file and store it as the next version (every replica reloads it)",
				Flags: []cli.Flag{configFlag, dataDir,
					&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Required: true, Usage: "policy YAML"},
					&cli.BoolFlag{Name: "dry-run", Usage: "validate and show the diff, store nothing"},
				},
				Action: func(c *cli.Context) error {
					body, err := os.ReadFile(c.String("file"))
					if err != nil {
						return err
					}
					if _, err := policy.Parse(c.String("file"), body); err != nil {
						return err
					}
					_, st, err := openStore(c)
					if err != nil {
						return err
					}
					defer st.Close()
					_, old, err := st.Latest(c.Context)
					if err != nil && !isNotFound(err) {
						return err
					}
					diff := policy.Diff(old, body)
					if strings.TrimSpace(diff) == "" {
						diff = "(no changes)\n"
					}
					fmt.Fprint(c.App.Writer, diff)
					if c.Bool("dry-run") {
						fmt.Fprintln(c.App.Writer, "dry run: nothing stored")
						return nil
					}
					v, err := st.Apply(c.Context, body, currentUser())
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "policy version %d in force\n", v)
					return nil
				},
			},
			{
				Name:  "show",
				Usage: "print the policy in force",
				Flags: []cli.Flag{configFlag, dataDir},
				Action: func(c *cli.Context) error {
					_, st, err := openStore(c)
					if err != nil {
						return err
					}
					defer st.Close()
					v, body, err := st.Latest(c.Context)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "# version %d\n%s", v, body)
					return nil
				},
			},
			{
				Name:  "explain",
				Usage: "show the decision for a user and a table, the rules behind it, and what each engine would receive",
				Flags: []cli.Flag{configFlag, dataDir,
					&cli.StringFlag{Name: "user", Required: true},
					&cli.StringSliceFlag{Name: "group", Usage: "groups the user's connection carries (repeatable)"},
					&cli.StringFlag{Name: "table", Required: true, Usage: "db.table"},
					&cli.StringFlag{Name: "engine", Usage: "an engine profile; default: every profile"},
				},
				Action: explain,
			},
		},
	}
}

func explain(c *cli.Context) error {
	cfg, err := config.Load(c.String("config"))
	if err != nil {
		return err
	}
	if c.IsSet("data-dir") && c.String("config") == "" {
		cfg.DataDir, cfg.Store.DSN, cfg.Warehouse = c.String("data-dir"), "", ""
		if err := cfg.ApplyDefaults(); err != nil {
			return err
		}
	}
	db, table, ok := strings.Cut(strings.ToLower(c.String("table")), ".")
	if !ok {
		return fmt.Errorf("--table: want db.table, got %q", c.String("table"))
	}
	log := slog.New(slog.DiscardHandler)
	if err := prepareStore(cfg); err != nil {
		return err
	}
	st, err := store.Open(c.Context, cfg.Store.Driver, cfg.Store.DSN)
	if err != nil {
		return err
	}
	defer st.Close()
	pol, err := st.Load(c.Context)
	if err != nil {
		return fmt.Errorf("no policy to explain: %w", err)
	}
	cat, err := embedded.Open(c.Context, embedded.Config{Driver: cfg.Store.Driver, DSN: cfg.Store.DSN, Warehouse: cfg.Warehouse}, log)
	if err != nil {
		return err
	}
	defer cat.Close()
	fed, closers, err := buildFederation(c.Context, cfg.Federation, cfg.Warehouse, cat, log, nil)
	if err != nil {
		return err
	}
	defer func() {
		for _, cl := range closers {
			cl.Close()
		}
	}()
	t, err := fed.GetTable(c.Context, db, table)
	if err != nil {
		return err
	}
	who := policy.Principal{User: c.String("user"), Groups: c.StringSlice("group")}
	var cols []policy.Column
	if t.Sd != nil {
		for _, col := range t.Sd.Cols {
			cols = append(cols, policy.Column{Name: col.Name, Type: col.Type})
		}
	}
	for _, col := range t.PartitionKeys {
		cols = append(cols, policy.Column{Name: col.Name, Type: col.Type})
	}
	w := c.App.Writer
	fmt.Fprint(w, pol.Explain(who, policy.TableRef{DB: db, Table: table, Columns: cols}))

	key, err := aliasKey(cfg)
	if err != nil {
		return err
	}
	guard, err := enforce.New(enforce.Config{Profiles: enforceProfiles(cfg.Policy), Default: cfg.Policy.DefaultProfile, AliasKey: key,
		LoadTable: fed.GetTable}, func() *policy.Policy { return pol }, nil, log)
	if err != nil {
		return err
	}
	for _, p := range cfg.Policy.Profiles {
		if e := c.String("engine"); e != "" && e != p.Name {
			continue
		}
		sess := &pthrift.Session{}
		sess.SetIdentity(pthrift.Identity{User: who.User, Groups: who.Groups, Source: "explain"})
		ctx := enforce.WithProfile(pthrift.WithSession(c.Context, sess), p.Name)
		trust := "untrusted"
		if p.Trusted {
			trust = "trusted"
		}
		fmt.Fprintf(w, "\nengine %s (%s, %s):\n", p.Name, p.Dialect, trust)
		shown, err := guard.Table(ctx, t)
		switch {
		case err != nil:
			fmt.Fprintf(w, "  refused: %v\n", err)
		case shown == t:
			fmt.Fprintln(w, "  the table as stored (raw)")
		case shown.TableType == "VIRTUAL_VIEW":
			fmt.Fprintf(w, "  a view owned by %s:\n    %s\n", shown.Owner, viewSQL(shown))
		default:
			fmt.Fprintln(w, "  a rewritten table")
		}
	}
	return nil
}

// viewSQL is the SQL an engine runs for a policy view (decoded for Trino views).
func viewSQL(t *hm.Table) string {
	if v, err := decodePrestoView(t.ViewOriginalText); err == nil {
		return v
	}
	return t.ViewExpandedText
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

func decodePrestoView(text string) (string, error) {
	v, err := presto.DecodeView(text)
	return v.OriginalSQL, err
}

func isNotFound(err error) bool { return errs.KindOf(err) == errs.KindNotFound }
