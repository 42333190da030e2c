package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	hm "github.com/beltran/gohive/hive_metastore"
)

type doctorReport struct {
	Results []struct {
		Status, Call, Detail, Fix string
	}
	Passed, Failed, Skipped int
}

func doctorJSON(t *testing.T, args ...string) (doctorReport, int, string) {
	t.Helper()
	out, stderr, code := run(t, append([]string{"doctor", "--output", "json", "--timeout", "5s"}, args...)...)
	var r doctorReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("doctor %v: exit %d, output is not JSON (%v):\n%s\n%s", args, code, err, out, stderr)
	}
	return r, code, out
}

// Against Propolis with a partitioned table, every call of every engine passes.
func TestDoctorPasses(t *testing.T) {
	ctx := context.Background()
	p := start(t, t.TempDir())
	c := client(t, p.thrift)
	if err := c.CreateDatabase(ctx, &hm.Database{Name: "sales"}); err != nil {
		t.Fatal(err)
	}
	tbl := &hm.Table{DbName: "sales", TableName: "orders", TableType: "EXTERNAL_TABLE", Parameters: map[string]string{"EXTERNAL": "TRUE"},
		Sd: &hm.StorageDescriptor{Cols: []*hm.FieldSchema{{Name: "id", Type: "bigint"}}, Location: "file:///tmp/orders",
			SerdeInfo: &hm.SerDeInfo{SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}},
		PartitionKeys: []*hm.FieldSchema{{Name: "day", Type: "string"}, {Name: "hour", Type: "int"}}}
	if err := c.CreateTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := c.AppendPartition(ctx, "sales", "orders", []string{"2024-01-0" + fmt.Sprint(i+1), fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, engine := range []string{"spark", "trino", "presto", "hive", "pyiceberg"} {
		r, code, out := doctorJSON(t, "--engine", engine, "--endpoint", "thrift://"+p.thrift, "--database", "sales")
		if code != 0 || r.Failed != 0 || r.Skipped != 0 || r.Passed < 7 {
			t.Errorf("%s: exit %d, %d passed, %d failed, %d skipped:\n%s", engine, code, r.Passed, r.Failed, r.Skipped, out)
		}
	}
	// The text report: one line per call, and the partition calls saw the table's partitions.
	out, _, code := run(t, "doctor", "--engine", "spark", "--endpoint", "thrift://"+p.thrift, "--table", "sales.orders")
	if code != 0 || !strings.Contains(out, "PASS  get_partition_names ") || !strings.Contains(out, "3 partitions") ||
		!strings.Contains(out, "13 passed, 0 failed, 0 skipped") {
		t.Errorf("text report:\n%s", out)
	}
}

// A deliberately broken endpoint gives a failed line with a fix, and exit status 1.
func TestDoctorBrokenEndpoints(t *testing.T) {
	// Nothing listens.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	r, code, out := doctorJSON(t, "--engine", "spark", "--endpoint", "thrift://"+closed)
	if code != 1 || r.Failed != 1 || len(r.Results) != 1 || !strings.Contains(r.Results[0].Fix, "nothing listens") {
		t.Errorf("closed port: exit %d\n%s", code, out)
	}

	// A server that accepts and hangs up without answering (not a metastore, or a TLS/SASL port).
	hangup, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hangup.Close()
	go func() {
		for {
			conn, err := hangup.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	r, code, out = doctorJSON(t, "--engine", "trino", "--endpoint", "thrift://"+hangup.Addr().String())
	if code != 1 || r.Failed == 0 {
		t.Errorf("hang-up server: exit %d\n%s", code, out)
	}
	for _, res := range r.Results[1:] {
		// Partition calls are skipped: discovery found no table on a server that answers nothing.
		if res.Status == "PASS" || res.Status == "FAIL" && !strings.Contains(res.Fix, "connection broke") {
			t.Errorf("hang-up server: %+v", res)
		}
	}

	for _, args := range [][]string{
		{"doctor"},
		{"doctor", "--engine", "flink"},
		{"doctor", "--engine", "spark", "--endpoint", "localhost:9083"},
		{"doctor", "--engine", "spark", "--output", "yaml"},
	} {
		if _, stderr, code := run(t, args...); code != 2 {
			t.Errorf("propolis %v: exit %d, want 2 (usage): %s", args, code, stderr)
		}
	}
}
