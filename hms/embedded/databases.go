package embedded

import (
	"context"
	"database/sql"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

const defaultDB = "default"

func (s *Store) ensureDefaultDB(ctx context.Context) error {
	return s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		if _, found, err := s.blobRow(ctx, tx, `SELECT obj FROM dbs WHERE name = ?`, defaultDB); err != nil || found {
			return err
		}
		owner, ot := "public", hm.PrincipalType_ROLE
		db := &hm.Database{
			Name: defaultDB, Description: "Default Hive database", LocationUri: s.root,
			Parameters: map[string]string{}, OwnerName: &owner, OwnerType: &ot,
		}
		return s.insertDB(ctx, tx, db)
	})
}

func (s *Store) CreateDatabase(ctx context.Context, in *hm.Database) error {
	if in == nil {
		return errs.Invalid("database is missing")
	}
	db := cloneDB(in)
	db.Name = norm(db.Name)
	if err := checkName("database", db.Name, maxDBName); err != nil {
		return err
	}
	if db.LocationUri == "" {
		db.LocationUri = s.root + "/" + db.Name + ".db"
	}
	if db.Parameters == nil {
		db.Parameters = map[string]string{}
	}
	if db.CreateTime == nil {
		t := s.nowSec()
		db.CreateTime = &t
	}
	return s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		if _, found, err := s.blobRow(ctx, tx, `SELECT obj FROM dbs WHERE name = ?`, db.Name); err != nil {
			return err
		} else if found {
			return errs.Exists("Database %s already exists", db.Name)
		}
		if err := s.insertDB(ctx, tx, db); err != nil {
			return err
		}
		// Before commit, as HMS does: a database whose directory cannot exist is not created.
		return s.wh.mkdirs(ctx, db.LocationUri)
	})
}

func (s *Store) insertDB(ctx context.Context, tx *sql.Tx, db *hm.Database) error {
	b, err := encode(ctx, db)
	if err != nil {
		return err
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO dbs (name, obj) VALUES (?, ?)`, db.Name, b); err != nil {
		return err
	}
	return s.event(ctx, tx, evCreateDatabase, eventMsg{DB: db.Name})
}

func (s *Store) GetDatabase(ctx context.Context, name string) (*hm.Database, error) {
	return s.getDB(ctx, s.db, norm(name))
}

func (s *Store) getDB(ctx context.Context, q queryer, name string) (*hm.Database, error) {
	b, found, err := s.blobRow(ctx, q, `SELECT obj FROM dbs WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, hms.DatabaseNotFound(name)
	}
	db := &hm.Database{}
	if err := decode(ctx, b, db); err != nil {
		return nil, err
	}
	return db, nil
}

func (s *Store) ListDatabases(ctx context.Context) ([]string, error) {
	return s.names(ctx, s.db, `SELECT name FROM dbs ORDER BY name`)
}

// names runs a query returning one string column.
func (s *Store) names(ctx context.Context, q queryer, query string, args ...any) (_ []string, err error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.storeErr(err)
	}
	defer closeRows(rows, &err)
	out := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, s.storeErr(err)
		}
		out = append(out, n)
	}
	return out, s.storeErr(rows.Err())
}

// AlterDatabase replaces the definition; the name cannot change (Hive has no database rename).
func (s *Store) AlterDatabase(ctx context.Context, name string, in *hm.Database) error {
	if in == nil {
		return errs.Invalid("database is missing")
	}
	name = norm(name)
	db := cloneDB(in)
	if n := norm(db.Name); n != "" && n != name {
		return errs.Invalid("cannot rename database %s to %s", name, n)
	}
	db.Name = name
	return s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		old, err := s.getDB(ctx, tx, name)
		if err != nil {
			return err
		}
		if db.LocationUri == "" {
			db.LocationUri = old.LocationUri
		}
		if db.CreateTime == nil {
			db.CreateTime = old.CreateTime
		}
		b, err := encode(ctx, db)
		if err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `UPDATE dbs SET obj = ? WHERE name = ?`, b, name); err != nil {
			return err
		}
		return s.event(ctx, tx, evAlterDatabase, eventMsg{DB: name})
	})
}

func (s *Store) DropDatabase(ctx context.Context, name string, deleteData, cascade bool) error {
	name = norm(name)
	if name == defaultDB {
		return errs.Conflict("Can not drop default database")
	}
	var dirs []string
	err := s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		dirs = nil
		db, err := s.getDB(ctx, tx, name)
		if err != nil {
			return err
		}
		tbls, err := s.names(ctx, tx, `SELECT name FROM tbls WHERE db = ? ORDER BY name`, name)
		if err != nil {
			return err
		}
		fns, err := s.names(ctx, tx, `SELECT name FROM funcs WHERE db = ?`, name)
		if err != nil {
			return err
		}
		if !cascade && (len(tbls) > 0 || len(fns) > 0) {
			return errs.Conflict("Database %s is not empty. One or more tables exist.", name)
		}
		for _, t := range tbls {
			d, err := s.dropTableTx(ctx, tx, name, t, deleteData)
			if err != nil {
				return err
			}
			dirs = append(dirs, d...)
		}
		for _, f := range fns {
			if err := s.dropFunctionTx(ctx, tx, name, f); err != nil {
				return err
			}
		}
		if _, err := s.exec(ctx, tx, `DELETE FROM dbs WHERE name = ?`, name); err != nil {
			return err
		}
		dirs = append(dirs, db.LocationUri)
		return s.event(ctx, tx, evDropDatabase, eventMsg{DB: name})
	})
	if err != nil || !deleteData {
		return err
	}
	return s.removeAll(ctx, dirs)
}

// removeAll deletes data after the catalog change committed: a failure leaves stray files,
// never a catalog entry pointing at deleted data.
func (s *Store) removeAll(ctx context.Context, dirs []string) error {
	for _, d := range dirs {
		if err := s.wh.remove(ctx, d); err != nil {
			s.log.WarnContext(ctx, "could not delete data", "location", d, "err", err)
		}
	}
	return nil
}

func cloneDB(db *hm.Database) *hm.Database {
	c := *db
	c.Parameters = cloneMap(db.Parameters)
	return &c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
