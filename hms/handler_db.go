package hms

import (
	"context"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/hms/hiverule"
	"github.com/propolis/propolis/internal/errs"
)

func (h *Handler) CreateDatabase(ctx context.Context, db *hm.Database) error {
	if db == nil {
		return errs.Invalid("create_database: no database given")
	}
	name, err := dbName(db.Name)
	if err != nil {
		return err
	}
	if err := h.guard.CheckWrite(ctx, OpCreate, name, ""); err != nil {
		return err
	}
	c := *withOwnerType(db)
	c.Name = name
	return h.backend().CreateDatabase(ctx, &c)
}

func (h *Handler) GetDatabase(ctx context.Context, name string) (*hm.Database, error) {
	n, err := dbName(name)
	if err != nil {
		return nil, err
	}
	db, err := h.backend().GetDatabase(ctx, n)
	if err != nil {
		return nil, err
	}
	visible, err := h.guard.FilterDatabases(ctx, []string{n})
	if err != nil {
		return nil, err
	}
	if len(visible) == 0 {
		return nil, DatabaseNotFound(n)
	}
	return withOwnerType(db), nil
}

// withOwnerType gives an owned database the owner type Hive fills in when a client leaves it
// out (Spark's client does): Trino cannot read a database with an owner and no owner type.
func withOwnerType(db *hm.Database) *hm.Database {
	if db.OwnerName == nil || *db.OwnerName == "" || db.OwnerType != nil {
		return db
	}
	c := *db
	user := hm.PrincipalType_USER
	c.OwnerType = &user
	return &c
}

func (h *Handler) GetDatabaseReq(ctx context.Context, req *hm.GetDatabaseRequest) (*hm.Database, error) {
	if req == nil || req.Name == nil {
		return nil, errs.Invalid("get_database_req: no database name given")
	}
	return h.GetDatabase(ctx, *req.Name)
}

func (h *Handler) GetAllDatabases(ctx context.Context) ([]string, error) {
	all, err := h.backend().ListDatabases(ctx)
	if err != nil {
		return nil, err
	}
	return h.guard.FilterDatabases(ctx, all)
}

func (h *Handler) GetDatabases(ctx context.Context, pattern string) ([]string, error) {
	p, err := dbName(pattern)
	if err != nil {
		return nil, err
	}
	all, err := h.backend().ListDatabases(ctx)
	if err != nil {
		return nil, err
	}
	return h.guard.FilterDatabases(ctx, matching(all, p))
}

func matching(names []string, pattern string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if hivename.MatchPattern(pattern, n) {
			out = append(out, n)
		}
	}
	return out
}

func (h *Handler) AlterDatabase(ctx context.Context, name string, db *hm.Database) error {
	n, err := dbName(name)
	if err != nil {
		return err
	}
	if db == nil {
		return errs.Invalid("alter_database: no database given")
	}
	if err := h.guard.CheckWrite(ctx, OpAlter, n, ""); err != nil {
		return err
	}
	old, err := h.backend().GetDatabase(ctx, n)
	if err != nil {
		return err
	}
	c := hiverule.AlterDatabase(old, db)
	c.Name = n
	return h.backend().AlterDatabase(ctx, n, c)
}

func (h *Handler) DropDatabase(ctx context.Context, name string, deleteData, cascade bool) error {
	n, err := dbName(name)
	if err != nil {
		return err
	}
	if err := h.guard.CheckWrite(ctx, OpDrop, n, ""); err != nil {
		return err
	}
	return h.backend().DropDatabase(ctx, n, deleteData, cascade)
}
