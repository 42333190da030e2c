package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // registers driver "sqlite"

	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/internal/sqldsn"
	"github.com/propolis/propolis/policy"
)

// Store keeps every applied policy, numbered from 1, in the catalog database.
// It is safe for concurrent use, and any number of replicas may share one database.
type Store struct {
	db     *sql.DB
	driver string
	// Log receives Watch's reload and failure messages; nil is slog.Default().
	Log *slog.Logger
	now func() time.Time
}

// Version is one stored policy.
type Version struct {
	Version   int64
	Body      []byte
	Author    string
	AppliedAt time.Time
}

// Open connects to the same database as the embedded catalog (driver "sqlite" with a file path,
// or "mysql" with a go-sql-driver DSN) and creates the policy table if it is missing.
func Open(ctx context.Context, driver, dsn string) (*Store, error) {
	var err error
	switch driver {
	case "", "sqlite":
		driver = "sqlite"
		if dsn == "" {
			return nil, errs.Invalid("policy store: sqlite needs a file path")
		}
		dsn = sqldsn.SQLite(dsn)
	case "mysql":
		if dsn, err = sqldsn.MySQL(dsn); err != nil {
			return nil, err
		}
	default:
		return nil, errs.Invalid("policy store: unknown driver %q (want sqlite or mysql)", driver)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, errs.Unavailable("policy store: open %s: %w", driver, err)
	}
	if driver == "sqlite" {
		db.SetMaxOpenConns(4)
	}
	s := &Store{db: db, driver: driver, now: time.Now}
	ddl := `CREATE TABLE IF NOT EXISTS propolis_policies (
		version INTEGER PRIMARY KEY,
		body TEXT NOT NULL,
		author VARCHAR(255) NOT NULL,
		applied_at BIGINT NOT NULL)`
	if driver == "mysql" {
		ddl = `CREATE TABLE IF NOT EXISTS propolis_policies (
		version BIGINT NOT NULL PRIMARY KEY,
		body LONGTEXT NOT NULL,
		author VARCHAR(255) NOT NULL,
		applied_at BIGINT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`
	}
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		db.Close()
		return nil, errs.Unavailable("policy store: create table: %w", err)
	}
	return s, nil
}

// Close closes the database handle.
func (s *Store) Close() error { return s.db.Close() }

// Apply validates body with policy.Parse and stores it as the next version. An invalid body is
// refused (errs.Invalid) and nothing is stored. Applying the body already in force stores
// nothing and returns its version, so re-running `policy apply` does not make replicas reload.
func (s *Store) Apply(ctx context.Context, body []byte, author string) (int64, error) {
	if _, err := policy.Parse("policy", body); err != nil {
		return 0, err
	}
	if len(author) > 255 {
		author = author[:255]
	}
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		var v int64
		v, err = s.applyOnce(ctx, body, author)
		if err == nil {
			return v, nil
		}
		if !retryable(err) {
			break
		}
		select {
		case <-ctx.Done():
			return 0, errs.Unavailable("policy store: apply: %w", ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
	return 0, errs.Unavailable("policy store: apply: %w", err)
}

// applyOnce reads the newest version and inserts the next one in one transaction. On MySQL,
// replicas applying at once are serialized by a named lock held on the transaction's
// connection (gap locks under FOR UPDATE deadlock each other); SQLite's BEGIN IMMEDIATE
// already serializes writers.
func (s *Store) applyOnce(ctx context.Context, body []byte, author string) (int64, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if s.driver == "mysql" {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK('propolis_policies', 30)`).Scan(&got); err != nil {
			return 0, err
		}
		if got.Int64 != 1 {
			return 0, errs.Unavailable("timed out waiting for another replica's policy apply")
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT RELEASE_LOCK('propolis_policies')`) //nolint:errcheck // released with the connection anyway
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	var latest int64
	var latestBody []byte
	q := `SELECT version, body FROM propolis_policies ORDER BY version DESC LIMIT 1`
	switch err := tx.QueryRowContext(ctx, q).Scan(&latest, &latestBody); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, err
	case bytes.Equal(latestBody, body):
		return latest, nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO propolis_policies (version, body, author, applied_at) VALUES (?, ?, ?, ?)`,
		latest+1, string(body), author, s.now().UnixMilli()); err != nil {
		return 0, err
	}
	return latest + 1, tx.Commit()
}

// retryable: two replicas applying at once (duplicate version, deadlock, lock wait), or a busy
// SQLite file.
func retryable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062 || me.Number == 1213 || me.Number == 1205
	}
	var se interface{ Code() int }
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, 6, 19: // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_CONSTRAINT
			return true
		}
	}
	return false
}

// Latest returns the newest version and its body; errs.NotFound when none was ever applied.
func (s *Store) Latest(ctx context.Context) (int64, []byte, error) {
	var v int64
	var body []byte
	err := s.db.QueryRowContext(ctx, `SELECT version, body FROM propolis_policies ORDER BY version DESC LIMIT 1`).Scan(&v, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, errs.NotFound("no policy has been applied")
	}
	if err != nil {
		return 0, nil, errs.Unavailable("policy store: %w", err)
	}
	return v, body, nil
}

// Get returns one version; errs.NotFound when it does not exist.
func (s *Store) Get(ctx context.Context, version int64) (Version, error) {
	r := Version{Version: version}
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT body, author, applied_at FROM propolis_policies WHERE version = ?`, version).Scan(&r.Body, &r.Author, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Version{}, errs.NotFound("policy version %d does not exist", version)
	}
	if err != nil {
		return Version{}, errs.Unavailable("policy store: %w", err)
	}
	r.AppliedAt = time.UnixMilli(at).UTC()
	return r, nil
}

// History lists the stored versions, newest first, without bodies; at most limit (0 = all).
func (s *Store) History(ctx context.Context, limit int) ([]Version, error) {
	q := `SELECT version, author, applied_at FROM propolis_policies ORDER BY version DESC`
	if limit > 0 {
		q += " LIMIT ?"
	}
	var args []any
	if limit > 0 {
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, errs.Unavailable("policy store: %w", err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		var r Version
		var at int64
		if err := rows.Scan(&r.Version, &r.Author, &at); err != nil {
			return nil, errs.Unavailable("policy store: %w", err)
		}
		r.AppliedAt = time.UnixMilli(at).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Unavailable("policy store: %w", err)
	}
	return out, nil
}

// Load is Latest, parsed and stamped with its version.
func (s *Store) Load(ctx context.Context) (*policy.Policy, error) {
	v, body, err := s.Latest(ctx)
	if err != nil {
		return nil, err
	}
	p, err := policy.Parse(versionName(v), body)
	if err != nil {
		return nil, err
	}
	return p.WithVersion(v), nil
}

func versionName(v int64) string { return "policy version " + strconv.FormatInt(v, 10) }

func (s *Store) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Watch polls the store every interval until ctx is done, and calls fn from its own goroutine
// (the one Watch runs on) whenever the policy in force changes:
//
//   - first, once, with the current policy, or with nil when there is none or it cannot be
//     loaded;
//   - then with each new version that parses.
//
// fn(nil) means "no usable policy": the caller must deny everything (fail closed). A later
// store error or a new version that no longer parses keeps the policy already in force (it is
// logged, and retried at the next poll); fn(nil) is only ever called while no policy has been
// in force.
func (s *Store) Watch(ctx context.Context, every time.Duration, fn func(*policy.Policy)) {
	if every <= 0 {
		every = 5 * time.Second
	}
	var current *policy.Policy
	var bad int64 // version known not to parse, not retried
	first := true
	poll := func() {
		v, body, err := s.Latest(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			if current != nil {
				s.log().WarnContext(ctx, "policy store unavailable; keeping the policy in force", "version", current.Version(), "err", err)
			} else {
				s.log().ErrorContext(ctx, "no policy could be loaded; denying everything", "err", err)
			}
		case current != nil && v == current.Version(), v == bad:
		default:
			p, perr := policy.Parse(versionName(v), body)
			if perr != nil {
				bad = v
				if current != nil {
					s.log().ErrorContext(ctx, "stored policy does not parse; keeping the policy in force", "version", v, "in_force", current.Version(), "err", perr)
				} else {
					s.log().ErrorContext(ctx, "stored policy does not parse and none is in force; denying everything", "version", v, "err", perr)
				}
				break
			}
			current = p.WithVersion(v)
			s.log().InfoContext(ctx, "policy loaded", "version", v)
			fn(current)
			first = false
			return
		}
		if first && current == nil {
			fn(nil)
		}
		first = false
	}
	poll()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			poll()
		}
	}
}
