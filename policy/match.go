package policy

import (
	"sort"
	"strings"

	"github.com/propolis/propolis/internal/errs"
)

// glob is a lower-case pattern where * matches any run of characters (including none).
type glob string

func (g glob) match(s string) bool { return wildcard(string(g), strings.ToLower(s)) }

func (g glob) any() bool { return g == "*" }

// wildcard matches s against p with * as the only metacharacter, without backtracking blowup.
func wildcard(p, s string) bool {
	star, mark := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(p) && p[i] == '*':
			star, mark = i, j
			i++
		case i < len(p) && p[i] == s[j]:
			i++
			j++
		case star >= 0:
			i = star + 1
			mark++
			j = mark
		default:
			return false
		}
	}
	for i < len(p) && p[i] == '*' {
		i++
	}
	return i == len(p)
}

// object is a compiled `on:` pattern: db.table, db.*, *, or db.table.column (col != "").
type object struct {
	src       string
	db, table glob
	col       glob // "" for table-level patterns
}

// parseObject parses an on: pattern. columns says whether db.table.column is allowed.
func parseObject(s string, columns bool) (object, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return object{}, errs.Invalid("empty pattern")
	}
	if s == "*" {
		return object{src: s, db: "*", table: "*"}, nil
	}
	parts := strings.Split(s, ".")
	for _, part := range parts {
		if part == "" {
			return object{}, errs.Invalid("pattern %q has an empty name", s)
		}
		if strings.ContainsAny(part, " \t`\"'") {
			return object{}, errs.Invalid("pattern %q: names contain no spaces or quotes", s)
		}
	}
	switch {
	case len(parts) == 2:
		return object{src: s, db: glob(parts[0]), table: glob(parts[1])}, nil
	case len(parts) == 3 && columns:
		o := object{src: s, db: glob(parts[0]), table: glob(parts[1]), col: glob(parts[2])}
		if o.col.any() {
			o.col = "" // db.t.* is the whole table
		}
		return o, nil
	case columns:
		return object{}, errs.Invalid("pattern %q: want db.table, db.*, db.table.column or *", s)
	}
	return object{}, errs.Invalid("pattern %q: want db.table, db.* or *", s)
}

func (o object) tableLevel() bool { return o.col == "" }

// coversTable: a table-level pattern reaching db.table.
func (o object) coversTable(db, table string) bool {
	return o.col == "" && o.db.match(db) && o.table.match(table)
}

// reachesTable: any pattern (table or column level) reaching db.table.
func (o object) reachesTable(db, table string) bool {
	return o.db.match(db) && o.table.match(table)
}

// coversDatabase: the pattern covers the database itself (db.* or *).
func (o object) coversDatabase(db string) bool {
	return o.col == "" && o.db.match(db) && o.table.any()
}

func (o object) coversColumn(db, table, col string) bool {
	return o.col != "" && o.db.match(db) && o.table.match(table) && o.col.match(col)
}

// subject is one entry of a to:/except: list.
type subject struct {
	kind string // "user", "group", "role", "*"
	name string
}

type subjects []subject

func (s subjects) String() string {
	out := make([]string, len(s))
	for i, x := range s {
		if x.kind == "*" {
			out[i] = "*"
		} else {
			out[i] = x.kind + ":" + x.name
		}
	}
	return strings.Join(out, ", ")
}

func parseSubject(s string, allowRole bool) (subject, error) {
	s = strings.TrimSpace(s)
	if s == "*" {
		return subject{kind: "*"}, nil
	}
	kind, name, ok := strings.Cut(s, ":")
	kind = strings.ToLower(strings.TrimSpace(kind))
	name = strings.ToLower(strings.TrimSpace(name))
	if !ok || name == "" || (kind != "user" && kind != "group" && kind != "role") {
		if allowRole {
			return subject{}, errs.Invalid("principal %q: want user:NAME, group:NAME, role:NAME or *", s)
		}
		return subject{}, errs.Invalid("role member %q: want user:NAME or group:NAME", s)
	}
	if kind == "role" && !allowRole {
		return subject{}, errs.Invalid("role member %q: roles are granted to users and groups, not to roles", s)
	}
	return subject{kind: kind, name: name}, nil
}

// match reports whether id is one of s.
func (s subjects) match(id *identity) bool {
	for _, x := range s {
		switch x.kind {
		case "*":
			return true
		case "user":
			if x.name == id.user {
				return true
			}
		case "group":
			if id.groups[x.name] {
				return true
			}
		case "role":
			if id.roles[x.name] {
				return true
			}
		}
	}
	return false
}

// matchDirect is match without roles (role membership is by user and group).
func (s subjects) matchDirect(id *identity) bool {
	for _, x := range s {
		if x.kind != "role" && (subjects{x}).match(id) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
