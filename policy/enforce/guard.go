package enforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy"
	"github.com/propolis/propolis/policy/audit"
	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/thrift"
)

// Config is the enforcement configuration.
type Config struct {
	Profiles []Profile
	// Default is the profile of connections whose context names none; "" refuses them.
	Default string
	// AliasKey is the secret raw-table alias tokens are keyed with. Required (at least 16
	// bytes) when a trusted Hive-dialect profile exists.
	AliasKey []byte
	// LoadTable returns a table's schema, for decisions made from names alone (CheckRaw).
	// The handler passes its backend's GetTable; it is called without the Guard in the way.
	LoadTable func(ctx context.Context, db, table string) (*hm.Table, error)
	// Workers, when set, serves protected tables that the caller's engine cannot be trusted
	// with (or cannot evaluate) from the worker fleet instead of refusing them.
	Workers *WorkerPath
}

// Audit actions. Writes are audited under their operation (create, alter, drop, insert,
// lock). Paths are audit.audit.PathNative for policy views and the aliases they read, and
// audit.audit.PathNone for everything else.
const (
	ActionGetTable     = "get_table"
	ActionListDBs      = "list_databases"
	ActionListTables   = "list_tables"
	ActionReadRaw      = "read_raw"
	ActionResolveAlias = "resolve_alias"
)

// Guard enforces the current policy on every metastore response (hms.Guard).
type Guard struct {
	profiles map[string]*profile
	def      string
	key      []byte
	load     func(ctx context.Context, db, table string) (*hm.Table, error)
	workers  *WorkerPath
	current  func() *policy.Policy
	aud      recorder // nil: no audit log
	log      *slog.Logger
	now      func() time.Time
}

var (
	_ hms.Guard           = (*Guard)(nil)
	_ hms.PartitionViewer = (*Guard)(nil)
)

// minAliasKey is the shortest AliasKey accepted: 128 bits.
const minAliasKey = 16

// New builds a Guard. current returns the policy in force; when it returns nil (no policy
// loaded, the store failing) every call is denied. aud may be nil (no audit log).
func New(cfg Config, current func() *policy.Policy, aud *audit.Log, log *slog.Logger) (*Guard, error) {
	if current == nil {
		return nil, errs.Invalid("enforce: no policy source")
	}
	ps, err := buildProfiles(cfg.Profiles, cfg.Default)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.Trusted && p.dialect == expr.Hive && len(cfg.AliasKey) < minAliasKey {
			return nil, errs.Invalid("engine profile %q is a trusted Hive/Spark engine: its policy views read raw-table aliases, which need an alias key of at least %d bytes", p.Name, minAliasKey)
		}
	}
	if w := cfg.Workers; w != nil {
		switch {
		case w.Signer == nil:
			return nil, errs.Invalid("enforce: the worker path needs a token signer")
		case w.TTL <= 0:
			return nil, errs.Invalid("enforce: the worker path needs a positive token lifetime")
		case w.Base == "":
			return nil, errs.Invalid("enforce: the worker path needs the fleet's location prefix")
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Guard{
		profiles: ps,
		def:      cfg.Default,
		key:      append([]byte(nil), cfg.AliasKey...),
		load:     cfg.LoadTable,
		workers:  cfg.Workers,
		current:  current,
		log:      log,
		now:      time.Now,
	}
	if aud != nil {
		g.aud = aud
	}
	return g, nil
}

// recorder is what the Guard needs of the audit log.
type recorder interface {
	Record(ctx context.Context, e audit.Entry) error
}

// call is one caller's request: who, through which engine, under which policy.
type call struct {
	who     policy.Principal
	prof    *profile
	pol     *policy.Policy
	service bool // the policy's service principal on a trusted profile
}

func (c *call) engine() string {
	if c.prof == nil {
		return ""
	}
	return c.prof.Name
}

// caller resolves the caller of ctx. Without a session, a profile or a policy it fails
// closed; the error is still audited by the callers.
func (g *Guard) caller(ctx context.Context) (*call, error) {
	c := &call{}
	if s := thrift.SessionFrom(ctx); s != nil {
		id := s.Identity()
		c.who = policy.Principal{User: id.User, Groups: id.Groups}
	} else {
		return c, errs.Denied("access denied: the call has no client session to take an identity from")
	}
	name := ProfileFrom(ctx)
	if name == "" {
		name = g.def
	}
	if name == "" {
		return c, errs.Denied("access denied: the connection has no engine profile and no default profile is configured")
	}
	p, ok := g.profiles[name]
	if !ok {
		return c, errs.Denied("access denied: engine profile %q is not configured", name)
	}
	c.prof = p
	c.pol = g.current()
	if c.pol == nil {
		return c, errs.Denied("access denied: no access policy is loaded (the policy store is unavailable or the policy is broken); every request is refused until one is")
	}
	return c, c.checkService()
}

// checkService marks a call by the policy's service principal (any letter case), or refuses
// it on an untrusted profile: the service principal reads everything raw, and through an
// untrusted engine (or an asserted identity on Flight) that would hand protected tables to
// whoever runs it. Every entry point that takes a caller's word for who they are asks this.
func (c *call) checkService() error {
	svc := c.pol.ServicePrincipal()
	if svc != "" && strings.EqualFold(c.who.User, svc) {
		if !c.prof.Trusted {
			return errs.Denied("access denied: %s is the policy's service principal, which is served only through trusted engine profiles, not through %q", c.who.User, c.prof.Name)
		}
		c.service = true
	}
	return nil
}

func (c *call) env() expr.RenderEnv {
	return expr.RenderEnv{User: c.who.User, Groups: c.pol.Groups(c.who)}
}

func (c *call) version() int64 { return c.pol.Version() }

// record writes one audit entry. A write failure is logged (and kept by audit.Log.Err) but
// does not fail the call: the decision is already made and enforced, and a full disk should
// not take every engine down.
func (g *Guard) record(ctx context.Context, c *call, action, object string, outcome, path string, d *policy.Decision, err error) {
	e := audit.Entry{
		Time:    g.now(),
		User:    c.who.User,
		Groups:  c.who.Groups,
		Engine:  c.engine(),
		Action:  action,
		Object:  object,
		Outcome: outcome,
		Path:    path,
	}
	if c.pol != nil {
		e.PolicyVersion = c.pol.Version()
	}
	if d != nil {
		e.Rules = d.Rules
		e.Reason = d.Reason
	}
	if err != nil {
		e.Reason = err.Error()
	}
	if g.aud == nil {
		return
	}
	if aerr := g.aud.Record(ctx, e); aerr != nil {
		g.log.Error("audit log write failed; the decision stands", "action", action, "object", object, "user", e.User, "outcome", outcome, "err", aerr)
	}
}

// recordListing audits one listing as a whole: how many names were shown, not which.
func (g *Guard) recordListing(ctx context.Context, c *call, action, object string, shown, of int) {
	outcome := audit.OutcomeRestricted
	if shown == of {
		outcome = audit.OutcomeRaw
	}
	g.record(ctx, c, action, object, outcome, audit.PathNone, &policy.Decision{Reason: fmt.Sprintf("%d of %d shown", shown, of)}, nil)
}

// FilterDatabases keeps the databases the policy lets the caller see.
func (g *Guard) FilterDatabases(ctx context.Context, dbs []string) ([]string, error) {
	c, err := g.caller(ctx)
	if err != nil {
		g.record(ctx, c, ActionListDBs, "*", audit.OutcomeDenied, audit.PathNone, nil, err)
		return nil, err
	}
	if c.service {
		g.recordListing(ctx, c, ActionListDBs, "*", len(dbs), len(dbs))
		return dbs, nil
	}
	out := make([]string, 0, len(dbs))
	for _, db := range dbs {
		if c.pol.DatabaseVisible(c.who, strings.ToLower(db)) {
			out = append(out, db)
		}
	}
	g.recordListing(ctx, c, ActionListDBs, "*", len(out), len(dbs))
	return out, nil
}

// FilterTables keeps the tables of db the policy lets the caller see.
func (g *Guard) FilterTables(ctx context.Context, db string, tables []string) ([]string, error) {
	c, err := g.caller(ctx)
	if err != nil {
		g.record(ctx, c, ActionListTables, db, audit.OutcomeDenied, audit.PathNone, nil, err)
		return nil, err
	}
	if c.service {
		g.recordListing(ctx, c, ActionListTables, strings.ToLower(db), len(tables), len(tables))
		return tables, nil
	}
	ldb := strings.ToLower(db)
	out := c.pol.VisibleTables(c.who, ldb, tables)
	g.recordListing(ctx, c, ActionListTables, ldb, len(out), len(tables))
	return out, nil
}

// decide is the policy decision for t, failing closed on a policy error.
func (g *Guard) decide(c *call, t *hm.Table) (policy.Decision, error) {
	if c.service {
		return policy.Decision{Outcome: policy.Raw, Version: c.version(), Reason: "the service principal reads every table raw"}, nil
	}
	return c.pol.DecideTable(c.who, tableRef(t))
}

func qualified(db, table string) string { return strings.ToLower(db) + "." + strings.ToLower(table) }

// Table returns what the caller is shown of t.
func (g *Guard) Table(ctx context.Context, t *hm.Table) (*hm.Table, error) {
	if t == nil {
		return nil, errs.Invalid("no table")
	}
	obj := qualified(t.DbName, t.TableName)
	c, err := g.caller(ctx)
	if err != nil {
		g.record(ctx, c, ActionGetTable, obj, audit.OutcomeDenied, audit.PathNone, nil, err)
		return nil, err
	}
	d, err := g.decide(c, t)
	if err != nil {
		err = errs.Denied("access to %s denied: the policy could not decide: %w", obj, err)
		g.record(ctx, c, ActionGetTable, obj, audit.OutcomeError, audit.PathNone, nil, err)
		return nil, err
	}
	switch d.Outcome {
	case policy.Raw:
		g.record(ctx, c, ActionGetTable, obj, audit.OutcomeRaw, audit.PathNone, &d, nil)
		return t, nil
	case policy.Restricted:
		v, path, err := g.restricted(c, t, d)
		if err != nil {
			g.record(ctx, c, ActionGetTable, obj, audit.OutcomeDenied, audit.PathNone, &d, err)
			return nil, err
		}
		g.record(ctx, c, ActionGetTable, obj, audit.OutcomeRestricted, path, &d, nil)
		return v, nil
	default:
		// Hidden, or an outcome this code does not know: the table does not exist.
		g.record(ctx, c, ActionGetTable, obj, audit.OutcomeHidden, audit.PathNone, &d, nil)
		return nil, hms.TableNotFound(t.DbName, t.TableName)
	}
}

// restricted builds the policy view of t for the caller's engine, or the worker-path table
// when the engine cannot be trusted with the policy or cannot evaluate it, or says why it can
// be served neither way. path is the audit path that enforces it.
func (g *Guard) restricted(c *call, t *hm.Table, d policy.Decision) (*hm.Table, string, error) {
	obj := qualified(t.DbName, t.TableName)
	user := c.who.User
	var p *plan
	var err error
	if !d.NeedsWorker && c.prof.Trusted {
		p, err = buildPlan(tableRef(t), d, c.prof.dialect, c.env())
	}
	if g.usesWorker(c, d, err) {
		v, err := g.workerTable(c, t, d)
		return v, audit.PathWorker, err
	}
	if d.NeedsWorker {
		return nil, "", errs.Denied("%s is protected by a mask or row filter that needs the worker path, which is not enabled: it is not served to %s", obj, user)
	}
	if !c.prof.Trusted {
		return nil, "", errs.Denied("%s is protected by masks, hidden columns or a row filter, and engine profile %q is untrusted: untrusted engines get no raw location for protected tables (the worker path serves them, when enabled)", obj, c.prof.Name)
	}
	var we *workerError
	switch {
	case errors.As(err, &we):
		return nil, "", errs.Denied("%s is protected by a policy %s cannot evaluate natively (%w), and the worker path is not enabled: it is not served to %s", obj, c.prof.dialect, we.err, user)
	case err != nil:
		return nil, "", errs.Denied("%s is protected and its policy cannot be enforced (%w): it is not served to %s", obj, err, user)
	}
	alias := aliasName(g.key, aliasSubject(user, c.prof.Name), t.DbName, t.TableName, c.version())
	if c.prof.dialect == expr.Trino {
		v, err := trinoView(t, p, c.prof.TrinoCatalog, c.pol.ServicePrincipal(), alias)
		return v, audit.PathNative, err
	}
	return hiveView(t, p, alias), audit.PathNative, nil
}

// ResolveAlias is how the handler serves the raw-table alias a Hive/Spark policy view reads:
// in get_table (and the partition and statistics calls that follow it), when name has the
// alias shape (<table>__raw_<16 hex digits>, see SplitAlias), it asks ResolveAlias. ok is true
// only when the token was issued to this caller, for this table, under the policy in force,
// through a trusted Hive-dialect profile; then table is the real table's name and the handler
// serves it raw to this caller (under the alias's name, so the engine's follow-up calls name
// the alias too), without passing it through Table. Every resolution is audited.
func (g *Guard) ResolveAlias(ctx context.Context, db, name string) (table string, ok bool) {
	lname := strings.ToLower(name)
	if base, found := strings.CutSuffix(lname, DefinerSuffix); found && base != "" {
		return g.resolveDefiner(ctx, db, lname, base)
	}
	tbl, token, shaped := SplitAlias(lname)
	if !shaped {
		return "", false
	}
	obj := qualified(db, lname)
	c, err := g.caller(ctx)
	if err != nil {
		g.record(ctx, c, ActionResolveAlias, obj, audit.OutcomeDenied, audit.PathNone, nil, err)
		return "", false
	}
	if !c.prof.Trusted {
		g.record(ctx, c, ActionResolveAlias, obj, audit.OutcomeDenied, audit.PathNone, nil, fmt.Errorf("raw-table aliases are served only to trusted engines, not through profile %q", c.prof.Name))
		return "", false
	}
	want := aliasToken(g.key, aliasSubject(c.who.User, c.prof.Name), db, tbl, c.version())
	if !hmacEqual(want, token) {
		g.record(ctx, c, ActionResolveAlias, obj, audit.OutcomeDenied, audit.PathNone, nil, fmt.Errorf("alias token not issued to %s for %s under policy version %d", c.who.User, qualified(db, tbl), c.version()))
		return "", false
	}
	g.record(ctx, c, ActionResolveAlias, obj, audit.OutcomeRaw, audit.PathNative, nil, nil)
	return tbl, true
}

// resolveDefiner serves the raw table behind a Trino definer view to its definer only.
func (g *Guard) resolveDefiner(ctx context.Context, db, name, base string) (string, bool) {
	obj := qualified(db, name)
	c, err := g.caller(ctx)
	if err != nil {
		g.record(ctx, c, ActionResolveAlias, obj, audit.OutcomeDenied, audit.PathNone, nil, err)
		return "", false
	}
	if !c.service {
		g.record(ctx, c, ActionResolveAlias, obj, audit.OutcomeDenied, audit.PathNone, nil,
			fmt.Errorf("the raw table behind a view is served only to the service principal on a trusted profile, not to %s", c.who.User))
		return "", false
	}
	g.record(ctx, c, ActionResolveAlias, obj, audit.OutcomeRaw, audit.PathNative, nil, nil)
	return base, true
}

// CheckRaw allows partition, location and statistics calls on db.table only to callers who
// read it raw. A valid raw-table alias (see ResolveAlias) counts as raw for its caller.
func (g *Guard) CheckRaw(ctx context.Context, db, table string) error {
	obj := qualified(db, table)
	c, err := g.caller(ctx)
	if err != nil {
		g.record(ctx, c, ActionReadRaw, obj, audit.OutcomeDenied, audit.PathNone, nil, err)
		return err
	}
	if c.service {
		g.record(ctx, c, ActionReadRaw, obj, audit.OutcomeRaw, audit.PathNone, nil, nil)
		return nil
	}
	if _, _, shaped := SplitAlias(strings.ToLower(table)); shaped {
		if _, ok := g.ResolveAlias(ctx, db, table); ok {
			return nil
		}
	}
	if g.load == nil {
		err := errs.Denied("access to %s denied: the guard has no table loader to decide with", obj)
		g.record(ctx, c, ActionReadRaw, obj, audit.OutcomeDenied, audit.PathNone, nil, err)
		return err
	}
	if !c.pol.TableVisible(c.who, strings.ToLower(db), strings.ToLower(table)) {
		g.record(ctx, c, ActionReadRaw, obj, audit.OutcomeHidden, audit.PathNone, nil, nil)
		return hms.TableNotFound(db, table)
	}
	t, err := g.load(ctx, db, table)
	if err != nil {
		g.record(ctx, c, ActionReadRaw, obj, audit.OutcomeDenied, audit.PathNone, nil, err)
		return err
	}
	d, err := g.decide(c, t)
	if err != nil {
		err = errs.Denied("access to %s denied: the policy could not decide: %w", obj, err)
		g.record(ctx, c, ActionReadRaw, obj, audit.OutcomeError, audit.PathNone, nil, err)
		return err
	}
	switch d.Outcome {
	case policy.Raw:
		g.record(ctx, c, ActionReadRaw, obj, audit.OutcomeRaw, audit.PathNone, &d, nil)
		return nil
	case policy.Restricted:
		err := errs.Denied("%s is protected: its partitions, locations and statistics are not served to %s", obj, c.who.User)
		g.record(ctx, c, ActionReadRaw, obj, audit.OutcomeDenied, audit.PathNone, &d, err)
		var perr error
		if !d.NeedsWorker && c.prof.Trusted {
			_, perr = buildPlan(tableRef(t), d, c.prof.dialect, c.env())
		}
		if g.usesWorker(c, d, perr) {
			return &hms.WithheldError{Err: err}
		}
		return err
	default:
		g.record(ctx, c, ActionReadRaw, obj, audit.OutcomeHidden, audit.PathNone, &d, nil)
		return hms.TableNotFound(db, table)
	}
}

// writePrivilege maps a Guard write operation to the policy privilege it needs.
var writePrivilege = map[string]policy.Privilege{
	hms.OpCreate: policy.Create,
	hms.OpAlter:  policy.Alter,
	hms.OpDrop:   policy.Drop,
	hms.OpInsert: policy.Insert,
	hms.OpLock:   policy.Insert,
}

// CheckWrite allows a change when the policy grants the caller the matching privilege.
func (g *Guard) CheckWrite(ctx context.Context, op, db, table string) error {
	obj := strings.ToLower(db)
	if table != "" {
		obj = qualified(db, table)
	}
	c, err := g.caller(ctx)
	if err != nil {
		g.record(ctx, c, op, obj, audit.OutcomeDenied, audit.PathNone, nil, err)
		return err
	}
	priv, ok := writePrivilege[op]
	if !ok {
		err := errs.Denied("%s on %s denied: unknown write operation %q", op, obj, op)
		g.record(ctx, c, op, obj, audit.OutcomeDenied, audit.PathNone, nil, err)
		return err
	}
	if c.service {
		g.record(ctx, c, op, obj, audit.OutcomeRaw, audit.PathNone, nil, nil)
		return nil
	}
	// A change to something the caller cannot see is answered as if it did not exist. (A
	// create names something new: its privilege alone decides.)
	if op != hms.OpCreate {
		var hidden error
		switch {
		case table != "" && !c.pol.TableVisible(c.who, strings.ToLower(db), strings.ToLower(table)):
			hidden = hms.TableNotFound(db, table)
		case table == "" && !c.pol.DatabaseVisible(c.who, strings.ToLower(db)):
			hidden = hms.DatabaseNotFound(db)
		}
		if hidden != nil {
			g.record(ctx, c, op, obj, audit.OutcomeHidden, audit.PathNone, nil, nil)
			return hidden
		}
	}
	if err := c.pol.CheckWrite(c.who, priv, strings.ToLower(db), strings.ToLower(table)); err != nil {
		if errs.KindOf(err) != errs.KindDenied && errs.KindOf(err) != errs.KindNotFound {
			err = errs.Denied("%s on %s denied: %w", op, obj, err)
		}
		g.record(ctx, c, op, obj, audit.OutcomeDenied, audit.PathNone, nil, err)
		return err
	}
	g.record(ctx, c, op, obj, audit.OutcomeRaw, audit.PathNone, nil, nil)
	return nil
}
