package policy

import (
	"strings"

	"github.com/propolis/propolis/policy/expr"
)

// Principal is the caller a decision is made for: the authenticated user and the groups the
// connection reported. Static groups and roles from the policy file are added on top.
type Principal struct {
	User   string
	Groups []string
}

// Column is one column of a table as exposed to engines; Type is a Hive type string.
type Column struct{ Name, Type string }

// TableRef is a table as exposed to the caller (after name mapping), lower-case names, with
// its data columns and partition keys.
type TableRef struct {
	DB, Table string
	Columns   []Column
}

// Outcome is what a caller may see of a table.
type Outcome int

const (
	// Hidden: the table does not exist for the caller.
	Hidden Outcome = iota
	// Raw: the table as stored, nothing hidden, masked or filtered.
	Raw
	// Restricted: visible with hidden columns, masks and/or a row filter.
	Restricted
)

func (o Outcome) String() string {
	switch o {
	case Hidden:
		return "hidden"
	case Raw:
		return "raw"
	case Restricted:
		return "restricted"
	}
	return "unknown"
}

// Decision is the policy's answer for one principal and one table.
type Decision struct {
	Outcome       Outcome
	Version       int64             // policy version it came from
	HiddenColumns []string          // removed from the schema (never in Masks)
	Masks         map[string]string // column -> mask spec in policy/expr.Mask syntax
	RowFilter     string            // boolean expression in policy/expr syntax; "" = none
	NeedsWorker   bool              // some mask/filter is not native in at least one dialect
	Rules         []string          // the rules that produced it, e.g. "grants[0]"
	Reason        string            // one readable sentence
}

// Privilege is an action a grant allows.
type Privilege string

const (
	Select Privilege = "select"
	Insert Privilege = "insert"
	Create Privilege = "create"
	Alter  Privilege = "alter"
	Drop   Privilege = "drop"
)

// Detokenize allows reversing encrypt() masks of a table's columns through the workers. It is
// never part of "all": reading plaintext behind a mask is granted by name only.
const Detokenize Privilege = "detokenize"

// Privileges lists every privilege, in the order "all" expands to.
var Privileges = []Privilege{Select, Insert, Create, Alter, Drop}

// DefaultServicePrincipal is the service principal of a policy that does not name one.
const DefaultServicePrincipal = "propolis"

// Policy is a compiled policy file. It is immutable and safe for concurrent use. A nil *Policy
// denies everything (no policy loaded: fail closed).
type Policy struct {
	name         string
	version      int64
	defaultAllow bool
	service      string
	groups       map[string][]string // user -> static groups
	roles        []role
	tags         []tagRule
	grants       []grant
	denies       []grant
	masks        []maskRule
	filters      []filterRule
	grantIdx     ruleIndex
	denyIdx      ruleIndex
	maskIdx      ruleIndex // by the column pattern's database; tag masks are always candidates
	filterIdx    ruleIndex
}

// ruleIndex finds the grants or denies that can reach a database without scanning all of them:
// rules whose database pattern is a literal are bucketed by it, the others always considered.
type ruleIndex struct {
	byDB map[string][]int
	wild []int
}

func newRuleIndex(rules []grant) ruleIndex {
	return indexBy(len(rules), func(i int) string { return string(rules[i].on.db) })
}

// indexBy indexes n rules by the database pattern dbOf(i) ("*" or any wildcard: always a
// candidate).
func indexBy(n int, dbOf func(i int) string) ruleIndex {
	x := ruleIndex{byDB: map[string][]int{}}
	for i := 0; i < n; i++ {
		if db := dbOf(i); db == "" || strings.Contains(db, "*") {
			x.wild = append(x.wild, i)
		} else {
			x.byDB[db] = append(x.byDB[db], i)
		}
	}
	return x
}

// candidates is, in file order, every rule that may reach db (all of them when all is set,
// which Explain uses to show every rule).
func (x *ruleIndex) candidates(db string, n int, all bool) []int {
	if all {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	a, b := x.byDB[strings.ToLower(db)], x.wild
	out := make([]int, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		if len(b) == 0 || len(a) > 0 && a[0] < b[0] {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

// WithVersion returns a copy of p stamped with version v (the store's version number).
func (p *Policy) WithVersion(v int64) *Policy {
	if p == nil {
		return nil
	}
	q := *p
	q.version = v
	return &q
}

// Version is the version WithVersion stamped, 0 for a policy not from the store.
func (p *Policy) Version() int64 {
	if p == nil {
		return 0
	}
	return p.version
}

// Name is the name the policy was parsed under (a file name, "store v3", ...).
func (p *Policy) Name() string {
	if p == nil {
		return ""
	}
	return p.name
}

// ServicePrincipal is the user that always sees every table raw and holds every privilege:
// the definer of the Trino views Propolis serves.
func (p *Policy) ServicePrincipal() string {
	if p == nil {
		return DefaultServicePrincipal
	}
	return p.service
}

// identity is a principal resolved against the policy: lower-case user, every group (from the
// connection and static), every role granted to the user or one of its groups.
type identity struct {
	user   string
	groups map[string]bool
	roles  map[string]bool
}

func (p *Policy) resolve(who Principal) *identity {
	id := &identity{user: strings.ToLower(who.User), groups: map[string]bool{}, roles: map[string]bool{}}
	for _, g := range who.Groups {
		id.groups[strings.ToLower(g)] = true
	}
	for _, g := range p.groups[id.user] {
		id.groups[g] = true
	}
	for _, r := range p.roles {
		if r.members.matchDirect(id) {
			id.roles[r.name] = true
		}
	}
	return id
}

// Groups returns every group who belongs to: those the connection reports and those the
// policy file assigns, lower-cased and sorted. is_member() in masks and filters is rendered
// from it, so it agrees with the grants.
func (p *Policy) Groups(who Principal) []string {
	if p == nil {
		return append([]string(nil), who.Groups...)
	}
	return sortedKeys(p.resolve(who).groups)
}

func (id *identity) String() string {
	return "user " + id.user + ", groups [" + strings.Join(sortedKeys(id.groups), " ") + "], roles [" + strings.Join(sortedKeys(id.roles), " ") + "]"
}

func (p *Policy) isService(who Principal) bool {
	return p.service != "" && strings.EqualFold(who.User, p.service)
}

// dialects is where NeedsWorker looks.
var dialects = expr.Dialects
