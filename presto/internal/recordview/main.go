// Command recordview records the metastore table a real Trino stores for a view, as the JSON
// golden fixture presto's tests compare ViewTable against (presto/testdata/trino-view-*.json).
//
//	recordview -addr 127.0.0.1:9083 -create-base rec.customers   # the base table, over Thrift
//	(then, in Trino: CREATE VIEW hive.rec.v ... AS SELECT ... FROM hive.rec.customers)
//	recordview -addr 127.0.0.1:9083 -get rec.v > presto/testdata/trino-view-v.json
//
// It also writes the other way, to check that Trino accepts what Propolis builds:
//
//	recordview -addr 127.0.0.1:9083 -put-masked rec.customers_policy -base rec.customers -owner alice
//
// creates, with presto.ViewTable, a definer view over the base table with the hash and
// show_last(4) masks and a region row filter rendered by policy/expr; then query it in Trino.
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

	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/presto"
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
	putMasked := flag.String("put-masked", "", "db.view to create as a Propolis policy view over -base")
	base := flag.String("base", "", "db.table the policy view reads")
	owner := flag.String("owner", "propolis", "definer of the policy view")
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
	case *putMasked != "":
		db, name, _ := strings.Cut(*putMasked, ".")
		bdb, bname, _ := strings.Cut(*base, ".")
		bt, err := c.GetTable(ctx, bdb, bname)
		if err != nil {
			fail(err)
		}
		t, err := policyView(db, name, bt, *owner)
		if err != nil {
			fail(err)
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

// policyView renders the masks and filter with policy/expr and wraps them in a Trino view.
func policyView(db, name string, base *hm.Table, owner string) (*hm.Table, error) {
	masks := map[string]string{"email": "hash", "name": "show_last(4)", "price": "round(0)", "born": "year"}
	cols := map[string]string{}
	for _, f := range base.Sd.Cols {
		cols[f.Name] = f.Type
	}
	env := expr.RenderEnv{User: "bob", Groups: []string{"eu_analysts"}}
	var sel []string
	var vcols []presto.Column
	for _, f := range base.Sd.Cols {
		var sql, typ string
		if spec, ok := masks[f.Name]; ok {
			e, err := expr.Mask(spec, f.Name, f.Type)
			if err != nil {
				return nil, err
			}
			if sql, err = expr.Render(e, expr.Trino, env); err != nil {
				return nil, err
			}
			typ = e.Type().TrinoName()
		} else {
			var err error
			if typ, err = presto.TrinoType(f.Type); err != nil {
				return nil, err
			}
			sql = `"` + f.Name + `"`
		}
		sel = append(sel, sql+` AS "`+f.Name+`"`)
		vcols = append(vcols, presto.Column{Name: f.Name, Type: typ})
	}
	filter, err := expr.Parse("region IN ('EU') OR NOT is_member('eu_analysts')")
	if err != nil {
		return nil, err
	}
	if _, err := expr.Check(filter, cols); err != nil {
		return nil, err
	}
	where, err := expr.Render(filter, expr.Trino, env)
	if err != nil {
		return nil, err
	}
	v := presto.View{
		OriginalSQL: "SELECT " + strings.Join(sel, ", ") + ` FROM "hive"."` + base.DbName + `"."` + base.TableName + `" WHERE ` + where,
		Catalog:     "hive", Schema: db, Columns: vcols, Comment: "policy view", Owner: owner,
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return presto.ViewTable(db, name, v), nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "recordview:", err)
	os.Exit(1)
}
