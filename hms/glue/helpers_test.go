package glue

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/compat-tests/moto/mototest"
	"github.com/propolis/propolis/internal/errs"
)

// motoLacks explains each Glue API moto's server does not implement; tests of those APIs
// prove the limitation (the call fails, never with NotFound) and skip the rest.
const (
	motoNoFunctions = "moto[server] %s does not implement Glue's user-defined-function API " +
		"(Create/Get/GetUserDefinedFunctions answer HTTP 500 'Internal Server Error'): the code path is exercised only against real Glue"
	motoNoStats = "moto[server] %s does not implement Glue's column statistics API " +
		"(Get/Update/DeleteColumnStatisticsForTable/Partition answer HTTP 500 'Internal Server Error'): the code path is exercised only against real Glue"
)

var seq atomic.Int64

// uniq makes a name unique within one moto server.
func uniq(prefix string) string { return fmt.Sprintf("%s_%d", prefix, seq.Add(1)) }

type env struct {
	t        *testing.T
	ctx      context.Context
	c        *Client
	endpoint string
}

// newEnv starts a moto server for the test and a client on it.
func newEnv(t *testing.T, mod ...func(*Config)) *env {
	t.Helper()
	ep := mototest.Start(t)
	return clientOn(t, ep, mod...)
}

func clientOn(t *testing.T, ep string, mod ...func(*Config)) *env {
	t.Helper()
	cfg := Config{
		Name: "glue-test", Region: mototest.Region, Endpoint: ep,
		AccessKeyID: mototest.AccessKeyID, SecretAccessKey: mototest.SecretAccessKey,
		CallTimeout: 20 * time.Second, MaxAttempts: 2,
	}
	for _, m := range mod {
		m(&cfg)
	}
	var log *slog.Logger
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	c, err := New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, c: c, endpoint: ep}
}

func wantKind(t *testing.T, what string, err error, k errs.Kind) {
	t.Helper()
	if got := errs.KindOf(err); got != k {
		t.Fatalf("%s: want %s error, got %v (%v)", what, k, got, err)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (e *env) db(name string) string {
	e.t.Helper()
	must(e.t, "create database "+name, e.c.CreateDatabase(e.ctx, &hm.Database{Name: name, LocationUri: "s3://bucket/" + name + ".db"}))
	return name
}

func simpleTable(db, name string, keys ...*hm.FieldSchema) *hm.Table {
	return &hm.Table{
		DbName: db, TableName: name, Owner: "alice", TableType: "EXTERNAL_TABLE",
		Sd: &hm.StorageDescriptor{
			Cols:         []*hm.FieldSchema{{Name: "id", Type: "bigint", Comment: "the id"}, {Name: "v", Type: "string"}},
			Location:     "s3://bucket/" + db + "/" + name,
			InputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
			OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
			SerdeInfo:    &hm.SerDeInfo{SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", Parameters: map[string]string{"serialization.format": "1"}},
		},
		PartitionKeys: keys,
		Parameters:    map[string]string{"EXTERNAL": "TRUE"},
	}
}

func key(name, typ string) *hm.FieldSchema { return &hm.FieldSchema{Name: name, Type: typ} }
