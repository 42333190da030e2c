package federation

import (
	"context"
	"sort"
	"strings"
	"sync"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

// --- databases ---

func (r *Router) CreateDatabase(ctx context.Context, db *hm.Database) error {
	m, own, err := r.resolve(db.Name)
	if err != nil {
		return err
	}
	if err := m.checkWrite(own); err != nil {
		return err
	}
	c := *db
	c.Name = own
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.CreateDatabase(ctx, &c) })
}

func (r *Router) GetDatabase(ctx context.Context, name string) (*hm.Database, error) {
	m, own, err := r.resolve(name)
	if err != nil {
		return nil, err
	}
	var db *hm.Database
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		db, err = m.Backend.GetDatabase(ctx, own)
		return err
	})
	if err != nil {
		return nil, err
	}
	return translateDatabase(db, r.outMap(m)), nil
}

func (r *Router) ListDatabases(ctx context.Context) ([]string, error) {
	var mu sync.Mutex
	var all []string
	err := r.fanOut(ctx, "listing databases", func(ctx context.Context, m *Member) error {
		names, err := m.Backend.ListDatabases(ctx)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, own := range names {
			if e, ok := m.expose(own); ok {
				// A name shadowed by a more specific route belongs to that route, not to m.
				if mm, o, err := r.resolve(e); err == nil && mm == m && o == own {
					all = append(all, e)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(all)
	return compact(all), nil
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func (r *Router) AlterDatabase(ctx context.Context, name string, db *hm.Database) error {
	m, own, err := r.resolve(name)
	if err != nil {
		return err
	}
	if err := m.checkWrite(own); err != nil {
		return err
	}
	c := translateDatabase(db, r.inMap(m))
	if c.Name == "" || strings.EqualFold(c.Name, name) {
		c.Name = own
	}
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.AlterDatabase(ctx, own, c) })
}

func (r *Router) DropDatabase(ctx context.Context, name string, deleteData, cascade bool) error {
	m, own, err := r.resolve(name)
	if err != nil {
		return err
	}
	if err := m.checkWrite(own); err != nil {
		return err
	}
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.DropDatabase(ctx, own, deleteData, cascade) })
}

// --- tables ---

func (r *Router) CreateTable(ctx context.Context, t *hm.Table) error {
	m, own, err := r.resolveTable(t.DbName, t.TableName)
	if err != nil {
		return err
	}
	if err := m.checkWrite(own); err != nil {
		return err
	}
	c := translateTable(t, r.inMap(m))
	c.DbName = own
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.CreateTable(ctx, c) })
}

func (r *Router) GetTable(ctx context.Context, db, name string) (*hm.Table, error) {
	m, own, err := r.resolveTable(db, name)
	if err != nil {
		return nil, err
	}
	var t *hm.Table
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		t, err = m.Backend.GetTable(ctx, own, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return translateTable(t, r.outMap(m)), nil
}

func (r *Router) GetTables(ctx context.Context, db string, names []string) ([]*hm.Table, error) {
	m, own, err := r.resolve(db)
	if err != nil {
		return nil, err
	}
	visible := make([]string, 0, len(names))
	for _, n := range names {
		if m.tableVisible(own, strings.ToLower(n)) {
			visible = append(visible, n)
		}
	}
	var ts []*hm.Table
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		ts, err = m.Backend.GetTables(ctx, own, visible)
		return err
	})
	if err != nil {
		return nil, err
	}
	return translateTables(ts, r.outMap(m)), nil
}

func (r *Router) ListTables(ctx context.Context, db string) ([]hms.TableInfo, error) {
	m, own, err := r.resolve(db)
	if err != nil {
		return nil, err
	}
	var infos []hms.TableInfo
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		infos, err = m.Backend.ListTables(ctx, own)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := infos[:0:0]
	for _, ti := range infos {
		if m.tableVisible(own, ti.Name) {
			out = append(out, ti)
		}
	}
	return out, nil
}

func (r *Router) AlterTable(ctx context.Context, db, name string, t *hm.Table, cascade bool) error {
	m, own, err := r.resolveTable(db, name)
	if err != nil {
		return err
	}
	nm, nown, err := r.resolveTable(t.DbName, t.TableName)
	if err != nil {
		return err
	}
	if nm != m {
		return errs.Invalid("cannot move table %s.%s from backend %s to backend %s", db, name, m.Name, nm.Name)
	}
	if err := m.checkWrite(own); err != nil {
		return err
	}
	if nown != own {
		if err := m.checkWrite(nown); err != nil {
			return err
		}
	}
	c := translateTable(t, r.inMap(m))
	c.DbName = nown
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.AlterTable(ctx, own, name, c, cascade) })
}

func (r *Router) DropTable(ctx context.Context, db, name string, deleteData bool) error {
	m, own, err := r.writableTable(db, name)
	if err != nil {
		return err
	}
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.DropTable(ctx, own, name, deleteData) })
}

func (r *Router) writableTable(db, name string) (*Member, string, error) {
	m, own, err := r.resolveTable(db, name)
	if err != nil {
		return nil, "", err
	}
	return m, own, m.checkWrite(own)
}

// --- partitions ---

func (r *Router) AddPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition, ifNotExists bool) ([]*hm.Partition, error) {
	m, own, err := r.writableTable(db, tbl)
	if err != nil {
		return nil, err
	}
	in := translatePartitions(parts, r.inMap(m))
	var added []*hm.Partition
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		added, err = m.Backend.AddPartitions(ctx, own, tbl, in, ifNotExists)
		return err
	})
	if err != nil {
		return nil, err
	}
	return translatePartitions(added, r.outMap(m)), nil
}

func (r *Router) GetPartition(ctx context.Context, db, tbl string, values []string) (*hm.Partition, error) {
	m, own, err := r.resolveTable(db, tbl)
	if err != nil {
		return nil, err
	}
	var p *hm.Partition
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		p, err = m.Backend.GetPartition(ctx, own, tbl, values)
		return err
	})
	if err != nil {
		return nil, err
	}
	return translatePartition(p, r.outMap(m)), nil
}

func (r *Router) partitions(ctx context.Context, db, tbl string, fn func(context.Context, *Member, string) ([]*hm.Partition, error)) ([]*hm.Partition, error) {
	m, own, err := r.resolveTable(db, tbl)
	if err != nil {
		return nil, err
	}
	var ps []*hm.Partition
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		ps, err = fn(ctx, m, own)
		return err
	})
	if err != nil {
		return nil, err
	}
	return translatePartitions(ps, r.outMap(m)), nil
}

func (r *Router) GetPartitionsByNames(ctx context.Context, db, tbl string, names []string) ([]*hm.Partition, error) {
	return r.partitions(ctx, db, tbl, func(ctx context.Context, m *Member, own string) ([]*hm.Partition, error) {
		return m.Backend.GetPartitionsByNames(ctx, own, tbl, names)
	})
}

func (r *Router) ListPartitions(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]*hm.Partition, error) {
	return r.partitions(ctx, db, tbl, func(ctx context.Context, m *Member, own string) ([]*hm.Partition, error) {
		return m.Backend.ListPartitions(ctx, own, tbl, q)
	})
}

func (r *Router) ListPartitionNames(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]string, error) {
	m, own, err := r.resolveTable(db, tbl)
	if err != nil {
		return nil, err
	}
	var names []string
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		names, err = m.Backend.ListPartitionNames(ctx, own, tbl, q)
		return err
	})
	return names, err
}

func (r *Router) CountPartitions(ctx context.Context, db, tbl string, q hms.PartitionQuery) (int, error) {
	m, own, err := r.resolveTable(db, tbl)
	if err != nil {
		return 0, err
	}
	var n int
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		n, err = m.Backend.CountPartitions(ctx, own, tbl, q)
		return err
	})
	return n, err
}

func (r *Router) AlterPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition) error {
	m, own, err := r.writableTable(db, tbl)
	if err != nil {
		return err
	}
	in := translatePartitions(parts, r.inMap(m))
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.AlterPartitions(ctx, own, tbl, in) })
}

func (r *Router) RenamePartition(ctx context.Context, db, tbl string, oldValues []string, p *hm.Partition) error {
	m, own, err := r.writableTable(db, tbl)
	if err != nil {
		return err
	}
	in := translatePartition(p, r.inMap(m))
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.RenamePartition(ctx, own, tbl, oldValues, in) })
}

// ExchangePartitions is served by the member holding both tables; data cannot move between
// members in one step, so an exchange across them is refused.
func (r *Router) ExchangePartitions(ctx context.Context, srcDB, srcTbl, dstDB, dstTbl string, values []string) ([]*hm.Partition, error) {
	sm, srcOwn, err := r.writableTable(srcDB, srcTbl)
	if err != nil {
		return nil, err
	}
	dm, dstOwn, err := r.writableTable(dstDB, dstTbl)
	if err != nil {
		return nil, err
	}
	if sm != dm {
		return nil, errs.Unsupported("partitions cannot be exchanged between tables of different backends (%s and %s)", sm.Name, dm.Name)
	}
	var out []*hm.Partition
	err = r.call(ctx, sm, func(ctx context.Context) (err error) {
		out, err = sm.Backend.ExchangePartitions(ctx, srcOwn, srcTbl, dstOwn, dstTbl, values)
		return err
	})
	if err != nil {
		return nil, err
	}
	return translatePartitions(out, r.outMap(sm)), nil
}

func (r *Router) DropPartition(ctx context.Context, db, tbl string, values []string, deleteData bool) (*hm.Partition, error) {
	m, own, err := r.writableTable(db, tbl)
	if err != nil {
		return nil, err
	}
	var p *hm.Partition
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		p, err = m.Backend.DropPartition(ctx, own, tbl, values, deleteData)
		return err
	})
	if err != nil {
		return nil, err
	}
	return translatePartition(p, r.outMap(m)), nil
}

// --- statistics ---

func (r *Router) UpdateColumnStatistics(ctx context.Context, st *hm.ColumnStatistics) error {
	if st == nil || st.StatsDesc == nil {
		return errs.Invalid("column statistics without a descriptor")
	}
	m, own, err := r.writableTable(st.StatsDesc.DbName, st.StatsDesc.TableName)
	if err != nil {
		return err
	}
	c := *st
	d := *st.StatsDesc
	d.DbName = own
	c.StatsDesc = &d
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.UpdateColumnStatistics(ctx, &c) })
}

func (r *Router) TableColumnStatistics(ctx context.Context, db, tbl string, cols []string) ([]*hm.ColumnStatisticsObj, error) {
	m, own, err := r.resolveTable(db, tbl)
	if err != nil {
		return nil, err
	}
	var out []*hm.ColumnStatisticsObj
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		out, err = m.Backend.TableColumnStatistics(ctx, own, tbl, cols)
		return err
	})
	return out, err
}

func (r *Router) PartitionColumnStatistics(ctx context.Context, db, tbl string, partNames, cols []string) (map[string][]*hm.ColumnStatisticsObj, error) {
	m, own, err := r.resolveTable(db, tbl)
	if err != nil {
		return nil, err
	}
	var out map[string][]*hm.ColumnStatisticsObj
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		out, err = m.Backend.PartitionColumnStatistics(ctx, own, tbl, partNames, cols)
		return err
	})
	return out, err
}

func (r *Router) DeleteColumnStatistics(ctx context.Context, db, tbl, partName, col string) error {
	m, own, err := r.writableTable(db, tbl)
	if err != nil {
		return err
	}
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.DeleteColumnStatistics(ctx, own, tbl, partName, col) })
}

// --- functions ---

func (r *Router) CreateFunction(ctx context.Context, f *hm.Function) error {
	m, own, err := r.resolve(f.DbName)
	if err != nil {
		return err
	}
	if err := m.checkWrite(own); err != nil {
		return err
	}
	c := *f
	c.DbName = own
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.CreateFunction(ctx, &c) })
}

func (r *Router) GetFunction(ctx context.Context, db, name string) (*hm.Function, error) {
	m, own, err := r.resolve(db)
	if err != nil {
		return nil, err
	}
	var f *hm.Function
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		f, err = m.Backend.GetFunction(ctx, own, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return translateFunction(f, r.outMap(m)), nil
}

func (r *Router) ListFunctions(ctx context.Context, db string) ([]*hm.Function, error) {
	if db != "" {
		m, own, err := r.resolve(db)
		if err != nil {
			return nil, err
		}
		var fs []*hm.Function
		err = r.call(ctx, m, func(ctx context.Context) (err error) {
			fs, err = m.Backend.ListFunctions(ctx, own)
			return err
		})
		return r.exposeFunctions(m, fs), err
	}
	var mu sync.Mutex
	var all []*hm.Function
	err := r.fanOut(ctx, "listing functions", func(ctx context.Context, m *Member) error {
		fs, err := m.Backend.ListFunctions(ctx, "")
		if errs.KindOf(err) == errs.KindUnsupported {
			return nil
		}
		if err != nil {
			return err
		}
		mu.Lock()
		all = append(all, r.exposeFunctions(m, fs)...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].DbName != all[j].DbName {
			return all[i].DbName < all[j].DbName
		}
		return all[i].FunctionName < all[j].FunctionName
	})
	return all, nil
}

func (r *Router) exposeFunctions(m *Member, fs []*hm.Function) []*hm.Function {
	out := make([]*hm.Function, 0, len(fs))
	for _, f := range fs {
		if e, ok := m.expose(strings.ToLower(f.DbName)); ok {
			c := *f
			c.DbName = e
			out = append(out, &c)
		}
	}
	return out
}

func (r *Router) AlterFunction(ctx context.Context, db, name string, f *hm.Function) error {
	m, own, err := r.resolve(db)
	if err != nil {
		return err
	}
	if err := m.checkWrite(own); err != nil {
		return err
	}
	c := translateFunction(f, r.inMap(m))
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.AlterFunction(ctx, own, name, c) })
}

func (r *Router) DropFunction(ctx context.Context, db, name string) error {
	m, own, err := r.resolve(db)
	if err != nil {
		return err
	}
	if err := m.checkWrite(own); err != nil {
		return err
	}
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.DropFunction(ctx, own, name) })
}

// --- locks ---

func (r *Router) Lock(ctx context.Context, req *hm.LockRequest) (*hm.LockResponse, error) {
	var m *Member
	c := *req
	c.Component = make([]*hm.LockComponent, len(req.Component))
	for i, lc := range req.Component {
		mm, own, err := r.resolve(lc.Dbname)
		if err != nil {
			return nil, err
		}
		if m != nil && mm != m {
			return nil, errs.Invalid("one lock request cannot span backends %s and %s", m.Name, mm.Name)
		}
		m = mm
		cc := *lc
		cc.Dbname = own
		c.Component[i] = &cc
	}
	if m == nil {
		return nil, errs.Invalid("lock: no lock components given")
	}
	var resp *hm.LockResponse
	err := r.call(ctx, m, func(ctx context.Context) (err error) {
		resp, err = m.Backend.Lock(ctx, &c)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r.exposeLock(m, resp), nil
}

func (r *Router) exposeLock(m *Member, resp *hm.LockResponse) *hm.LockResponse {
	c := *resp
	c.Lockid = resp.Lockid<<lockIDBits | r.memberIndex(m)
	return &c
}

// lockOwner decodes a lock id issued through the router.
func (r *Router) lockOwner(id int64) (*Member, int64, error) {
	idx := id & (maxMembers - 1)
	if id < 0 || int(idx) >= len(r.members) {
		return nil, 0, errs.NotFound("no such lock: %d", id)
	}
	return r.members[idx], id >> lockIDBits, nil
}

func (r *Router) CheckLock(ctx context.Context, lockID int64) (*hm.LockResponse, error) {
	m, own, err := r.lockOwner(lockID)
	if err != nil {
		return nil, err
	}
	var resp *hm.LockResponse
	err = r.call(ctx, m, func(ctx context.Context) (err error) {
		resp, err = m.Backend.CheckLock(ctx, own)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r.exposeLock(m, resp), nil
}

func (r *Router) Unlock(ctx context.Context, lockID int64) error {
	m, own, err := r.lockOwner(lockID)
	if err != nil {
		return err
	}
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.Unlock(ctx, own) })
}

func (r *Router) Heartbeat(ctx context.Context, lockID int64) error {
	m, own, err := r.lockOwner(lockID)
	if err != nil {
		return err
	}
	return r.call(ctx, m, func(ctx context.Context) error { return m.Backend.Heartbeat(ctx, own) })
}

func (r *Router) ShowLocks(ctx context.Context, req *hm.ShowLocksRequest) (*hm.ShowLocksResponse, error) {
	var mu sync.Mutex
	out := &hm.ShowLocksResponse{Locks: []*hm.ShowLocksResponseElement{}}
	err := r.fanOut(ctx, "listing locks", func(ctx context.Context, m *Member) error {
		q := *req
		if req.Dbname != nil {
			mm, own, err := r.resolve(*req.Dbname)
			if err != nil || mm != m {
				return nil
			}
			q.Dbname = &own
		}
		resp, err := m.Backend.ShowLocks(ctx, &q)
		if errs.KindOf(err) == errs.KindUnsupported {
			return nil
		}
		if err != nil {
			return err
		}
		idx := r.memberIndex(m)
		mu.Lock()
		defer mu.Unlock()
		for _, l := range resp.Locks {
			c := *l
			c.Lockid = l.Lockid<<lockIDBits | idx
			if e, ok := m.expose(strings.ToLower(l.Dbname)); ok {
				c.Dbname = e
			}
			out.Locks = append(out.Locks, &c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// --- events ---

// The notification log is the primary's: a federated log would need one global order across
// catalogs that do not share a clock or a sequence.

func (r *Router) CurrentEventID(ctx context.Context) (int64, error) {
	var id int64
	err := r.call(ctx, r.primary, func(ctx context.Context) (err error) {
		id, err = r.primary.Backend.CurrentEventID(ctx)
		return err
	})
	return id, err
}

func (r *Router) NextEvents(ctx context.Context, lastID int64, max int) ([]*hm.NotificationEvent, error) {
	var evs []*hm.NotificationEvent
	err := r.call(ctx, r.primary, func(ctx context.Context) (err error) {
		evs, err = r.primary.Backend.NextEvents(ctx, lastID, max)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*hm.NotificationEvent, 0, len(evs))
	for _, e := range evs {
		c := *e
		if c.DbName != nil {
			if ex, ok := r.primary.expose(strings.ToLower(*c.DbName)); ok {
				c.DbName = &ex
			} else {
				continue
			}
		}
		out = append(out, &c)
	}
	return out, nil
}
