package config

import (
	"fmt"
	"path/filepath"
	"time"
)

// Policy turns on access policy: who sees which databases, tables and columns, with masks and
// row filters enforced by rewriting what the metastore returns.
type Policy struct {
	// Enabled turns enforcement on. The policy itself lives in the catalog store, versioned
	// (`propolis policy apply -f policy.yaml`), and every replica reloads it; until one is
	// applied, everything is denied (fail closed).
	Enabled bool `yaml:"enabled"`
	// PollInterval is how often the store is checked for a new policy version (default 5s).
	PollInterval time.Duration `yaml:"poll_interval"`
	// AuditLog is the JSON-lines file every decision is appended to (default
	// <data_dir>/audit.jsonl; "-" for standard error).
	AuditLog string `yaml:"audit_log"`
	// AliasKey keys the per-caller raw-table aliases of Hive/Spark policy views (at least 16
	// characters). Replicas must share it. Default: a key kept in <data_dir>/alias.key.
	AliasKey string `yaml:"alias_key"`
	// DefaultProfile is the engine profile of connections on the main listener.
	DefaultProfile string `yaml:"default_profile"`
	// Profiles describe the engines: their SQL dialect and whether they are trusted to run
	// policy views (see VISION.md's trust model). A profile with a listen address gets a
	// listener of its own, and every connection to it has that profile.
	Profiles []Profile `yaml:"profiles"`
}

// Profile is one kind of engine.
type Profile struct {
	Name string `yaml:"name"`
	// Dialect is hive (Hive and Spark) or trino (Trino and Presto).
	Dialect string `yaml:"dialect"`
	// Trusted engines get policy views; untrusted ones get no protected table at all until the
	// worker path exists.
	Trusted bool `yaml:"trusted"`
	// Listen is an extra Thrift listener bound to this profile ("" for none).
	Listen string `yaml:"listen"`
	// TrinoCatalog is the catalog name the Trino engine gives this metastore (default hive).
	TrinoCatalog string `yaml:"trino_catalog"`
}

func (p *Policy) applyDefaults(dataDir string) {
	if p.PollInterval == 0 {
		p.PollInterval = 5 * time.Second
	}
	if p.AuditLog == "" {
		p.AuditLog = filepath.Join(dataDir, "audit.jsonl")
	}
	if len(p.Profiles) == 0 {
		p.Profiles = []Profile{
			{Name: "spark", Dialect: "hive", Trusted: false},
			{Name: "trino", Dialect: "trino", Trusted: true},
		}
	}
	if p.DefaultProfile == "" {
		p.DefaultProfile = p.Profiles[0].Name
	}
	for i := range p.Profiles {
		if p.Profiles[i].Dialect == "trino" && p.Profiles[i].TrinoCatalog == "" {
			p.Profiles[i].TrinoCatalog = "hive"
		}
	}
}

func (p Policy) validate(listen, admin string, add func(field, format string, args ...any)) {
	if p.PollInterval < 0 {
		add("policy.poll_interval", "must be > 0")
	}
	if p.AliasKey != "" && len(p.AliasKey) < 16 {
		add("policy.alias_key", "must be at least 16 characters")
	}
	names := map[string]bool{}
	addrs := map[string]string{listen: "listen", admin: "admin.listen"}
	for i, pr := range p.Profiles {
		path := fmt.Sprintf("policy.profiles[%d]", i)
		switch {
		case pr.Name == "":
			add(path+".name", "must not be empty")
		case names[pr.Name]:
			add(path+".name", "%q is used twice", pr.Name)
		}
		names[pr.Name] = true
		switch pr.Dialect {
		case "hive", "trino":
		default:
			add(path+".dialect", "must be hive or trino, not %q", pr.Dialect)
		}
		if pr.Listen != "" {
			if err := checkAddress(pr.Listen); err != nil {
				add(path+".listen", "%v", err)
			} else if other, dup := addrs[pr.Listen]; dup && pr.Listen[len(pr.Listen)-2:] != ":0" {
				add(path+".listen", "%s is already used by %s", pr.Listen, other)
			}
			addrs[pr.Listen] = path
		}
	}
	if p.DefaultProfile != "" && !names[p.DefaultProfile] {
		add("policy.default_profile", "%q is not a profile", p.DefaultProfile)
	}
}
