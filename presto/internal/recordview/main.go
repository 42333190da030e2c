// Command recordview records the metastore table a real Trino stores for a view, as the JSON
// golden fixture presto's tests compare ViewTable against (presto/testdata/trino-view-*.json).
//
//	recordview -addr 127.0.0.1:9083 -create-base rec.customers   # the base table, over Thrift
//	(then, in Trino: CREATE VIEW hive.rec.v ... AS SELECT ... FROM hive.rec.customers)
//	recordview -addr 127.0.0.1:9083 -get rec.v > presto/testdata/trino-view-v.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"
)

// baseColumns is one column per Hive type, the table the recorded views select from.
var baseColumns = [][2]string{
	{"id", "bigint"}, {"name", "string"}, {"email", "varchar(100)"}, {"code", "char(4)"},
	{"age", "int"}, {"small", "smallint"}, {"tiny", "tinyint"}, {"price", "decimal(10,2)"},
	{"score", "double"}, {"ratio", "float"}, {"born", "date"}, {"seen", "timestamp"},
	{"active", "boolean"}, {"raw", "binary"}, {"tags", "array<string>"},
	{"attrs", "map<string,int>"}, {"addr", "struct<city:string,zip:string>"}, {"region", "string"},
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9083", "metastore address")
	get := flag.String("get", "", "db.table to read and print as JSON")
	create := flag.String("create-base", "", "db.table to create as the Parquet base table")
	location := flag.String("location", "", "location of the base table")
	flag.Parse()
	conf := &athrift.TConfiguration{ConnectTimeout: 5 * time.Second, SocketTimeout: 30 * time.Second}
	tr := athrift.NewTBufferedTransport(athrift.NewTSocketConf(*addr, conf), 8192)
	if err := tr.Open(); err != nil {
		fail(err)
	}
	defer tr.Close()
	p := athrift.NewTBinaryProtocolConf(tr, conf)
	c := hm.NewThriftHiveMetastoreClient(athrift.NewTStandardClient(p, p))
	ctx := context.Background()
	switch {
	case *create != "":
		db, name, _ := strings.Cut(*create, ".")
		var cols []*hm.FieldSchema
		for _, col := range baseColumns {
			cols = append(cols, &hm.FieldSchema{Name: col[0], Type: col[1]})
		}
		t := &hm.Table{
			DbName: db, TableName: name, Owner: "recordview", TableType: "EXTERNAL_TABLE",
			Parameters: map[string]string{"EXTERNAL": "TRUE"},
			Sd: &hm.StorageDescriptor{
				Cols: cols, Location: *location,
				InputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
				OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
				SerdeInfo:    &hm.SerDeInfo{SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", Parameters: map[string]string{}},
			},
		}
		if err := c.CreateTable(ctx, t); err != nil {
			fail(err)
		}
	case *get != "":
		db, name, _ := strings.Cut(*get, ".")
		t, err := c.GetTable(ctx, db, name)
		if err != nil {
			fail(err)
		}
		out, err := json.MarshalIndent(t, "", "  ")
		if err != nil {
			fail(err)
		}
		fmt.Println(string(out))
	default:
		flag.Usage()
		os.Exit(2)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "recordview:", err)
	os.Exit(1)
}
