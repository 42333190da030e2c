package embedded

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/hiverule"
	"github.com/propolis/propolis/internal/errs"
)

const (
	ddlTimeParam = hiverule.ParamDDLTime
)

// tableRow is a stored table with the surrogate id its partitions and statistics hang off,
// which is what makes a rename a one-row update.
type tableRow struct {
	id int64
	t  *hm.Table
}

func (s *Store) getTableRow(ctx context.Context, q queryer, db, name string) (*tableRow, error) {
	var (
		id int64
		b  []byte
	)
	err := q.QueryRowContext(ctx, `SELECT id, obj FROM tbls WHERE db = ? AND name = ?`, db, name).Scan(&id, &b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hms.TableNotFound(db, name)
	}
	if err != nil {
		return nil, s.storeErr(err)
	}
	t := &hm.Table{}
	if err := decode(ctx, b, t); err != nil {
		return nil, err
	}
	return &tableRow{id: id, t: t}, nil
}

// tableExists looks a table up without reading its definition.
func (s *Store) tableExists(ctx context.Context, q queryer, db, name string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM tbls WHERE db = ? AND name = ?`, db, name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, s.storeErr(err)
	}
	return true, nil
}

func (s *Store) GetTable(ctx context.Context, db, name string) (*hm.Table, error) {
	r, err := s.getTableRow(ctx, s.db, norm(db), norm(name))
	if err != nil {
		return nil, err
	}
	return r.t, nil
}

func (s *Store) GetTables(ctx context.Context, db string, names []string) ([]*hm.Table, error) {
	db = norm(db)
	if _, err := s.getDB(ctx, s.db, db); err != nil {
		return nil, err
	}
	out := []*hm.Table{}
	for _, n := range names {
		r, err := s.getTableRow(ctx, s.db, db, norm(n))
		if errs.KindOf(err) == errs.KindNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r.t)
	}
	return out, nil
}

func (s *Store) ListTables(ctx context.Context, db string) (_ []hms.TableInfo, err error) {
	db = norm(db)
	if _, err := s.getDB(ctx, s.db, db); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT obj FROM tbls WHERE db = ? ORDER BY name`, db)
	if err != nil {
		return nil, s.storeErr(err)
	}
	defer closeRows(rows, &err)
	out := []hms.TableInfo{}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, s.storeErr(err)
		}
		t := &hm.Table{}
		if err := decode(ctx, b, t); err != nil {
			return nil, err
		}
		out = append(out, hms.TableInfo{Name: t.TableName, Type: t.TableType, Comment: t.Parameters["comment"], Owner: t.Owner})
	}
	return out, s.storeErr(rows.Err())
}

// normalizeTable lower-cases every name Hive lower-cases and checks what HMS checks.
func normalizeTable(t *hm.Table) error {
	t.DbName, t.TableName = norm(t.DbName), norm(t.TableName)
	if err := checkName("table", t.TableName, maxTblName); err != nil {
		return err
	}
	hiverule.NormalizeType(t)
	if t.Sd == nil {
		if t.TableType != hiverule.VirtualView {
			return errs.Invalid("table %s.%s has no storage descriptor", t.DbName, t.TableName)
		}
		t.Sd = &hm.StorageDescriptor{}
	}
	seen := map[string]bool{}
	for _, c := range t.Sd.Cols {
		if err := addColumn(seen, c, "column"); err != nil {
			return err
		}
	}
	for _, k := range t.PartitionKeys {
		if err := addColumn(seen, k, "partition key"); err != nil {
			return err
		}
	}
	return nil
}

func addColumn(seen map[string]bool, c *hm.FieldSchema, kind string) error {
	if c == nil {
		return errs.Invalid("%s is missing", kind)
	}
	c.Name = norm(c.Name)
	if c.Name == "" || len(c.Name) > maxColName || strings.ContainsAny(c.Name, ",:") {
		return errs.Invalid("invalid %s name %q", kind, c.Name)
	}
	if seen[c.Name] {
		return errs.Invalid("duplicate column name %q (partition keys may not repeat columns)", c.Name)
	}
	seen[c.Name] = true
	return nil
}

func (s *Store) stampDDL(params map[string]string) map[string]string {
	return hiverule.StampDDLTime(params, s.now().Unix())
}

// checkTableArg rejects what clone would paper over: Thrift decoding turns a missing
// storage descriptor into an empty one.
func checkTableArg(in *hm.Table) error {
	if in == nil {
		return errs.Invalid("table is missing")
	}
	if in.Sd == nil && in.TableType != hiverule.VirtualView {
		return errs.Invalid("table %s.%s has no storage descriptor", in.DbName, in.TableName)
	}
	return nil
}

func (s *Store) CreateTable(ctx context.Context, in *hm.Table) error {
	if err := checkTableArg(in); err != nil {
		return err
	}
	t, err := clone(ctx, in)
	if err != nil {
		return err
	}
	if err := normalizeTable(t); err != nil {
		return err
	}
	t.CreateTime = s.nowSec() // the server's time, whatever the client sent, as in Hive
	t.Parameters = s.stampDDL(t.Parameters)
	return s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		db, err := s.getDB(ctx, tx, t.DbName)
		if errs.KindOf(err) == errs.KindNotFound {
			return errs.NotFound("Database %s does not exist", t.DbName)
		}
		if err != nil {
			return err
		}
		if exists, err := s.tableExists(ctx, tx, t.DbName, t.TableName); err != nil {
			return err
		} else if exists {
			return errs.Exists("Table %s.%s already exists", t.DbName, t.TableName)
		}
		if t.Sd.Location == "" && t.TableType != hiverule.VirtualView {
			t.Sd.Location = defaultTableLocation(db, t.TableName)
		}
		id, err := s.nextVal(ctx, tx, "object")
		if err != nil {
			return err
		}
		if err := s.putTable(ctx, tx, id, t, true); err != nil {
			return err
		}
		if err := s.event(ctx, tx, evCreateTable, eventMsg{DB: t.DbName, Table: t.TableName}); err != nil {
			return err
		}
		if t.TableType == hiverule.VirtualView {
			return nil
		}
		return s.wh.mkdirs(ctx, t.Sd.Location)
	})
}

func defaultTableLocation(db *hm.Database, table string) string {
	return strings.TrimRight(db.LocationUri, "/") + "/" + table
}

func (s *Store) putTable(ctx context.Context, tx *sql.Tx, id int64, t *hm.Table, insert bool) error {
	b, err := encode(ctx, t)
	if err != nil {
		return err
	}
	if insert {
		_, err = s.exec(ctx, tx, `INSERT INTO tbls (id, db, name, type, obj) VALUES (?, ?, ?, ?, ?)`,
			id, t.DbName, t.TableName, t.TableType, b)
	} else {
		_, err = s.exec(ctx, tx, `UPDATE tbls SET db = ?, name = ?, type = ?, obj = ? WHERE id = ?`,
			t.DbName, t.TableName, t.TableType, b, id)
	}
	return err
}

func (s *Store) AlterTable(ctx context.Context, db, name string, in *hm.Table, cascade bool) error {
	if err := checkTableArg(in); err != nil {
		return err
	}
	db, name = norm(db), norm(name)
	t, err := clone(ctx, in)
	if err != nil {
		return err
	}
	if t.DbName == "" {
		t.DbName = db
	}
	if t.TableName == "" {
		t.TableName = name
	}
	if err := normalizeTable(t); err != nil {
		return err
	}
	t.Parameters = s.stampDDL(t.Parameters)
	var move [2]string
	err = s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		move = [2]string{}
		old, err := s.getTableRow(ctx, tx, db, name)
		if err != nil {
			return err
		}
		if !sameKeys(old.t.PartitionKeys, t.PartitionKeys) {
			return errs.Invalid("cannot change the partition keys of %s.%s", db, name)
		}
		if t.CreateTime == 0 {
			t.CreateTime = old.t.CreateTime
		}
		if t.Sd.Location == "" && t.TableType != hiverule.VirtualView {
			t.Sd.Location = old.t.Sd.GetLocation()
		}
		renamed := t.DbName != db || t.TableName != name
		if renamed {
			from, to, err := s.renameTarget(ctx, tx, old.t, t)
			if err != nil {
				return err
			}
			if from != to {
				move = [2]string{from, to}
				t.Sd.Location = to
			}
		}
		if err := s.rewritePartitions(ctx, tx, old.id, t, move[0], move[1], cascade); err != nil {
			return err
		}
		if err := s.putTable(ctx, tx, old.id, t, false); err != nil {
			return err
		}
		m := eventMsg{DB: db, Table: name}
		if renamed {
			m.NewDB, m.NewTable = t.DbName, t.TableName
		}
		if err := s.event(ctx, tx, evAlterTable, m); err != nil {
			return err
		}
		if move[0] != "" {
			return s.wh.rename(ctx, move[0], move[1])
		}
		return nil
	})
	return err
}

// renameTarget checks a rename and returns the directory move it implies: Hive moves a managed
// table's data only when it sits at the default location and the client did not pick a new one.
func (s *Store) renameTarget(ctx context.Context, tx *sql.Tx, old, t *hm.Table) (from, to string, err error) {
	newDB, err := s.getDB(ctx, tx, t.DbName)
	if errs.KindOf(err) == errs.KindNotFound {
		return "", "", errs.NotFound("Database %s does not exist", t.DbName)
	}
	if err != nil {
		return "", "", err
	}
	if _, err := s.getTableRow(ctx, tx, t.DbName, t.TableName); err == nil {
		return "", "", errs.Exists("Table %s.%s already exists", t.DbName, t.TableName)
	} else if errs.KindOf(err) != errs.KindNotFound {
		return "", "", err
	}
	if !hiverule.MovesDataOnRename(old) {
		return "", "", nil
	}
	oldDB, err := s.getDB(ctx, tx, old.DbName)
	if err != nil {
		return "", "", err
	}
	oldLoc := strings.TrimRight(old.Sd.GetLocation(), "/")
	if oldLoc != defaultTableLocation(oldDB, old.TableName) || strings.TrimRight(t.Sd.Location, "/") != oldLoc {
		return "", "", nil
	}
	return oldLoc, defaultTableLocation(newDB, t.TableName), nil
}

func sameKeys(a, b []*hm.FieldSchema) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if norm(a[i].Name) != norm(b[i].Name) || !strings.EqualFold(a[i].Type, b[i].Type) {
			return false
		}
	}
	return true
}

// rewritePartitions follows a table change into its partitions: locations under a moved
// directory move with it, and cascade copies the new columns.
func (s *Store) rewritePartitions(ctx context.Context, tx *sql.Tx, tblID int64, t *hm.Table, from, to string, cascade bool) error {
	if from == "" && !cascade {
		return nil
	}
	rows, err := s.partRows(ctx, tx, tblID, "", true)
	if err != nil {
		return err
	}
	for _, r := range rows {
		p, err := r.partition(ctx, t)
		if err != nil {
			return err
		}
		if p.Sd == nil {
			p.Sd = &hm.StorageDescriptor{}
		}
		if from != "" && (p.Sd.Location == from || strings.HasPrefix(p.Sd.Location, from+"/")) {
			p.Sd.Location = to + strings.TrimPrefix(p.Sd.Location, from)
		}
		if cascade {
			p.Sd.Cols = t.Sd.Cols
		}
		if err := s.updatePart(ctx, tx, r.id, r.name, p); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) DropTable(ctx context.Context, db, name string, deleteData bool) error {
	db, name = norm(db), norm(name)
	var dirs []string
	err := s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		d, err := s.dropTableTx(ctx, tx, db, name, deleteData)
		dirs = d
		return err
	})
	if err != nil || !deleteData {
		return err
	}
	return s.removeAll(ctx, dirs)
}

// dropTableTx deletes a table with its partitions and statistics and, with withDirs, returns the
// managed data directories the caller may delete after commit (reading every partition for
// them, which a drop that keeps the data skips).
func (s *Store) dropTableTx(ctx context.Context, tx *sql.Tx, db, name string, withDirs bool) ([]string, error) {
	r, err := s.getTableRow(ctx, tx, db, name)
	if err != nil {
		return nil, err
	}
	var dirs []string
	if hiverule.DeletesData(r.t, withDirs) {
		loc := r.t.Sd.GetLocation()
		dirs = append(dirs, loc)
		parts, err := s.partRows(ctx, tx, r.id, "", true)
		if err != nil {
			return nil, err
		}
		for _, pr := range parts {
			p, err := pr.partition(ctx, r.t)
			if err != nil {
				return nil, err
			}
			if pl := hiverule.PartitionDataLocation(p); pl != "" && !strings.HasPrefix(pl, strings.TrimRight(loc, "/")+"/") {
				dirs = append(dirs, pl)
			}
		}
	}
	for _, q := range []string{
		`DELETE FROM part_stats WHERE tbl_id = ?`,
		`DELETE FROM parts WHERE tbl_id = ?`,
		`DELETE FROM tbl_stats WHERE tbl_id = ?`,
		`DELETE FROM tbls WHERE id = ?`,
	} {
		if _, err := s.exec(ctx, tx, q, r.id); err != nil {
			return nil, err
		}
	}
	return dirs, s.event(ctx, tx, evDropTable, eventMsg{DB: db, Table: name})
}
