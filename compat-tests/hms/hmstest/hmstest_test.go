package hmstest_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/compat-tests/hms/hmstest"
)

// TestRealMetastore proves the harness: a real Hive metastore starts, and gohive's client (the
// one Propolis's own tests use) creates a database and a partitioned table in it and reads them back.
func TestRealMetastore(t *testing.T) {
	dir := t.TempDir()
	addr := hmstest.Start(t, dir)

	conf := &athrift.TConfiguration{ConnectTimeout: 5 * time.Second, SocketTimeout: 60 * time.Second}
	tr := athrift.NewTBufferedTransport(athrift.NewTSocketConf(addr, conf), 8192)
	if err := tr.Open(); err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	p := athrift.NewTBinaryProtocolConf(tr, conf)
	c := hm.NewThriftHiveMetastoreClient(athrift.NewTStandardClient(p, p))
	ctx := context.Background()

	version, err := c.GetVersion(ctx)
	if err != nil {
		t.Fatalf("getVersion: %v", err)
	}
	t.Logf("fb303 getVersion: %q", version)

	warehouse := "file://" + filepath.Join(dir, "ext")
	if err := c.CreateDatabase(ctx, &hm.Database{
		Name: "hmstest_db", Description: "made by hmstest", LocationUri: warehouse + "/hmstest_db.db",
		Parameters: map[string]string{"owner.team": "propolis"},
	}); err != nil {
		t.Fatalf("create_database: %v", err)
	}
	dbs, err := c.GetAllDatabases(ctx)
	if err != nil {
		t.Fatalf("get_all_databases: %v", err)
	}
	if !slices.Contains(dbs, "default") || !slices.Contains(dbs, "hmstest_db") {
		t.Fatalf("get_all_databases = %v, want default and hmstest_db", dbs)
	}
	db, err := c.GetDatabase(ctx, "hmstest_db")
	if err != nil {
		t.Fatalf("get_database: %v", err)
	}
	if db.Description != "made by hmstest" || db.Parameters["owner.team"] != "propolis" {
		t.Fatalf("get_database = %+v", db)
	}

	tableType := "EXTERNAL_TABLE"
	tbl := &hm.Table{
		DbName: "hmstest_db", TableName: "events", Owner: "propolis", TableType: tableType,
		Parameters: map[string]string{"EXTERNAL": "TRUE", "comment": "partitioned parquet"},
		Sd: &hm.StorageDescriptor{
			Cols: []*hm.FieldSchema{
				{Name: "id", Type: "bigint"}, {Name: "payload", Type: "string"}, {Name: "amount", Type: "double"},
			},
			Location:     warehouse + "/hmstest_db.db/events",
			InputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
			OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
			SerdeInfo: &hm.SerDeInfo{
				SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
				Parameters:       map[string]string{"serialization.format": "1"},
			},
		},
		PartitionKeys: []*hm.FieldSchema{{Name: "ds", Type: "string"}, {Name: "region", Type: "string"}},
	}
	if err := c.CreateTable(ctx, tbl); err != nil {
		t.Fatalf("create_table: %v", err)
	}
	part := &hm.Partition{
		DbName: "hmstest_db", TableName: "events", Values: []string{"2024-01-01", "eu"},
		Sd: &hm.StorageDescriptor{
			Cols: tbl.Sd.Cols, Location: tbl.Sd.Location + "/ds=2024-01-01/region=eu",
			InputFormat: tbl.Sd.InputFormat, OutputFormat: tbl.Sd.OutputFormat, SerdeInfo: tbl.Sd.SerdeInfo,
		},
		Parameters: map[string]string{},
	}
	if _, err := c.AddPartition(ctx, part); err != nil {
		t.Fatalf("add_partition: %v", err)
	}

	// Hive 4 removed get_table (it answers "Invalid method name"): clients use get_table_req.
	res, err := c.GetTableReq(ctx, &hm.GetTableRequest{DbName: "hmstest_db", TblName: "events"})
	if err != nil {
		t.Fatalf("get_table_req: %v", err)
	}
	got := res.Table
	if got.TableType != tableType || len(got.Sd.Cols) != 3 || got.Sd.Cols[2].Name != "amount" ||
		len(got.PartitionKeys) != 2 || got.PartitionKeys[1].Name != "region" || got.Parameters["comment"] != "partitioned parquet" {
		t.Fatalf("get_table returned %+v (sd %+v)", got, got.Sd)
	}
	names, err := c.GetPartitionNames(ctx, "hmstest_db", "events", -1)
	if err != nil {
		t.Fatalf("get_partition_names: %v", err)
	}
	if !slices.Equal(names, []string{"ds=2024-01-01/region=eu"}) {
		t.Fatalf("get_partition_names = %v", names)
	}
	// The real metastore's error for a missing table: what Propolis must answer too.
	if _, err := c.GetTableReq(ctx, &hm.GetTableRequest{DbName: "hmstest_db", TblName: "nope"}); err == nil {
		t.Fatal("get_table_req of a missing table succeeded")
	} else if _, ok := err.(*hm.NoSuchObjectException); !ok {
		t.Fatalf("get_table_req of a missing table: %T %v, want NoSuchObjectException", err, err)
	}
}
