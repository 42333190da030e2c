package flight

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"

	"github.com/apache/arrow-go/v18/arrow/flight"

	"github.com/propolis/propolis/internal/errs"
)

// maxNameLen bounds database and table names; Hive's own limit is 128.
const maxNameLen = 256

// maxTokenLen bounds a worker token in a command descriptor.
const maxTokenLen = 16 << 10

// target is what a descriptor names: a table, or a worker token.
type target struct {
	DB, Table string
	Token     string
}

func (t target) String() string {
	if t.Token != "" {
		return "worker token"
	}
	return t.DB + "." + t.Table
}

// tableCmd is the JSON command descriptor. A token may be sent bare or as {"token": "..."}.
type tableCmd struct {
	Table string `json:"table"`
	Token string `json:"token"`
}

// parseDescriptor reads a Flight descriptor: PATH ["db", "table"], CMD {"table": "db.t"} or
// {"token": "..."}, or a CMD holding a bare worker token.
func parseDescriptor(d *flight.FlightDescriptor) (target, error) {
	if d == nil {
		return target{}, errs.Invalid("missing flight descriptor")
	}
	switch d.Type {
	case flight.DescriptorPATH:
		if len(d.Path) != 2 {
			return target{}, errs.Invalid("a path descriptor names a table as [\"db\", \"table\"], got %d elements", len(d.Path))
		}
		return tableTarget(d.Path[0], d.Path[1])
	case flight.DescriptorCMD:
		cmd := bytes.TrimSpace(d.Cmd)
		if len(cmd) == 0 {
			return target{}, errs.Invalid("empty command descriptor: send {\"table\": \"db.table\"} or a worker token")
		}
		if cmd[0] == '{' {
			return parseCmdJSON(cmd)
		}
		return tokenTarget(string(cmd))
	default:
		return target{}, errs.Invalid("unsupported descriptor type %v", d.Type)
	}
}

func parseCmdJSON(cmd []byte) (target, error) {
	var c tableCmd
	dec := json.NewDecoder(bytes.NewReader(cmd))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return target{}, errs.Invalid("bad command descriptor (want {\"table\": \"db.table\"} or {\"token\": \"...\"}): %v", err)
	}
	if dec.More() {
		return target{}, errs.Invalid("bad command descriptor: trailing data after the JSON object")
	}
	switch {
	case c.Table != "" && c.Token != "":
		return target{}, errs.Invalid("a command descriptor names a table or a token, not both")
	case c.Token != "":
		return tokenTarget(c.Token)
	case c.Table != "":
		db, table, ok := strings.Cut(c.Table, ".")
		if !ok {
			return target{}, errs.Invalid("table %q: want db.table", c.Table)
		}
		return tableTarget(db, table)
	default:
		return target{}, errs.Invalid("command descriptor names no table: want {\"table\": \"db.table\"}")
	}
}

func tableTarget(db, table string) (target, error) {
	// Hive names are case-insensitive and stored lower case.
	db, table = strings.ToLower(db), strings.ToLower(table)
	for _, n := range []struct{ what, v string }{{"database", db}, {"table", table}} {
		if n.v == "" {
			return target{}, errs.Invalid("empty %s name", n.what)
		}
		if len(n.v) > maxNameLen {
			return target{}, errs.Invalid("%s name longer than %d bytes", n.what, maxNameLen)
		}
		if strings.ContainsFunc(n.v, func(r rune) bool { return unicode.IsControl(r) || r == '.' || r == '/' }) {
			return target{}, errs.Invalid("%s name %q contains a dot, slash or control character", n.what, n.v)
		}
	}
	return target{DB: db, Table: table}, nil
}

func tokenTarget(tok string) (target, error) {
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return target{}, errs.Invalid("empty worker token")
	}
	if len(tok) > maxTokenLen {
		return target{}, errs.Invalid("worker token longer than %d bytes", maxTokenLen)
	}
	if strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return target{}, errs.Invalid("a worker token is printable ASCII without spaces")
	}
	return target{Token: tok}, nil
}
