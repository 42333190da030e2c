package migrate

import (
	"sort"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

// Mapping rewrites locations that start with From to start with To.
type Mapping struct{ From, To string }

// LocationMap is a set of prefix mappings; the longest matching From wins.
type LocationMap []Mapping

// ParseMapping parses "from=to".
func ParseMapping(s string) (Mapping, error) {
	from, to, ok := strings.Cut(s, "=")
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if !ok || from == "" || to == "" {
		return Mapping{}, errs.Invalid("location mapping %q: want FROM=TO, e.g. hdfs://nn/warehouse=s3a://lake/warehouse", s)
	}
	if !strings.Contains(from, ":/") || !strings.Contains(to, ":/") {
		return Mapping{}, errs.Invalid("location mapping %q: both sides must be URIs with a scheme (hdfs://, s3a://, file:/)", s)
	}
	return Mapping{From: from, To: to}, nil
}

// NewLocationMap orders the mappings longest From first and refuses two for the same prefix.
func NewLocationMap(ms []Mapping) (LocationMap, error) {
	out := append(LocationMap(nil), ms...)
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].From) > len(out[j].From) })
	for i := 1; i < len(out); i++ {
		if strings.TrimRight(out[i].From, "/") == strings.TrimRight(out[i-1].From, "/") {
			return nil, errs.Invalid("location mapping: %q is mapped twice", out[i].From)
		}
	}
	return out, nil
}

// Translate maps loc; ok is false when no mapping covers it (loc is then returned as is).
func (m LocationMap) Translate(loc string) (string, bool) {
	if mp, n, ok := m.match(loc); ok {
		return join(mp.To, normalize(loc)[n:]), true
	}
	return loc, false
}

// match returns the mapping covering loc and where, in normalize(loc), the rest begins.
func (m LocationMap) match(loc string) (Mapping, int, bool) {
	nl := normalize(loc)
	for _, mp := range m {
		if n, ok := prefixAt(nl, normalize(mp.From)); ok {
			return mp, n, true
		}
	}
	return Mapping{}, 0, false
}

// normalize writes a URI without an authority the way Hadoop's Path does, so file:///x and
// file:/x (what a metastore stores for the former) match the same mapping.
func normalize(uri string) string {
	if i := strings.Index(uri, ":///"); i > 0 && !strings.Contains(uri[:i], "/") {
		return uri[:i] + ":/" + uri[i+4:]
	}
	return uri
}

// prefixAt reports whether s starts with prefix at a path boundary, and where the rest begins.
func prefixAt(s, prefix string) (int, bool) {
	p := strings.TrimRight(prefix, "/")
	if !strings.HasPrefix(s, p) {
		return 0, false
	}
	if len(s) == len(p) || s[len(p)] == '/' {
		return len(p), true
	}
	return 0, false
}

func join(to, rest string) string {
	return strings.TrimRight(to, "/") + rest
}

// TranslateText rewrites every mapped location embedded in a text (a view's SQL), scanning
// once so a replacement is never translated again.
func (m LocationMap) TranslateText(text string) string {
	if len(m) == 0 || text == "" {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); {
		matched := false
		for _, mp := range m {
			for _, from := range []string{mp.From, normalize(mp.From)} {
				if n, ok := prefixAtText(text[i:], from); ok {
					b.WriteString(strings.TrimRight(mp.To, "/"))
					i += n
					matched = true
					break
				}
			}
			if matched {
				break
			}
		}
		if !matched {
			b.WriteByte(text[i])
			i++
		}
	}
	return b.String()
}

// prefixAtText is prefixAt where the location ends at any character that cannot continue a
// path segment (a quote, a space).
func prefixAtText(s, prefix string) (int, bool) {
	p := strings.TrimRight(prefix, "/")
	if !strings.HasPrefix(s, p) {
		return 0, false
	}
	if len(s) == len(p) {
		return len(p), true
	}
	switch c := s[len(p)]; {
	case c == '/', c == '\'', c == '"', c == '`', c == ' ', c == ')', c == '\n', c == '\t':
		return len(p), true
	}
	return 0, false
}

// translator applies a LocationMap to copies of objects and records what it could not map.
type translator struct {
	m LocationMap
	// untranslated receives each location no mapping covered (only when there are mappings).
	untranslated func(object, location string)
}

func (tr translator) loc(object, loc string) string {
	if len(tr.m) == 0 || loc == "" {
		return loc
	}
	out, ok := tr.m.Translate(loc)
	if !ok && tr.untranslated != nil {
		tr.untranslated(object, loc)
	}
	return out
}

func (tr translator) database(db *hm.Database) *hm.Database {
	out := clone(db)
	out.LocationUri = tr.loc("database "+db.Name, db.LocationUri)
	if out.ManagedLocationUri != nil {
		v := tr.loc("database "+db.Name, *out.ManagedLocationUri)
		out.ManagedLocationUri = &v
	}
	return out
}

func (tr translator) table(t *hm.Table) *hm.Table {
	out := clone(t)
	name := "table " + t.DbName + "." + t.TableName
	tr.sd(name, out.Sd)
	out.ViewOriginalText = tr.m.TranslateText(out.ViewOriginalText)
	out.ViewExpandedText = tr.m.TranslateText(out.ViewExpandedText)
	return out
}

func (tr translator) partition(t *hm.Table, p *hm.Partition) *hm.Partition {
	out := clone(p)
	tr.sd("partition "+t.DbName+"."+t.TableName+" "+strings.Join(p.Values, "/"), out.Sd)
	return out
}

func (tr translator) sd(object string, sd *hm.StorageDescriptor) {
	if sd == nil {
		return
	}
	sd.Location = tr.loc(object, sd.Location)
	// Spark's data source tables keep their location in the serde's "path" parameter.
	if sd.SerdeInfo != nil && sd.SerdeInfo.Parameters["path"] != "" {
		sd.SerdeInfo.Parameters["path"] = tr.loc(object, sd.SerdeInfo.Parameters["path"])
	}
}
