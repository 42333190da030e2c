package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy/expr"
)

// trace collects what every rule did, for Explain. Decisions pass nil.
type trace struct{ lines []string }

func (t *trace) add(format string, args ...any) {
	if t != nil {
		t.lines = append(t.lines, fmt.Sprintf(format, args...))
	}
}

// access is the table-level part of a decision (no schema needed): what TableVisible and
// DecideTable share, so they cannot disagree.
type access struct {
	visible    bool
	deny       *grant   // the deny that hides the table
	grants     []*grant // table-level select grants reaching it
	colGrants  []*grant // column-level select grants reaching it
	byDefault  bool     // visible through default: allow
	rules      []string
	reasonText string
}

func (p *Policy) tableAccess(id *identity, db, table string, tr *trace) access {
	var a access
	for _, i := range p.denyIdx.candidates(db, len(p.denies), tr != nil) {
		g := &p.denies[i]
		switch {
		case !g.privs[Select]:
			if tr != nil {
				tr.add("%s: not about select", g.label)
			}
		case !g.on.tableLevel():
			if g.on.reachesTable(db, table) && g.to.match(id) {
				if tr != nil {
					tr.add("%s: applies to columns %s", g.label, g.on.col)
				}
			} else {
				if tr != nil {
					tr.add("%s: does not apply (%s, to %s)", g.label, g.on.src, g.to)
				}
			}
		case !g.on.coversTable(db, table):
			if tr != nil {
				tr.add("%s: does not cover %s.%s (%s)", g.label, db, table, g.on.src)
			}
		case !g.to.match(id):
			if tr != nil {
				tr.add("%s: not for this principal (to %s)", g.label, g.to)
			}
		default:
			if tr != nil {
				tr.add("%s: applies: deny select on %s to %s", g.label, g.on.src, g.to)
			}
			if a.deny == nil {
				a.deny = g
			}
		}
	}
	for _, i := range p.grantIdx.candidates(db, len(p.grants), tr != nil) {
		g := &p.grants[i]
		switch {
		case !g.privs[Select]:
			if tr != nil {
				tr.add("%s: does not grant select", g.label)
			}
		case !g.on.reachesTable(db, table):
			if tr != nil {
				tr.add("%s: does not reach %s.%s (%s)", g.label, db, table, g.on.src)
			}
		case !g.to.match(id):
			if tr != nil {
				tr.add("%s: not for this principal (to %s)", g.label, g.to)
			}
		case g.on.tableLevel():
			if tr != nil {
				tr.add("%s: applies: select on %s to %s", g.label, g.on.src, g.to)
			}
			a.grants = append(a.grants, g)
		default:
			if tr != nil {
				tr.add("%s: applies: select on columns %s to %s", g.label, g.on.src, g.to)
			}
			a.colGrants = append(a.colGrants, g)
		}
	}
	switch {
	case a.deny != nil:
		a.rules = []string{a.deny.label}
		a.reasonText = fmt.Sprintf("%s.%s is hidden from %s by %s", db, table, id.user, a.deny.label)
	case len(a.grants) > 0:
		a.visible = true
		a.rules = []string{a.grants[0].label}
	case len(a.colGrants) > 0:
		a.visible = true
		for _, g := range a.colGrants {
			a.rules = append(a.rules, g.label)
		}
	case p.defaultAllow:
		a.visible, a.byDefault = true, true
		a.rules = []string{"default allow"}
	default:
		a.rules = []string{"default deny"}
		a.reasonText = fmt.Sprintf("no grant of select on %s.%s reaches %s (default deny)", db, table, id.user)
	}
	return a
}

// TableVisible reports whether who may see db.table at all (for listings, without a schema).
// It agrees with DecideTable: Outcome != Hidden exactly when it is true (DecideTable may still
// fail for a visible table, and the caller then denies).
func (p *Policy) TableVisible(who Principal, db, table string) bool {
	if p == nil {
		return false
	}
	if p.isService(who) {
		return true
	}
	return p.tableAccess(p.resolve(who), db, table, nil).visible
}

// VisibleTables keeps the tables of db who may see, in order: TableVisible of each name, with
// the caller resolved and the rules that can matter for (who, db) picked once, so a listing
// costs one pass over db's rules plus, per name, only the table patterns of those rules.
func (p *Policy) VisibleTables(who Principal, db string, tables []string) []string {
	if p == nil {
		return nil
	}
	if p.isService(who) {
		return tables
	}
	id := p.resolve(who)
	db = strings.ToLower(db)
	var denies, grants []*grant
	for _, i := range p.denyIdx.candidates(db, len(p.denies), false) {
		// A table-level select deny hides a table (coversTable); column-level ones do not.
		if g := &p.denies[i]; g.privs[Select] && g.on.tableLevel() && g.on.db.match(db) && g.to.match(id) {
			denies = append(denies, g)
		}
	}
	for _, i := range p.grantIdx.candidates(db, len(p.grants), false) {
		// Any select grant reaching the table makes it visible (reachesTable).
		if g := &p.grants[i]; g.privs[Select] && g.on.db.match(db) && g.to.match(id) {
			grants = append(grants, g)
		}
	}
	out := make([]string, 0, len(tables))
next:
	for _, t := range tables {
		lt := strings.ToLower(t)
		for _, g := range denies {
			if g.on.table.match(lt) {
				continue next
			}
		}
		if p.defaultAllow {
			out = append(out, t)
			continue
		}
		for _, g := range grants {
			if g.on.table.match(lt) {
				out = append(out, t)
				continue next
			}
		}
	}
	return out
}

// DefaultDatabase is visible to everyone not denied it explicitly.
const DefaultDatabase = "default"

// DatabaseVisible reports whether some table of db could be visible to who: a select grant's
// pattern reaches db and no deny hides the whole database. The default database is always
// visible (but not its tables) unless denied.
func (p *Policy) DatabaseVisible(who Principal, db string) bool {
	if p == nil {
		return false
	}
	if p.isService(who) {
		return true
	}
	id := p.resolve(who)
	for _, i := range p.denyIdx.candidates(db, len(p.denies), false) {
		g := &p.denies[i]
		if g.privs[Select] && g.on.coversDatabase(db) && g.to.match(id) {
			return false
		}
	}
	if p.defaultAllow || db == DefaultDatabase {
		// Hive clients (Spark's session catalog among them) refuse to start without the default
		// database; its tables still follow the grants, so showing it reveals nothing.
		return true
	}
	for _, i := range p.grantIdx.candidates(db, len(p.grants), false) {
		g := &p.grants[i]
		if g.privs[Select] && g.on.db.match(db) && g.to.match(id) {
			return true
		}
	}
	return false
}

// DecideTable decides what who sees of t. Masks and filters are type-checked against
// t.Columns; an error means the policy cannot be applied to this table and the caller must
// deny (never serve it raw).
func (p *Policy) DecideTable(who Principal, t TableRef) (Decision, error) {
	return p.decide(who, t, nil)
}

func (p *Policy) decide(who Principal, t TableRef, tr *trace) (Decision, error) {
	db, table := strings.ToLower(t.DB), strings.ToLower(t.Table)
	if p == nil {
		if tr != nil {
			tr.add("no policy is loaded: everything is denied")
		}
		return Decision{Outcome: Hidden, Rules: []string{"no policy"}, Reason: "no policy is loaded, so every table is hidden"}, nil
	}
	dec := Decision{Version: p.version}
	if p.isService(who) {
		if tr != nil {
			tr.add("service_principal: %s is the service principal: every table raw", p.service)
		}
		dec.Outcome, dec.Rules = Raw, []string{"service_principal"}
		dec.Reason = fmt.Sprintf("%s is the service principal and sees every table raw", p.service)
		return dec, nil
	}
	id := p.resolve(who)
	a := p.tableAccess(id, db, table, tr)
	dec.Rules = a.rules
	if !a.visible {
		dec.Outcome, dec.Reason = Hidden, a.reasonText
		return dec, nil
	}

	cols := make(map[string]string, len(t.Columns))
	order := make([]string, 0, len(t.Columns))
	for _, c := range t.Columns {
		n := strings.ToLower(c.Name)
		if _, dup := cols[n]; !dup {
			order = append(order, n)
		}
		cols[n] = c.Type
	}
	hidden := map[string]string{} // column -> rule
	if len(a.grants) == 0 && !a.byDefault {
		// Column-level grants only: the columns they name, nothing else.
		for _, c := range order {
			ok := false
			for _, g := range a.colGrants {
				if g.on.col.match(c) {
					ok = true
					break
				}
			}
			if !ok {
				hidden[c] = "no column grant"
			}
		}
	}
	for _, i := range p.denyIdx.candidates(db, len(p.denies), tr != nil) {
		g := &p.denies[i]
		if !g.privs[Select] || g.on.tableLevel() || !g.to.match(id) {
			continue
		}
		for _, c := range order {
			if g.on.coversColumn(db, table, c) {
				if _, already := hidden[c]; !already || hidden[c] == "no column grant" {
					hidden[c] = g.label
				}
			}
		}
	}
	for _, c := range order {
		if r, ok := hidden[c]; ok {
			dec.HiddenColumns = append(dec.HiddenColumns, c)
			if r != "no column grant" && !contains(dec.Rules, r) {
				dec.Rules = append(dec.Rules, r)
			}
		}
	}
	if len(order) > 0 && len(dec.HiddenColumns) == len(order) {
		return Decision{}, errs.Denied("no column of %s.%s is visible to %s", db, table, id.user)
	}

	// Tags of the visible columns.
	tags := map[string]map[string]bool{}
	for _, c := range order {
		if _, h := hidden[c]; h {
			continue
		}
		tags[c] = p.columnTags(db, table, c, cols[c])
	}
	for _, c := range order {
		if len(tags[c]) > 0 {
			if tr != nil {
				tr.add("column %s: tags %s", c, strings.Join(sortedKeys(tags[c]), ", "))
			}
		}
	}

	// Masks: the first matching rule of each visible column wins.
	dec.Masks = map[string]string{}
	var maskLabels []string
	for _, i := range p.maskIdx.candidates(db, len(p.masks), tr != nil) {
		m := &p.masks[i]
		if m.tag == "" && !m.column.reachesTable(db, table) {
			if tr != nil {
				tr.add("%s (%s): no column of %s.%s matches", m.label, m.target(), db, table)
			}
			continue
		}
		if !m.applies(id) {
			if tr != nil {
				tr.add("%s (%s): not for this principal (to %s, except %s)", m.label, m.target(), orAll(m.to), orNone(m.except))
			}
			continue
		}
		var hit []string
		for _, c := range order {
			if _, h := hidden[c]; h {
				continue
			}
			if m.tag != "" && !tags[c][m.tag] || m.tag == "" && !m.column.coversColumn(db, table, c) {
				continue
			}
			if prev, done := dec.Masks[c]; done {
				if tr != nil {
					tr.add("%s (%s): column %s already masked (%s) by an earlier rule", m.label, m.target(), c, prev)
				}
				continue
			}
			e, err := expr.Mask(m.mask, c, cols[c])
			if err != nil {
				return Decision{}, errs.Invalid("%s.%s: %s (%s): %w", db, table, m.label, m.target(), err)
			}
			for _, d := range dialects {
				if expr.NeedsWorker(e, d) {
					dec.NeedsWorker = true
				}
			}
			dec.Masks[c] = m.mask
			hit = append(hit, c)
		}
		if len(hit) == 0 {
			if tr != nil {
				tr.add("%s (%s): no column of %s.%s matches", m.label, m.target(), db, table)
			}
			continue
		}
		if tr != nil {
			tr.add("%s (%s): applies: %s on %s", m.label, m.target(), m.mask, strings.Join(hit, ", "))
		}
		label := m.label
		if m.tag != "" {
			label += " (tag " + m.tag + ")"
		}
		maskLabels = append(maskLabels, label)
	}
	dec.Rules = append(dec.Rules, maskLabels...)

	// Row filters: every matching one, ANDed. They read raw values, hidden columns included.
	var filters []string
	for _, i := range p.filterIdx.candidates(db, len(p.filters), tr != nil) {
		f := &p.filters[i]
		switch {
		case !f.on.coversTable(db, table):
			if tr != nil {
				tr.add("%s: does not cover %s.%s (%s)", f.label, db, table, f.on.src)
			}
			continue
		case !(f.to == nil || f.to.match(id)) || f.except.match(id):
			if tr != nil {
				tr.add("%s: not for this principal (to %s, except %s)", f.label, orAll(f.to), orNone(f.except))
			}
			continue
		}
		e, err := expr.Parse(f.filter)
		if err != nil {
			return Decision{}, errs.Invalid("%s.%s: %s: %w", db, table, f.label, err)
		}
		typ, err := expr.Check(e, cols)
		if err != nil {
			return Decision{}, errs.Invalid("%s.%s: %s: %w", db, table, f.label, err)
		}
		if typ.Kind != expr.Boolean && typ.Kind != expr.Null {
			return Decision{}, errs.Invalid("%s.%s: %s: a row filter must be boolean, not %s", db, table, f.label, typ)
		}
		for _, d := range dialects {
			if expr.NeedsWorker(e, d) {
				dec.NeedsWorker = true
			}
		}
		if tr != nil {
			tr.add("%s: applies: %s", f.label, f.filter)
		}
		filters = append(filters, f.filter)
		dec.Rules = append(dec.Rules, f.label)
	}
	switch len(filters) {
	case 0:
	case 1:
		dec.RowFilter = filters[0]
	default:
		dec.RowFilter = "(" + strings.Join(filters, ") AND (") + ")"
	}

	if len(dec.HiddenColumns) == 0 && len(dec.Masks) == 0 && dec.RowFilter == "" {
		dec.Outcome, dec.Masks = Raw, nil
		dec.Reason = fmt.Sprintf("%s may read %s.%s as is (%s)", id.user, db, table, strings.Join(a.rules, ", "))
		return dec, nil
	}
	dec.Outcome = Restricted
	if len(dec.Masks) == 0 {
		dec.Masks = nil
	}
	var parts []string
	if n := len(dec.HiddenColumns); n > 0 {
		parts = append(parts, fmt.Sprintf("%d hidden column%s (%s)", n, plural(n), strings.Join(dec.HiddenColumns, ", ")))
	}
	if n := len(dec.Masks); n > 0 {
		masked := make([]string, 0, n)
		for c := range dec.Masks {
			masked = append(masked, c)
		}
		sort.Strings(masked)
		parts = append(parts, fmt.Sprintf("%d masked column%s (%s)", n, plural(n), strings.Join(masked, ", ")))
	}
	if len(filters) > 0 {
		parts = append(parts, "a row filter")
	}
	dec.Reason = fmt.Sprintf("%s may read %s.%s (%s) with %s", id.user, db, table, strings.Join(a.rules, ", "), strings.Join(parts, ", "))
	if dec.NeedsWorker {
		dec.Reason += "; enforcing it needs the worker path"
	}
	return dec, nil
}

func (m *maskRule) applies(id *identity) bool {
	return (m.to == nil || m.to.match(id)) && !m.except.match(id)
}

func orAll(s subjects) string {
	if s == nil {
		return "*"
	}
	return s.String()
}

func orNone(s subjects) string {
	if len(s) == 0 {
		return "nobody"
	}
	return s.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// columnTags is every tag the tag rules give db.table.col of Hive type typ.
func (p *Policy) columnTags(db, table, col, typ string) map[string]bool {
	out := map[string]bool{}
	typ = strings.ToLower(strings.ReplaceAll(typ, " ", ""))
	for i := range p.tags {
		r := &p.tags[i]
		hit := false
		if r.name != "" {
			hit = r.name.match(col) && (r.typ == "" || r.typ.match(typ))
		}
		for _, o := range r.columns {
			if o.coversColumn(db, table, col) {
				hit = true
			}
		}
		if hit {
			for _, t := range r.tags {
				out[t] = true
			}
		}
	}
	return out
}

// CheckWrite reports whether who may use priv on db.table (table "" is the database itself).
// A refusal is errs.Denied naming the rule. Callers should answer a write on a table the user
// cannot see as if it did not exist, before asking.
func (p *Policy) CheckWrite(who Principal, priv Privilege, db, table string) error {
	priv = Privilege(strings.ToLower(string(priv)))
	if !validPrivilege(priv) {
		return errs.Invalid("unknown privilege %q", priv)
	}
	name := strings.ToLower(db)
	if table != "" {
		name += "." + strings.ToLower(table)
	}
	if p == nil {
		return errs.Denied("%s on %s: no policy is loaded, so everything is denied", priv, name)
	}
	if p.isService(who) {
		return nil
	}
	id := p.resolve(who)
	db, table = strings.ToLower(db), strings.ToLower(table)
	covers := func(o object) bool {
		if table == "" {
			return o.coversDatabase(db)
		}
		return o.coversTable(db, table)
	}
	for i := range p.denies {
		g := &p.denies[i]
		if !g.privs[priv] || !g.to.match(id) {
			continue
		}
		// A deny on any table of a database also denies the privilege on the database:
		// dropping the database would otherwise drop the table with it.
		if covers(g.on) || (table == "" && g.on.tableLevel() && g.on.db.match(db)) {
			return errs.Denied("user %s may not %s %s: denied by %s", id.user, priv, name, g.label)
		}
	}
	// detokenize is granted by name only, never by default: allow (nor by "all").
	if p.defaultAllow && priv != Detokenize {
		return nil
	}
	for i := range p.grants {
		g := &p.grants[i]
		if g.privs[priv] && g.to.match(id) && covers(g.on) {
			return nil
		}
	}
	return errs.Denied("user %s may not %s %s: no grant of %s reaches it (default deny)", id.user, priv, name, priv)
}
