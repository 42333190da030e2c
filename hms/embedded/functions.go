package embedded

import (
	"context"
	"database/sql"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

func (s *Store) getFunction(ctx context.Context, q queryer, db, name string) (*hm.Function, error) {
	b, found, err := s.blobRow(ctx, q, `SELECT obj FROM funcs WHERE db = ? AND name = ?`, db, name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errs.NotFound("Function %s.%s does not exist", db, name)
	}
	f := &hm.Function{}
	return f, decode(ctx, b, f)
}

func (s *Store) prepareFunction(ctx context.Context, in *hm.Function) (*hm.Function, error) {
	if in == nil {
		return nil, errs.Invalid("function is missing")
	}
	f, err := clone(ctx, in)
	if err != nil {
		return nil, err
	}
	f.DbName, f.FunctionName = norm(f.DbName), norm(f.FunctionName)
	if err := checkName("function", f.FunctionName, maxTblName); err != nil {
		return nil, err
	}
	if f.CreateTime == 0 {
		f.CreateTime = s.nowSec()
	}
	return f, nil
}

// insertFunction checks the database and the name and stores f.
func (s *Store) insertFunction(ctx context.Context, tx *sql.Tx, f *hm.Function) error {
	if _, err := s.getDB(ctx, tx, f.DbName); err != nil {
		return err
	}
	if _, err := s.getFunction(ctx, tx, f.DbName, f.FunctionName); err == nil {
		return errs.Exists("Function %s.%s already exists", f.DbName, f.FunctionName)
	} else if errs.KindOf(err) != errs.KindNotFound {
		return err
	}
	b, err := encode(ctx, f)
	if err != nil {
		return err
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO funcs (db, name, obj) VALUES (?, ?, ?)`, f.DbName, f.FunctionName, b); err != nil {
		return err
	}
	return s.event(ctx, tx, evCreateFunction, eventMsg{DB: f.DbName, Function: f.FunctionName})
}

func (s *Store) CreateFunction(ctx context.Context, in *hm.Function) error {
	f, err := s.prepareFunction(ctx, in)
	if err != nil {
		return err
	}
	return s.write(ctx, mutexCatalog, func(tx *sql.Tx) error { return s.insertFunction(ctx, tx, f) })
}

func (s *Store) GetFunction(ctx context.Context, db, name string) (*hm.Function, error) {
	return s.getFunction(ctx, s.db, norm(db), norm(name))
}

func (s *Store) ListFunctions(ctx context.Context, db string) (_ []*hm.Function, err error) {
	db = norm(db)
	query, args := `SELECT obj FROM funcs ORDER BY db, name`, []any{}
	if db != "" {
		if _, err := s.getDB(ctx, s.db, db); err != nil {
			return nil, err
		}
		query, args = `SELECT obj FROM funcs WHERE db = ? ORDER BY name`, []any{db}
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.storeErr(err)
	}
	defer closeRows(rows, &err)
	out := []*hm.Function{}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, s.storeErr(err)
		}
		f := &hm.Function{}
		if err := decode(ctx, b, f); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, s.storeErr(rows.Err())
}

// AlterFunction replaces a function, possibly under a new name or database. Hive has no
// alter-function event, so the log records it as a drop followed by a create.
func (s *Store) AlterFunction(ctx context.Context, db, name string, in *hm.Function) error {
	db, name = norm(db), norm(name)
	if in != nil && in.DbName == "" {
		c := *in
		c.DbName = db
		in = &c
	}
	f, err := s.prepareFunction(ctx, in)
	if err != nil {
		return err
	}
	return s.write(ctx, mutexCatalog, func(tx *sql.Tx) error {
		old, err := s.getFunction(ctx, tx, db, name)
		if err != nil {
			return err
		}
		if in.CreateTime == 0 {
			f.CreateTime = old.CreateTime
		}
		if err := s.dropFunctionTx(ctx, tx, db, name); err != nil {
			return err
		}
		return s.insertFunction(ctx, tx, f)
	})
}

func (s *Store) DropFunction(ctx context.Context, db, name string) error {
	db, name = norm(db), norm(name)
	return s.write(ctx, mutexCatalog, func(tx *sql.Tx) error { return s.dropFunctionTx(ctx, tx, db, name) })
}

func (s *Store) dropFunctionTx(ctx context.Context, tx *sql.Tx, db, name string) error {
	n, err := s.exec(ctx, tx, `DELETE FROM funcs WHERE db = ? AND name = ?`, db, name)
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.NotFound("Function %s.%s does not exist", db, name)
	}
	return s.event(ctx, tx, evDropFunction, eventMsg{DB: db, Function: name})
}
