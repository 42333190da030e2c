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
	"github.com/propolis/propolis/hms/hiverule"
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

// partCols selects the columns of a partRow query.
type partCols uint8

const (
	colID partCols = 1 << iota
	colVals
	colObj
)

func (s *Store) partRowsLimit(ctx context.Context, q queryer, tblID int64, prefix string, exact, withObj bool, limit int) ([]partRow, error) {
	cols := colID | colVals
	if withObj {
		cols |= colObj
	}
	return s.selectPartRows(ctx, q, tblID, prefix, exact, cols, limit)
}

// partWhere is the WHERE clause (and its arguments) selecting a table's partitions whose name
// starts with prefix, or is prefix when exact.
func partWhere(tblID int64, prefix string, exact bool) (string, []any) {
	where := ` WHERE tbl_id = ?`
	args := []any{tblID}
	switch {
	case exact:
		where += ` AND part_name = ?`
		args = append(args, prefix)
	case prefix != "":
		// SUBSTR counts characters in both dialects and compares exactly (utf8mb4_bin on
		// MySQL), unlike LIKE, which is case-insensitive in SQLite and treats '%' specially.
		where += ` AND SUBSTR(part_name, 1, ?) = ?`
		args = append(args, utf8.RuneCountInString(prefix), prefix)
	}
	return where, args
}

// selectPartRows loads the partitions of a table whose name starts with prefix (is prefix when
// exact), ordered by name, reading the name and the columns asked for. Without colID, colVals
// or colObj the query reads the (tbl_id, part_name) index alone.
func (s *Store) selectPartRows(ctx context.Context, q queryer, tblID int64, prefix string, exact bool, cols partCols, limit int) (_ []partRow, err error) {
	sel := "part_name"
	if cols&colID != 0 {
		sel = "id, " + sel
	}
	if cols&colVals != 0 {
		sel += ", vals"
	}
	if cols&colObj != 0 {
		sel += ", obj"
	}
	where, args := partWhere(tblID, prefix, exact)
	query := `SELECT ` + sel + ` FROM parts` + where + ` ORDER BY part_name`
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.storeErr(err)
	}
	defer closeRows(rows, &err)
	var (
		out  []partRow
		vals string
		dest = make([]any, 0, 4)
	)
	for rows.Next() {
		var r partRow
		dest = dest[:0]
		if cols&colID != 0 {
			dest = append(dest, &r.id)
		}
		dest = append(dest, &r.name)
		if cols&colVals != 0 {
			dest = append(dest, &vals)
		}
		if cols&colObj != 0 {
			dest = append(dest, &r.obj)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, s.storeErr(err)
		}
		if cols&colVals != 0 {
			if r.vals, err = decodeVals(vals); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, s.storeErr(rows.Err())
}

// decodeVals reads the vals column, a JSON array of strings as json.Marshal writes it. Arrays
// without escapes (the usual case) are split in place; anything else goes to encoding/json.
func decodeVals(s string) ([]string, error) {
	if n := len(s); n >= 2 && s[0] == '[' && s[n-1] == ']' && !strings.ContainsRune(s, '\\') && utf8.ValidString(s) {
		body := s[1 : n-1]
		if body == "" {
			return []string{}, nil
		}
		out := make([]string, 0, strings.Count(body, ",")+1)
		for {
			// Without backslashes a string ends at the next quote: ',' inside one is just text.
			if len(body) < 2 || body[0] != '"' {
				return decodeValsJSON(s)
			}
			end := strings.IndexByte(body[1:], '"')
			if end < 0 {
				return decodeValsJSON(s)
			}
			out = append(out, body[1:1+end])
			body = body[2+end:]
			if body == "" {
				return out, nil
			}
			if body[0] != ',' {
				return decodeValsJSON(s)
			}
			body = body[1:]
		}
	}
	return decodeValsJSON(s)
}

func decodeValsJSON(s string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// partBatch bounds the values of one IN (...) list, well below the parameter limits of SQLite
// (32766) and MySQL (65535).
const partBatch = 500

// inList is "(?, ?, ...)" with n placeholders.
func inList(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// partObjsByName reads the stored objects of the named partitions of a table, one query per
// partBatch names. Names that do not exist are absent from the map.
func (s *Store) partObjsByName(ctx context.Context, q queryer, tblID int64, names []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(names))
	uniq := make([]string, 0, len(names))
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			uniq = append(uniq, n)
		}
	}
	for len(uniq) > 0 {
		batch := uniq[:min(len(uniq), partBatch)]
		uniq = uniq[len(batch):]
		args := make([]any, 0, len(batch)+1)
		args = append(args, tblID)
		for _, n := range batch {
			args = append(args, n)
		}
		err := s.scanRows(ctx, q, `SELECT part_name, obj FROM parts WHERE tbl_id = ? AND part_name IN `+inList(len(batch)), args, func(rows *sql.Rows) error {
			var (
				name string
				obj  []byte
			)
			if err := rows.Scan(&name, &obj); err != nil {
				return err
			}
			// Only an exact match counts: MySQL's PAD SPACE collation also matches a name
			// that differs by trailing spaces.
			if seen[name] {
				out[name] = obj
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fillObjs reads the stored objects of rows (by id, partBatch ids a query). A row whose
// partition no longer exists is dropped from the result.
func (s *Store) fillObjs(ctx context.Context, q queryer, rows []partRow) ([]partRow, error) {
	objs := make(map[int64][]byte, len(rows))
	for i := 0; i < len(rows); i += partBatch {
		batch := rows[i:min(len(rows), i+partBatch)]
		args := make([]any, 0, len(batch))
		for _, r := range batch {
			args = append(args, r.id)
		}
		err := s.scanRows(ctx, q, `SELECT id, obj FROM parts WHERE id IN `+inList(len(batch)), args, func(rows *sql.Rows) error {
			var (
				id  int64
				obj []byte
			)
			if err := rows.Scan(&id, &obj); err != nil {
				return err
			}
			objs[id] = obj
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := rows[:0]
	for _, r := range rows {
		if obj, ok := objs[r.id]; ok {
			r.obj = obj
			out = append(out, r)
		}
	}
	return out, nil
}

// scanRows runs a query and calls fn for each row.
func (s *Store) scanRows(ctx context.Context, q queryer, query string, args []any, fn func(*sql.Rows) error) (err error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return s.storeErr(err)
	}
	defer closeRows(rows, &err)
	for rows.Next() {
		if err := fn(rows); err != nil {
			return s.storeErr(err)
		}
	}
	return s.storeErr(rows.Err())
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
	p.CreateTime = s.nowSec() // the server's time, whatever the client sent, as in Hive
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
		// Prepare up to the first invalid partition, whose error comes after those of the
		// partitions before it.
		var (
			prepared []*hm.Partition
			pnames   []string
			prepErr  error
		)
		for _, in := range parts {
			p, name, err := s.preparePart(ctx, r.t, in)
			if err != nil {
				prepErr = err
				break
			}
			prepared = append(prepared, p)
			pnames = append(pnames, name)
		}
		existing, err := s.existingPartNames(ctx, tx, r.id, pnames)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		var names []string
		for i, p := range prepared {
			name := pnames[i]
			if seen[name] || existing(name) {
				if ifNotExists {
					continue
				}
				return errs.Exists("Partition already exists: %s.%s %s", db, tbl, name)
			}
			seen[name] = true
			added = append(added, p)
			names = append(names, name)
		}
		if prepErr != nil {
			return prepErr
		}
		if err := s.insertParts(ctx, tx, r.id, names, added); err != nil {
			return err
		}
		for _, p := range added {
			if err := s.wh.mkdirs(ctx, p.Sd.Location); err != nil {
				return err
			}
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

// existingPartNames looks the names up in one query per partBatch names and reports which
// exist as the database compares names: on MySQL (PAD SPACE) a name matches a stored one that
// differs only by trailing spaces, as a lookup by name there does.
func (s *Store) existingPartNames(ctx context.Context, q queryer, tblID int64, names []string) (func(string) bool, error) {
	key := func(n string) string { return n }
	if s.d.name == "mysql" {
		key = func(n string) string { return strings.TrimRight(n, " ") }
	}
	found := map[string]bool{}
	for i := 0; i < len(names); i += partBatch {
		batch := names[i:min(len(names), i+partBatch)]
		args := make([]any, 0, len(batch)+1)
		args = append(args, tblID)
		for _, n := range batch {
			args = append(args, n)
		}
		err := s.scanRows(ctx, q, `SELECT part_name FROM parts WHERE tbl_id = ? AND part_name IN `+inList(len(batch)), args, func(rows *sql.Rows) error {
			var name string
			if err := rows.Scan(&name); err != nil {
				return err
			}
			found[key(name)] = true
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return func(n string) bool { return found[key(n)] }, nil
}

// insertBatch is the number of partitions one INSERT statement writes (5 parameters each).
const insertBatch = 100

// insertParts writes new partitions, drawing their ids from the object sequence in one step.
func (s *Store) insertParts(ctx context.Context, tx *sql.Tx, tblID int64, names []string, parts []*hm.Partition) error {
	if len(parts) == 0 {
		return nil
	}
	last, err := s.nextVals(ctx, tx, "object", len(parts))
	if err != nil {
		return err
	}
	id := last - int64(len(parts))
	for i := 0; i < len(parts); i += insertBatch {
		n := min(len(parts)-i, insertBatch)
		args := make([]any, 0, 5*n)
		for j := i; j < i+n; j++ {
			b, err := encode(ctx, parts[j])
			if err != nil {
				return err
			}
			vals, err := json.Marshal(parts[j].Values)
			if err != nil {
				return err
			}
			id++
			args = append(args, id, tblID, names[j], string(vals), b)
		}
		query := `INSERT INTO parts (id, tbl_id, part_name, vals, obj) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", n), ", ")
		if _, err := s.exec(ctx, tx, query, args...); err != nil {
			return err
		}
	}
	return nil
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
	canon := make([]string, len(names))
	for i, n := range names {
		if canon[i], err = canonicalPartName(r.t, n); err != nil {
			return nil, err
		}
	}
	objs, err := s.partObjsByName(ctx, s.db, r.id, canon)
	if err != nil {
		return nil, err
	}
	// In the order asked; a name asked twice is answered twice, each time with its own copy.
	out := make([]*hm.Partition, 0, len(objs))
	for _, name := range canon {
		obj, ok := objs[name]
		if !ok {
			continue
		}
		p, err := partRow{name: name, obj: obj}.partition(ctx, r.t)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// partPlan is a PartitionQuery worked out against its table: the leading run of given values
// becomes a name prefix in SQL; holes in the spec and filters are evaluated here on the
// partition values, and Max goes to SQL only when nothing is left to filter.
type partPlan struct {
	r      *tableRow
	q      hms.PartitionQuery
	match  partFilter
	prefix string
	exact  bool
	// needVals is set when rows must be checked against their values: a filter, a hole in the
	// spec, or a spec value whose escaped name does not identify it (see nameDecides).
	needVals bool
	limit    int
}

func (s *Store) planParts(ctx context.Context, qr queryer, db, tbl string, q hms.PartitionQuery) (*partPlan, error) {
	r, err := s.getTableRow(ctx, qr, norm(db), norm(tbl))
	if err != nil {
		return nil, err
	}
	keys := r.t.PartitionKeys
	if len(q.Values) > len(keys) {
		return nil, errs.Invalid("%d partition values given but %s.%s has %d partition keys", len(q.Values), r.t.DbName, r.t.TableName, len(keys))
	}
	pl := &partPlan{r: r, q: q}
	if q.Filter != "" {
		if pl.match, err = parseFilter(q.Filter); err != nil {
			return nil, err
		}
	}
	var rest bool
	pl.prefix, rest = specPrefix(keys, q.Values)
	// Exact only when every key has a value: an empty value is Hive's wildcard, also at the end.
	pl.exact = len(q.Values) == len(keys) && len(keys) > 0 && !slices.Contains(q.Values, "")
	if pl.exact {
		pl.prefix = strings.TrimSuffix(pl.prefix, "/")
	}
	pl.needVals = pl.match != nil || rest || !nameDecides(q.Values)
	if !pl.needVals && q.Max > 0 {
		pl.limit = q.Max
	}
	return pl, nil
}

// nameDecides reports whether matching the name prefix of spec values selects exactly the
// partitions whose values equal them. It does unless a value is one escaping maps another value
// onto too: Hive's default partition name (the name of an empty value) or text that is not
// UTF-8.
func nameDecides(spec []string) bool {
	for _, v := range spec {
		if v == defaultPartitionName || !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

// nameMatches checks a row's name against the plan's prefix. SQL already did, but MySQL's
// PAD SPACE collation lets an exact match differ by trailing spaces.
func (pl *partPlan) nameMatches(name string) bool {
	if pl.exact {
		return name == pl.prefix
	}
	return strings.HasPrefix(name, pl.prefix)
}

// rows selects the partitions of the plan, ordered by name. Without needVals only names (with
// the columns in cols) are read; with it, values are read and checked, and cols&colObj is
// ignored: the caller fetches the objects of the rows that matched.
func (s *Store) planRows(ctx context.Context, q queryer, pl *partPlan, cols partCols) ([]partRow, error) {
	if pl.needVals {
		cols = cols&^colObj | colVals
	}
	rows, err := s.selectPartRows(ctx, q, pl.r.id, pl.prefix, pl.exact, cols, pl.limit)
	if err != nil {
		return nil, err
	}
	keys := pl.r.t.PartitionKeys
	out := rows[:0]
	for _, pr := range rows {
		ok := pl.nameMatches(pr.name)
		if ok && pl.needVals {
			if ok, err = keep(pr, pl.q.Values, keys, pl.match); err != nil {
				return nil, err
			}
		}
		if !ok {
			continue
		}
		out = append(out, pr)
		if pl.q.Max > 0 && len(out) == pl.q.Max {
			break
		}
	}
	return out, nil
}

// specRest reports non-empty spec values after the first empty one (holes a name prefix cannot
// express).
func specRest(vals []string) bool {
	for i, v := range vals {
		if v == "" {
			for _, w := range vals[i+1:] {
				if w != "" {
					return true
				}
			}
			return false
		}
	}
	return false
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
	var (
		pl   *partPlan
		rows []partRow
		err  error
	)
	if q.Filter == "" && !specRest(q.Values) && nameDecides(q.Values) {
		// Every row the name selects is answered: read the objects in the same pass.
		if pl, err = s.planParts(ctx, s.db, db, tbl, q); err != nil {
			return nil, err
		}
		if rows, err = s.planRows(ctx, s.db, pl, colObj); err != nil {
			return nil, err
		}
	} else {
		// Check (name, values) rows first, then read the objects of the matches alone, in one
		// read snapshot so both passes see the same partitions.
		err = s.read(ctx, func(tx *sql.Tx) error {
			if pl, err = s.planParts(ctx, tx, db, tbl, q); err != nil {
				return err
			}
			if rows, err = s.planRows(ctx, tx, pl, colID); err != nil {
				return err
			}
			rows, err = s.fillObjs(ctx, tx, rows)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]*hm.Partition, 0, len(rows))
	for _, pr := range rows {
		p, err := pr.partition(ctx, pl.r.t)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (s *Store) ListPartitionNames(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]string, error) {
	pl, err := s.planParts(ctx, s.db, db, tbl, q)
	if err != nil {
		return nil, err
	}
	rows, err := s.planRows(ctx, s.db, pl, 0)
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
	pl, err := s.planParts(ctx, s.db, db, tbl, q)
	if err != nil {
		return 0, err
	}
	if !pl.needVals && !pl.exact {
		// A prefix compares exactly in both dialects: count in SQL.
		where, args := partWhere(pl.r.id, pl.prefix, false)
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM parts`+where, args...).Scan(&n); err != nil {
			return 0, s.storeErr(err)
		}
		if q.Max > 0 {
			n = min(n, q.Max)
		}
		return n, nil
	}
	rows, err := s.planRows(ctx, s.db, pl, 0)
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
	if !hiverule.MovesDataOnRename(t) || t.Sd.GetLocation() == "" || p.Sd == nil || oldName == newName {
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
		managed = hiverule.DeletesData(r.t, deleteData)
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
	if managed {
		if err := s.removeAll(ctx, []string{hiverule.PartitionDataLocation(dropped)}); err != nil {
			return nil, err
		}
	}
	return dropped, nil
}
