package embedded

import (
	"context"
	"database/sql"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

// statsTarget is the table or partition a statistics call is about.
type statsTarget struct {
	tbl      *tableRow
	partID   int64 // 0 for table level
	partName string
}

func (s *Store) resolveStats(ctx context.Context, q queryer, db, tbl, partName string) (*statsTarget, error) {
	r, err := s.getTableRow(ctx, q, norm(db), norm(tbl))
	if err != nil {
		return nil, err
	}
	st := &statsTarget{tbl: r}
	if partName == "" {
		return st, nil
	}
	if st.partName, err = canonicalPartName(r.t, partName); err != nil {
		return nil, err
	}
	pr, err := s.partRowByName(ctx, q, r.id, st.partName)
	if err != nil {
		return nil, err
	}
	st.partID = pr.id
	return st, nil
}

func (st *statsTarget) hasColumn(col string) bool {
	for _, c := range st.tbl.t.Sd.GetCols() {
		if c.Name == col {
			return true
		}
	}
	return false
}

func (s *Store) UpdateColumnStatistics(ctx context.Context, stats *hm.ColumnStatistics) error {
	if stats == nil || stats.StatsDesc == nil {
		return errs.Invalid("column statistics without a descriptor")
	}
	desc := stats.StatsDesc
	partName := desc.GetPartName()
	if desc.IsTblLevel {
		partName = ""
	} else if partName == "" {
		return errs.Invalid("partition statistics without a partition name")
	}
	return s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		st, err := s.resolveStats(ctx, tx, desc.DbName, desc.TableName, partName)
		if err != nil {
			return err
		}
		for _, in := range stats.StatsObj {
			if err := s.putStats(ctx, tx, st, in); err != nil {
				return err
			}
		}
		typ, m := evUpdateTblStats, eventMsg{DB: st.tbl.t.DbName, Table: st.tbl.t.TableName}
		if st.partID != 0 {
			typ, m.Partitions = evUpdatePrtStats, []string{st.partName}
		}
		return s.event(ctx, tx, typ, m)
	})
}

// putStats replaces the statistics of one column, leaving the other columns' alone.
func (s *Store) putStats(ctx context.Context, tx *sql.Tx, st *statsTarget, in *hm.ColumnStatisticsObj) error {
	if in == nil {
		return errs.Invalid("column statistics object is missing")
	}
	obj, err := clone(ctx, in)
	if err != nil {
		return err
	}
	obj.ColName = norm(obj.ColName)
	if !st.hasColumn(obj.ColName) {
		return errs.Invalid("column %s does not exist in table %s.%s", obj.ColName, st.tbl.t.DbName, st.tbl.t.TableName)
	}
	b, err := encode(ctx, obj)
	if err != nil {
		return err
	}
	if st.partID == 0 {
		if _, err := s.exec(ctx, tx, `DELETE FROM tbl_stats WHERE tbl_id = ? AND col = ?`, st.tbl.id, obj.ColName); err != nil {
			return err
		}
		_, err = s.exec(ctx, tx, `INSERT INTO tbl_stats (tbl_id, col, obj) VALUES (?, ?, ?)`, st.tbl.id, obj.ColName, b)
		return err
	}
	if _, err := s.exec(ctx, tx, `DELETE FROM part_stats WHERE part_id = ? AND col = ?`, st.partID, obj.ColName); err != nil {
		return err
	}
	_, err = s.exec(ctx, tx, `INSERT INTO part_stats (part_id, tbl_id, col, obj) VALUES (?, ?, ?, ?)`,
		st.partID, st.tbl.id, obj.ColName, b)
	return err
}

func (s *Store) TableColumnStatistics(ctx context.Context, db, tbl string, cols []string) ([]*hm.ColumnStatisticsObj, error) {
	st, err := s.resolveStats(ctx, s.db, db, tbl, "")
	if err != nil {
		return nil, err
	}
	return s.readStats(ctx, `SELECT col, obj FROM tbl_stats WHERE tbl_id = ?`, st.tbl.id, cols)
}

func (s *Store) PartitionColumnStatistics(ctx context.Context, db, tbl string, partNames, cols []string) (map[string][]*hm.ColumnStatisticsObj, error) {
	r, err := s.getTableRow(ctx, s.db, norm(db), norm(tbl))
	if err != nil {
		return nil, err
	}
	out := map[string][]*hm.ColumnStatisticsObj{}
	for _, pn := range partNames {
		name, err := canonicalPartName(r.t, pn)
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
		objs, err := s.readStats(ctx, `SELECT col, obj FROM part_stats WHERE part_id = ?`, pr.id, cols)
		if err != nil {
			return nil, err
		}
		if len(objs) > 0 {
			out[name] = objs
		}
	}
	return out, nil
}

// readStats returns the stored objects for cols, in the order asked.
func (s *Store) readStats(ctx context.Context, query string, id int64, cols []string) (_ []*hm.ColumnStatisticsObj, err error) {
	rows, err := s.db.QueryContext(ctx, query, id)
	if err != nil {
		return nil, s.storeErr(err)
	}
	defer closeRows(rows, &err)
	byCol := map[string][]byte{}
	for rows.Next() {
		var (
			col string
			b   []byte
		)
		if err := rows.Scan(&col, &b); err != nil {
			return nil, s.storeErr(err)
		}
		byCol[col] = b
	}
	if err := rows.Err(); err != nil {
		return nil, s.storeErr(err)
	}
	out := []*hm.ColumnStatisticsObj{}
	for _, c := range cols {
		b, ok := byCol[norm(c)]
		if !ok {
			continue
		}
		obj := &hm.ColumnStatisticsObj{}
		if err := decode(ctx, b, obj); err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

func (s *Store) DeleteColumnStatistics(ctx context.Context, db, tbl, partName, col string) error {
	col = norm(col)
	return s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		st, err := s.resolveStats(ctx, tx, db, tbl, partName)
		if err != nil {
			return err
		}
		query, args := `DELETE FROM tbl_stats WHERE tbl_id = ?`, []any{st.tbl.id}
		if st.partID != 0 {
			query, args = `DELETE FROM part_stats WHERE part_id = ?`, []any{st.partID}
		}
		if col != "" {
			if !st.hasColumn(col) {
				return errs.Invalid("column %s does not exist in table %s.%s", col, st.tbl.t.DbName, st.tbl.t.TableName)
			}
			query += ` AND col = ?`
			args = append(args, col)
		}
		n, err := s.exec(ctx, tx, query, args...)
		if err != nil {
			return err
		}
		if col != "" && n == 0 {
			return errs.NotFound("no statistics for column %s of %s.%s", col, st.tbl.t.DbName, st.tbl.t.TableName)
		}
		typ, m := evDeleteTblStats, eventMsg{DB: st.tbl.t.DbName, Table: st.tbl.t.TableName}
		if st.partID != 0 {
			typ, m.Partitions = evDeletePrtStats, []string{st.partName}
		}
		return s.event(ctx, tx, typ, m)
	})
}
