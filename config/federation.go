package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Federation puts other catalogs behind Propolis next to its embedded one.
type Federation struct {
	// Primary names the backend that serves unqualified database names and receives CREATE
	// DATABASE for them: "embedded" (the default) or the name of a backend below.
	Primary string `yaml:"primary"`
	// Embedded is the routing of the embedded catalog.
	Embedded Routing `yaml:"embedded"`
	// Backends are the other catalogs: upstream Hive Metastores and AWS Glue.
	Backends []Backend `yaml:"backends"`
	// Breaker tunes the circuit breaker every backend gets.
	Breaker Breaker `yaml:"breaker"`
}

// Routing says which of a backend's databases and tables Propolis exposes, under which names,
// and what it may write there.
type Routing struct {
	// Prefix is prepended to the backend's database names ("legacy_" shows sales as
	// legacy_sales). Every backend but the primary needs a prefix or a mapping.
	Prefix string `yaml:"prefix"`
	// Mapping maps exposed database names to the backend's own; it wins over Prefix.
	Mapping map[string]string `yaml:"mapping"`
	// Databases filters the backend's own database names with Hive patterns.
	Databases Patterns `yaml:"databases"`
	// Tables filters "database.table" names (the backend's own database names).
	Tables Patterns `yaml:"tables"`
	// Write is read-write, read-only, or allow-list (only WriteDatabases). The embedded
	// catalog defaults to read-write, other backends to read-only.
	Write string `yaml:"write"`
	// WriteDatabases are the backend's own database names (patterns) writable with allow-list.
	WriteDatabases []string `yaml:"write_databases"`
	// OnUnavailable is what an unavailable backend does to a listing spanning backends: fail
	// (the default) fails it naming the backend; omit leaves the backend out, logs it, counts it
	// in propolis_federation_omissions_total and reports it on /backends.
	OnUnavailable string `yaml:"on_unavailable"`
	// ListTimeout bounds the backend's share of a listing (default 10s).
	ListTimeout time.Duration `yaml:"list_timeout"`
}

// Patterns allow and deny names; Deny wins, and an empty Allow allows everything.
type Patterns struct {
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
}

// Backend is one catalog besides the embedded one.
type Backend struct {
	// Name identifies the backend in errors, logs, metrics and lock ids.
	Name string `yaml:"name"`
	// Type is hms (an upstream Hive Metastore) or glue (AWS Glue Data Catalog).
	Type    string `yaml:"type"`
	Routing `yaml:",inline"`
	HMS     HMSBackend  `yaml:"hms"`
	Glue    GlueBackend `yaml:"glue"`
	Cache   Cache       `yaml:"cache"`
}

// Cache is the metadata cache in front of a backend (tables, partitions, listings),
// invalidated by Propolis's own writes and by the backend's notification log.
type Cache struct {
	// Disabled turns the cache off: every call goes to the backend.
	Disabled bool `yaml:"disabled"`
	// MaxBytes bounds the cached objects by their serialized size (default 256MiB).
	MaxBytes int64 `yaml:"max_bytes" unit:"bytes"`
	// TTL is the longest an entry lives, the only staleness bound where the backend has no
	// notification log (Glue) (default 5m).
	TTL time.Duration `yaml:"ttl"`
	// PollInterval is how often the backend's notification log is read (default 2s).
	PollInterval time.Duration `yaml:"poll_interval"`
	// PerUser keeps each caller's entries apart; always on for a backend that impersonates.
	PerUser bool `yaml:"per_user"`
}

// HMSBackend is an upstream Hive Metastore (2.3, 3.1 or 4.x).
type HMSBackend struct {
	// Address is host:port of its Thrift endpoint.
	Address string `yaml:"address"`
	// Framed selects the framed transport.
	Framed         bool          `yaml:"framed"`
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	CallTimeout    time.Duration `yaml:"call_timeout"`
	// MaxConnections bounds the connection pool.
	MaxConnections int `yaml:"max_connections"`
	// Impersonate passes the caller on with set_ugi.
	Impersonate bool `yaml:"impersonate"`
}

// GlueBackend is the AWS Glue Data Catalog of one account and region.
type GlueBackend struct {
	Region string `yaml:"region"`
	// Endpoint overrides the service endpoint (a VPC endpoint, or a test server).
	Endpoint  string `yaml:"endpoint"`
	CatalogID string `yaml:"catalog_id"`
	// Static credentials; without them the default AWS credential chain applies.
	AccessKeyID     string        `yaml:"access_key_id"`
	SecretAccessKey string        `yaml:"secret_access_key"`
	CallTimeout     time.Duration `yaml:"call_timeout"`
}

// MarshalYAML hides the secret key when a configuration is printed.
func (g GlueBackend) MarshalYAML() (any, error) {
	type plain GlueBackend
	c := plain(g)
	if c.SecretAccessKey != "" {
		c.SecretAccessKey = "xxxxx"
	}
	return c, nil
}

// Breaker tunes the per-backend circuit breaker.
type Breaker struct {
	// Failures is how many consecutive unavailable answers open the circuit (0 disables it).
	Failures int `yaml:"failures"`
	// Cooldown is how long an open circuit fails fast before one probe call is let through.
	Cooldown time.Duration `yaml:"cooldown"`
}

// EmbeddedName is the name of the embedded catalog among the backends.
const EmbeddedName = "embedded"

const (
	defaultListTimeout     = 10 * time.Second
	defaultCallTimeout     = 30 * time.Second
	defaultConnectTimeout  = 5 * time.Second
	defaultBackendPoolSize = 16
	defaultBreakerFailures = 5
	defaultBreakerCooldown = 10 * time.Second
	defaultCacheBytes      = 256 << 20
	defaultCacheTTL        = 5 * time.Minute
	defaultCachePoll       = 2 * time.Second
	writeReadWrite         = "read-write"
	writeReadOnly          = "read-only"
	writeAllowList         = "allow-list"
	unavailableFail        = "fail"
	unavailableOmit        = "omit"
	backendTypeHMS         = "hms"
	backendTypeGlue        = "glue"
)

func (f *Federation) applyDefaults() {
	if f.Primary == "" {
		f.Primary = EmbeddedName
	}
	f.Embedded.applyDefaults(writeReadWrite)
	for i := range f.Backends {
		b := &f.Backends[i]
		b.Type = strings.ToLower(b.Type)
		b.applyDefaults(writeReadOnly)
		if b.Type == backendTypeHMS {
			if b.HMS.ConnectTimeout == 0 {
				b.HMS.ConnectTimeout = defaultConnectTimeout
			}
			if b.HMS.CallTimeout == 0 {
				b.HMS.CallTimeout = defaultCallTimeout
			}
			if b.HMS.MaxConnections == 0 {
				b.HMS.MaxConnections = defaultBackendPoolSize
			}
		}
		if b.Type == backendTypeGlue && b.Glue.CallTimeout == 0 {
			b.Glue.CallTimeout = defaultCallTimeout
		}
		if b.Cache.MaxBytes == 0 {
			b.Cache.MaxBytes = defaultCacheBytes
		}
		if b.Cache.TTL == 0 {
			b.Cache.TTL = defaultCacheTTL
		}
		if b.Cache.PollInterval == 0 {
			b.Cache.PollInterval = defaultCachePoll
		}
	}
	if f.Breaker == (Breaker{}) {
		f.Breaker = Breaker{Failures: defaultBreakerFailures, Cooldown: defaultBreakerCooldown}
	}
}

func (r *Routing) applyDefaults(write string) {
	if r.Write == "" {
		r.Write = write
	}
	if r.OnUnavailable == "" {
		r.OnUnavailable = unavailableFail
	}
	if r.ListTimeout == 0 {
		r.ListTimeout = defaultListTimeout
	}
	r.Prefix = strings.ToLower(r.Prefix)
}

var prefixRE = regexp.MustCompile(`^[a-z0-9_]+$`)

func (f *Federation) validate(add func(field, format string, args ...any)) {
	names := map[string]bool{EmbeddedName: true}
	f.Embedded.validate("federation.embedded", f.Primary == EmbeddedName, add)
	for i, b := range f.Backends {
		path := fmt.Sprintf("federation.backends[%d]", i)
		switch {
		case b.Name == "":
			add(path+".name", "must not be empty")
		case names[b.Name]:
			add(path+".name", "%q is used twice (%q is the embedded catalog's)", b.Name, EmbeddedName)
		}
		names[b.Name] = true
		b.Routing.validate(path, f.Primary == b.Name, add)
		switch b.Type {
		case backendTypeHMS:
			if err := checkAddress(b.HMS.Address); err != nil {
				add(path+".hms.address", "%v", err)
			}
			if b.HMS.MaxConnections < 0 {
				add(path+".hms.max_connections", "must be > 0")
			}
			if b.HMS.CallTimeout < 0 || b.HMS.ConnectTimeout < 0 {
				add(path+".hms", "timeouts must be > 0")
			}
		case backendTypeGlue:
			if b.Glue.Region == "" {
				add(path+".glue.region", "must name an AWS region")
			}
			if (b.Glue.AccessKeyID == "") != (b.Glue.SecretAccessKey == "") {
				add(path+".glue", "access_key_id and secret_access_key go together")
			}
		default:
			add(path+".type", "must be hms or glue, not %q", b.Type)
		}
	}
	for i, b := range f.Backends {
		if b.Cache.MaxBytes < 0 || b.Cache.TTL < 0 || b.Cache.PollInterval < 0 {
			add(fmt.Sprintf("federation.backends[%d].cache", i), "sizes and durations must be > 0")
		}
	}
	if !names[f.Primary] {
		add("federation.primary", "%q is neither %q nor a backend's name", f.Primary, EmbeddedName)
	}
	if f.Breaker.Failures < 0 || f.Breaker.Cooldown < 0 {
		add("federation.breaker", "failures and cooldown must not be negative")
	}
}

func (r Routing) validate(path string, primary bool, add func(field, format string, args ...any)) {
	if r.Prefix != "" && !prefixRE.MatchString(r.Prefix) {
		add(path+".prefix", "%q may hold only letters, digits and underscores", r.Prefix)
	}
	if !primary && r.Prefix == "" && len(r.Mapping) == 0 {
		add(path, "needs a prefix or a mapping: only the primary serves unqualified database names")
	}
	for e, own := range r.Mapping {
		if !prefixRE.MatchString(strings.ToLower(e)) || !prefixRE.MatchString(strings.ToLower(own)) {
			add(path+".mapping."+e, "database names may hold only letters, digits and underscores")
		}
	}
	switch r.Write {
	case writeReadWrite, writeReadOnly:
		if len(r.WriteDatabases) > 0 {
			add(path+".write_databases", "only applies with write: allow-list")
		}
	case writeAllowList:
		if len(r.WriteDatabases) == 0 {
			add(path+".write_databases", "must list databases with write: allow-list")
		}
	default:
		add(path+".write", "must be read-write, read-only or allow-list, not %q", r.Write)
	}
	switch r.OnUnavailable {
	case unavailableFail, unavailableOmit:
	default:
		add(path+".on_unavailable", "must be fail or omit, not %q", r.OnUnavailable)
	}
	if r.ListTimeout < 0 {
		add(path+".list_timeout", "must be > 0")
	}
	for _, p := range append(append(append([]string{}, r.Databases.Allow...), r.Databases.Deny...), append(r.Tables.Allow, r.Tables.Deny...)...) {
		if strings.TrimSpace(p) == "" {
			add(path, "patterns must not be empty")
		}
	}
}
