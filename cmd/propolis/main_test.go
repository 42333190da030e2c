package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "propolis-bin")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "propolis")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building propolis: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd    *exec.Cmd
	thrift string
	admin  string
	addrs  map[string]string
	stderr *strings.Builder
}

func start(t *testing.T, dataDir string, args ...string) *proc {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready.json")
	all := append([]string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--data-dir", dataDir, "--ready-file", ready}, args...)
	cmd := exec.Command(bin, all...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: &stderr}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(ready)
		if err == nil {
			var addrs map[string]string
			if err := json.Unmarshal(b, &addrs); err != nil {
				t.Fatalf("ready file: %v", err)
			}
			p.thrift, p.admin, p.addrs = addrs["thrift"], addrs["admin"], addrs
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("propolis did not become ready; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func client(t *testing.T, addr string) *hm.ThriftHiveMetastoreClient {
	t.Helper()
	conf := &athrift.TConfiguration{ConnectTimeout: 5 * time.Second, SocketTimeout: 10 * time.Second}
	tr := athrift.NewTBufferedTransport(athrift.NewTSocketConf(addr, conf), 4096)
	if err := tr.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	p := athrift.NewTBinaryProtocolConf(tr, conf)
	return hm.NewThriftHiveMetastoreClient(athrift.NewTStandardClient(p, p))
}

// An acknowledged write survives kill -9, and a restarted server serves it.
func TestServeSurvivesKill9(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	p := start(t, data)
	c := client(t, p.thrift)
	if err := c.CreateDatabase(ctx, &hm.Database{Name: "sales"}); err != nil {
		t.Fatal(err)
	}
	tbl := &hm.Table{DbName: "sales", TableName: "orders", TableType: "MANAGED_TABLE",
		Sd:            &hm.StorageDescriptor{Cols: []*hm.FieldSchema{{Name: "id", Type: "bigint"}}, SerdeInfo: &hm.SerDeInfo{}},
		PartitionKeys: []*hm.FieldSchema{{Name: "day", Type: "int"}}}
	if err := c.CreateTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := c.AppendPartition(ctx, "sales", "orders", []string{fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()

	p2 := start(t, data)
	c2 := client(t, p2.thrift)
	names, err := c2.GetPartitionNames(ctx, "sales", "orders", -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 20 {
		t.Fatalf("after kill -9: %d of 20 acknowledged partitions", len(names))
	}
	// Warehouse directories were created under the data dir.
	if _, err := os.Stat(filepath.Join(data, "warehouse", "sales.db", "orders", "day=19")); err != nil {
		t.Errorf("partition directory: %v", err)
	}
}

func TestAdminEndpoints(t *testing.T) {
	p := start(t, t.TempDir())
	c := client(t, p.thrift)
	if _, err := c.GetAllDatabases(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"/healthz", "ok"},
		{"/readyz", "ok"},
		{"/metrics", `propolis_thrift_calls_total{method="get_all_databases",outcome="ok"} 1`},
	} {
		resp, err := http.Get("http://" + p.admin + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d, body lacks %q", tc.path, resp.StatusCode, tc.want)
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listen: 127.0.0.1:9083\nno_such_key: 1\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown config key", []string{"serve", "--config", bad}, "no_such_key"},
		{"missing config file", []string{"serve", "--config", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		{"config check bad", []string{"config", "check", bad}, "no_such_key"},
		{"listen in use", nil, "listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args == nil {
				p := start(t, t.TempDir())
				args = []string{"serve", "--listen", p.thrift, "--admin-listen", "", "--data-dir", t.TempDir()}
			}
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err == nil {
				t.Fatalf("propolis %v succeeded:\n%s", args, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("error output does not mention %q:\n%s", tc.want, out)
			}
		})
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "propolis ") {
		t.Fatalf("version: %v %s", err, out)
	}
}

// A reload swaps the federation without dropping open connections, and a bad configuration
// is refused while the running one keeps serving.
func TestReloadKeepsConnections(t *testing.T) {
	ctx := context.Background()
	upstream := start(t, t.TempDir())
	uc := client(t, upstream.thrift)
	if err := uc.CreateDatabase(ctx, &hm.Database{Name: "crm"}); err != nil {
		t.Fatal(err)
	}

	cfgPath := filepath.Join(t.TempDir(), "propolis.yaml")
	write := func(body string) {
		if err := os.WriteFile(cfgPath, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("log: {level: warn}\n")
	p := start(t, t.TempDir(), "--config", cfgPath)
	c := client(t, p.thrift)
	list := func() string {
		dbs, err := c.GetAllDatabases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(dbs, ",")
	}
	if got := list(); got != "default" {
		t.Fatalf("before reload: %s", got)
	}
	reload := func() (int, string) {
		resp, err := http.Post("http://"+p.admin+"/-/reload", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	write(fmt.Sprintf(`federation:
  backends:
    - name: up
      type: hms
      prefix: up_
      hms: {address: %q}
`, upstream.thrift))
	if code, body := reload(); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	if got := list(); got != "default,up_crm,up_default" {
		t.Fatalf("after reload, on the same connection: %s", got)
	}

	write("federation:\n  backends:\n    - {name: broken, type: nosuch}\n")
	code, body := reload()
	if code != 400 || !strings.Contains(body, "nosuch") {
		t.Fatalf("bad config reload: %d %s", code, body)
	}
	if got := list(); got != "default,up_crm,up_default" {
		t.Fatalf("a refused reload changed what is served: %s", got)
	}

	write("log: {level: warn}\n")
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for list() != "default" {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload: %s", list())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
