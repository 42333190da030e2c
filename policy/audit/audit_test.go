package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRecord(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	_ = l.Record(context.Background(), Entry{
		Time: at, User: "alice", Groups: []string{"analysts"}, Engine: "trino", Action: "get_table",
		Object: "sales.orders", Outcome: OutcomeRestricted, PolicyVersion: 3, Path: PathNative,
		Rules: []string{"grants[0]", "masks[0] (tag pii.email)"}, Reason: "alice may read sales.orders",
	})
	l.Record(context.Background(), Entry{User: "oscar", Action: "get_all_tables", Object: "sales", Outcome: OutcomeHidden})
	want := `{"time":"2025-01-02T02:04:05Z","user":"alice","groups":["analysts"],"engine":"trino","action":"get_table","object":"sales.orders","outcome":"restricted","policy_version":3,"path":"native","rules":["grants[0]","masks[0] (tag pii.email)"],"reason":"alice may read sales.orders"}`
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || lines[0] != want {
		t.Fatalf("got\n%s\nwant first line\n%s", buf.String(), want)
	}
	var e Entry
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Path != PathNone || e.Time.IsZero() {
		t.Fatalf("second entry: %+v %v", e, err)
	}
	var nilLog *Log
	if err := nilLog.Record(context.Background(), Entry{}); err != nil { // must not panic
		t.Fatal(err)
	}
}

func TestConcurrentFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				l.Record(context.Background(), Entry{User: "u", Action: "get_table", Object: strings.Repeat("x", 500), Outcome: OutcomeRaw})
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v, want 0600", fi.Mode(), err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d is not one JSON entry: %v", n, err)
		}
		n++
	}
	if n != 1600 {
		t.Fatalf("%d lines, want 1600", n)
	}
	// Reopening appends.
	l2, _ := Open(path)
	l2.Record(context.Background(), Entry{User: "v", Outcome: OutcomeDenied})
	l2.Close()
	data, _ := os.ReadFile(path)
	if strings.Count(string(data), "\n") != 1601 {
		t.Fatal("Open truncated the log")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteError(t *testing.T) {
	l := New(failWriter{})
	if err := l.Record(context.Background(), Entry{User: "u"}); err == nil {
		t.Fatal("write error not returned")
	}
	if l.Err() == nil {
		t.Fatal("write error not kept")
	}
}
