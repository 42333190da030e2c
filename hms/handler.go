package hms

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/beltran/gohive/gohivemeta/fb303"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
	pthrift "github.com/propolis/propolis/thrift"
)

//go:generate go run ./internal/gen

// HandlerConfig is what the handler needs from the configuration file.
type HandlerConfig struct {
	// Version is reported by getVersion.
	Version string
	// Warehouse is the root URI reported for the catalog.
	Warehouse string
	// ConfigValues answers get_config_value and getMetaConf.
	ConfigValues map[string]string
	// TrustSetUGI makes set_ugi establish the caller's identity for the connection.
	TrustSetUGI bool
}

// Handler implements the Hive Metastore Thrift service over a Backend.
type Handler struct {
	b     atomic.Pointer[backendBox]
	guard Guard
	cfg   HandlerConfig
	log   *slog.Logger
	start time.Time
}

// backendBox lets an interface value live behind an atomic pointer.
type backendBox struct{ Backend }

// NewHandler returns the handler serving b.
func NewHandler(b Backend, cfg HandlerConfig, log *slog.Logger) *Handler {
	h := &Handler{cfg: cfg, log: log, start: time.Now(), guard: allowAll{}}
	h.SetBackend(b)
	return h
}

// SetBackend replaces the backend for every call that starts from now on (a configuration
// reload); calls in flight finish on the one they started with, and no connection drops.
func (h *Handler) SetBackend(b Backend) { h.b.Store(&backendBox{b}) }

func (h *Handler) backend() Backend { return h.b.Load().Backend }

// SetGuard puts access policy in front of every call; call it before serving.
func (h *Handler) SetGuard(g Guard) {
	if g == nil {
		g = allowAll{}
	}
	h.guard = g
}

// AliasResolver is implemented by guards whose views read the raw table under a per-caller
// alias (Hive and Spark views cannot run as their definer, as Trino's do).
type AliasResolver interface {
	ResolveAlias(ctx context.Context, db, name string) (table string, ok bool)
}

func (h *Handler) resolveAlias(ctx context.Context, db, name string) (string, bool) {
	if r, ok := h.guard.(AliasResolver); ok {
		return r.ResolveAlias(ctx, db, name)
	}
	return "", false
}

// readRaw is the "decide" step of calls that reveal a table's storage or data (partitions,
// statistics): it returns the table to read, which differs from r when r names a raw alias.
func (h *Handler) readRaw(ctx context.Context, r tableRef) (tableRef, error) {
	if real, ok := h.resolveAlias(ctx, r.db, r.tbl); ok {
		return tableRef{r.db, real}, nil
	}
	return r, h.guard.CheckRaw(ctx, r.db, r.tbl)
}

// Hive 3+ clients prefix database names with their catalog: "@hive#sales", or "@hive#" for the
// catalog alone. Propolis serves one catalog, "hive", and accepts the prefix anywhere a database
// name (or pattern) goes.
const catalogName = "hive"

func dbName(name string) (string, error) {
	if !strings.HasPrefix(name, "@") {
		return strings.ToLower(name), nil
	}
	cat, db, ok := strings.Cut(name[1:], "#")
	if !ok {
		return "", errs.Invalid("malformed catalog-qualified database name %q", name)
	}
	if cat != "" && !strings.EqualFold(cat, catalogName) {
		return "", errs.NotFound("catalog %s does not exist", cat)
	}
	if db == "!" { // Hive's marker for "no database" in a qualified name
		db = ""
	}
	return strings.ToLower(db), nil
}

func tableName(name string) string { return strings.ToLower(name) }

// --- fb303 ---

func (h *Handler) GetName(ctx context.Context) (string, error)    { return "propolis", nil }
func (h *Handler) GetVersion(ctx context.Context) (string, error) { return h.cfg.Version, nil }
func (h *Handler) GetStatus(ctx context.Context) (fb303.FbStatus, error) {
	return fb303.FbStatus_ALIVE, nil
}
func (h *Handler) GetStatusDetails(ctx context.Context) (string, error) { return "ALIVE", nil }
func (h *Handler) AliveSince(ctx context.Context) (int64, error)        { return h.start.Unix(), nil }

// --- session and configuration ---

// SetUgi records the caller's user and groups for the rest of the connection, when the
// operator trusts clients to say who they are (Hive's hive.metastore.execute.setugi).
func (h *Handler) SetUgi(ctx context.Context, user string, groups []string) ([]string, error) {
	if s := pthrift.SessionFrom(ctx); s != nil && h.cfg.TrustSetUGI {
		s.SetIdentity(pthrift.Identity{User: user, Groups: groups, Source: "set_ugi"})
	}
	return groups, nil
}

// GetConfigValue answers as Hive does: only hive, hdfs, mapred and metastore keys may be read,
// secrets never; a configured value first, then Hive's default for the keys engines ask about,
// then the caller's default.
func (h *Handler) GetConfigValue(ctx context.Context, name, defaultValue string) (string, error) {
	if !configReadable.MatchString(name) {
		return "", errs.Denied("For security reasons, the config key %s cannot be accessed", name)
	}
	if secretKey.MatchString(name) {
		return "", errs.Denied("the config key %s holds a secret and cannot be accessed", name)
	}
	if v, ok := h.cfg.ConfigValues[name]; ok {
		return v, nil
	}
	if name == "hive.metastore.warehouse.dir" || name == "metastore.warehouse.dir" {
		return h.cfg.Warehouse, nil
	}
	if v, ok := hiveConfigDefaults[name]; ok {
		return v, nil
	}
	return defaultValue, nil
}

var (
	configReadable = regexp.MustCompile(`^(hive|hdfs|mapred|metastore)`)
	secretKey      = regexp.MustCompile(`(?i)(password|passwd|secret|credential|keystore|truststore|token|\.key$)`)
)

// hiveConfigDefaults are Hive's defaults for keys engines read with get_config_value and parse:
// Trino reads the transaction timeout before it touches a transactional table, and an empty
// answer would fail its parsing instead of reaching Propolis's clear "no ACID" error.
var hiveConfigDefaults = map[string]string{
	"metastore.txn.timeout":                         "300s",
	"hive.txn.timeout":                              "300s",
	"hive.metastore.event.db.notification.api.auth": "true",
}

// GetMetaConf answers one of the settings a client may change for its connection: the value
// it set (setMetaConf), else the configured one, else Hive's default.
func (h *Handler) GetMetaConf(ctx context.Context, key string) (string, error) {
	k, ok := metaConfKey(key)
	if !ok {
		return "", errs.Invalid("%s is not one of the metastore settings a client may read with getMetaConf", key)
	}
	if s := pthrift.SessionFrom(ctx); s != nil {
		if v, ok := s.Conf(k); ok {
			return v, nil
		}
	}
	for _, name := range []string{key, k, "hive." + k} {
		if v, ok := h.cfg.ConfigValues[name]; ok {
			return v, nil
		}
	}
	return metaConfVars[k], nil
}

func (h *Handler) GetCatalogs(ctx context.Context) (*hm.GetCatalogsResponse, error) {
	return &hm.GetCatalogsResponse{Names: []string{catalogName}}, nil
}

func (h *Handler) GetCatalog(ctx context.Context, req *hm.GetCatalogRequest) (*hm.GetCatalogResponse, error) {
	if req == nil || !strings.EqualFold(req.Name, catalogName) {
		name := ""
		if req != nil {
			name = req.Name
		}
		return nil, errs.NotFound("catalog %s does not exist", name)
	}
	desc := "Default catalog, for Hive"
	return &hm.GetCatalogResponse{Catalog: &hm.Catalog{Name: catalogName, Description: &desc, LocationUri: h.cfg.Warehouse}}, nil
}
