package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

// partRow is one stored partition; obj is nil when the query did not ask for it.
type partRow struct {
	id   int64
	name string
	vals []string
	obj  []byte
}

// partition decodes the row; db and table names come from the table, so a renamed table's
// partitions never need rewriting.
func (r partRow) partition(ctx context.Context, t *hm.Table) (*hm.Partition, error) {
	p := &hm.Partition{}
	if err := decode(ctx, r.obj, p); err != nil {
		return nil, err
	}
	p.DbName, p.TableName = t.DbName, t.TableName
	return p, nil
}

// partRows loads the partitions of a table whose name starts with prefix, ordered by name.
func (s *Store) partRows(ctx context.Context, q queryer, tblID int64, prefix string, withObj bool) ([]partRow, error) {
	return s.partRowsLimit(ctx, q, tblID, prefix, false, withObj, 0)
}

func (s *Store) partRowsLimit(ctx context.Context, q queryer, tblID int64, prefix string, exact, withObj bool, limit int) (_ []partRow, err error) {
	cols := "id, part_name, vals"
	if withObj {
		cols += ", obj"
	}
	query := `SELECT ` + cols + ` FROM parts WHERE tbl_id = ?`
	args := []any{tblID}
	switch {
	case exact:
		query += ` AND part_name = ?`
		args = append(args, prefix)
	case prefix != "":
		// SUBSTR counts characters in both dialects and compares exactly (utf8mb4_bin on
		// MySQL), unlike LIKE, which is case-insensitive in SQLite and treats '%' specially.
		query += ` AND SUBSTR(part_name, 1, ?) = ?`
		args = append(args, utf8.RuneCountInString(prefix), prefix)
	}
	query += ` ORDER BY part_name`
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.storeErr(err)
	}
	defer closeRows(rows, &err)
	var out []partRow
	for rows.Next() {
		var (
			r    partRow
			vals string
		)
		dest := []any{&r.id, &r.name, &vals}
		if withObj {
			dest = append(dest, &r.obj)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, s.storeErr(err)
		}
		if err := json.Unmarshal([]byte(vals), &r.vals); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, s.storeErr(rows.Err())
}

func (s *Store) partRowByName(ctx context.Context, q queryer, tblID int64, name string) (*partRow, error) {
	rows, err := s.partRowsLimit(ctx, q, tblID, name, true, true, 1)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errs.NotFound("partition %s not found", name)
	}
	return &rows[0], nil
}

func (s *Store) updatePart(ctx context.Context, tx *sql.Tx, id int64, name string, p *hm.Partition) error {
	b, err := encode(ctx, p)
	if err != nil {
		return err
	}
	vals, err := json.Marshal(p.Values)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, tx, `UPDATE parts SET part_name = ?, vals = ?, obj = ? WHERE id = ?`, name, string(vals), b, id)
	return err
}

func (s *Store) insertPart(ctx context.Context, tx *sql.Tx, tblID int64, name string, p *hm.Partition) error {
	id, err := s.nextVal(ctx, tx, "object")
	if err != nil {
		return err
	}
	b, err := encode(ctx, p)
	if err != nil {
		return err
	}
	vals, err := json.Marshal(p.Values)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, tx, `INSERT INTO parts (id, tbl_id, part_name, vals, obj) VALUES (?, ?, ?, ?, ?)`,
		id, tblID, name, string(vals), b)
	return err
}

func partName(t *hm.Table, vals []string) (string, error) {
	name, err := makePartName(t.PartitionKeys, vals)
	if err != nil {
		return "", err
	}
	if len(name) > maxPartName {
		return "", errs.Invalid("partition name %q is longer than %d characters", name, maxPartName)
	}
	return name, nil
}

// canonicalPartName re-renders a client's partition name, so differences in key case or
// escaping do not make an existing partition look missing.
func canonicalPartName(t *hm.Table, name string) (string, error) {
	vals, err := parsePartName(t.PartitionKeys, name)
	if err != nil {
		return "", err
	}
	return partName(t, vals)
}

// preparePart fills what HMS fills for a new partition.
func (s *Store) preparePart(ctx context.Context, t *hm.Table, in *hm.Partition) (*hm.Partition, string, error) {
	if in == nil {
		return nil, "", errs.Invalid("partition is missing")
	}
	p, err := clone(ctx, in)
	if err != nil {
		return nil, "", err
	}
	name, err := partName(t, p.Values)
	if err != nil {
		return nil, "", err
	}
	p.DbName, p.TableName = t.DbName, t.TableName
	if in.Sd == nil { // the clone has an empty one
		if p.Sd, err = clone(ctx, t.Sd); err != nil {
			return nil, "", err
		}
		p.Sd.Location = ""
	}
	if p.Sd.Location == "" && t.Sd.GetLocation() != "" {
		p.Sd.Location = strings.TrimRight(t.Sd.Location, "/") + "/" + name
	}
	if p.CreateTime == 0 {
		p.CreateTime = s.nowSec()
	}
	p.Parameters = s.stampDDL(p.Parameters)
	return p, name, nil
}

func (s *Store) AddPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition, ifNotExists bool) ([]*hm.Partition, error) {
	db, tbl = norm(db), norm(tbl)
	var added []*hm.Partition
	err := s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		added = nil
		r, err := s.getTableRow(ctx, tx, db, tbl)
		if err != nil {
			return err
		}
		if len(r.t.PartitionKeys) == 0 {
			return errs.Invalid("table %s.%s is not partitioned", db, tbl)
		}
		seen := map[string]bool{}
		var names []string
		for _, in := range parts {
			p, name, err := s.preparePart(ctx, r.t, in)
			if err != nil {
				return err
			}
			exists := seen[name]
			if !exists {
				_, err := s.partRowByName(ctx, tx, r.id, name)
				if err == nil {
					exists = true
				} else if errs.KindOf(err) != errs.KindNotFound {
					return err
				}
			}
			if exists {
				if ifNotExists {
					continue
				}
				return errs.Exists("Partition already exists: %s.%s %s", db, tbl, name)
			}
			seen[name] = true
			if err := s.insertPart(ctx, tx, r.id, name, p); err != nil {
				return err
			}
			if err := s.wh.mkdirs(ctx, p.Sd.Location); err != nil {
				return err
			}
			added = append(added, p)
			names = append(names, name)
		}
		if len(names) == 0 {
			return nil
		}
		return s.event(ctx, tx, evAddPartition, eventMsg{DB: db, Table: tbl, Partitions: names})
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

func (s *Store) GetPartition(ctx context.Context, db, tbl string, values []string) (*hm.Partition, error) {
	r, err := s.getTableRow(ctx, s.db, norm(db), norm(tbl))
	if err != nil {
		return nil, err
	}
	name, err := partName(r.t, values)
	if err != nil {
		return nil, err
	}
	pr, err := s.partRowByName(ctx, s.db, r.id, name)
	if err != nil {
		return nil, errs.NotFound("partition %s not found in %s.%s", name, r.t.DbName, r.t.TableName)
	}
	return pr.partition(ctx, r.t)
}

func (s *Store) GetPartitionsByNames(ctx context.Context, db, tbl string, names []string) ([]*hm.Partition, error) {
	r, err := s.getTableRow(ctx, s.db, norm(db), norm(tbl))
	if err != nil {
		return nil, err
	}
	out := []*hm.Partition{}
	for _, n := range names {
		name, err := canonicalPartName(r.t, n)
		if err != nil {
			return nil, err
		}
		pr, err := s.partRowByName(ctx, s.db, r.id, name)
		if errs.KindOf(err) == errs.KindNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		p, err := pr.partition(ctx, r.t)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// selectParts evaluates a PartitionQuery. The leading run of given values becomes a name
// prefix in SQL; holes in the spec and filters are evaluated here, and Max goes to SQL only
// when nothing is left to filter.
func (s *Store) selectParts(ctx context.Context, db, tbl string, q hms.PartitionQuery, withObj bool) (*tableRow, []partRow, error) {
	r, err := s.getTableRow(ctx, s.db, norm(db), norm(tbl))
	if err != nil {
		return nil, nil, err
	}
	keys := r.t.PartitionKeys
	if len(q.Values) > len(keys) {
		return nil, nil, errs.Invalid("%d partition values given but %s.%s has %d partition keys", len(q.Values), r.t.DbName, r.t.TableName, len(keys))
	}
	var match partFilter
	if q.Filter != "" {
		if match, err = parseFilter(q.Filter); err != nil {
			return nil, nil, err
		}
	}
	prefix, rest := specPrefix(keys, q.Values)
	limit := 0
	if match == nil && !rest && q.Max > 0 {
		limit = q.Max
	}
	// Exact only when every key has a value: an empty value is Hive's wildcard, also at the end.
	exact := len(q.Values) == len(keys) && len(keys) > 0 && !slices.Contains(q.Values, "")
	if exact {
		prefix = strings.TrimSuffix(prefix, "/")
	}
	rows, err := s.partRowsLimit(ctx, s.db, r.id, prefix, exact, withObj, limit)
	if err != nil {
		return nil, nil, err
	}
	out := rows[:0]
	for _, pr := range rows {
		ok, err := keep(pr, q.Values, keys, match)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		out = append(out, pr)
		if q.Max > 0 && len(out) == q.Max {
			break
		}
	}
	return r, out, nil
}

// specPrefix renders the leading non-empty values as a name prefix ("k1=v1/k2=v2/"); rest
// reports later non-empty values that the prefix cannot express.
func specPrefix(keys []*hm.FieldSchema, vals []string) (prefix string, rest bool) {
	var b strings.Builder
	i := 0
	for ; i < len(vals) && vals[i] != ""; i++ {
		b.WriteString(escapePathName(norm(keys[i].Name)) + "=" + escapePathName(vals[i]) + "/")
	}
	for ; i < len(vals); i++ {
		if vals[i] != "" {
			rest = true
		}
	}
	return b.String(), rest
}

func keep(pr partRow, spec []string, keys []*hm.FieldSchema, match partFilter) (bool, error) {
	for i, v := range spec {
		if v != "" && (i >= len(pr.vals) || pr.vals[i] != v) {
			return false, nil
		}
	}
	if match == nil {
		return true, nil
	}
	return match.Eval(keys, pr.vals)
}

func (s *Store) ListPartitions(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]*hm.Partition, error) {
	r, rows, err := s.selectParts(ctx, db, tbl, q, true)
	if err != nil {
		return nil, err
	}
	out := make([]*hm.Partition, 0, len(rows))
	for _, pr := range rows {
		p, err := pr.partition(ctx, r.t)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (s *Store) ListPartitionNames(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]string, error) {
	_, rows, err := s.selectParts(ctx, db, tbl, q, false)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rows))
	for _, pr := range rows {
		out = append(out, pr.name)
	}
	return out, nil
}

func (s *Store) CountPartitions(ctx context.Context, db, tbl string, q hms.PartitionQuery) (int, error) {
	_, rows, err := s.selectParts(ctx, db, tbl, q, false)
	return len(rows), err
}

func (s *Store) AlterPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition) error {
	db, tbl = norm(db), norm(tbl)
	return s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		r, err := s.getTableRow(ctx, tx, db, tbl)
		if err != nil {
			return err
		}
		var names []string
		for _, in := range parts {
			if in == nil {
				return errs.Invalid("partition is missing")
			}
			name, err := partName(r.t, in.Values)
			if err != nil {
				return err
			}
			old, err := s.partRowByName(ctx, tx, r.id, name)
			if err != nil {
				return err
			}
			oldP, err := old.partition(ctx, r.t)
			if err != nil {
				return err
			}
			p, err := s.mergePart(ctx, r.t, oldP, in)
			if err != nil {
				return err
			}
			if err := s.updatePart(ctx, tx, old.id, name, p); err != nil {
				return err
			}
			names = append(names, name)
		}
		return s.event(ctx, tx, evAlterPartition, eventMsg{DB: db, Table: tbl, Partitions: names})
	})
}

// mergePart makes the new definition of a partition, keeping what the client left out.
func (s *Store) mergePart(ctx context.Context, t *hm.Table, old, in *hm.Partition) (*hm.Partition, error) {
	p, err := clone(ctx, in)
	if err != nil {
		return nil, err
	}
	p.DbName, p.TableName = t.DbName, t.TableName
	if in.Sd == nil { // the clone has an empty one
		p.Sd = old.Sd
	}
	if p.Sd != nil && p.Sd.Location == "" && old.Sd != nil {
		p.Sd.Location = old.Sd.Location
	}
	if p.CreateTime == 0 {
		p.CreateTime = old.CreateTime
	}
	p.Parameters = s.stampDDL(p.Parameters)
	return p, nil
}

func (s *Store) RenamePartition(ctx context.Context, db, tbl string, oldValues []string, in *hm.Partition) error {
	if in == nil {
		return errs.Invalid("partition is missing")
	}
	db, tbl = norm(db), norm(tbl)
	return s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		r, err := s.getTableRow(ctx, tx, db, tbl)
		if err != nil {
			return err
		}
		oldName, err := partName(r.t, oldValues)
		if err != nil {
			return err
		}
		newName, err := partName(r.t, in.Values)
		if err != nil {
			return err
		}
		old, err := s.partRowByName(ctx, tx, r.id, oldName)
		if err != nil {
			return err
		}
		if newName != oldName {
			if _, err := s.partRowByName(ctx, tx, r.id, newName); err == nil {
				return errs.Exists("Partition already exists: %s.%s %s", db, tbl, newName)
			} else if errs.KindOf(err) != errs.KindNotFound {
				return err
			}
		}
		oldP, err := old.partition(ctx, r.t)
		if err != nil {
			return err
		}
		p, err := s.mergePart(ctx, r.t, oldP, in)
		if err != nil {
			return err
		}
		from, to := renamedPartDir(r.t, oldP, p, oldName, newName)
		if from != "" {
			p.Sd.Location = to
		}
		if err := s.updatePart(ctx, tx, old.id, newName, p); err != nil {
			return err
		}
		if err := s.event(ctx, tx, evAlterPartition, eventMsg{DB: db, Table: tbl, Partitions: []string{oldName, newName}}); err != nil {
			return err
		}
		if from == "" {
			return nil
		}
		return s.wh.rename(ctx, from, to)
	})
}

// renamedPartDir is the directory move of a partition rename: only for a managed table whose
// partition sat at its default location and whose new definition did not pick another one.
func renamedPartDir(t *hm.Table, old, p *hm.Partition, oldName, newName string) (from, to string) {
	if t.TableType != managedTable || t.Sd.GetLocation() == "" || p.Sd == nil || oldName == newName {
		return "", ""
	}
	base := strings.TrimRight(t.Sd.Location, "/") + "/"
	if old.Sd.GetLocation() != base+oldName || p.Sd.Location != old.Sd.GetLocation() {
		return "", ""
	}
	return base + oldName, base + newName
}

func (s *Store) DropPartition(ctx context.Context, db, tbl string, values []string, deleteData bool) (*hm.Partition, error) {
	db, tbl = norm(db), norm(tbl)
	var (
		dropped *hm.Partition
		managed bool
	)
	err := s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		r, err := s.getTableRow(ctx, tx, db, tbl)
		if err != nil {
			return err
		}
		name, err := partName(r.t, values)
		if err != nil {
			return err
		}
		pr, err := s.partRowByName(ctx, tx, r.id, name)
		if err != nil {
			return err
		}
		if dropped, err = pr.partition(ctx, r.t); err != nil {
			return err
		}
		managed = r.t.TableType == managedTable
		if _, err := s.exec(ctx, tx, `DELETE FROM part_stats WHERE part_id = ?`, pr.id); err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `DELETE FROM parts WHERE id = ?`, pr.id); err != nil {
			return err
		}
		return s.event(ctx, tx, evDropPartition, eventMsg{DB: db, Table: tbl, Partitions: []string{name}})
	})
	if err != nil {
		return nil, err
	}
	if deleteData && managed {
		if err := s.removeAll(ctx, []string{dropped.Sd.GetLocation()}); err != nil {
			return nil, err
		}
	}
	return dropped, nil
}
