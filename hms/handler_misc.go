package hms

import (
	"context"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/internal/errs"
)

// --- column statistics ---

func (h *Handler) updateStats(ctx context.Context, st *hm.ColumnStatistics, tableLevel bool) error {
	if st == nil || st.StatsDesc == nil {
		return errs.Invalid("column statistics without a descriptor")
	}
	r, err := ref(st.StatsDesc.DbName, st.StatsDesc.TableName)
	if err != nil {
		return err
	}
	if st.StatsDesc.IsTblLevel != tableLevel {
		if tableLevel {
			return errs.Invalid("table statistics call given partition statistics")
		}
		return errs.Invalid("partition statistics call given table statistics")
	}
	if !tableLevel && (st.StatsDesc.PartName == nil || *st.StatsDesc.PartName == "") {
		return errs.Invalid("partition statistics without a partition name")
	}
	if err := h.guard.CheckWrite(ctx, OpInsert, r.db, r.tbl); err != nil {
		return err
	}
	c := *st
	d := *st.StatsDesc
	d.DbName, d.TableName = r.db, r.tbl
	c.StatsDesc = &d
	return h.backend().UpdateColumnStatistics(ctx, &c)
}

func (h *Handler) UpdateTableColumnStatistics(ctx context.Context, st *hm.ColumnStatistics) (bool, error) {
	return true, h.updateStats(ctx, st, true)
}

func (h *Handler) UpdatePartitionColumnStatistics(ctx context.Context, st *hm.ColumnStatistics) (bool, error) {
	return true, h.updateStats(ctx, st, false)
}

func (h *Handler) setStats(ctx context.Context, req *hm.SetPartitionsStatsRequest) error {
	if req == nil {
		return errs.Invalid("no statistics request")
	}
	for _, st := range req.ColStats {
		if st == nil || st.StatsDesc == nil {
			return errs.Invalid("column statistics without a descriptor")
		}
		if err := h.updateStats(ctx, st, st.StatsDesc.IsTblLevel); err != nil {
			return err
		}
	}
	return nil
}

func (h *Handler) UpdateTableColumnStatisticsReq(ctx context.Context, req *hm.SetPartitionsStatsRequest) (*hm.SetPartitionsStatsResponse, error) {
	if err := h.setStats(ctx, req); err != nil {
		return nil, err
	}
	return &hm.SetPartitionsStatsResponse{Result_: true}, nil
}

func (h *Handler) UpdatePartitionColumnStatisticsReq(ctx context.Context, req *hm.SetPartitionsStatsRequest) (*hm.SetPartitionsStatsResponse, error) {
	return h.UpdateTableColumnStatisticsReq(ctx, req)
}

func (h *Handler) SetAggrStatsFor(ctx context.Context, req *hm.SetPartitionsStatsRequest) (bool, error) {
	return true, h.setStats(ctx, req)
}

func (h *Handler) GetTableColumnStatistics(ctx context.Context, db, tbl, col string) (*hm.ColumnStatistics, error) {
	r, err := h.rawRef(ctx, db, tbl)
	if withheld(err) {
		return nil, errs.NotFound("no statistics for column %s of %s.%s", col, r.db, r.tbl)
	}
	if err != nil {
		return nil, err
	}
	objs, err := h.backend().TableColumnStatistics(ctx, r.db, r.tbl, []string{strings.ToLower(col)})
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, errs.NotFound("no statistics for column %s of %s.%s", col, r.db, r.tbl)
	}
	return &hm.ColumnStatistics{
		StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: true, DbName: r.db, TableName: r.tbl},
		StatsObj:  objs,
	}, nil
}

func (h *Handler) GetPartitionColumnStatistics(ctx context.Context, db, tbl, part, col string) (*hm.ColumnStatistics, error) {
	r, err := h.rawRef(ctx, db, tbl)
	if withheld(err) {
		return nil, errs.NotFound("no statistics for column %s of partition %s of %s.%s", col, part, r.db, r.tbl)
	}
	if err != nil {
		return nil, err
	}
	m, err := h.backend().PartitionColumnStatistics(ctx, r.db, r.tbl, []string{part}, []string{strings.ToLower(col)})
	if err != nil {
		return nil, err
	}
	objs := m[part]
	if len(objs) == 0 {
		return nil, errs.NotFound("no statistics for column %s of partition %s of %s.%s", col, part, r.db, r.tbl)
	}
	return &hm.ColumnStatistics{
		StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: false, DbName: r.db, TableName: r.tbl, PartName: &part},
		StatsObj:  objs,
	}, nil
}

func lowerAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

func (h *Handler) GetTableStatisticsReq(ctx context.Context, req *hm.TableStatsRequest) (*hm.TableStatsResult_, error) {
	if req == nil {
		return nil, errs.Invalid("get_table_statistics_req: no request")
	}
	r, err := h.rawRef(ctx, req.DbName, req.TblName)
	if withheld(err) {
		return &hm.TableStatsResult_{TableStats: []*hm.ColumnStatisticsObj{}}, nil
	}
	if err != nil {
		return nil, err
	}
	objs, err := h.backend().TableColumnStatistics(ctx, r.db, r.tbl, lowerAll(req.ColNames))
	if err != nil {
		return nil, err
	}
	if objs == nil {
		objs = []*hm.ColumnStatisticsObj{}
	}
	return &hm.TableStatsResult_{TableStats: objs}, nil
}

func (h *Handler) GetPartitionsStatisticsReq(ctx context.Context, req *hm.PartitionsStatsRequest) (*hm.PartitionsStatsResult_, error) {
	if req == nil {
		return nil, errs.Invalid("get_partitions_statistics_req: no request")
	}
	r, err := h.rawRef(ctx, req.DbName, req.TblName)
	if withheld(err) {
		return &hm.PartitionsStatsResult_{PartStats: map[string][]*hm.ColumnStatisticsObj{}}, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := h.backend().PartitionColumnStatistics(ctx, r.db, r.tbl, req.PartNames, lowerAll(req.ColNames))
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string][]*hm.ColumnStatisticsObj{}
	}
	return &hm.PartitionsStatsResult_{PartStats: m}, nil
}

func (h *Handler) DeleteTableColumnStatistics(ctx context.Context, db, tbl, col, _ string) (bool, error) {
	r, err := h.writeRef(ctx, OpInsert, db, tbl)
	if err != nil {
		return false, err
	}
	return true, h.backend().DeleteColumnStatistics(ctx, r.db, r.tbl, "", strings.ToLower(col))
}

func (h *Handler) DeletePartitionColumnStatistics(ctx context.Context, db, tbl, part, col, _ string) (bool, error) {
	r, err := h.writeRef(ctx, OpInsert, db, tbl)
	if err != nil {
		return false, err
	}
	if part == "" {
		return false, errs.Invalid("delete_partition_column_statistics: no partition name")
	}
	return true, h.backend().DeleteColumnStatistics(ctx, r.db, r.tbl, part, strings.ToLower(col))
}

// --- functions ---

// checkFunction is what Hive requires of a function a client defines: a name, a class, and
// known function and owner types. Hive checks it before anything else, and answers a missing
// name or class with InvalidObjectException, unknown types with MetaException.
func checkFunction(f *hm.Function) error {
	switch {
	case f.FunctionName == "":
		return errs.Invalid("a function needs a name")
	case f.ClassName == "":
		return errs.Invalid("function %s.%s has no class name", f.DbName, f.FunctionName)
	case f.FunctionType != hm.FunctionType_JAVA:
		return metaOnly{errs.Invalid("function %s.%s has no known function type", f.DbName, f.FunctionName)}
	case f.OwnerType < hm.PrincipalType_USER || f.OwnerType > hm.PrincipalType_GROUP:
		return metaOnly{errs.Invalid("function %s.%s has no known owner type", f.DbName, f.FunctionName)}
	}
	return nil
}

// functionRef resolves a function's database and name; empty ones Hive refuses with
// MetaException.
func functionRef(db, name string) (string, string, error) {
	d, err := dbName(db)
	if err != nil {
		return "", "", err
	}
	if d == "" || name == "" {
		return "", "", metaOnly{errs.Invalid("a function's database and name must be given")}
	}
	return d, strings.ToLower(name), nil
}

func (h *Handler) CreateFunction(ctx context.Context, f *hm.Function) error {
	if f == nil {
		return errs.Invalid("create_function: no function given")
	}
	if err := checkFunction(f); err != nil {
		return err
	}
	d, err := dbName(f.DbName)
	if err != nil {
		return err
	}
	if err := h.guard.CheckWrite(ctx, OpCreate, d, ""); err != nil {
		return err
	}
	c := *f
	c.DbName, c.FunctionName = d, strings.ToLower(f.FunctionName)
	return h.backend().CreateFunction(ctx, &c)
}

func (h *Handler) GetFunction(ctx context.Context, db, name string) (*hm.Function, error) {
	d, n, err := functionRef(db, name)
	if err != nil {
		return nil, err
	}
	return h.backend().GetFunction(ctx, d, n)
}

func (h *Handler) GetFunctions(ctx context.Context, db, pattern string) ([]string, error) {
	d, err := dbName(db)
	if err != nil {
		return nil, err
	}
	if d == "" {
		return nil, errs.Invalid("get_functions: no database name given")
	}
	if pattern == "" {
		return []string{}, nil // Hive: the empty pattern matches nothing
	}
	fs, err := h.backend().ListFunctions(ctx, d)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, f := range fs {
		if hivename.MatchPattern(pattern, f.FunctionName) {
			out = append(out, f.FunctionName)
		}
	}
	return out, nil
}

func (h *Handler) GetAllFunctions(ctx context.Context) (*hm.GetAllFunctionsResponse, error) {
	fs, err := h.backend().ListFunctions(ctx, "")
	if err != nil {
		return nil, err
	}
	if fs == nil {
		fs = []*hm.Function{}
	}
	return &hm.GetAllFunctionsResponse{Functions: fs}, nil
}

// AlterFunction replaces a function. Hive answers every refusal of alter_function with
// MetaException (asMeta), a missing function or database included.
func (h *Handler) AlterFunction(ctx context.Context, db, name string, f *hm.Function) error {
	err := h.alterFunction(ctx, db, name, f)
	return asMeta(err, errs.KindInvalid, errs.KindNotFound, errs.KindConflict, errs.KindExists)
}

func (h *Handler) alterFunction(ctx context.Context, db, name string, f *hm.Function) error {
	d, n, err := functionRef(db, name)
	if err != nil {
		return err
	}
	if f == nil {
		return errs.Invalid("alter_function: no function given")
	}
	if err := checkFunction(f); err != nil {
		return err
	}
	if !hivename.ValidName(strings.ToLower(f.FunctionName)) {
		return errs.Invalid("function name %q is not valid", f.FunctionName)
	}
	if err := h.guard.CheckWrite(ctx, OpAlter, d, ""); err != nil {
		return err
	}
	c := *f
	c.DbName, c.FunctionName = strings.ToLower(c.DbName), strings.ToLower(c.FunctionName)
	if _, err := h.backend().GetDatabase(ctx, c.DbName); err != nil {
		return err
	}
	return h.backend().AlterFunction(ctx, d, n, &c)
}

func (h *Handler) DropFunction(ctx context.Context, db, name string) error {
	d, n, err := functionRef(db, name)
	if err != nil {
		return err
	}
	if err := h.guard.CheckWrite(ctx, OpDrop, d, ""); err != nil {
		return err
	}
	return h.backend().DropFunction(ctx, d, n)
}

// --- locks ---

// Lock takes table and database locks for clients that commit through the metastore lock
// (PyIceberg, Iceberg's HiveCatalog). Transactional (ACID) locks need Hive's transaction
// manager, which Propolis does not implement.
func (h *Handler) Lock(ctx context.Context, req *hm.LockRequest) (*hm.LockResponse, error) {
	if req == nil || len(req.Component) == 0 {
		return nil, errs.Invalid("lock: no lock components given")
	}
	if req.Txnid != nil && *req.Txnid > 0 {
		return nil, errs.Unsupported("lock: transactional locks (txnid %d) are not supported; Propolis does not implement Hive ACID transactions", *req.Txnid)
	}
	c := *req
	c.Component = make([]*hm.LockComponent, len(req.Component))
	for i, lc := range req.Component {
		if lc == nil {
			return nil, errs.Invalid("lock: nil lock component")
		}
		cc := *lc
		d, err := dbName(lc.Dbname)
		if err != nil {
			return nil, err
		}
		cc.Dbname = d
		tbl := ""
		if lc.Tablename != nil {
			tbl = tableName(*lc.Tablename)
			cc.Tablename = &tbl
		}
		// Hive takes shared read locks for plain reads: only locks for writing need a write
		// privilege.
		if lc.Type != hm.LockType_SHARED_READ {
			if err := h.guard.CheckWrite(ctx, OpLock, d, tbl); err != nil {
				return nil, err
			}
		}
		c.Component[i] = &cc
	}
	return h.backend().Lock(ctx, &c)
}

func (h *Handler) CheckLock(ctx context.Context, req *hm.CheckLockRequest) (*hm.LockResponse, error) {
	if req == nil {
		return nil, errs.Invalid("check_lock: no request")
	}
	return h.backend().CheckLock(ctx, req.Lockid)
}

func (h *Handler) Unlock(ctx context.Context, req *hm.UnlockRequest) error {
	if req == nil {
		return errs.Invalid("unlock: no request")
	}
	return h.backend().Unlock(ctx, req.Lockid)
}

func (h *Handler) Heartbeat(ctx context.Context, req *hm.HeartbeatRequest) error {
	if req == nil {
		return errs.Invalid("heartbeat: no request")
	}
	if req.Txnid != nil && *req.Txnid > 0 {
		return errs.NotFound("no such transaction: %d", *req.Txnid)
	}
	if req.Lockid == nil {
		return nil
	}
	return h.backend().Heartbeat(ctx, *req.Lockid)
}

func (h *Handler) ShowLocks(ctx context.Context, req *hm.ShowLocksRequest) (*hm.ShowLocksResponse, error) {
	if req == nil {
		req = &hm.ShowLocksRequest{}
	}
	return h.backend().ShowLocks(ctx, req)
}

// --- notification log ---

func (h *Handler) GetCurrentNotificationEventId(ctx context.Context) (*hm.CurrentNotificationEventId, error) {
	id, err := h.backend().CurrentEventID(ctx)
	if err != nil {
		return nil, err
	}
	return &hm.CurrentNotificationEventId{EventId: id}, nil
}

func (h *Handler) GetNextNotification(ctx context.Context, req *hm.NotificationEventRequest) (*hm.NotificationEventResponse, error) {
	if req == nil {
		return nil, errs.Invalid("get_next_notification: no request")
	}
	max := 1000
	if req.MaxEvents != nil && *req.MaxEvents > 0 {
		max = int(*req.MaxEvents)
	}
	evs, err := h.backend().NextEvents(ctx, req.LastEvent, max)
	if err != nil {
		return nil, err
	}
	if len(req.EventTypeSkipList) > 0 {
		skip := map[string]bool{}
		for _, t := range req.EventTypeSkipList {
			skip[t] = true
		}
		kept := evs[:0:0]
		for _, e := range evs {
			if !skip[e.EventType] {
				kept = append(kept, e)
			}
		}
		evs = kept
	}
	visible := evs[:0:0]
	for _, e := range evs {
		ok, err := h.eventVisible(ctx, e)
		if err != nil {
			return nil, err
		}
		if ok {
			visible = append(visible, e)
		}
	}
	return &hm.NotificationEventResponse{Events: visible}, nil
}

// eventVisible: the notification log names databases and tables, so it is filtered like a
// listing.
func (h *Handler) eventVisible(ctx context.Context, e *hm.NotificationEvent) (bool, error) {
	if e.DbName == nil || *e.DbName == "" {
		return true, nil
	}
	if e.TableName != nil && *e.TableName != "" {
		ts, err := h.guard.FilterTables(ctx, *e.DbName, []string{*e.TableName})
		return len(ts) == 1, err
	}
	dbs, err := h.guard.FilterDatabases(ctx, []string{*e.DbName})
	return len(dbs) == 1, err
}
