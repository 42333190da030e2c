package federation

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"
)

// Translation happens at the boundary, on copies: objects coming in from a client carry exposed
// database names and leave with the backend's own; objects coming back get exposed names.
// Database names also live inside view definitions, so a view defined in a secondary keeps
// resolving through Propolis.

// dbMap maps one database name; false leaves it unchanged.
type dbMap func(string) (string, bool)

// outMap is own -> exposed for member m.
func (r *Router) outMap(m *Member) dbMap {
	return func(own string) (string, bool) { return m.expose(strings.ToLower(own)) }
}

// inMap is exposed -> own, for names that route to m.
func (r *Router) inMap(m *Member) dbMap {
	return func(exposed string) (string, bool) {
		mm, own, err := r.resolve(exposed)
		if err != nil || mm != m {
			return "", false
		}
		return own, true
	}
}

// tableRef matches a database-qualified table reference where a table reference can stand:
// after FROM or JOIN, as Hive and Spark write them in expanded view texts (`db`.`table`).
// Column references (`table`.`col`) never follow FROM or JOIN, so they are left alone.
var tableRef = regexp.MustCompile("(?i)(\\b(?:from|join)\\s+)`([^`]+)`(\\s*\\.\\s*`)")

func rewriteHiveSQL(sql string, f dbMap) string {
	if sql == "" {
		return sql
	}
	return tableRef.ReplaceAllStringFunc(sql, func(s string) string {
		sub := tableRef.FindStringSubmatch(s)
		if to, ok := f(sub[2]); ok {
			return sub[1] + "`" + to + "`" + sub[3]
		}
		return s
	})
}

// Trino and Presto store their views as "/* Presto View: <base64 JSON> */" in the original
// text, with the view's catalog and schema in the JSON.
const (
	prestoPrefix = "/* Presto View: "
	prestoSuffix = " */"
)

func rewritePrestoView(text string, f dbMap) string {
	if !strings.HasPrefix(text, prestoPrefix) || !strings.HasSuffix(text, prestoSuffix) {
		return text
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(strings.TrimPrefix(text, prestoPrefix), prestoSuffix))
	if err != nil {
		return text
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		return text
	}
	schema, _ := v["schema"].(string)
	to, ok := f(schema)
	if !ok || to == schema {
		return text
	}
	v["schema"] = to
	out, err := json.Marshal(v)
	if err != nil {
		return text
	}
	return prestoPrefix + base64.StdEncoding.EncodeToString(out) + prestoSuffix
}

// Spark resolves unqualified names in a view against the database recorded in properties.
var sparkViewDBKeys = []string{"view.catalogAndNamespace.part.1", "view.default.database"}

func translateTable(t *hm.Table, f dbMap) *hm.Table {
	if t == nil {
		return nil
	}
	c := *t
	if to, ok := f(t.DbName); ok {
		c.DbName = to
	}
	if t.TableType == "VIRTUAL_VIEW" || t.TableType == "MATERIALIZED_VIEW" {
		c.ViewOriginalText = rewritePrestoView(rewriteHiveSQL(t.ViewOriginalText, f), f)
		c.ViewExpandedText = rewriteHiveSQL(t.ViewExpandedText, f)
		if t.Parameters != nil {
			c.Parameters = make(map[string]string, len(t.Parameters))
			for k, v := range t.Parameters {
				c.Parameters[k] = v
			}
			for _, k := range sparkViewDBKeys {
				if v, ok := c.Parameters[k]; ok {
					if to, ok := f(v); ok {
						c.Parameters[k] = to
					}
				}
			}
		}
	}
	return &c
}

func translateTables(ts []*hm.Table, f dbMap) []*hm.Table {
	out := make([]*hm.Table, len(ts))
	for i, t := range ts {
		out[i] = translateTable(t, f)
	}
	return out
}

func translatePartition(p *hm.Partition, f dbMap) *hm.Partition {
	if p == nil {
		return nil
	}
	c := *p
	if to, ok := f(p.DbName); ok {
		c.DbName = to
	}
	return &c
}

func translatePartitions(ps []*hm.Partition, f dbMap) []*hm.Partition {
	out := make([]*hm.Partition, len(ps))
	for i, p := range ps {
		out[i] = translatePartition(p, f)
	}
	return out
}

func translateDatabase(d *hm.Database, f dbMap) *hm.Database {
	if d == nil {
		return nil
	}
	c := *d
	if to, ok := f(d.Name); ok {
		c.Name = to
	}
	return &c
}

func translateFunction(fn *hm.Function, f dbMap) *hm.Function {
	if fn == nil {
		return nil
	}
	c := *fn
	if to, ok := f(fn.DbName); ok {
		c.DbName = to
	}
	return &c
}
