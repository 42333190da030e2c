package embedded

import (
	"context"
	"database/sql"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

// lockComp is one stored lock component; tbl and part are empty above their level, which is
// what makes the resource hierarchy a prefix comparison.
type lockComp struct {
	id, txnid       int64
	comp            int
	db, tbl, part   string
	level           hm.LockLevel
	typ             hm.LockType
	state           hm.LockState
	user, host      string
	agent           string
	lastHB, acquire int64
}

func (c *lockComp) overlaps(o *lockComp) bool {
	if c.db != o.db {
		return false
	}
	if c.tbl == "" || o.tbl == "" || c.tbl != o.tbl {
		return c.tbl == "" || o.tbl == ""
	}
	return c.part == "" || o.part == "" || c.part == o.part
}

func isWrite(t hm.LockType) bool { return t == hm.LockType_SHARED_WRITE || t == hm.LockType_EXCL_WRITE }

// compatible is the matrix of backend.go: EXCLUSIVE conflicts with everything, writes
// (SHARED_WRITE, and EXCL_WRITE, which Hive's matrix treats the same against these types)
// conflict with writes, SHARED_READ only with EXCLUSIVE.
func compatible(a, b hm.LockType) bool {
	switch {
	case a == hm.LockType_EXCLUSIVE || b == hm.LockType_EXCLUSIVE:
		return false
	case isWrite(a) && isWrite(b):
		return false
	}
	return true
}

func (c *lockComp) blockedBy(o *lockComp) bool {
	if c.id == o.id || (c.txnid != 0 && c.txnid == o.txnid) {
		return false
	}
	return c.overlaps(o) && !compatible(c.typ, o.typ)
}

func componentOf(in *hm.LockComponent) (*lockComp, error) {
	if in == nil {
		return nil, errs.Invalid("lock component is missing")
	}
	c := &lockComp{db: norm(in.Dbname), level: in.Level, typ: in.Type}
	if c.db == "" {
		return nil, errs.Invalid("lock component without a database")
	}
	switch in.Level {
	case hm.LockLevel_DB:
	case hm.LockLevel_TABLE:
		c.tbl = norm(in.GetTablename())
	case hm.LockLevel_PARTITION:
		c.tbl, c.part = norm(in.GetTablename()), in.GetPartitionname()
		if c.part == "" {
			return nil, errs.Invalid("partition lock on %s.%s without a partition name", c.db, c.tbl)
		}
	default:
		return nil, errs.Invalid("unknown lock level %v", in.Level)
	}
	if in.Level != hm.LockLevel_DB && c.tbl == "" {
		return nil, errs.Invalid("%v lock on database %s without a table name", in.Level, c.db)
	}
	switch in.Type {
	case hm.LockType_SHARED_READ, hm.LockType_SHARED_WRITE, hm.LockType_EXCL_WRITE, hm.LockType_EXCLUSIVE:
	default:
		return nil, errs.Invalid("unknown lock type %v", in.Type)
	}
	return c, nil
}

func (s *Store) Lock(ctx context.Context, req *hm.LockRequest) (*hm.LockResponse, error) {
	if req == nil || len(req.Component) == 0 {
		return nil, errs.Invalid("lock request without components")
	}
	comps := make([]*lockComp, 0, len(req.Component))
	for _, in := range req.Component {
		c, err := componentOf(in)
		if err != nil {
			return nil, err
		}
		c.txnid, c.user, c.host, c.agent = req.GetTxnid(), req.User, req.Hostname, req.AgentInfo
		comps = append(comps, c)
	}
	var resp *hm.LockResponse
	err := s.write(ctx, mutexLocks, func(tx *sql.Tx) error {
		if err := s.expireLocks(ctx, tx); err != nil {
			return err
		}
		id, err := s.nextVal(ctx, tx, "lock")
		if err != nil {
			return err
		}
		now := s.nowMillis()
		for i, c := range comps {
			c.id, c.comp, c.state, c.lastHB = id, i+1, hm.LockState_WAITING, now
			if err := s.insertLock(ctx, tx, c); err != nil {
				return err
			}
		}
		state, err := s.tryAcquire(ctx, tx, id, comps)
		resp = &hm.LockResponse{Lockid: id, State: state}
		return err
	})
	return resp, err
}

func (s *Store) insertLock(ctx context.Context, tx *sql.Tx, c *lockComp) error {
	_, err := s.exec(ctx, tx, `INSERT INTO locks (id, comp, db, tbl, part, level, type, state, txnid, usr, host, agent,
		last_hb, acquired_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.id, c.comp, c.db, c.tbl, c.part, int64(c.level), int64(c.typ), int64(c.state), c.txnid,
		c.user, c.host, c.agent, c.lastHB, c.acquire)
	return err
}

// tryAcquire grants lock id when no earlier lock, granted or still waiting, conflicts with any
// of its components: earlier requests are served first, so writers are not starved by readers.
func (s *Store) tryAcquire(ctx context.Context, tx *sql.Tx, id int64, comps []*lockComp) (hm.LockState, error) {
	dbs := map[string]bool{}
	for _, c := range comps {
		dbs[c.db] = true
	}
	for db := range dbs {
		earlier, err := s.queryLocks(ctx, tx, ` WHERE db = ? AND id < ?`, db, id)
		if err != nil {
			return 0, err
		}
		for _, c := range comps {
			for _, o := range earlier {
				if c.blockedBy(o) {
					return hm.LockState_WAITING, nil
				}
			}
		}
	}
	_, err := s.exec(ctx, tx, `UPDATE locks SET state = ?, acquired_at = ? WHERE id = ?`,
		int64(hm.LockState_ACQUIRED), s.nowMillis(), id)
	return hm.LockState_ACQUIRED, err
}

func (s *Store) queryLocks(ctx context.Context, q queryer, where string, args ...any) (_ []*lockComp, err error) {
	rows, err := q.QueryContext(ctx, `SELECT id, comp, db, tbl, part, level, type, state, txnid, usr, host, agent,
		last_hb, acquired_at FROM locks`+where+` ORDER BY id, comp`, args...)
	if err != nil {
		return nil, s.storeErr(err)
	}
	defer closeRows(rows, &err)
	var out []*lockComp
	for rows.Next() {
		var (
			c                 lockComp
			level, typ, state int64
		)
		if err := rows.Scan(&c.id, &c.comp, &c.db, &c.tbl, &c.part, &level, &typ, &state, &c.txnid,
			&c.user, &c.host, &c.agent, &c.lastHB, &c.acquire); err != nil {
			return nil, s.storeErr(err)
		}
		c.level, c.typ, c.state = hm.LockLevel(level), hm.LockType(typ), hm.LockState(state)
		out = append(out, &c)
	}
	return out, s.storeErr(rows.Err())
}

// expireLocks releases locks whose holders stopped heartbeating; it runs lazily in every lock
// operation, so no replica needs a background reaper.
func (s *Store) expireLocks(ctx context.Context, tx *sql.Tx) error {
	n, err := s.exec(ctx, tx, `DELETE FROM locks WHERE last_hb < ?`, s.nowMillis()-s.lockTimeout.Milliseconds())
	if n > 0 {
		s.log.InfoContext(ctx, "expired locks", "components", n, "timeout", s.lockTimeout)
	}
	return err
}

// lockOp runs fn on the components of one live lock; NotFound when it is unknown or expired.
func (s *Store) lockOp(ctx context.Context, lockID int64, fn func(tx *sql.Tx, comps []*lockComp) error) error {
	return s.write(ctx, mutexLocks, func(tx *sql.Tx) error {
		if err := s.expireLocks(ctx, tx); err != nil {
			return err
		}
		comps, err := s.queryLocks(ctx, tx, ` WHERE id = ?`, lockID)
		if err != nil {
			return err
		}
		if len(comps) == 0 {
			return errs.NotFound("No such lock: %d", lockID)
		}
		return fn(tx, comps)
	})
}

// CheckLock counts as a heartbeat, as in Hive: a client polling a waiting lock is alive.
func (s *Store) CheckLock(ctx context.Context, lockID int64) (*hm.LockResponse, error) {
	resp := &hm.LockResponse{Lockid: lockID}
	err := s.lockOp(ctx, lockID, func(tx *sql.Tx, comps []*lockComp) error {
		if err := s.heartbeat(ctx, tx, lockID); err != nil {
			return err
		}
		if comps[0].state == hm.LockState_ACQUIRED {
			resp.State = hm.LockState_ACQUIRED
			return nil
		}
		var err error
		resp.State, err = s.tryAcquire(ctx, tx, lockID, comps)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *Store) Unlock(ctx context.Context, lockID int64) error {
	return s.lockOp(ctx, lockID, func(tx *sql.Tx, _ []*lockComp) error {
		_, err := s.exec(ctx, tx, `DELETE FROM locks WHERE id = ?`, lockID)
		return err
	})
}

func (s *Store) Heartbeat(ctx context.Context, lockID int64) error {
	return s.lockOp(ctx, lockID, func(tx *sql.Tx, _ []*lockComp) error { return s.heartbeat(ctx, tx, lockID) })
}

func (s *Store) heartbeat(ctx context.Context, tx *sql.Tx, lockID int64) error {
	_, err := s.exec(ctx, tx, `UPDATE locks SET last_hb = ? WHERE id = ?`, s.nowMillis(), lockID)
	return err
}

func (s *Store) ShowLocks(ctx context.Context, req *hm.ShowLocksRequest) (*hm.ShowLocksResponse, error) {
	if req == nil {
		req = &hm.ShowLocksRequest{}
	}
	var where []string
	var args []any
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if req.Dbname != nil && *req.Dbname != "" {
		add("db = ?", norm(*req.Dbname))
	}
	if req.Tablename != nil && *req.Tablename != "" {
		add("tbl = ?", norm(*req.Tablename))
	}
	if req.Partname != nil && *req.Partname != "" {
		add("part = ?", *req.Partname)
	}
	if req.Txnid != nil && *req.Txnid != 0 {
		add("txnid = ?", *req.Txnid)
	}
	clause := ""
	if len(where) > 0 {
		clause = " WHERE " + strings.Join(where, " AND ")
	}
	var comps []*lockComp
	err := s.write(ctx, mutexLocks, func(tx *sql.Tx) error {
		if err := s.expireLocks(ctx, tx); err != nil {
			return err
		}
		var err error
		comps, err = s.queryLocks(ctx, tx, clause, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	resp := &hm.ShowLocksResponse{Locks: []*hm.ShowLocksResponseElement{}}
	for _, c := range comps {
		resp.Locks = append(resp.Locks, c.element())
	}
	return resp, nil
}

func (c *lockComp) element() *hm.ShowLocksResponseElement {
	e := &hm.ShowLocksResponseElement{
		Lockid: c.id, Dbname: c.db, State: c.state, Type: c.typ, Lastheartbeat: c.lastHB,
		User: c.user, Hostname: c.host,
	}
	internal := int64(c.comp)
	e.LockIdInternal = &internal
	if c.tbl != "" {
		e.Tablename = &c.tbl
	}
	if c.part != "" {
		e.Partname = &c.part
	}
	if c.txnid != 0 {
		e.Txnid = &c.txnid
	}
	if c.acquire != 0 {
		e.Acquiredat = &c.acquire
	}
	if c.agent != "" {
		e.AgentInfo = &c.agent
	}
	return e
}
