package compattests

import (
	"database/sql"
	"fmt"
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
