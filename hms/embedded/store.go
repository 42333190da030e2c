package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // registers driver "sqlite"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/internal/sqldsn"
)

var _ hms.Backend = (*Store)(nil)

// Config selects and tunes the database behind a Store.
type Config struct {
	Driver    string // "sqlite" (default) or "mysql"
	DSN       string // sqlite: file path; mysql: go-sql-driver DSN
	Warehouse string // root of default locations, e.g. file:///abs/path/warehouse
	// LockTimeout releases locks not heartbeated for this long (Hive's hive.txn.timeout).
	LockTimeout time.Duration
}

const defaultLockTimeout = 300 * time.Second

// Store is the embedded catalog. It is safe for concurrent use, and several Stores (in one or
// several processes) may share one database.
type Store struct {
	db          *sql.DB
	d           dialect
	gate        chan struct{} // SQLite: held by this process's writer; nil on MySQL
	wh          warehouse
	root        string
	lockTimeout time.Duration
	log         *slog.Logger
	now         func() time.Time
}

// Open connects, creates or migrates the schema and makes sure the default database exists.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d, dsn, err := dialectFor(cfg)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(d.driver, dsn)
	if err != nil {
		return nil, errs.Unavailable("open %s store: %w", d.name, err)
	}
	var gate chan struct{}
	switch d.name {
	case "sqlite":
		// One writer at a time is all SQLite allows. Writers of this process queue on the
		// file's gate (FIFO-ish, no polling) holding no connection, so the pool is left to
		// readers, which WAL never makes wait for the writer; busy_timeout only arbitrates
		// between processes. Idle connections are kept: opening one re-runs the pragmas.
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
		gate = sqliteGate(cfg.DSN)
	case "mysql":
		// Keep connections for concurrent callers instead of reconnecting (the default keeps 2).
		db.SetMaxIdleConns(16)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	s := &Store{
		db:          db,
		d:           d,
		gate:        gate,
		wh:          warehouse{log: log},
		root:        strings.TrimRight(cfg.Warehouse, "/"),
		lockTimeout: cfg.LockTimeout,
		log:         log,
		now:         time.Now,
	}
	if s.lockTimeout <= 0 {
		s.lockTimeout = defaultLockTimeout
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.ensureDefaultDB(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) Close() error { return s.db.Close() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return errs.Unavailable("catalog store: %w", err)
	}
	return nil
}

// dialect holds the few places where SQLite and MySQL disagree.
type dialect struct {
	name     string
	driver   string
	blob     string // column type for serialized objects
	text     string // column type for unbounded text
	suffix   string // CREATE TABLE options
	forUpdat string // locking clause for the mutex row
}

func dialectFor(cfg Config) (dialect, string, error) {
	switch cfg.Driver {
	case "", "sqlite":
		if cfg.DSN == "" {
			return dialect{}, "", errs.Invalid("sqlite store needs a file path")
		}
		return dialect{name: "sqlite", driver: "sqlite", blob: "BLOB", text: "TEXT"}, sqldsn.SQLite(cfg.DSN), nil
	case "mysql":
		dsn, err := sqldsn.MySQL(cfg.DSN)
		if err != nil {
			return dialect{}, "", err
		}
		return dialect{
			name: "mysql", driver: "mysql", blob: "LONGBLOB", text: "LONGTEXT",
			suffix:   " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
			forUpdat: " FOR UPDATE",
		}, dsn, nil
	default:
		return dialect{}, "", errs.Invalid("unknown catalog driver %q (want sqlite or mysql)", cfg.Driver)
	}
}

// Mutex rows: a writer locks one of them first, which serializes writers across replicas on
// MySQL (SQLite's BEGIN IMMEDIATE already serializes every writer).
const (
	mutexCatalog = "catalog"
	mutexLocks   = "locks"
)

// write runs fn in one transaction holding the named mutex; fn's writes and the events it
// appends commit together or not at all.
func (s *Store) write(ctx context.Context, mutex string, fn func(tx *sql.Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.writeOnce(ctx, mutex, fn)
		if !s.retryable(err) {
			return err
		}
		s.log.DebugContext(ctx, "retrying catalog transaction", "attempt", attempt+1, "err", err)
		select {
		case <-ctx.Done():
			return errs.Unavailable("catalog store: %w", ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
	return err
}

// sqliteGates holds one gate per SQLite file, shared by every Store of the process on it.
var sqliteGates sync.Map // cleaned path -> chan struct{}

func sqliteGate(dsn string) chan struct{} {
	path := dsn
	if p, err := filepath.Abs(strings.TrimPrefix(strings.SplitN(dsn, "?", 2)[0], "file:")); err == nil {
		path = p
	}
	g, _ := sqliteGates.LoadOrStore(path, make(chan struct{}, 1))
	return g.(chan struct{})
}

func (s *Store) writeOnce(ctx context.Context, mutex string, fn func(tx *sql.Tx) error) error {
	if s.gate != nil {
		select {
		case s.gate <- struct{}{}:
			defer func() { <-s.gate }()
		case <-ctx.Done():
			return errs.Unavailable("catalog store: %w", ctx.Err())
		}
	}
	var opts *sql.TxOptions
	if s.d.forUpdat != "" {
		// READ COMMITTED: after waiting for the mutex row, plain reads must see what the
		// previous holder committed, not a snapshot from before the wait.
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return s.storeErr(err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if s.d.forUpdat != "" {
		var n int64
		err := tx.QueryRowContext(ctx, "SELECT next_val FROM sequences WHERE name = ?"+s.d.forUpdat, mutex).Scan(&n)
		if err != nil {
			return s.storeErr(err)
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.storeErr(err)
	}
	return nil
}

// retryable reports a deadlock or lock wait timeout that a fresh attempt may not hit.
func (s *Store) retryable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205
	}
	return false
}

// storeErr classifies a database failure: the caller can retry later, nothing was decided.
func (s *Store) storeErr(err error) error {
	if err == nil {
		return nil
	}
	if errs.KindOf(err) != errs.KindUnknown {
		return err
	}
	return &errs.Error{Kind: errs.KindUnavailable, Msg: "catalog store: " + err.Error(), Err: err}
}

// nextVal draws from a sequence inside tx; the row lock it takes is held until commit, so ids
// are unique across replicas.
func (s *Store) nextVal(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	return s.nextVals(ctx, tx, name, 1)
}

// nextVals draws n values from a sequence inside tx and returns the last: the values drawn
// are last-n+1 ... last.
func (s *Store) nextVals(ctx context.Context, tx *sql.Tx, name string, n int) (int64, error) {
	if _, err := tx.ExecContext(ctx, "UPDATE sequences SET next_val = next_val + ? WHERE name = ?", n, name); err != nil {
		return 0, s.storeErr(err)
	}
	var last int64
	if err := tx.QueryRowContext(ctx, "SELECT next_val FROM sequences WHERE name = ?", name).Scan(&last); err != nil {
		return 0, s.storeErr(err)
	}
	return last, nil
}

func (s *Store) nowSec() int32 { return int32(s.now().Unix()) }

func (s *Store) nowMillis() int64 { return s.now().UnixMilli() }

// queryer is what reads need, so they run both inside and outside a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// blobRow reads one serialized object; found is false when no row matched.
func (s *Store) blobRow(ctx context.Context, q queryer, query string, args ...any) (b []byte, found bool, err error) {
	err = q.QueryRowContext(ctx, query, args...).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.storeErr(err)
	}
	return b, true, nil
}

func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, s.storeErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.storeErr(err)
	}
	return n, nil
}

func closeRows(rows *sql.Rows, err *error) {
	if cerr := rows.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}

func (s *Store) String() string { return fmt.Sprintf("embedded(%s)", s.d.name) }

// read runs fn in a read-only transaction: one snapshot for reads that take several queries.
// On SQLite it is a deferred transaction (not _txlock's immediate one), which takes no write
// lock and, in WAL mode, never waits for the writer.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return s.storeErr(err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return s.storeErr(tx.Commit())
}
