package migrate

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"
	"golang.org/x/sync/errgroup"

	"github.com/propolis/propolis/hms"
)

// Plan is the inventory of a source metastore and what needs attention before a migration.
type Plan struct {
	Source     string         `json:"source"`
	Taken      time.Time      `json:"taken"`
	Databases  []DatabasePlan `json:"databases"`
	Tables     int            `json:"tables"`
	Partitions int64          `json:"partitions"`
	Functions  int            `json:"functions"`
	// ByType counts tables by table type (MANAGED_TABLE, EXTERNAL_TABLE, VIRTUAL_VIEW, ...).
	ByType map[string]int `json:"by_type"`
	// ByFormat counts tables (views excluded) by storage format (parquet, orc, iceberg, ...).
	ByFormat map[string]int `json:"by_format"`
	// Owners counts tables by owner.
	Owners map[string]int `json:"owners"`
	// WithStatistics counts tables with basic (numRows) or column statistics.
	WithStatistics int `json:"with_statistics"`
	// Locations groups table and partition locations by file system and prefix.
	Locations []LocationGroup `json:"locations"`
	// Views lists each view with the tables it references.
	Views []ViewRefs `json:"views"`
	// Attention lists what cannot be copied as is, with the reason.
	Attention []Problem `json:"attention"`
	// Federation is the config stanza that serves the source as a backend instead (zero copy).
	Federation string `json:"federation_stanza"`
}

// DatabasePlan summarizes one database.
type DatabasePlan struct {
	Name       string `json:"name"`
	Location   string `json:"location"`
	Owner      string `json:"owner"`
	Tables     int    `json:"tables"`
	Views      int    `json:"views"`
	Partitions int64  `json:"partitions"`
	ACID       int    `json:"acid_tables"`
	Functions  int    `json:"functions"`
}

// LocationGroup counts the objects under one prefix (scheme://authority/first/segment).
type LocationGroup struct {
	Prefix     string `json:"prefix"`
	Tables     int    `json:"tables"`
	Partitions int64  `json:"partitions"`
	// Target is where the prefix maps to with the given location map, "" when unmapped.
	Target string `json:"target,omitempty"`
}

// ViewRefs is one view and what it reads.
type ViewRefs struct {
	View       string   `json:"view"`
	References []string `json:"references"`
}

// planSample is how many partitions of each table the plan reads to group their locations.
const planSample = 20

// PlanSource inventories the selected databases of src. Partition locations are sampled from
// the first planSample partitions of each table, so a plan costs a few calls per table and
// reads no more than that many partitions whole.
func PlanSource(ctx context.Context, src Source, cfg Config, address string) (*Plan, error) {
	cfg.defaults()
	p := &Plan{Source: cfg.Source, Taken: time.Now().UTC(), ByType: map[string]int{}, ByFormat: map[string]int{}, Owners: map[string]int{}}
	dbs, err := selectDatabases(ctx, src, cfg.Databases)
	if err != nil {
		return nil, err
	}
	selected := map[string]bool{}
	for _, db := range dbs {
		selected[strings.ToLower(db)] = true
	}
	locs := map[string]*LocationGroup{}
	var mu sync.Mutex
	addLoc := func(loc string, tables int, parts int64) {
		if loc == "" {
			return
		}
		// A mapped location is grouped under its mapping, an unmapped one by its first segments.
		k, target := locationPrefix(loc), ""
		if mp, _, ok := cfg.Locations.match(loc); ok {
			k, target = mp.From, mp.To
		}
		g := locs[k]
		if g == nil {
			g = &LocationGroup{Prefix: k, Target: target}
			locs[k] = g
		}
		g.Tables += tables
		g.Partitions += parts
	}
	for _, name := range dbs {
		db, err := src.GetDatabase(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", name, err)
		}
		dp := DatabasePlan{Name: name, Location: db.LocationUri}
		if db.OwnerName != nil {
			dp.Owner = *db.OwnerName
		}
		fns, err := src.ListFunctions(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("functions of %s: %w", name, err)
		}
		dp.Functions = len(fns)
		infos, err := src.ListTables(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("tables of %s: %w", name, err)
		}
		cfg.Progress.Found(int64(len(infos)), 0)
		names := make([]string, len(infos))
		for i, ti := range infos {
			names[i] = ti.Name
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(cfg.Concurrency)
		const tableBatch = 100
		for i := 0; i < len(names); i += tableBatch {
			batch := names[i:min(i+tableBatch, len(names))]
			g.Go(func() error {
				tables, err := src.GetTables(gctx, name, batch)
				if err != nil {
					return fmt.Errorf("tables of %s: %w", name, err)
				}
				for _, t := range tables {
					var parts []string
					var sample []*hm.Partition
					if len(t.PartitionKeys) > 0 {
						if parts, err = src.ListPartitionNames(gctx, name, t.TableName, hms.PartitionQuery{}); err != nil {
							return fmt.Errorf("partitions of %s.%s: %w", name, t.TableName, err)
						}
						if len(parts) > 0 {
							if sample, err = src.GetPartitionsByNames(gctx, name, t.TableName, parts[:min(len(parts), planSample)]); err != nil {
								return fmt.Errorf("partitions of %s.%s: %w", name, t.TableName, err)
							}
						}
					}
					mu.Lock()
					p.inventory(&dp, t, int64(len(parts)), sample, selected, &cfg, addLoc)
					mu.Unlock()
					cfg.Progress.Done(1, 0)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		p.Databases = append(p.Databases, dp)
		p.Functions += dp.Functions
		addLoc(db.LocationUri, 0, 0)
	}
	for _, g := range locs {
		p.Locations = append(p.Locations, *g)
		if len(cfg.Locations) > 0 && g.Target == "" {
			p.Attention = append(p.Attention, Problem{"locations under " + g.Prefix,
				fmt.Sprintf("no --location-map covers them (%d tables, %d partitions): they would be copied untranslated", g.Tables, g.Partitions)})
		}
	}
	sort.Slice(p.Locations, func(i, j int) bool { return p.Locations[i].Prefix < p.Locations[j].Prefix })
	sort.Slice(p.Views, func(i, j int) bool { return p.Views[i].View < p.Views[j].View })
	sort.Slice(p.Attention, func(i, j int) bool { return p.Attention[i].Object < p.Attention[j].Object })
	p.Federation = federationStanza(address, dbs)
	return p, nil
}

// inventory adds one table to the plan (the caller holds the lock).
func (p *Plan) inventory(dp *DatabasePlan, t *hm.Table, parts int64, sample []*hm.Partition, selected map[string]bool,
	cfg *Config, addLoc func(string, int, int64)) {
	obj := t.DbName + "." + t.TableName
	p.Tables++
	p.Partitions += parts
	dp.Partitions += parts
	p.ByType[t.TableType]++
	p.Owners[t.Owner]++
	if t.Parameters["numRows"] != "" || t.Parameters["COLUMN_STATS_ACCURATE"] != "" {
		p.WithStatistics++
	}
	if why := skipReason(t); why != "" {
		p.Attention = append(p.Attention, Problem{"table " + obj, why})
		if strings.EqualFold(t.Parameters["transactional"], "true") {
			dp.ACID++
		}
	}
	if t.TableType == "VIRTUAL_VIEW" {
		dp.Views++
		refs := viewRefs(t)
		p.Views = append(p.Views, ViewRefs{View: obj, References: refs})
		for _, r := range refs {
			db, _, _ := strings.Cut(r, ".")
			if !selected[db] {
				p.Attention = append(p.Attention, Problem{"view " + obj,
					"references " + r + ", in a database outside the migrated set: migrate that database too, or federate it under the same name"})
			}
		}
		return
	}
	dp.Tables++
	p.ByFormat[format(t)]++
	if t.Sd != nil {
		addLoc(t.Sd.Location, 1, 0)
	}
	// Partitions are counted under the prefix of the sample's locations, scaled to the table.
	for i, part := range sample {
		if part.Sd == nil {
			continue
		}
		n := int64(1)
		if i == len(sample)-1 {
			n = parts - int64(len(sample)) + 1
		}
		addLoc(part.Sd.Location, 0, n)
	}
}

// viewTableRef matches a table after FROM or JOIN in Hive's expanded view text, which
// qualifies every table as `db`.`table` (columns are `alias`.`column`, never after FROM/JOIN).
var viewTableRef = regexp.MustCompile("(?i)(?:from|join)\\s+`([^`]+)`\\.`([^`]+)`")

func viewRefs(t *hm.Table) []string {
	text := t.ViewExpandedText
	if text == "" {
		text = t.ViewOriginalText
	}
	seen := map[string]bool{}
	var out []string
	for _, m := range viewTableRef.FindAllStringSubmatch(text, -1) {
		r := strings.ToLower(m[1] + "." + m[2])
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// format names a table's storage format from its parameters, serde and input format.
func format(t *hm.Table) string {
	if strings.EqualFold(t.Parameters["table_type"], "ICEBERG") {
		return "iceberg"
	}
	if p := t.Parameters["spark.sql.sources.provider"]; p != "" {
		return strings.ToLower(p)
	}
	if t.Sd == nil {
		return "unknown"
	}
	s := strings.ToLower(t.Sd.InputFormat)
	if t.Sd.SerdeInfo != nil {
		s += " " + strings.ToLower(t.Sd.SerdeInfo.SerializationLib)
	}
	for _, f := range []string{"parquet", "orc", "avro", "json", "csv", "rcfile", "sequencefile", "hudi", "delta"} {
		if strings.Contains(s, f) {
			return f
		}
	}
	if strings.Contains(s, "textinputformat") || strings.Contains(s, "lazysimpleserde") {
		return "text"
	}
	return "other"
}

// locationPrefix groups a location by scheme, authority and its first two path segments.
func locationPrefix(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Scheme == "" {
		return loc
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) > 2 {
		segs = segs[:2]
	}
	return u.Scheme + "://" + u.Host + "/" + strings.Join(segs, "/")
}

// federationStanza serves the selected databases from the source under their own names
// (explicit mappings; "default" stays Propolis's own).
func federationStanza(address string, dbs []string) string {
	var pairs []string
	for _, db := range dbs {
		if !strings.EqualFold(db, "default") {
			pairs = append(pairs, fmt.Sprintf("%s: %s", db, db))
		}
	}
	var b strings.Builder
	b.WriteString("federation:\n  backends:\n    - name: legacy\n      type: hms\n")
	b.WriteString("      write: read-only   # or read-write, or allow-list with write_databases\n")
	if len(pairs) > 0 {
		fmt.Fprintf(&b, "      mapping: {%s}\n", strings.Join(pairs, ", "))
	} else {
		b.WriteString("      prefix: legacy_\n")
	}
	fmt.Fprintf(&b, "      hms: {address: %q}\n", address)
	return b.String()
}
