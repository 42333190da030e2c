package hms

import (
	"context"
	"strconv"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	filterpkg "github.com/propolis/propolis/hms/filter"
	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/internal/errs"
)

// --- create ---

func (h *Handler) CreateTable(ctx context.Context, t *hm.Table) error {
	return h.createTable(ctx, t)
}

func (h *Handler) CreateTableWithEnvironmentContext(ctx context.Context, t *hm.Table, _ *hm.EnvironmentContext) error {
	return h.createTable(ctx, t)
}

// CreateTableReq accepts the table; constraints in the request are not stored (Propolis does
// not model constraints, and reports none).
func (h *Handler) CreateTableReq(ctx context.Context, req *hm.CreateTableRequest) error {
	if req == nil {
		return errs.Invalid("create_table_req: no request")
	}
	return h.createTable(ctx, req.Table)
}

func (h *Handler) createTable(ctx context.Context, t *hm.Table) error {
	if t == nil {
		return errs.Invalid("create_table: no table given")
	}
	db, err := dbName(t.DbName)
	if err != nil {
		return err
	}
	c := *t
	c.DbName, c.TableName = db, tableName(t.TableName)
	if err := h.guard.CheckWrite(ctx, OpCreate, c.DbName, c.TableName); err != nil {
		return err
	}

	err = h.backend().CreateTable(ctx, &c)
	if errs.KindOf(err) == errs.KindNotFound {
		// The database is missing: Hive's InvalidObjectException, not NoSuchObjectException.
		return errs.Invalid("%s", err.Error())
	}
	return err
}

// --- get ---

func (h *Handler) GetTable(ctx context.Context, db, name string) (*hm.Table, error) {
	d, err := dbName(db)
	if err != nil {
		return nil, err
	}
	n := tableName(name)
	if real, ok := h.resolveAlias(ctx, d, n); ok {
		// The raw table behind a view, for the caller the view was rendered for.
		t, err := h.backend().GetTable(ctx, d, real)
		if err != nil {
			return nil, err
		}
		c := *t
		c.TableName = n
		return &c, nil
	}
	t, err := h.backend().GetTable(ctx, d, n)
	if err != nil {
		return nil, err
	}
	return h.guard.Table(ctx, withTableOwnerType(t))
}

// withTableOwnerType: as for databases, an owned table without an owner type gets Hive's
// default, USER.
func withTableOwnerType(t *hm.Table) *hm.Table {
	if t.Owner == "" || t.OwnerType != 0 {
		return t
	}
	c := *t
	c.OwnerType = hm.PrincipalType_USER
	return &c
}

func (h *Handler) GetTableReq(ctx context.Context, req *hm.GetTableRequest) (*hm.GetTableResult_, error) {
	if req == nil {
		return nil, errs.Invalid("get_table_req: no request")
	}
	t, err := h.GetTable(ctx, req.DbName, req.TblName)
	if err != nil {
		return nil, err
	}
	return &hm.GetTableResult_{Table: t}, nil
}

func (h *Handler) GetTableObjectsByName(ctx context.Context, db string, names []string) ([]*hm.Table, error) {
	d, err := h.getDatabaseForListing(ctx, db)
	if err != nil {
		return nil, err
	}
	lower := make([]string, len(names))
	for i, n := range names {
		lower[i] = tableName(n)
	}
	ts, err := h.backend().GetTables(ctx, d, lower)
	if err != nil {
		return nil, err
	}
	out := make([]*hm.Table, 0, len(ts))
	for _, t := range ts {
		shown, err := h.guard.Table(ctx, withTableOwnerType(t))
		if errs.KindOf(err) == errs.KindNotFound {
			continue // hidden: omitted, as a missing name is
		}
		if err != nil {
			return nil, err
		}
		out = append(out, shown)
	}
	return out, nil
}

func (h *Handler) GetTableObjectsByNameReq(ctx context.Context, req *hm.GetTablesRequest) (*hm.GetTablesResult_, error) {
	return h.getTableObjectsByNameReq(ctx, req, nil)
}

// getTableObjectsByNameReq serves get_table_objects_by_name_req. Hive 4 added tablesPattern
// (field 8) to the request, which our bindings do not read; newer.go reads it.
func (h *Handler) getTableObjectsByNameReq(ctx context.Context, req *hm.GetTablesRequest, pattern *string) (*hm.GetTablesResult_, error) {
	if req == nil {
		return nil, errs.Invalid("get_table_objects_by_name_req: no request")
	}
	names := req.TblNames
	if len(names) == 0 && pattern != nil {
		// Hive 4's SHOW TABLES LIKE: no names, a pattern.
		if _, err := h.getDatabaseForListing(ctx, req.DbName); err != nil {
			return nil, err
		}
		var err error
		if names, err = h.listTables(ctx, req.DbName, *pattern, ""); err != nil {
			return nil, err
		}
	}
	if len(names) == 0 {
		return &hm.GetTablesResult_{Tables: []*hm.Table{}}, nil
	}
	ts, err := h.GetTableObjectsByName(ctx, req.DbName, names)
	if err != nil {
		return nil, err
	}
	return &hm.GetTablesResult_{Tables: ts}, nil
}

// --- listings ---

// getDatabaseForListing resolves db and checks it exists, for calls Hive fails with
// UnknownDBException on a missing database. A database the caller may not see is missing:
// the answer must not tell the two apart.
func (h *Handler) getDatabaseForListing(ctx context.Context, db string) (string, error) {
	d, err := dbName(db)
	if err != nil {
		return "", err
	}
	if _, err := h.backend().GetDatabase(ctx, d); err != nil {
		return "", err
	}
	visible, err := h.guard.FilterDatabases(ctx, []string{d})
	if err != nil {
		return "", err
	}
	if len(visible) == 0 {
		return "", DatabaseNotFound(d)
	}
	return d, nil
}

func (h *Handler) listTables(ctx context.Context, db, pattern, typ string) ([]string, error) {
	d, err := dbName(db)
	if err != nil {
		return nil, err
	}
	if d == "" {
		return nil, errs.Invalid("no database name given") // Hive: MetaException
	}
	infos, err := h.backend().ListTables(ctx, d)
	if errs.KindOf(err) == errs.KindNotFound {
		// Hive lists no tables of a database that does not exist; it does not fail.
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(infos))
	for _, ti := range infos {
		if typ != "" && !strings.EqualFold(ti.Type, typ) {
			continue
		}
		if hivename.MatchPattern(pattern, ti.Name) {
			out = append(out, ti.Name)
		}
	}
	return h.guard.FilterTables(ctx, d, out)
}

func (h *Handler) GetAllTables(ctx context.Context, db string) ([]string, error) {
	return h.listTables(ctx, db, "", "")
}

func (h *Handler) GetTables(ctx context.Context, db, pattern string) ([]string, error) {
	return h.listTables(ctx, db, pattern, "")
}

func (h *Handler) GetTablesByType(ctx context.Context, db, pattern, typ string) ([]string, error) {
	return h.listTables(ctx, db, pattern, typ)
}

func (h *Handler) GetTableMeta(ctx context.Context, dbPatterns, tblPatterns string, types []string) ([]*hm.TableMeta, error) {
	dp, err := dbName(dbPatterns)
	if err != nil {
		return nil, err
	}
	dbs, err := h.backend().ListDatabases(ctx)
	if err != nil {
		return nil, err
	}
	wanted := map[string]bool{}
	for _, t := range types {
		wanted[strings.ToUpper(t)] = true
	}
	visibleDBs, err := h.guard.FilterDatabases(ctx, matching(dbs, dp))
	if err != nil {
		return nil, err
	}
	var out []*hm.TableMeta
	for _, d := range visibleDBs {
		infos, err := h.backend().ListTables(ctx, d)
		if errs.KindOf(err) == errs.KindNotFound {
			continue // dropped while we listed
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, ti := range infos {
			names = append(names, ti.Name)
		}
		visible, err := h.guard.FilterTables(ctx, d, names)
		if err != nil {
			return nil, err
		}
		shown := make(map[string]bool, len(visible))
		for _, n := range visible {
			shown[n] = true
		}
		for _, ti := range infos {
			if !shown[ti.Name] {
				continue
			}
			if len(wanted) > 0 && !wanted[strings.ToUpper(ti.Type)] {
				continue
			}
			if !hivename.MatchPattern(tblPatterns, ti.Name) {
				continue
			}
			m := &hm.TableMeta{DbName: d, TableName: ti.Name, TableType: ti.Type, CatName: strPtr(catalogName)}
			if ti.Comment != "" {
				m.Comments = strPtr(ti.Comment)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

func strPtr(s string) *string { return &s }

// --- schema ---

func (h *Handler) GetFields(ctx context.Context, db, name string) ([]*hm.FieldSchema, error) {
	t, err := h.GetTable(ctx, db, name)
	if err != nil {
		return nil, err
	}
	if t.Sd == nil {
		return nil, nil
	}
	return t.Sd.Cols, nil
}

func (h *Handler) GetFieldsWithEnvironmentContext(ctx context.Context, db, name string, _ *hm.EnvironmentContext) ([]*hm.FieldSchema, error) {
	return h.GetFields(ctx, db, name)
}

// GetSchema is get_fields plus the partition keys, in Hive's order.
func (h *Handler) GetSchema(ctx context.Context, db, name string) ([]*hm.FieldSchema, error) {
	t, err := h.GetTable(ctx, db, name)
	if err != nil {
		return nil, err
	}
	var out []*hm.FieldSchema
	if t.Sd != nil {
		out = append(out, t.Sd.Cols...)
	}
	return append(out, t.PartitionKeys...), nil
}

func (h *Handler) GetSchemaWithEnvironmentContext(ctx context.Context, db, name string, _ *hm.EnvironmentContext) ([]*hm.FieldSchema, error) {
	return h.GetSchema(ctx, db, name)
}

// --- alter ---

func (h *Handler) AlterTable(ctx context.Context, db, name string, t *hm.Table) error {
	return h.alterTable(ctx, db, name, t, false)
}

func (h *Handler) AlterTableWithEnvironmentContext(ctx context.Context, db, name string, t *hm.Table, env *hm.EnvironmentContext) error {
	return h.alterTable(ctx, db, name, t, cascade(env))
}

func (h *Handler) AlterTableWithCascade(ctx context.Context, db, name string, t *hm.Table, cascade bool) error {
	return h.alterTable(ctx, db, name, t, cascade)
}

func (h *Handler) AlterTableReq(ctx context.Context, req *hm.AlterTableRequest) (*hm.AlterTableResponse, error) {
	if req == nil {
		return nil, errs.Invalid("alter_table_req: no request")
	}
	if err := h.alterTable(ctx, req.DbName, req.TableName, req.Table, cascade(req.EnvironmentContext)); err != nil {
		return nil, err
	}
	return &hm.AlterTableResponse{}, nil
}

// cascade reads Hive's StatsSetupConst.CASCADE flag from an environment context.
func cascade(env *hm.EnvironmentContext) bool {
	return env != nil && strings.EqualFold(env.Properties["CASCADE"], "true")
}

func (h *Handler) alterTable(ctx context.Context, db, name string, t *hm.Table, cascade bool) error {
	if t == nil {
		return errs.Invalid("alter_table: no table given")
	}
	d, err := dbName(db)
	if err != nil {
		return err
	}
	nd, err := dbName(t.DbName)
	if err != nil {
		return err
	}
	c := *t
	c.DbName, c.TableName = nd, tableName(t.TableName)
	if c.DbName == "" {
		c.DbName = d
	}
	if c.TableName == "" {
		c.TableName = tableName(name)
	}
	if err := h.guard.CheckWrite(ctx, OpAlter, d, tableName(name)); err != nil {
		return err
	}
	if c.DbName != d || c.TableName != tableName(name) {
		if err := h.guard.CheckWrite(ctx, OpCreate, c.DbName, c.TableName); err != nil {
			return err
		}
	}
	return h.backend().AlterTable(ctx, d, tableName(name), &c, cascade)
}

// --- drop ---

func (h *Handler) DropTable(ctx context.Context, db, name string, deleteData bool) error {
	d, err := dbName(db)
	if err != nil {
		return err
	}
	if err := h.guard.CheckWrite(ctx, OpDrop, d, tableName(name)); err != nil {
		return err
	}
	return h.backend().DropTable(ctx, d, tableName(name), deleteData)
}

func (h *Handler) DropTableWithEnvironmentContext(ctx context.Context, db, name string, deleteData bool, _ *hm.EnvironmentContext) error {
	return h.DropTable(ctx, db, name, deleteData)
}

// --- constraints: Propolis stores none, and says so consistently. ---

func (h *Handler) GetPrimaryKeys(ctx context.Context, req *hm.PrimaryKeysRequest) (*hm.PrimaryKeysResponse, error) {
	return &hm.PrimaryKeysResponse{PrimaryKeys: []*hm.SQLPrimaryKey{}}, nil
}

func (h *Handler) GetForeignKeys(ctx context.Context, req *hm.ForeignKeysRequest) (*hm.ForeignKeysResponse, error) {
	return &hm.ForeignKeysResponse{ForeignKeys: []*hm.SQLForeignKey{}}, nil
}

func (h *Handler) GetUniqueConstraints(ctx context.Context, req *hm.UniqueConstraintsRequest) (*hm.UniqueConstraintsResponse, error) {
	return &hm.UniqueConstraintsResponse{UniqueConstraints: []*hm.SQLUniqueConstraint{}}, nil
}

func (h *Handler) GetNotNullConstraints(ctx context.Context, req *hm.NotNullConstraintsRequest) (*hm.NotNullConstraintsResponse, error) {
	return &hm.NotNullConstraintsResponse{NotNullConstraints: []*hm.SQLNotNullConstraint{}}, nil
}

func (h *Handler) GetDefaultConstraints(ctx context.Context, req *hm.DefaultConstraintsRequest) (*hm.DefaultConstraintsResponse, error) {
	return &hm.DefaultConstraintsResponse{DefaultConstraints: []*hm.SQLDefaultConstraint{}}, nil
}

func (h *Handler) GetCheckConstraints(ctx context.Context, req *hm.CheckConstraintsRequest) (*hm.CheckConstraintsResponse, error) {
	return &hm.CheckConstraintsResponse{CheckConstraints: []*hm.SQLCheckConstraint{}}, nil
}

func (h *Handler) GetAllTableConstraints(ctx context.Context, req *hm.AllTableConstraintsRequest) (*hm.AllTableConstraintsResponse, error) {
	return &hm.AllTableConstraintsResponse{AllTableConstraints: &hm.SQLAllTableConstraints{}}, nil
}

// Table filters (get_table_names_by_filter) name three kinds of key: the owner, the last
// access time, and parameters, each behind Hive's prefix.
const (
	filterOwner      = "hive_filter_field_owner__"
	filterLastAccess = "hive_filter_field_last_access__"
	filterParams     = "hive_filter_field_params__"
)

// GetTableNamesByFilter lists the tables of db whose owner, last access time or parameters
// satisfy filter, in Hive's partition-filter grammar over those keys. A table without a
// parameter the filter names is not selected, as in Hive.
func (h *Handler) GetTableNamesByFilter(ctx context.Context, db, filter string, max int16) ([]string, error) {
	d, err := dbName(db)
	if err != nil {
		return nil, err
	}
	if d == "" {
		return nil, errs.NotFound("no database name given") // Hive: UnknownDBException
	}
	if _, err := h.getDatabaseForListing(ctx, d); err != nil {
		return nil, err
	}
	expr, err := filterpkg.Parse(filter)
	if err != nil {
		return nil, err
	}
	var keys []*hm.FieldSchema
	for _, k := range filterpkg.Keys(expr) {
		typ := "string"
		switch {
		case k == filterLastAccess:
			typ = "int"
		case k == filterOwner, strings.HasPrefix(k, filterParams):
		default:
			return nil, errs.Invalid("table filters name %s, %s or %s<parameter>, not %s", filterOwner, filterLastAccess, filterParams, k)
		}
		keys = append(keys, &hm.FieldSchema{Name: k, Type: typ})
	}
	names, err := h.listTables(ctx, d, "", "")
	if err != nil {
		return nil, err
	}
	ts, err := h.backend().GetTables(ctx, d, names)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, t := range ts {
		if max >= 0 && len(out) >= int(max) {
			break
		}
		vals, ok := tableFilterValues(t, keys)
		if !ok {
			continue
		}
		match, err := expr.Eval(keys, vals)
		if err != nil {
			return nil, err
		}
		if match {
			out = append(out, t.TableName)
		}
	}
	return out, nil
}

// tableFilterValues are t's values for the filter's keys; false when t lacks a parameter.
func tableFilterValues(t *hm.Table, keys []*hm.FieldSchema) ([]string, bool) {
	vals := make([]string, len(keys))
	for i, k := range keys {
		switch {
		case k.Name == filterOwner:
			vals[i] = t.Owner
		case k.Name == filterLastAccess:
			vals[i] = strconv.Itoa(int(t.LastAccessTime))
		default:
			v, ok := t.Parameters[strings.TrimPrefix(k.Name, filterParams)]
			if !ok {
				return nil, false
			}
			vals[i] = v
		}
	}
	return vals, true
}
