package embedded

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/internal/errs"
)

// TestConcurrentWriters runs writers through two Stores on one catalog (two processes' worth
// of connections) and checks that no acknowledged write is lost.
func TestConcurrentWriters(t *testing.T) {
	const workers, perWorker = 8, 15
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			open := b.fresh(t)
			stores := []*Store{open(t, Config{}), open(t, Config{})}
			must(t, stores[0].CreateDatabase(ctx, &hm.Database{Name: "db"}))
			must(t, stores[0].CreateTable(ctx, table("db", "shared", "w", "i")))

			start := time.Now()
			var wg sync.WaitGroup
			errc := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					s := stores[w%2]
					for i := 0; i < perWorker; i++ {
						p := part(fmt.Sprint(w), fmt.Sprint(i))
						if _, err := s.AddPartitions(ctx, "db", "shared", []*hm.Partition{p}, false); err != nil {
							errc <- fmt.Errorf("worker %d partition %d: %w", w, i, err)
							return
						}
						if err := s.CreateTable(ctx, table("db", fmt.Sprintf("t_%d_%d", w, i))); err != nil {
							errc <- fmt.Errorf("worker %d table %d: %w", w, i, err)
							return
						}
					}
				}(w)
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Error(err)
			}
			elapsed := time.Since(start)

			n, err := stores[1].CountPartitions(ctx, "db", "shared", hms.PartitionQuery{})
			must(t, err)
			tables, err := stores[0].ListTables(ctx, "db")
			must(t, err)
			if n != workers*perWorker || len(tables) != workers*perWorker+1 {
				t.Fatalf("%d partitions, %d tables; want %d and %d", n, len(tables), workers*perWorker, workers*perWorker+1)
			}
			evs, err := stores[0].NextEvents(ctx, 0, 10000)
			must(t, err)
			for i := 1; i < len(evs); i++ {
				if evs[i].EventId != evs[i-1].EventId+1 {
					t.Fatalf("event ids not dense: %d then %d", evs[i-1].EventId, evs[i].EventId)
				}
			}
			t.Logf("%s: %d writes by %d goroutines over 2 stores in %v (%.0f writes/s)", b.name,
				2*workers*perWorker, workers, elapsed, float64(2*workers*perWorker)/elapsed.Seconds())
		})
	}
}

// TestConcurrentLocks has two Stores compete for one exclusive lock; at every moment at most one
// holder exists.
func TestConcurrentLocks(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			open := b.fresh(t)
			stores := []*Store{open(t, Config{}), open(t, Config{})}
			var (
				mu      sync.Mutex
				holders int
				wg      sync.WaitGroup
			)
			for w := 0; w < 6; w++ {
				wg.Add(1)
				go func(s *Store) {
					defer wg.Done()
					for i := 0; i < 5; i++ {
						r, err := s.Lock(ctx, lockReq(tblLock(excl, "db", "t")))
						if err != nil {
							t.Error(err)
							return
						}
						for r.State != hm.LockState_ACQUIRED {
							time.Sleep(2 * time.Millisecond)
							if r, err = s.CheckLock(ctx, r.Lockid); err != nil {
								t.Error(err)
								return
							}
						}
						mu.Lock()
						holders++
						if holders > 1 {
							t.Error("two holders of one exclusive lock")
						}
						mu.Unlock()
						time.Sleep(time.Millisecond)
						mu.Lock()
						holders--
						mu.Unlock()
						if err := s.Unlock(ctx, r.Lockid); err != nil {
							t.Error(err)
							return
						}
					}
				}(stores[w%2])
			}
			wg.Wait()
		})
	}
}

const childEnv = "PROPOLIS_EMBEDDED_DURABILITY_CHILD"

// TestDurabilityChild is the child half of TestDurability: it writes until killed, printing
// one line per acknowledged write.
func TestDurabilityChild(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("runs only as TestDurability's child process")
	}
	ctx := context.Background()
	s, err := Open(ctx, Config{Driver: "sqlite", DSN: path, Warehouse: "file://" + filepath.Dir(path) + "/wh"}, nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	if err := s.CreateTable(ctx, table("default", "durable", "n")); err != nil && errs.KindOf(err) != errs.KindExists {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fmt.Println("ok table")
	for i := 0; ; i++ {
		if _, err := s.AddPartitions(ctx, "default", "durable", []*hm.Partition{part(fmt.Sprint(i))}, false); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("ok", i)
	}
}

// TestDurability kills a writing process with SIGKILL and checks that every write it
// acknowledged is in the store afterwards.
func TestDurability(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("child")
	}
	path := filepath.Join(t.TempDir(), "catalog.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDurabilityChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())

	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	tableAcked := false
	deadline := time.Now().Add(30 * time.Second)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "ok table":
			tableAcked = true
		case strings.HasPrefix(line, "ok "):
			acked[strings.TrimPrefix(line, "ok ")] = true
		case strings.HasPrefix(line, "error"):
			t.Fatalf("child: %s", line)
		}
		if len(acked) >= 200 || time.Now().After(deadline) {
			break
		}
	}
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	// Lines written before the kill but not yet read are acknowledged writes too.
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "ok ") && line != "ok table" {
			acked[strings.TrimPrefix(line, "ok ")] = true
		}
	}
	cmd.Wait() //nolint:errcheck // killed on purpose
	if !tableAcked || len(acked) == 0 {
		t.Fatalf("child acknowledged nothing (table %v, %d partitions)", tableAcked, len(acked))
	}

	s := mustOpen(t, Config{Driver: "sqlite", DSN: path, Warehouse: "file://" + filepath.Dir(path) + "/wh"})
	ctx := context.Background()
	names, err := s.ListPartitionNames(ctx, "default", "durable", hms.PartitionQuery{})
	must(t, err)
	have := map[string]bool{}
	for _, n := range names {
		have[strings.TrimPrefix(n, "n=")] = true
	}
	for v := range acked {
		if !have[v] {
			t.Errorf("acknowledged partition n=%s lost after SIGKILL", v)
		}
	}
	t.Logf("%d acknowledged writes, %d partitions found after SIGKILL", len(acked), len(names))
}
