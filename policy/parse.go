package policy

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy/expr"
)

type role struct {
	name    string
	members subjects
}

type tagRule struct {
	label   string
	columns []object // db.table.column patterns
	name    glob     // match.name ("" = no match rule)
	typ     glob     // match.type ("" = any type)
	tags    []string
}

type grant struct {
	label string
	deny  bool
	desc  string
	to    subjects
	privs map[Privilege]bool
	on    object
}

type maskRule struct {
	label  string
	desc   string
	tag    string
	column object // column-level pattern when tag == ""
	mask   string
	to     subjects // nil = everyone
	except subjects
}

func (m *maskRule) target() string {
	if m.tag != "" {
		return "tag " + m.tag
	}
	return "column " + m.column.src
}

type filterRule struct {
	label  string
	desc   string
	on     object
	to     subjects // nil = everyone
	except subjects
	filter string
}

// maskTypes are the column types a mask spec is tried against when the policy does not say
// which column it will meet: a spec valid for none of them is valid for no column.
var maskTypes = []string{"string", "bigint", "decimal(18,2)", "date", "timestamp", "double", "boolean"}

// Parse reads and validates a policy file. Every problem is reported, each with its field path
// and line, as one errs.Invalid.
func Parse(name string, data []byte) (*Policy, error) {
	d := &decoder{}
	f := d.decode(data)
	if d.fatal != nil {
		return nil, errs.Invalid("%s: %s", name, d.fatal)
	}
	p := &Policy{name: name, service: DefaultServicePrincipal, groups: map[string][]string{}}
	if f != nil {
		p.compile(d, f)
	}
	if len(d.problems) > 0 {
		return nil, errs.Invalid("%s: %s", name, strings.Join(d.problems, "\n"))
	}
	return p, nil
}

// raw is the file as written, with the node of every value for error positions.
type raw struct {
	fields map[string]*yaml.Node
}

type decoder struct {
	fatal    error
	problems []string
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	if n != nil && n.Line > 0 {
		msg += fmt.Sprintf(" (line %d)", n.Line)
	}
	d.problems = append(d.problems, msg)
}

func (d *decoder) decode(data []byte) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.fatal = fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // an empty file: deny everything
	}
	root := doc.Content[0]
	if isNull(root) {
		return nil
	}
	return root
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return fmt.Sprintf("%q", n.Value)
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapping calls fn for every key of n, refusing keys not in known.
func (d *decoder) mapping(n *yaml.Node, path string, known []string, fn func(key string, v *yaml.Node, path string)) bool {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, not %s", describe(n))
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		kp := join(path, k.Value)
		if known != nil && !contains(known, k.Value) {
			d.fail(k, kp, "unknown key (want one of %s)", strings.Join(known, ", "))
			continue
		}
		fn(k.Value, v, kp)
	}
	return true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (d *decoder) scalar(n *yaml.Node, path string) string {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.fail(n, path, "want a string, not %s", describe(n))
		return ""
	}
	return n.Value
}

// strs reads a list of strings; a single string is a list of one.
func (d *decoder) strs(n *yaml.Node, path string) []string {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list of strings, not %s", describe(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		out = append(out, d.scalar(c, fmt.Sprintf("%s[%d]", path, i)))
	}
	return out
}

func (d *decoder) list(n *yaml.Node, path string, fn func(i int, item *yaml.Node, path string)) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list, not %s", describe(n))
		return
	}
	for i, c := range n.Content {
		fn(i, deref(c), fmt.Sprintf("%s[%d]", path, i))
	}
}

func (d *decoder) subjects(n *yaml.Node, path string, allowRole bool) subjects {
	var out subjects
	for i, s := range d.strs(n, path) {
		sub, err := parseSubject(s, allowRole)
		if err != nil {
			d.fail(deref(n), fmt.Sprintf("%s[%d]", path, i), "%v", err)
			continue
		}
		out = append(out, sub)
	}
	if out == nil && len(d.strs(n, path)) == 0 {
		d.fail(deref(n), path, "empty list: name at least one principal (or \"*\")")
	}
	return out
}

var topKeys = []string{"default", "service_principal", "groups", "roles", "tags", "grants", "denies", "masks", "row_filters"}

// compile decodes the root mapping onto p, collecting problems in d.
func (p *Policy) compile(d *decoder, root *yaml.Node) {
	var roleRefs []struct {
		name, path string
		n          *yaml.Node
	}
	var tagRefs []struct {
		tag, path string
		n         *yaml.Node
	}
	checkRoles := func(s subjects, n *yaml.Node, path string) {
		for _, x := range s {
			if x.kind == "role" {
				roleRefs = append(roleRefs, struct {
					name, path string
					n          *yaml.Node
				}{x.name, path, n})
			}
		}
	}
	definedTags := map[string]bool{}
	d.mapping(root, "", topKeys, func(key string, v *yaml.Node, path string) {
		switch key {
		case "default":
			switch strings.ToLower(d.scalar(v, path)) {
			case "deny":
			case "allow":
				p.defaultAllow = true
			default:
				d.fail(v, path, "want deny or allow, not %s", describe(v))
			}
		case "service_principal":
			s := strings.TrimSpace(d.scalar(v, path))
			if s == "" {
				d.fail(v, path, "empty: name the user Propolis defines views as")
			}
			p.service = strings.ToLower(s)
		case "groups":
			if isNull(v) {
				return
			}
			d.mapping(v, path, nil, func(g string, members *yaml.Node, mp string) {
				g = strings.ToLower(strings.TrimSpace(g))
				for _, u := range d.strs(members, mp) {
					u = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(u, "user:")))
					if u == "" || strings.Contains(u, ":") {
						d.fail(members, mp, "member %q: want a user name", u)
						continue
					}
					p.groups[u] = append(p.groups[u], g)
				}
			})
		case "roles":
			if isNull(v) {
				return
			}
			d.mapping(v, path, nil, func(r string, members *yaml.Node, mp string) {
				p.roles = append(p.roles, role{name: strings.ToLower(strings.TrimSpace(r)), members: d.subjects(members, mp, false)})
			})
		case "tags":
			d.list(v, path, func(i int, item *yaml.Node, ip string) {
				t := tagRule{label: fmt.Sprintf("tags[%d]", i)}
				var hasCols, hasMatch bool
				d.mapping(item, ip, []string{"columns", "match", "tags", "description"}, func(k string, v *yaml.Node, fp string) {
					switch k {
					case "columns":
						hasCols = true
						for j, s := range d.strs(v, fp) {
							o, err := parseObject(s, true)
							if err == nil && o.col == "" {
								err = errs.Invalid("pattern %q: want db.table.column", s)
							}
							if err != nil {
								d.fail(v, fmt.Sprintf("%s[%d]", fp, j), "%v", err)
								continue
							}
							t.columns = append(t.columns, o)
						}
					case "match":
						hasMatch = true
						d.mapping(v, fp, []string{"name", "type"}, func(k string, v *yaml.Node, mp string) {
							s := glob(strings.ToLower(strings.ReplaceAll(d.scalar(v, mp), " ", "")))
							if k == "name" {
								t.name = s
							} else {
								t.typ = s
							}
						})
						if t.name == "" {
							d.fail(v, fp, "match needs a column name pattern (name: \"*email*\")")
						}
					case "tags":
						for _, s := range d.strs(v, fp) {
							s = strings.ToLower(strings.TrimSpace(s))
							if s == "" {
								d.fail(v, fp, "empty tag")
								continue
							}
							t.tags = append(t.tags, s)
							definedTags[s] = true
						}
					}
				})
				if hasCols == hasMatch {
					d.fail(item, ip, "want exactly one of columns or match")
				}
				if len(t.tags) == 0 {
					d.fail(item, ip, "no tags: say which tags these columns get")
				}
				p.tags = append(p.tags, t)
			})
		case "grants", "denies":
			d.list(v, path, func(i int, item *yaml.Node, ip string) {
				g := grant{label: fmt.Sprintf("%s[%d]", key, i), deny: key == "denies", privs: map[Privilege]bool{}}
				seen := map[string]bool{}
				d.mapping(item, ip, []string{"to", "privileges", "on", "description"}, func(k string, v *yaml.Node, fp string) {
					seen[k] = true
					switch k {
					case "to":
						g.to = d.subjects(v, fp, true)
						checkRoles(g.to, v, fp)
					case "privileges":
						for j, s := range d.strs(v, fp) {
							s = strings.ToLower(strings.TrimSpace(s))
							if s == "all" {
								for _, pr := range Privileges {
									g.privs[pr] = true
								}
								continue
							}
							if !validPrivilege(Privilege(s)) {
								d.fail(v, fmt.Sprintf("%s[%d]", fp, j), "unknown privilege %q (want select, insert, create, alter, drop, detokenize or all)", s)
								continue
							}
							g.privs[Privilege(s)] = true
						}
					case "on":
						o, err := parseObject(d.scalar(v, fp), true)
						if err != nil {
							d.fail(v, fp, "%v", err)
						}
						g.on = o
					case "description":
						g.desc = d.scalar(v, fp)
					}
				})
				for _, k := range []string{"to", "privileges", "on"} {
					if !seen[k] {
						d.fail(item, ip, "missing %s", k)
					}
				}
				if g.on.col != "" {
					for pr := range g.privs {
						if pr != Select {
							d.fail(item, ip+".on", "%s is granted on tables and databases; only select can name a column (%s)", pr, g.on.src)
							break
						}
					}
				}
				if g.deny {
					p.denies = append(p.denies, g)
				} else {
					p.grants = append(p.grants, g)
				}
			})
		case "masks":
			d.list(v, path, func(i int, item *yaml.Node, ip string) {
				m := maskRule{label: fmt.Sprintf("masks[%d]", i)}
				var hasTag, hasCol, hasMask bool
				var maskNode *yaml.Node
				d.mapping(item, ip, []string{"tag", "column", "mask", "to", "except", "description"}, func(k string, v *yaml.Node, fp string) {
					switch k {
					case "tag":
						hasTag = true
						m.tag = strings.ToLower(strings.TrimSpace(d.scalar(v, fp)))
						tagRefs = append(tagRefs, struct {
							tag, path string
							n         *yaml.Node
						}{m.tag, fp, v})
					case "column":
						hasCol = true
						o, err := parseObject(d.scalar(v, fp), true)
						if err == nil && o.col == "" {
							err = errs.Invalid("pattern %q: want db.table.column", o.src)
						}
						if err != nil {
							d.fail(v, fp, "%v", err)
						}
						m.column = o
					case "mask":
						hasMask = true
						maskNode = v
						m.mask = strings.TrimSpace(d.scalar(v, fp))
					case "to":
						m.to = d.subjects(v, fp, true)
						checkRoles(m.to, v, fp)
					case "except":
						m.except = d.subjects(v, fp, true)
						checkRoles(m.except, v, fp)
					case "description":
						m.desc = d.scalar(v, fp)
					}
				})
				if hasTag == hasCol {
					d.fail(item, ip, "want exactly one of tag or column")
				}
				if !hasMask {
					d.fail(item, ip, "missing mask")
				} else if err := validateMask(m); err != nil {
					d.fail(maskNode, ip+".mask", "%v", err)
				}
				p.masks = append(p.masks, m)
			})
		case "row_filters":
			d.list(v, path, func(i int, item *yaml.Node, ip string) {
				r := filterRule{label: fmt.Sprintf("row_filters[%d]", i)}
				seen := map[string]bool{}
				d.mapping(item, ip, []string{"on", "to", "except", "filter", "description"}, func(k string, v *yaml.Node, fp string) {
					seen[k] = true
					switch k {
					case "on":
						o, err := parseObject(d.scalar(v, fp), false)
						if err != nil {
							d.fail(v, fp, "%v", err)
						}
						r.on = o
					case "to":
						r.to = d.subjects(v, fp, true)
						checkRoles(r.to, v, fp)
					case "except":
						r.except = d.subjects(v, fp, true)
						checkRoles(r.except, v, fp)
					case "filter":
						r.filter = strings.TrimSpace(d.scalar(v, fp))
						if err := validateExpr(r.filter); err != nil {
							d.fail(v, fp, "%v", err)
						}
					case "description":
						r.desc = d.scalar(v, fp)
					}
				})
				for _, k := range []string{"on", "filter"} {
					if !seen[k] {
						d.fail(item, ip, "missing %s", k)
					}
				}
				p.filters = append(p.filters, r)
			})
		}
	})
	definedRoles := map[string]bool{}
	for _, r := range p.roles {
		definedRoles[r.name] = true
	}
	for _, ref := range roleRefs {
		if !definedRoles[ref.name] {
			d.fail(ref.n, ref.path, "role %q is not defined under roles", ref.name)
		}
	}
	for _, ref := range tagRefs {
		if ref.tag == "" {
			d.fail(ref.n, ref.path, "empty tag")
		} else if !definedTags[ref.tag] {
			d.fail(ref.n, ref.path, "tag %q is never set by a tags rule", ref.tag)
		}
	}
	for u := range p.groups {
		sort.Strings(p.groups[u])
	}
	p.grantIdx, p.denyIdx = newRuleIndex(p.grants), newRuleIndex(p.denies)
	p.maskIdx = indexBy(len(p.masks), func(i int) string {
		if p.masks[i].tag != "" {
			return "*"
		}
		return string(p.masks[i].column.db)
	})
	p.filterIdx = indexBy(len(p.filters), func(i int) string { return string(p.filters[i].on.db) })
}

func validPrivilege(p Privilege) bool {
	if p == Detokenize {
		return true
	}
	for _, x := range Privileges {
		if x == p {
			return true
		}
	}
	return false
}

// validateMask checks a spec before any column is known: expr(...) masks are parsed (their
// column is only known per table), the others must apply to at least one column type.
func validateMask(m maskRule) error {
	if m.mask == "" {
		return errs.Invalid("empty mask")
	}
	lower := strings.ToLower(m.mask)
	if strings.HasPrefix(lower, "expr") {
		inner := strings.TrimSpace(m.mask[len("expr"):])
		if !strings.HasPrefix(inner, "(") || !strings.HasSuffix(inner, ")") {
			return errs.Invalid("want expr(<expression>)")
		}
		return validateExpr(strings.TrimSpace(inner[1 : len(inner)-1]))
	}
	col := "c"
	if m.tag == "" && !strings.Contains(string(m.column.col), "*") {
		col = string(m.column.col)
	}
	var first error
	for _, t := range maskTypes {
		_, err := expr.Mask(m.mask, col, t)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// validateExpr parses an expression and refuses functions the registry does not know (the
// columns are checked per table, when a decision is made).
func validateExpr(s string) error {
	if s == "" {
		return errs.Invalid("empty expression")
	}
	e, err := expr.Parse(s)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, f := range expr.Functions() {
		known[f.Name] = true
	}
	var bad error
	expr.Walk(e, func(x expr.Expr) bool {
		if c, ok := x.(*expr.Call); ok && !known[c.Name] {
			bad = errs.Invalid("unknown function %s()", c.Name)
		}
		return bad == nil
	})
	return bad
}
