package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// schemaVersion is the version this code writes; migrations[i] brings a store from version i
// to i+1.
const schemaVersion = 1

// Key lengths are chosen so every MySQL index stays within InnoDB's 3072 bytes at 4 bytes per
// utf8mb4 character; names are lower-cased Hive identifiers, partition names Hive-escaped.
const (
	maxDBName   = 128
	maxTblName  = 256
	maxColName  = 512
	maxPartName = 700
)

func (s *Store) migrations() [][]string {
	b, t, x := s.d.blob, s.d.text, s.d.suffix
	return [][]string{{
		`CREATE TABLE IF NOT EXISTS sequences (name VARCHAR(64) NOT NULL PRIMARY KEY, next_val BIGINT NOT NULL)` + x,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS dbs (name VARCHAR(%d) NOT NULL PRIMARY KEY, obj %s NOT NULL)`, maxDBName, b) + x,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS tbls (id BIGINT NOT NULL PRIMARY KEY, db VARCHAR(%d) NOT NULL,
			name VARCHAR(%d) NOT NULL, type VARCHAR(32) NOT NULL, obj %s NOT NULL, UNIQUE (db, name))`, maxDBName, maxTblName, b) + x,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS parts (id BIGINT NOT NULL PRIMARY KEY, tbl_id BIGINT NOT NULL,
			part_name VARCHAR(%d) NOT NULL, vals %s NOT NULL, obj %s NOT NULL, UNIQUE (tbl_id, part_name))`, maxPartName, t, b) + x,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS tbl_stats (tbl_id BIGINT NOT NULL, col VARCHAR(%d) NOT NULL,
			obj %s NOT NULL, PRIMARY KEY (tbl_id, col))`, maxColName, b) + x,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS part_stats (part_id BIGINT NOT NULL, tbl_id BIGINT NOT NULL,
			col VARCHAR(%d) NOT NULL, obj %s NOT NULL, PRIMARY KEY (part_id, col))`, maxColName, b) + x,
		`CREATE INDEX part_stats_tbl ON part_stats (tbl_id)`,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS funcs (db VARCHAR(%d) NOT NULL, name VARCHAR(%d) NOT NULL,
			obj %s NOT NULL, PRIMARY KEY (db, name))`, maxDBName, maxTblName, b) + x,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS locks (id BIGINT NOT NULL, comp INT NOT NULL, db VARCHAR(%d) NOT NULL,
			tbl VARCHAR(%d) NOT NULL, part VARCHAR(%d) NOT NULL, level INT NOT NULL, type INT NOT NULL,
			state INT NOT NULL, txnid BIGINT NOT NULL, usr VARCHAR(256) NOT NULL, host VARCHAR(256) NOT NULL,
			agent VARCHAR(1024) NOT NULL, last_hb BIGINT NOT NULL, acquired_at BIGINT NOT NULL,
			PRIMARY KEY (id, comp))`, maxDBName, maxTblName, maxPartName) + x,
		`CREATE INDEX locks_db ON locks (db)`,
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS events (id BIGINT NOT NULL PRIMARY KEY, time BIGINT NOT NULL,
			type VARCHAR(64) NOT NULL, db VARCHAR(%d) NOT NULL, tbl VARCHAR(%d) NOT NULL, message %s NOT NULL,
			format VARCHAR(32) NOT NULL)`, maxDBName, maxTblName, t) + x,
		`INSERT INTO sequences (name, next_val) VALUES ('catalog', 0), ('locks', 0), ('event', 0), ('lock', 0), ('object', 0)`,
	}}
}

// migrate brings the schema to schemaVersion. On SQLite the whole migration is one
// transaction. MySQL commits DDL implicitly, so there a named lock keeps replicas that start
// together from migrating twice, and each statement tolerates having run before.
func (s *Store) migrate(ctx context.Context) (err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return s.storeErr(err)
	}
	defer conn.Close()
	if s.d.name == "mysql" {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK('propolis_schema', 120)`).Scan(&got); err != nil || got.Int64 != 1 {
			return s.storeErr(fmt.Errorf("schema migration lock not acquired (%v): %w", got, err))
		}
		defer conn.ExecContext(ctx, `SELECT RELEASE_LOCK('propolis_schema')`) //nolint:errcheck // released with the session too
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL)`+s.d.suffix); err != nil {
		return s.storeErr(fmt.Errorf("create schema_version: %w", err))
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return s.storeErr(err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var v int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		v = 0
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return s.storeErr(err)
		}
	case err != nil:
		return s.storeErr(err)
	}
	if v > schemaVersion {
		return fmt.Errorf("catalog schema version %d is newer than this binary (%d)", v, schemaVersion)
	}
	ms := s.migrations()
	for ; v < schemaVersion; v++ {
		for _, stmt := range ms[v] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil && !alreadyDone(err) {
				return s.storeErr(fmt.Errorf("migrate to schema %d: %w", v+1, err))
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, v+1); err != nil {
			return s.storeErr(err)
		}
	}
	return s.storeErr(tx.Commit())
}

// alreadyDone recognizes a repeated CREATE INDEX or seed INSERT on MySQL, where an earlier,
// interrupted migration may have committed part of its DDL.
func alreadyDone(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	const dupKeyName, dupEntry, tableExists = 1061, 1062, 1050
	return me.Number == dupKeyName || me.Number == dupEntry || me.Number == tableExists
}
