package hivename

import (
	"regexp"
	"strings"
	"sync"

	"github.com/propolis/propolis/internal/errs"
)

// DefaultPartitionName is the value Hive stores for a NULL (or empty) partition value.
const DefaultPartitionName = "__HIVE_DEFAULT_PARTITION__"

// escapeSet is FileUtils.charToEscape: control characters, DEL, and the characters that mean
// something in a path or a partition name. Non-ASCII characters are never escaped.
var escapeSet = func() (set [128]bool) {
	for c := 0x01; c <= 0x1F; c++ {
		set[c] = true
	}
	// Hive's loop `for (char c = 0; c < ' '; c++)` covers NUL as well.
	set[0] = true
	for _, c := range "\"#%'*/:=?\\\x7F{[]^" {
		set[c] = true
	}
	return set
}()

const hexDigits = "0123456789ABCDEF"

// EscapePathName is Hive's FileUtils.escapePathName: each byte in the escape set becomes %XX
// (upper-case hex). Like Hive, an empty string escapes to the default partition name.
func EscapePathName(s string) string {
	if s == "" {
		return DefaultPartitionName
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < 0x80 && escapeSet[s[i]] {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && escapeSet[c] {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xF])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// UnescapePathName is Hive's FileUtils.unescapePathName: every '%' followed by two characters
// that Java's Integer.parseInt(_, 16) accepts (hex digits, or '+' and one hex digit) becomes
// the character with that code; anything else stays as written. Codes 0x80-0xFF become the
// characters U+0080-U+00FF, as Java's (char) cast does; Hive never writes such escapes.
func UnescapePathName(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			if code, ok := parseHex2(s[i+1], s[i+2]); ok {
				b.WriteRune(rune(code))
				i += 2
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func parseHex2(a, b byte) (int, bool) {
	hb, okb := hexVal(b)
	if !okb {
		return 0, false
	}
	if a == '+' {
		return hb, true
	}
	ha, oka := hexVal(a)
	if !oka {
		return 0, false
	}
	return ha<<4 | hb, true
}

func hexVal(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// MakePartName is Hive's Warehouse.makePartName: "k1=v1/k2=v2" with keys lower-cased and both
// sides escaped. Unlike Hive, which silently names an empty value __HIVE_DEFAULT_PARTITION__,
// an empty value is an error here: the caller must say it means the default partition.
func MakePartName(keys []string, values []string) (string, error) {
	if len(keys) != len(values) || len(keys) == 0 {
		return "", errs.Invalid("invalid partition key & values; keys [%s], values [%s]",
			strings.Join(keys, ", "), strings.Join(values, ", "))
	}
	var b strings.Builder
	for i, k := range keys {
		if k == "" {
			return "", errs.Invalid("invalid partition name: partition key %d is empty", i+1)
		}
		if values[i] == "" {
			return "", errs.Invalid("invalid partition name: value of partition key %q is empty", k)
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(EscapePathName(strings.ToLower(k)))
		b.WriteByte('=')
		b.WriteString(EscapePathName(values[i]))
	}
	return b.String(), nil
}

// ParsePartName is the inverse of MakePartName, following Hive's Warehouse.makeValsFromName:
// components split on '/', each at its first '=', both sides unescaped. Keys come back as
// written in the name (lower-case when Hive wrote it).
func ParsePartName(name string) (keys, values []string, err error) {
	if name == "" {
		return nil, nil, errs.Invalid("invalid partition name: empty")
	}
	parts := strings.Split(name, "/")
	keys = make([]string, 0, len(parts))
	values = make([]string, 0, len(parts))
	seen := make(map[string]bool, len(parts))
	for _, p := range parts {
		eq := strings.IndexByte(p, '=')
		if eq <= 0 {
			return nil, nil, errs.Invalid("invalid partition name %q: unexpected component %q (want key=value)", name, p)
		}
		if eq == len(p)-1 {
			return nil, nil, errs.Invalid("invalid partition name %q: component %q has an empty value", name, p)
		}
		k := UnescapePathName(p[:eq])
		if seen[k] {
			return nil, nil, errs.Invalid("invalid partition name %q: key %q appears twice", name, k)
		}
		seen[k] = true
		keys = append(keys, k)
		values = append(values, UnescapePathName(p[eq+1:]))
	}
	return keys, values, nil
}

// ValidName is Hive's MetaStoreUtils.validateName (without
// hive.support.special.characters.tablename): one or more ASCII letters, digits or
// underscores, Java's [\w_]+.
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}

// Pattern is a compiled HMS listing pattern.
type Pattern struct {
	all  bool
	alts []*regexp.Regexp
}

// CompilePattern compiles a listing pattern the way Hive's ObjectStore does
// (appendPatternCondition): the pattern is trimmed and split on '|'; in each alternative '*'
// becomes '.*' and everything else keeps its java.util.regex meaning (so '.' matches any
// character, as in Hive); an alternative must match the whole name, ignoring case. An empty
// pattern matches every name. An alternative that is not a valid regular expression (Go's RE2
// stands in for Java's) matches nothing, as in Spark's filterPattern.
func CompilePattern(pattern string) *Pattern {
	pattern = strings.TrimSpace(pattern)
	if pattern == "" || pattern == "*" {
		return &Pattern{all: true}
	}
	p := &Pattern{}
	for _, alt := range strings.Split(pattern, "|") {
		re, err := regexp.Compile("^(?i:" + strings.ReplaceAll(alt, "*", ".*") + ")$")
		if err == nil {
			p.alts = append(p.alts, re)
		}
	}
	return p
}

// Match reports whether name matches the pattern.
func (p *Pattern) Match(name string) bool {
	if p.all {
		return true
	}
	for _, re := range p.alts {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// patternCache keeps recently compiled patterns: listing calls match one pattern against many
// names, one name at a time.
var patternCache struct {
	sync.Mutex
	m map[string]*Pattern
}

const patternCacheSize = 256

// MatchPattern reports whether name matches the HMS listing pattern (see CompilePattern).
func MatchPattern(pattern, name string) bool {
	patternCache.Lock()
	p, ok := patternCache.m[pattern]
	patternCache.Unlock()
	if !ok {
		p = CompilePattern(pattern)
		patternCache.Lock()
		if patternCache.m == nil || len(patternCache.m) >= patternCacheSize {
			patternCache.m = make(map[string]*Pattern, patternCacheSize)
		}
		patternCache.m[pattern] = p
		patternCache.Unlock()
	}
	return p.Match(name)
}
