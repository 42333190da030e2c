package compattests

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

// waitTrinoQueries waits until Trino runs queries: /v1/info says started before the
// coordinator's scheduler knows its own node, and queries in that window fail with "No nodes
// available to run query".
func waitTrinoQueries(t *testing.T, port int) {
	t.Helper()
	db, err := sql.Open("trino", fmt.Sprintf("http://probe@127.0.0.1:%d?catalog=system&schema=runtime", port))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(2 * time.Minute)
	var lastErr error
	for time.Now().Before(deadline) {
		var n int
		lastErr = db.QueryRow("SELECT count(*) FROM system.runtime.nodes WHERE state = 'active'").Scan(&n)
		if lastErr == nil && n > 0 {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("Trino on port %d runs no query after 2 minutes: %v", port, lastErr)
}

// noNodes is Trino's error for a query scheduled while its node map is empty. The scheduler
// memoizes each catalog's node map for seconds, so a catalog's first query can see an empty one
// even after system.runtime.nodes (another catalog) has shown the node active: seen in CI as
// "INTERNAL_ERROR: No nodes available to run query" on the hive catalog's first scan.
const noNodes = "No nodes available to run query"

// trinoQuery is db.QueryContext retried while Trino says it has no nodes yet (for at most a
// minute); every other outcome is returned as it is. Matching Trino's message is the only way:
// the client gets it as text.
func trinoQuery(ctx context.Context, t *testing.T, db *sql.DB, q string) (rs *sql.Rows, err error) {
	t.Helper()
	err = retryNoNodes(ctx, t, func() error { rs, err = db.QueryContext(ctx, q); return err })
	return rs, err
}

// trinoExec is db.ExecContext with trinoQuery's retry.
func trinoExec(ctx context.Context, t *testing.T, db *sql.DB, q string) error {
	t.Helper()
	return retryNoNodes(ctx, t, func() error { _, err := db.ExecContext(ctx, q); return err })
}

func retryNoNodes(ctx context.Context, t *testing.T, call func() error) error {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := call()
		if err == nil || !strings.Contains(err.Error(), noNodes) || time.Now().After(deadline) {
			return err
		}
		t.Logf("    (Trino has no node for this catalog yet; retrying in 1s: %v)", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}
