package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"
)

// as connects and identifies itself with set_ugi, as Hive and Spark clients do.
func as(t *testing.T, addr, user string, groups ...string) *hm.ThriftHiveMetastoreClient {
	t.Helper()
	c := client(t, addr)
	if _, err := c.SetUgi(context.Background(), user, groups); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPolicyEndToEnd: the example policy, applied with the CLI to a running server,
// enforced per user and engine profile.
func TestPolicyEndToEnd(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "propolis.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir: %s
policy:
  enabled: true
  poll_interval: 100ms
  default_profile: spark
  profiles:
    - {name: spark, dialect: hive, trusted: true}
    - {name: trino, dialect: trino, trusted: true, listen: "127.0.0.1:0"}
    - {name: notebook, dialect: hive, trusted: false, listen: "127.0.0.1:0"}
`, data)), 0o644)
	p := start(t, data, "--config", cfgPath)
	addrs := p.addrs // one Thrift listener per profile, from the ready file

	// Before any policy is applied, everything is denied (fail closed).
	svc := as(t, p.thrift, "propolis")
	if err := svc.CreateDatabase(ctx, &hm.Database{Name: "sales"}); err == nil {
		t.Fatal("a write succeeded with no policy in force")
	}
	out, err := exec.Command(bin, "policy", "apply", "--config", cfgPath, "-f", "../../policy/testdata/good/sales.yaml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "policy version 1 in force") {
		t.Fatalf("policy apply: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for svc.CreateDatabase(ctx, &hm.Database{Name: "sales"}) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the applied policy was not picked up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	cols := func(names ...string) []*hm.FieldSchema {
		var fs []*hm.FieldSchema
		for _, n := range names {
			typ := "string"
			if n == "id" {
				typ = "bigint"
			}
			fs = append(fs, &hm.FieldSchema{Name: n, Type: typ})
		}
		return fs
	}
	for _, tb := range []*hm.Table{
		{DbName: "sales", TableName: "customers", TableType: "MANAGED_TABLE", Sd: &hm.StorageDescriptor{Cols: cols("id", "email", "phone"), SerdeInfo: &hm.SerDeInfo{}},
			PartitionKeys: cols("region")},
		{DbName: "sales", TableName: "payments", TableType: "MANAGED_TABLE", Sd: &hm.StorageDescriptor{Cols: cols("id", "card"), SerdeInfo: &hm.SerDeInfo{}}},
	} {
		if err := svc.CreateTable(ctx, tb); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.AppendPartition(ctx, "sales", "customers", []string{"EU"}); err != nil {
		t.Fatal(err)
	}

	alice := as(t, p.thrift, "alice")
	frank := as(t, p.thrift, "frank")
	mallory := as(t, p.thrift, "mallory")
	aliceTrino := as(t, addrs["thrift_trino"], "alice")
	aliceNotebook := as(t, addrs["thrift_notebook"], "alice")

	// Listings show only what each may see.
	for _, tc := range []struct {
		who  string
		c    *hm.ThriftHiveMetastoreClient
		want string
	}{
		{"alice", alice, "customers"},
		{"frank", frank, "customers,payments"},
	} {
		got, err := tc.c.GetAllTables(ctx, "sales")
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("%s: get_all_tables = %v, %v; want %s", tc.who, got, err, tc.want)
		}
	}
	dbs, _ := mallory.GetAllDatabases(ctx)
	if strings.Join(dbs, ",") != "default" {
		t.Errorf("mallory sees databases %v", dbs)
	}

	// A hidden table and a missing one are indistinguishable.
	_, hidden := alice.GetTable(ctx, "sales", "payments")
	_, missing := alice.GetTable(ctx, "sales", "nosuch")
	var h, m *hm.NoSuchObjectException
	if !errors.As(hidden, &h) || !errors.As(missing, &m) ||
		strings.Replace(h.Message, "payments", "X", 1) != strings.Replace(m.Message, "nosuch", "X", 1) {
		t.Errorf("hidden %v vs missing %v", hidden, missing)
	}

	// Spark (trusted, hive dialect): a view with the masks, over a per-caller raw alias.
	v, err := alice.GetTable(ctx, "sales", "customers")
	if err != nil {
		t.Fatal(err)
	}
	if v.TableType != "VIRTUAL_VIEW" || !strings.Contains(v.ViewExpandedText, "sha2(") || !strings.Contains(v.ViewExpandedText, "__raw_") {
		t.Fatalf("alice's customers (spark) = %s: %s", v.TableType, v.ViewExpandedText)
	}
	alias := v.ViewExpandedText[strings.Index(v.ViewExpandedText, "customers__raw_"):]
	alias = alias[:len("customers__raw_")+16]
	raw, err := alice.GetTable(ctx, "sales", alias)
	if err != nil || raw.TableType != "MANAGED_TABLE" || raw.Sd.Location == "" {
		t.Fatalf("alice's alias %s: %v %v", alias, raw, err)
	}
	if _, err := mallory.GetTable(ctx, "sales", alias); err == nil {
		t.Fatal("another user resolved alice's alias")
	}
	if _, err := alice.GetPartitionNames(ctx, "sales", alias, -1); err != nil {
		t.Fatalf("partitions through the alias: %v", err)
	}
	// The protected table's own partitions and locations are not served to alice.
	if _, err := alice.GetPartitions(ctx, "sales", "customers", -1); err == nil {
		t.Fatal("alice got the raw partitions of a protected table")
	}

	// Trino (trusted): a definer view owned by the service principal; the principal reads raw.
	tv, err := aliceTrino.GetTable(ctx, "sales", "customers")
	if err != nil || !strings.HasPrefix(tv.ViewOriginalText, "/* Presto View: ") || tv.Owner != "propolis" {
		t.Fatalf("alice's customers (trino) = %+v, %v", tv, err)
	}
	svcTrino := as(t, addrs["thrift_trino"], "propolis")
	if rt, err := svcTrino.GetTable(ctx, "sales", "customers"); err != nil || rt.TableType != "MANAGED_TABLE" {
		t.Fatalf("the service principal's customers = %v, %v", rt, err)
	}
	// The view reads the raw table under its definer name: only the definer resolves it.
	if rt, err := svcTrino.GetTable(ctx, "sales", "customers__propolis_raw"); err != nil || rt.TableType != "MANAGED_TABLE" {
		t.Fatalf("the definer's raw name = %v, %v", rt, err)
	}
	if _, err := svcTrino.GetPartitionNames(ctx, "sales", "customers__propolis_raw", -1); err != nil {
		t.Fatalf("the definer's partitions: %v", err)
	}
	if _, err := aliceTrino.GetTable(ctx, "sales", "customers__propolis_raw"); err == nil {
		t.Fatal("alice resolved the definer's raw name")
	}

	// An untrusted engine gets no protected table, and is told why.
	if _, err := aliceNotebook.GetTable(ctx, "sales", "customers"); err == nil || !strings.Contains(err.Error(), "worker") {
		t.Fatalf("untrusted engine: %v", err)
	}

	// Finance reads raw; writes follow privileges.
	if ft, err := frank.GetTable(ctx, "sales", "payments"); err != nil || ft.TableType != "MANAGED_TABLE" {
		t.Fatalf("frank's payments: %v %v", ft, err)
	}
	if err := alice.DropTable(ctx, "sales", "customers", true); err == nil {
		t.Fatal("alice dropped a table")
	}
	if _, err := svc.GetTable(ctx, "sales", "customers"); err != nil {
		t.Fatal("the table is gone after a denied drop")
	}

	// explain shows the decision and what each engine gets.
	out, err = exec.Command(bin, "policy", "explain", "--config", cfgPath, "--user", "alice", "--table", "sales.customers").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "engine trino") || !strings.Contains(string(out), "sha256") {
		t.Fatalf("explain: %v\n%s", err, out)
	}

	// The audit log recorded decisions, without data values.
	audit, _ := os.ReadFile(filepath.Join(data, "audit.jsonl"))
	if !strings.Contains(string(audit), `"alice"`) || !strings.Contains(string(audit), "sales.customers") {
		t.Fatalf("audit log: %s", audit)
	}
}
