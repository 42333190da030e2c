// Package sqldsn owns how Propolis connects to its SQL stores, so the catalog and the policy
// store, which share one database, also share its connection settings.
package sqldsn

import (
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/propolis/propolis/internal/errs"
)

// SQLite turns a path into a modernc.org/sqlite DSN. Writers take the write lock at BEGIN
// (_txlock=immediate) so two connections never both read and then both try to upgrade, which
// SQLite can only resolve by failing one of them. synchronous=FULL makes a commit durable
// before it is acknowledged. A path that already carries parameters is used as given.
func SQLite(path string) string {
	if strings.Contains(path, "?") {
		return path
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// MySQL normalizes a go-sql-driver DSN: utf8mb4 with binary collation, so names compare as
// exactly as they do in SQLite.
func MySQL(dsn string) (string, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", errs.Invalid("mysql DSN: %w", err)
	}
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	c.Params["charset"] = "utf8mb4"
	c.Collation = "utf8mb4_bin"
	return c.FormatDSN(), nil
}
