package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/propolis/propolis/internal/errs"
)

// decode walks the YAML document onto c field by field rather than handing it to yaml.v3's
// struct decoder: yaml.v3 reports unknown keys (KnownFields) and type errors with line numbers
// only, and forgets KnownFields inside nested decodes; walking lets every error name the
// field's path. It returns the per-field problems, or a fatal error when the file is not YAML
// at all.
func decode(name string, data []byte, c *Config) ([]error, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, errs.Invalid("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	d := &decoder{source: name}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	if root.Kind == 0 || isNull(root) {
		return nil, nil // an empty file is all defaults
	}
	d.structure(root, reflect.ValueOf(c).Elem(), "")
	return d.problems, nil
}

type decoder struct {
	source   string
	problems []error
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if n != nil && n.Line > 0 {
		msg += fmt.Sprintf(" (line %d)", n.Line)
	}
	d.problems = append(d.problems, fieldError(d.source, path, msg))
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// structure decodes a mapping onto the struct v, by yaml tag.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		what := "the top level"
		if path != "" {
			what = "this field"
		}
		d.fail(n, path, "%s must be a mapping of keys to values, not %s", what, describe(n))
		return
	}
	fields := map[string][]int{}
	var known []string
	var collect func(t reflect.Type, index []int)
	collect = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			parts := strings.Split(f.Tag.Get("yaml"), ",")
			at := append(append([]int(nil), index...), i)
			if len(parts) > 1 && parts[1] == "inline" && f.Type.Kind() == reflect.Struct {
				collect(f.Type, at) // an inline struct's keys sit at this level
				continue
			}
			if parts[0] == "" || parts[0] == "-" || !f.IsExported() {
				continue
			}
			fields[parts[0]] = at
			known = append(known, parts[0])
		}
	}
	collect(v.Type(), nil)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "keys must be plain names")
			continue
		}
		fieldPath := join(path, k.Value)
		if k.Value == "<<" {
			d.fail(k, path, "merge keys (<<) are not supported")
			continue
		}
		if seen[k.Value] {
			d.fail(k, fieldPath, "appears more than once")
			continue
		}
		seen[k.Value] = true
		idx, ok := fields[k.Value]
		if !ok {
			msg := "unknown field"
			if s := suggest(k.Value, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += fmt.Sprintf(" (known: %s)", strings.Join(known, ", "))
			}
			d.fail(k, fieldPath, "%s", msg)
			continue
		}
		d.value(val, v.FieldByIndex(idx), v.Type().FieldByIndex(idx), fieldPath)
	}
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// value decodes one field. A null value keeps the default.
func (d *decoder) value(n *yaml.Node, v reflect.Value, f reflect.StructField, path string) {
	n = resolveAlias(n)
	if isNull(n) {
		return
	}
	switch {
	case v.Kind() == reflect.Struct:
		d.structure(n, v, path)
	case v.Type() == reflect.TypeOf(time.Duration(0)):
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			d.fail(n, path, `must be a duration such as "90s" or "10m", not %s`, describe(n))
			return
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.fail(n, path, `%q is not a duration (use a number with a unit: "90s", "10m", "1h30m")`, n.Value)
			return
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.Int64 && f.Tag.Get("unit") == "bytes":
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, `must be a size in bytes (104857600) or with a unit ("100MiB"), not %s`, describe(n))
			return
		}
		size, err := parseSize(n.Value)
		if err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		v.SetInt(size)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.fail(n, path, "must be an integer, not %s", describe(n))
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || v.OverflowInt(i) {
			d.fail(n, path, "%s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	case v.Kind() == reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.fail(n, path, "must be true or false, not %s", describe(n))
			return
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			d.fail(n, path, "must be true or false, not %s", describe(n))
			return
		}
		v.SetBool(b)
	case v.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "must be a string, not %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String && v.Type().Elem().Kind() == reflect.String:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "must be a mapping of names to strings, not %s", describe(n))
			return
		}
		if len(n.Content) == 0 {
			return // an empty mapping keeps the default
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := resolveAlias(n.Content[i]), resolveAlias(n.Content[i+1])
			if k.Kind != yaml.ScalarNode || val.Kind != yaml.ScalarNode {
				d.fail(k, join(path, k.Value), "must map a name to a string")
				continue
			}
			if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
				d.fail(k, join(path, k.Value), "appears more than once")
				continue
			}
			m.SetMapIndex(reflect.ValueOf(k.Value), reflect.ValueOf(val.Value))
		}
		v.Set(m)
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "must be a list, not %s", describe(n))
			return
		}
		if len(n.Content) == 0 {
			return // an empty list is no list: keep the default
		}
		sl := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(item, sl.Index(i), f, fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(sl)
	default:
		// A field type this decoder does not know is a programming error, caught by tests.
		d.fail(n, path, "cannot decode into %s", v.Type())
	}
}

// describe names what a node holds, for "must be X, not Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return strconv.Quote(n.Value)
		case "!!int":
			return "the number " + n.Value
		case "!!float":
			return "the number " + n.Value
		case "!!bool":
			return n.Value
		}
		return n.Value
	}
	return "nothing"
}

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "ki": 1 << 10, "kib": 1 << 10, "kb": 1000,
	"m": 1 << 20, "mi": 1 << 20, "mib": 1 << 20, "mb": 1000 * 1000,
	"g": 1 << 30, "gi": 1 << 30, "gib": 1 << 30, "gb": 1000 * 1000 * 1000,
	"t": 1 << 40, "ti": 1 << 40, "tib": 1 << 40, "tb": 1000 * 1000 * 1000 * 1000,
}

// parseSize reads "104857600", "100MiB", "1 GiB", "512k" or "100MB". Binary units (KiB, and
// the bare K/M/G/T) are powers of 1024; KB, MB, GB, TB are powers of 1000.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '-' || t[i] == '+') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf(`%q is not a size (use bytes, 104857600, or a unit: "100MiB", "1GiB", "512KiB")`, s)
	}
	if n > 0 && n > math.MaxInt64/mult || n < 0 && n < math.MinInt64/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

// suggest returns the known key closest to a misspelt one, when it is close.
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	norm := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '-' || unicode.IsSpace(r) {
				return '_'
			}
			return unicode.ToLower(r)
		}, s)
	}
	for _, k := range known {
		if norm(k) == norm(key) {
			return k
		}
		if dist := levenshtein(key, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
