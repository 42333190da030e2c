package embedded

import (
	"fmt"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

// defaultPartitionName is Hive's name for a partition whose value is null or empty.
const defaultPartitionName = "__HIVE_DEFAULT_PARTITION__"

func norm(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// validName follows Hive's MetaStoreUtils.validateName: letters, digits and underscores.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func checkName(kind, name string, max int) error {
	if !validName(name) {
		return errs.Invalid("%s name %q is not valid: use letters, digits and underscores", kind, name)
	}
	if len(name) > max {
		return errs.Invalid("%s name %q is longer than %d characters", kind, name, max)
	}
	return nil
}

// needsEscape is the set FileUtils.escapePathName escapes: characters that would break a path
// or a partition name ("k=v/k2=v2").
func needsEscape(c rune) bool {
	if c < 0x20 || c == 0x7f {
		return true
	}
	switch c {
	case '"', '#', '%', '\'', '*', '/', ':', '=', '?', '\\', '{', '[', ']', '^':
		return true
	}
	return false
}

func escapePathName(s string) string {
	if s == "" {
		return defaultPartitionName
	}
	var b strings.Builder
	for _, c := range s {
		if needsEscape(c) {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func unescapePathName(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, ok := unhex(s[i+1], s[i+2]); ok {
				b.WriteByte(v)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(hi, lo byte) (byte, bool) {
	h, ok1 := hexVal(hi)
	l, ok2 := hexVal(lo)
	return h<<4 | l, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// makePartName builds Hive's partition name "k1=v1/k2=v2" (Warehouse.makePartName).
func makePartName(keys []*hm.FieldSchema, vals []string) (string, error) {
	if len(keys) != len(vals) {
		return "", errs.Invalid("partition has %d values but the table has %d partition keys", len(vals), len(keys))
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = escapePathName(norm(k.GetName())) + "=" + escapePathName(vals[i])
	}
	return strings.Join(parts, "/"), nil
}

// parsePartName splits a partition name into its unescaped values, checking the keys.
func parsePartName(keys []*hm.FieldSchema, name string) ([]string, error) {
	segs := strings.Split(name, "/")
	if len(segs) != len(keys) {
		return nil, errs.Invalid("partition name %q does not match the %d partition keys", name, len(keys))
	}
	vals := make([]string, len(segs))
	for i, seg := range segs {
		k, v, ok := strings.Cut(seg, "=")
		if !ok || !strings.EqualFold(unescapePathName(k), keys[i].GetName()) {
			return nil, errs.Invalid("partition name %q does not match the partition keys", name)
		}
		vals[i] = unescapePathName(v)
	}
	return vals, nil
}
