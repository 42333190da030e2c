package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Workers is the worker path: the Arrow worker fleet that serves protected tables to engines
// that cannot be trusted with them (untrusted profiles) or cannot evaluate their policy
// (keyed tokenization, lookup filters, noise). Servers and workers read the same section.
type Workers struct {
	// Enabled makes the metastore rewrite such tables onto the fleet instead of refusing them.
	Enabled bool `yaml:"enabled"`
	// TokenKeys sign the tokens worker locations carry (each secret at least 32 characters).
	// The first signs; all verify, so a new key is added first and old ones retired after
	// TokenTTL. Servers and workers must share them.
	TokenKeys []SecretKey `yaml:"token_keys"`
	// TokenTTL is how long a worker location stays valid (default 1h).
	TokenTTL time.Duration `yaml:"token_ttl"`
	// FleetKey authenticates workers to the servers' plan endpoint (at least 16 characters).
	FleetKey string `yaml:"fleet_key"`
	// Bucket is the bucket name in worker locations (default propolis): engines point their
	// S3 endpoint for it at the fleet (fs.s3a.bucket.<bucket>.endpoint in Spark, or the
	// endpoint of a dedicated catalog in Trino).
	Bucket string `yaml:"bucket"`
	// Scheme is the location scheme engines read worker locations with (default s3a; Trino's
	// native S3 file system reads s3a:// too).
	Scheme string `yaml:"scheme"`
	// FlightLocations are the fleet's Arrow Flight URIs (grpc://host:port); GetFlightInfo
	// spreads a table's endpoints over them. Default: each worker names only itself.
	FlightLocations []string `yaml:"flight_locations"`

	// The rest configures the worker process (propolis worker).

	// Listen is the S3-compatible endpoint (default 127.0.0.1:9090).
	Listen string `yaml:"listen"`
	// FlightListen is the Arrow Flight endpoint (default 127.0.0.1:9091; "" disables it).
	FlightListen string `yaml:"flight_listen"`
	// AdminListen serves /metrics and /healthz (default 127.0.0.1:9092; "" disables it).
	AdminListen string `yaml:"admin_listen"`
	// Servers are the Propolis servers' admin URLs workers ask for plans (default the
	// admin.listen of this file).
	Servers []string `yaml:"servers"`
	// MemoryBudget is each query's memory limit (default 128MiB); a query over it fails with
	// a clear error instead of the worker running out of memory.
	MemoryBudget int64 `yaml:"memory_budget" unit:"bytes"`
	// MaxMemory caps what all queries of one worker hold together; budgets draw from it as
	// they allocate, and a query that would go over it fails "worker busy" (S3 503 SlowDown,
	// Flight RESOURCE_EXHAUSTED) for the engine to retry. 0 (the default): half the memory of
	// the worker's container (its cgroup limit), or of the machine.
	MaxMemory int64 `yaml:"max_memory" unit:"bytes"`
	// AllowedLocations are the storage roots workers may read (URIs such as s3a://bucket/wh/
	// or absolute paths). A table or partition whose files lie elsewhere is refused: without
	// it, a user allowed to alter a worker-served table could point it at files they may not
	// read and have the worker, with its own credentials, serve them. Default: the warehouse.
	AllowedLocations []string `yaml:"allowed_locations"`
	// Keys are the secrets of keyed functions (tokenize, encrypt, fpe_digits): only workers
	// hold them. The highest version of an id is active; older versions still decrypt.
	Keys []DataKey `yaml:"keys"`
	// NoiseSecret seeds dp_noise, so a value's noise is the same on every read (at least 32
	// characters; default: derived from the first token key).
	NoiseSecret string `yaml:"noise_secret"`
	// TrustAssertedUser accepts the user a Flight client names in x-propolis-user, as the
	// metastore accepts set_ugi (metastore.trust_set_ugi); otherwise Flight clients must
	// present a worker token.
	TrustAssertedUser bool `yaml:"trust_asserted_user"`
	// Storage is how workers read the source files on S3.
	Storage WorkerStorage `yaml:"storage"`
}

// SecretKey is a named secret.
type SecretKey struct {
	ID     string `yaml:"id"`
	Secret string `yaml:"secret"`
}

// DataKey is one version of a keyed function's key.
type DataKey struct {
	ID      string `yaml:"id"`
	Version int    `yaml:"version"`
	Secret  string `yaml:"secret"`
}

// WorkerStorage configures S3 access for source files (local files need nothing).
type WorkerStorage struct {
	Endpoint  string `yaml:"endpoint"` // "" for AWS
	Region    string `yaml:"region"`   // default us-east-1
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	PathStyle bool   `yaml:"path_style"`
}

// Worker defaults.
const (
	DefaultWorkerListen       = "127.0.0.1:9090"
	DefaultWorkerFlightListen = "127.0.0.1:9091"
	DefaultWorkerAdminListen  = "127.0.0.1:9092"
	DefaultMemoryBudget       = 128 << 20
	DefaultTokenTTL           = time.Hour
)

func (w *Workers) applyDefaults(adminListen string) {
	if w.TokenTTL == 0 {
		w.TokenTTL = DefaultTokenTTL
	}
	if w.Bucket == "" {
		w.Bucket = "propolis"
	}
	if w.Scheme == "" {
		w.Scheme = "s3a"
	}
	if w.Listen == "" {
		w.Listen = DefaultWorkerListen
	}
	if w.FlightListen == "" {
		w.FlightListen = DefaultWorkerFlightListen
	}
	if w.AdminListen == "" {
		w.AdminListen = DefaultWorkerAdminListen
	}
	if len(w.Servers) == 0 && adminListen != "" {
		w.Servers = []string{"http://" + adminListen}
	}
	if w.MemoryBudget == 0 {
		w.MemoryBudget = DefaultMemoryBudget
	}
	if w.Storage.Region == "" {
		w.Storage.Region = "us-east-1"
	}
}

var (
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	keyIDName  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
)

// Location is the prefix of worker locations: <scheme>://<bucket>/.
func (w Workers) Location() string { return w.Scheme + "://" + w.Bucket + "/" }

func (w Workers) validate(add func(field, format string, args ...any)) {
	configured := w.Enabled || len(w.TokenKeys) > 0
	if w.Enabled && len(w.TokenKeys) == 0 {
		add("workers.token_keys", "the worker path needs at least one token key")
	}
	ids := map[string]bool{}
	for i, k := range w.TokenKeys {
		path := fmt.Sprintf("workers.token_keys[%d]", i)
		if !keyIDName.MatchString(k.ID) {
			add(path+".id", "must be 1-32 letters, digits, - or _, not %q", k.ID)
		} else if ids[k.ID] {
			add(path+".id", "%q is used twice", k.ID)
		}
		ids[k.ID] = true
		if len(k.Secret) < 32 {
			add(path+".secret", "must be at least 32 characters")
		}
	}
	if configured && len(w.FleetKey) < 16 {
		add("workers.fleet_key", "must be at least 16 characters when the worker path is configured")
	}
	if w.TokenTTL < 0 {
		add("workers.token_ttl", "must be > 0")
	}
	if !bucketName.MatchString(w.Bucket) {
		add("workers.bucket", "%q is not a valid S3 bucket name", w.Bucket)
	}
	switch w.Scheme {
	case "s3", "s3a", "s3n":
	default:
		add("workers.scheme", "must be s3, s3a or s3n, not %q", w.Scheme)
	}
	for field, a := range map[string]string{"workers.listen": w.Listen, "workers.flight_listen": w.FlightListen, "workers.admin_listen": w.AdminListen} {
		if a == "" && field == "workers.listen" {
			add(field, "must not be empty")
			continue
		}
		if a != "" {
			if err := checkAddress(a); err != nil {
				add(field, "%v", err)
			}
		}
	}
	for i, s := range w.Servers {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(fmt.Sprintf("workers.servers[%d]", i), "%q is not an http(s) URL", s)
		}
	}
	for i, l := range w.FlightLocations {
		if u, err := url.Parse(l); err != nil || !strings.HasPrefix(u.Scheme, "grpc") || u.Host == "" {
			add(fmt.Sprintf("workers.flight_locations[%d]", i), "%q is not a grpc:// or grpc+tls:// URI", l)
		}
	}
	if w.MemoryBudget < 1<<20 {
		add("workers.memory_budget", "must be at least 1MiB")
	}
	if w.MaxMemory < 0 || (w.MaxMemory > 0 && w.MaxMemory < w.MemoryBudget) {
		add("workers.max_memory", "must be 0 (automatic) or at least workers.memory_budget")
	}
	for i, l := range w.AllowedLocations {
		if msg := checkRoot(l); msg != "" {
			add(fmt.Sprintf("workers.allowed_locations[%d]", i), "%q %s", l, msg)
		}
	}
	versions := map[string]bool{}
	for i, k := range w.Keys {
		path := fmt.Sprintf("workers.keys[%d]", i)
		if !keyIDName.MatchString(k.ID) {
			add(path+".id", "must be 1-32 letters, digits, - or _, not %q", k.ID)
		}
		if k.Version < 1 {
			add(path+".version", "must be at least 1")
		}
		if v := fmt.Sprintf("%s/%d", k.ID, k.Version); versions[v] {
			add(path, "key %s version %d is defined twice", k.ID, k.Version)
		} else {
			versions[v] = true
		}
		if len(k.Secret) < 32 {
			add(path+".secret", "must be at least 32 characters")
		}
	}
	if w.NoiseSecret != "" && len(w.NoiseSecret) < 32 {
		add("workers.noise_secret", "must be at least 32 characters")
	}
	if w.Storage.Endpoint != "" {
		if u, err := url.Parse(w.Storage.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("workers.storage.endpoint", "%q is not an http(s) URL", w.Storage.Endpoint)
		}
	}
	if (w.Storage.AccessKey == "") != (w.Storage.SecretKey == "") {
		add("workers.storage", "access_key and secret_key go together")
	}
}

// checkRoot says what is wrong with an allowed location, or "".
func checkRoot(l string) string {
	p := l
	if !strings.HasPrefix(l, "/") {
		u, err := url.Parse(l)
		if err != nil || u.Scheme == "" {
			return "is not an absolute path or a URI"
		}
		if u.Scheme == "file" {
			if u.Host != "" && u.Host != "localhost" {
				return "is a file URI with a remote host"
			}
		} else if u.Host == "" {
			return "names no bucket or host"
		}
		p = u.Path
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return "has a . or .. segment"
		}
	}
	return ""
}

// WorkerAllowedLocations are the roots workers may read: workers.allowed_locations, or the
// warehouse when none are configured.
func (c *Config) WorkerAllowedLocations() []string {
	if len(c.Workers.AllowedLocations) > 0 {
		return c.Workers.AllowedLocations
	}
	return []string{c.Warehouse}
}
