package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/propolis/propolis/internal/errs"
)

// Config is the whole configuration file.
type Config struct {
	// Listen is the Thrift (HMS protocol) address.
	Listen string `yaml:"listen"`
	// DataDir holds Propolis's own state (the SQLite catalog, the default warehouse).
	DataDir string `yaml:"data_dir"`
	// Warehouse is the root under which managed tables get their locations.
	Warehouse string    `yaml:"warehouse"`
	Store     Store     `yaml:"store"`
	Thrift    Thrift    `yaml:"thrift"`
	Admin     Admin     `yaml:"admin"`
	Log       Log       `yaml:"log"`
	Locks     Locks     `yaml:"locks"`
	Metastore Metastore `yaml:"metastore"`
	// Federation adds upstream Hive Metastores and Glue catalogs next to the embedded one.
	Federation Federation `yaml:"federation"`
	// Policy enforces access policy per user and engine.
	Policy Policy `yaml:"policy"`
	// Workers is the worker path and the worker processes' own settings.
	Workers Workers `yaml:"workers"`

	// source names the file the config came from, for error messages.
	source string
}

// Store is the embedded catalog's database.
type Store struct {
	// Driver is "sqlite" or "mysql".
	Driver string `yaml:"driver"`
	// DSN is a file path (sqlite) or a go-sql-driver/mysql DSN.
	DSN string `yaml:"dsn"`
}

// Thrift bounds what one client can cost the server.
type Thrift struct {
	MaxMessageBytes int64 `yaml:"max_message_bytes" unit:"bytes"`
	MaxConnections  int   `yaml:"max_connections"`
	// MaxConnectionsPerSource caps connections from one client address, waiting ones included.
	MaxConnectionsPerSource int `yaml:"max_connections_per_source"`
	// ConnectionWait is how long a connection over max_connections waits for a free slot
	// before it is refused with an error; 0 refuses it at once.
	ConnectionWait time.Duration `yaml:"connection_wait"`
	// HandshakeTimeout is how long a new connection may take to send its first byte.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	IdleTimeout      time.Duration `yaml:"idle_timeout"`
	// ReadTimeout is the time allowed to read one message once its first byte arrived.
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
}

// Admin is the HTTP server for /metrics, /healthz and /readyz.
type Admin struct {
	// Listen is its address; "" disables it.
	Listen string `yaml:"listen"`
}

// Log configures the process log.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// Locks configures Hive's lock manager (lock, check_lock, unlock, heartbeat).
type Locks struct {
	// Timeout is how long a lock lives without a heartbeat (Hive's hive.txn.timeout).
	Timeout time.Duration `yaml:"timeout"`
}

// Metastore holds HMS behaviours that are settings in Hive.
type Metastore struct {
	// ConfigValues are what get_config_value answers, on top of the defaults (see
	// EffectiveConfigValues).
	ConfigValues map[string]string `yaml:"config_values"`
	// TrustSetUGI takes the caller's identity from set_ugi when the connection carries no
	// authenticated one.
	TrustSetUGI bool `yaml:"trust_set_ugi"`
}

// Defaults not derived from other fields.
const (
	DefaultListen          = "127.0.0.1:9083"
	DefaultAdminListen     = "127.0.0.1:9084"
	DefaultDataDir         = "./.propolis"
	DefaultMaxMessageBytes = 100 << 20
	DefaultMaxConnections  = 1000
	// DefaultMaxConnectionsPerSource leaves room for a busy coordinator's connection pool
	// while keeping one address from taking every slot.
	DefaultMaxConnectionsPerSource = 200
	DefaultConnectionWait          = 10 * time.Second
	DefaultHandshakeTimeout        = 10 * time.Second
	DefaultIdleTimeout             = 10 * time.Minute
	DefaultReadTimeout             = 60 * time.Second
	DefaultWriteTimeout            = 60 * time.Second
	DefaultLockTimeout             = 300 * time.Second

	// WarehouseDirKey is the Hive setting get_config_value reports the warehouse under.
	WarehouseDirKey = "hive.metastore.warehouse.dir"
)

// base is the configuration with every fixed default and nothing derived yet.
func base() *Config {
	return &Config{
		Listen:  DefaultListen,
		DataDir: DefaultDataDir,
		Store:   Store{Driver: "sqlite"},
		Thrift: Thrift{
			MaxMessageBytes:         DefaultMaxMessageBytes,
			MaxConnections:          DefaultMaxConnections,
			MaxConnectionsPerSource: DefaultMaxConnectionsPerSource,
			ConnectionWait:          DefaultConnectionWait,
			HandshakeTimeout:        DefaultHandshakeTimeout,
			IdleTimeout:             DefaultIdleTimeout,
			ReadTimeout:             DefaultReadTimeout,
			WriteTimeout:            DefaultWriteTimeout,
		},
		Admin:     Admin{Listen: DefaultAdminListen},
		Log:       Log{Level: "info", Format: "text"},
		Locks:     Locks{Timeout: DefaultLockTimeout},
		Metastore: Metastore{TrustSetUGI: true},
	}
}

// Default returns the configuration used when there is no file: every default applied,
// data-dir-relative paths resolved against the working directory.
func Default() *Config {
	c := base()
	// Abs fails only when the working directory is gone; the relative paths then stand and
	// Validate reports nothing worse than the server will hit anyway.
	_ = c.ApplyDefaults()
	return c
}

// Load reads, defaults and validates the file at path; "" means Default().
func Load(path string) (*Config, error) {
	if path == "" {
		c := Default()
		return c, c.Validate()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errs.NotFound("config file %s does not exist", path)
		}
		return nil, errs.Invalid("reading config file: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data (named name in errors), applies defaults and validates. Every problem
// found is reported, joined.
func Parse(name string, data []byte) (*Config, error) {
	c := base()
	c.source = name
	decodeErrs, fatal := decode(name, data, c)
	if fatal != nil {
		return nil, fatal
	}
	if err := c.ApplyDefaults(); err != nil {
		decodeErrs = append(decodeErrs, err)
	}
	if err := c.Validate(); err != nil {
		decodeErrs = append(decodeErrs, err)
	}
	if len(decodeErrs) > 0 {
		return nil, errors.Join(decodeErrs...)
	}
	return c, nil
}

// ApplyDefaults resolves the defaults that depend on other fields: data_dir becomes absolute,
// the warehouse defaults to <data_dir>/warehouse and an absolute path becomes a file:// URI,
// the SQLite DSN defaults to <data_dir>/catalog.db. Empty Store.Driver, Log.Level and
// Log.Format get their defaults. Call it again after overriding fields (flags); clear
// Warehouse or Store.DSN first to re-derive them from a new DataDir.
func (c *Config) ApplyDefaults() error {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c.fieldErr("data_dir", "cannot make %q absolute: %v", c.DataDir, err)
	}
	c.DataDir = abs
	if c.Warehouse == "" {
		c.Warehouse = fileURI(filepath.Join(c.DataDir, "warehouse"))
	} else if strings.HasPrefix(c.Warehouse, "/") {
		c.Warehouse = fileURI(filepath.Clean(c.Warehouse))
	}
	if c.Store.Driver == "" {
		c.Store.Driver = "sqlite"
	}
	if c.Store.Driver == "sqlite" && c.Store.DSN == "" {
		c.Store.DSN = filepath.Join(c.DataDir, "catalog.db")
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	c.Log.Level = strings.ToLower(c.Log.Level)
	c.Log.Format = strings.ToLower(c.Log.Format)
	c.Federation.applyDefaults()
	c.Policy.applyDefaults(c.DataDir)
	c.Workers.applyDefaults(c.Admin.Listen)
	return nil
}

func fileURI(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}

// EffectiveConfigValues is what get_config_value answers: hive.metastore.warehouse.dir is the
// warehouse unless config_values sets it, then every config_values entry. The result is a new
// map.
func (c *Config) EffectiveConfigValues() map[string]string {
	out := map[string]string{WarehouseDirKey: c.Warehouse}
	maps.Copy(out, c.Metastore.ConfigValues)
	return out
}

// warehouseSchemes are the URI schemes accepted for the warehouse: local files and the object
// stores and file systems Hive's own warehouse supports.
var warehouseSchemes = map[string]bool{
	"file": true, "s3": true, "s3a": true, "s3n": true, "hdfs": true,
	"gs": true, "abfs": true, "abfss": true, "wasb": true, "wasbs": true,
}

// Validate checks every field and reports all problems, joined; each names the file and the
// field's path.
func (c *Config) Validate() error {
	var problems []error
	add := func(field, format string, args ...any) {
		problems = append(problems, c.fieldErr(field, format, args...))
	}

	if err := checkAddress(c.Listen); err != nil {
		add("listen", "%v", err)
	}
	if c.Admin.Listen != "" {
		if err := checkAddress(c.Admin.Listen); err != nil {
			add("admin.listen", "%v", err)
		} else if c.Admin.Listen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
			// Port 0 asks the kernel for a free port, so two :0 addresses never collide.
			add("admin.listen", "must differ from listen (%s)", c.Listen)
		}
	}
	if c.DataDir == "" {
		add("data_dir", "must not be empty")
	}
	if msg := checkWarehouse(c.Warehouse); msg != "" {
		add("warehouse", "%s", msg)
	}

	switch c.Store.Driver {
	case "sqlite":
		if c.Store.DSN == "" {
			add("store.dsn", "must not be empty")
		}
	case "mysql":
		if c.Store.DSN == "" {
			add("store.dsn", `required when store.driver is "mysql"`)
			break
		}
		cfg, err := mysql.ParseDSN(c.Store.DSN)
		if err != nil {
			// The driver's message never echoes the DSN, so no password leaks here.
			add("store.dsn", "not a valid MySQL DSN (user:password@tcp(host:3306)/dbname): %v", err)
		} else if cfg.DBName == "" {
			add("store.dsn", "names no database (user:password@tcp(host:3306)/dbname)")
		}
	default:
		add("store.driver", `must be "sqlite" or "mysql", not %q`, c.Store.Driver)
	}

	if c.Thrift.MaxMessageBytes <= 0 {
		add("thrift.max_message_bytes", "must be > 0")
	}
	if c.Thrift.MaxConnections <= 0 {
		add("thrift.max_connections", "must be > 0")
	}
	if c.Thrift.MaxConnectionsPerSource <= 0 {
		add("thrift.max_connections_per_source", "must be > 0")
	}
	if c.Thrift.ConnectionWait < 0 {
		add("thrift.connection_wait", "must be >= 0 (0 refuses connections over the limit at once)")
	}
	if c.Thrift.HandshakeTimeout > 0 && c.Thrift.IdleTimeout > 0 && c.Thrift.HandshakeTimeout > c.Thrift.IdleTimeout {
		add("thrift.handshake_timeout", "must not exceed thrift.idle_timeout (%s)", c.Thrift.IdleTimeout)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"thrift.handshake_timeout", c.Thrift.HandshakeTimeout},
		{"thrift.idle_timeout", c.Thrift.IdleTimeout},
		{"thrift.read_timeout", c.Thrift.ReadTimeout},
		{"thrift.write_timeout", c.Thrift.WriteTimeout},
		{"locks.timeout", c.Locks.Timeout},
	} {
		if d.v <= 0 {
			add(d.field, "must be > 0")
		}
	}

	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	switch strings.ToLower(c.Log.Format) {
	case "text", "json":
	default:
		add("log.format", "must be text or json, not %q", c.Log.Format)
	}
	for k := range c.Metastore.ConfigValues {
		if strings.TrimSpace(k) == "" {
			add("metastore.config_values", "keys must not be empty")
		}
	}
	c.Federation.validate(add)
	c.Policy.validate(c.Listen, c.Admin.Listen, add)
	c.Workers.validate(add)
	if c.Workers.Enabled && !c.Policy.Enabled {
		add("workers.enabled", "the worker path serves policy decisions: it needs policy.enabled")
	}
	return errors.Join(problems...)
}

func (c *Config) fieldErr(field, format string, args ...any) error {
	return fieldError(c.source, field, fmt.Sprintf(format, args...))
}

// fieldError is one problem with one field: "file: field: message" (the file part omitted when
// the config did not come from a file).
func fieldError(source, field, msg string) error {
	prefix := ""
	if source != "" {
		prefix = source + ": "
	}
	if field != "" {
		prefix += field + ": "
	}
	return errs.Invalid("%s%s", prefix, msg)
}

func checkAddress(addr string) error {
	if addr == "" {
		return errors.New("must not be empty")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (%v)", addr, strings.TrimPrefix(err.Error(), "address "+addr+": "))
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("%q has an invalid host", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has an invalid port %q (want 0-65535)", addr, port)
	}
	return nil
}

func checkWarehouse(w string) string {
	if w == "" {
		return "must not be empty"
	}
	u, err := url.Parse(w)
	if err != nil {
		return fmt.Sprintf("%q is not a URI: %v", w, err)
	}
	if u.Scheme == "" {
		return fmt.Sprintf("%q must be an absolute URI (file:, s3:, s3a:, hdfs:, ...) or an absolute path", w)
	}
	scheme := strings.ToLower(u.Scheme)
	if !warehouseSchemes[scheme] {
		return fmt.Sprintf("%q has unsupported scheme %q (want file, s3, s3a, s3n, hdfs, gs, abfs, abfss, wasb or wasbs)", w, u.Scheme)
	}
	if u.Opaque != "" {
		return fmt.Sprintf("%q must be an absolute URI (%s:// or %s:///path)", w, scheme, scheme)
	}
	switch scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return fmt.Sprintf("%q: a file URI cannot name a host", w)
		}
		if !strings.HasPrefix(u.Path, "/") {
			return fmt.Sprintf("%q: a file URI needs an absolute path", w)
		}
	case "hdfs":
	default:
		if u.Host == "" {
			return fmt.Sprintf("%q names no bucket or container", w)
		}
	}
	return ""
}

// MarshalYAML prints the store with a MySQL password replaced by "xxxxx", so that printing a
// resolved configuration (`propolis config check`) does not put a secret on the terminal or in
// logs. The DSN field itself is untouched.
func (s Store) MarshalYAML() (any, error) {
	type plain Store // without this method
	out := plain(s)
	out.DSN = RedactDSN(s.Driver, s.DSN)
	return out, nil
}

// RedactDSN hides the password of a MySQL DSN; other DSNs are returned as they are.
func RedactDSN(driver, dsn string) string {
	if driver != "mysql" || dsn == "" {
		return dsn
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil || cfg.Passwd == "" {
		return dsn
	}
	cfg.Passwd = "xxxxx"
	return cfg.FormatDSN()
}
