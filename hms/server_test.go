package hms_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/embedded"
	pthrift "github.com/propolis/propolis/thrift"
)

// env is a Propolis server on 127.0.0.1:0 over a fresh embedded catalog, and a gohive client.
type env struct {
	c         *hm.ThriftHiveMetastoreClient
	addr      string
	warehouse string
	store     hms.Backend
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func serveBackend(t *testing.T, b hms.Backend, warehouse string) string {
	return serveGuarded(t, b, warehouse, nil)
}

// newGuardedServer serves e's catalog again, through g.
func newGuardedServer(t *testing.T, e *env, g hms.Guard) string {
	return serveGuarded(t, e.store, e.warehouse, g)
}

func serveGuarded(t *testing.T, b hms.Backend, warehouse string, g hms.Guard) string {
	t.Helper()
	h := hms.NewHandler(b, hms.HandlerConfig{
		Version:      "test",
		Warehouse:    warehouse,
		ConfigValues: map[string]string{"hive.metastore.warehouse.dir": warehouse},
		TrustSetUGI:  true,
	}, quietLog())
	h.SetGuard(g)
	srv := pthrift.NewServer(pthrift.Config{WrapOutput: hms.WireOutput}, hms.NewProcessor(h, quietLog()), quietLog(), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background(), ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	wh := "file://" + filepath.Join(dir, "warehouse")
	store, err := embedded.Open(context.Background(), embedded.Config{
		Driver: "sqlite", DSN: filepath.Join(dir, "catalog.db"), Warehouse: wh, LockTimeout: time.Minute,
	}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	addr := serveBackend(t, store, wh)
	return &env{c: dial(t, addr, false), addr: addr, warehouse: wh, store: store}
}

func dial(t *testing.T, addr string, framed bool) *hm.ThriftHiveMetastoreClient {
	t.Helper()
	conf := &athrift.TConfiguration{ConnectTimeout: 5 * time.Second, SocketTimeout: 30 * time.Second}
	var tr athrift.TTransport = athrift.NewTSocketConf(addr, conf)
	if framed {
		tr = athrift.NewTFramedTransportConf(tr, conf)
	} else {
		tr = athrift.NewTBufferedTransport(tr, 8192)
	}
	if err := tr.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	p := athrift.NewTBinaryProtocolConf(tr, conf)
	return hm.NewThriftHiveMetastoreClient(athrift.NewTStandardClient(p, p))
}

var ctx = context.Background()

func col(name, typ string) *hm.FieldSchema { return &hm.FieldSchema{Name: name, Type: typ} }

func parquetSD(location string, cols ...*hm.FieldSchema) *hm.StorageDescriptor {
	return &hm.StorageDescriptor{
		Cols:         cols,
		Location:     location,
		InputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
		OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
		SerdeInfo:    &hm.SerDeInfo{SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", Parameters: map[string]string{}},
	}
}

func salesTable(db, name string) *hm.Table {
	return &hm.Table{
		DbName: db, TableName: name, Owner: "alice", TableType: "MANAGED_TABLE",
		Sd:            parquetSD("", col("id", "bigint"), col("amount", "double"), col("email", "string")),
		PartitionKeys: []*hm.FieldSchema{col("region", "string"), col("day", "int")},
		Parameters:    map[string]string{"comment": "sales facts"},
	}
}

func part(db, tbl string, vals ...string) *hm.Partition {
	return &hm.Partition{DbName: db, TableName: tbl, Values: vals, Sd: parquetSD("")}
}

// wantErr asserts err is the Hive exception type of want (nil: no error) and mentions substr.
func wantErr(t *testing.T, what string, err error, want any, substr string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s: unexpected error %T: %v", what, err, err)
		}
		return
	}
	if err == nil {
		t.Fatalf("%s: no error, want %T", what, want)
	}
	if reflect.TypeOf(err) != reflect.TypeOf(want) {
		t.Fatalf("%s: error %T (%v), want %T", what, err, err, want)
	}
	if substr != "" && !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(substr)) {
		t.Fatalf("%s: error %q does not mention %q", what, err, substr)
	}
}

var (
	noSuchObject  = &hm.NoSuchObjectException{}
	alreadyExists = &hm.AlreadyExistsException{}
	invalidObject = &hm.InvalidObjectException{}
	invalidOp     = &hm.InvalidOperationException{}
	metaExc       = &hm.MetaException{}
)

func TestDatabases(t *testing.T) {
	e := newEnv(t)
	def, err := e.c.GetDatabase(ctx, "default")
	wantErr(t, "get default", err, nil, "")
	if def.LocationUri != e.warehouse {
		t.Errorf("default location = %q, want %q", def.LocationUri, e.warehouse)
	}
	for _, name := range []string{"sales", "Marketing", "sales_eu"} {
		wantErr(t, "create "+name, e.c.CreateDatabase(ctx, &hm.Database{Name: name, Description: "d " + name}), nil, "")
	}
	db, err := e.c.GetDatabase(ctx, "SALES")
	wantErr(t, "get SALES", err, nil, "")
	if db.Name != "sales" || db.LocationUri != e.warehouse+"/sales.db" {
		t.Errorf("sales = %s at %s, want sales at %s/sales.db", db.Name, db.LocationUri, e.warehouse)
	}
	cases := []struct {
		name string
		call func() error
		want any
		msg  string
	}{
		{"duplicate", func() error { return e.c.CreateDatabase(ctx, &hm.Database{Name: "sales"}) }, alreadyExists, "sales"},
		{"bad name", func() error { return e.c.CreateDatabase(ctx, &hm.Database{Name: "bad-name!"}) }, invalidObject, "bad-name"},
		{"get missing", func() error { _, err := e.c.GetDatabase(ctx, "nope"); return err }, noSuchObject, "nope"},
		{"get catalog-qualified", func() error { _, err := e.c.GetDatabase(ctx, "@hive#sales"); return err }, nil, ""},
		{"drop missing", func() error { return e.c.DropDatabase(ctx, "nope", true, false) }, noSuchObject, "nope"},
		{"drop default", func() error { return e.c.DropDatabase(ctx, "default", true, true) }, invalidOp, "default"},
		{"alter missing", func() error { return e.c.AlterDatabase(ctx, "nope", &hm.Database{Name: "nope"}) }, noSuchObject, "nope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(), tc.want, tc.msg) })
	}
	patterns := []struct {
		pattern string
		want    []string
	}{
		{"*", []string{"default", "marketing", "sales", "sales_eu"}},
		{"sales*", []string{"sales", "sales_eu"}},
		{"mark*|def*", []string{"default", "marketing"}},
		{"SALES", []string{"sales"}},
		{"none*", []string{}},
	}
	for _, p := range patterns {
		got, err := e.c.GetDatabases(ctx, p.pattern)
		wantErr(t, "get_databases "+p.pattern, err, nil, "")
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(p.want) {
			t.Errorf("get_databases(%q) = %v, want %v", p.pattern, got, p.want)
		}
	}
	all, err := e.c.GetAllDatabases(ctx)
	wantErr(t, "get_all_databases", err, nil, "")
	if len(all) != 4 {
		t.Errorf("get_all_databases = %v", all)
	}
	db.Description = "changed"
	db.Parameters = map[string]string{"k": "v"}
	wantErr(t, "alter", e.c.AlterDatabase(ctx, "sales", db), nil, "")
	db2, _ := e.c.GetDatabase(ctx, "sales")
	if db2.Description != "changed" || db2.Parameters["k"] != "v" {
		t.Errorf("alter lost: %+v", db2)
	}
	wantErr(t, "create table", e.c.CreateTable(ctx, salesTable("sales", "orders")), nil, "")
	wantErr(t, "drop non-empty", e.c.DropDatabase(ctx, "sales", true, false), invalidOp, "")
	wantErr(t, "drop cascade", e.c.DropDatabase(ctx, "sales", true, true), nil, "")
	_, err = e.c.GetTable(ctx, "sales", "orders")
	wantErr(t, "table after cascade", err, noSuchObject, "")
}

func TestTables(t *testing.T) {
	e := newEnv(t)
	wantErr(t, "create db", e.c.CreateDatabase(ctx, &hm.Database{Name: "sales"}), nil, "")
	wantErr(t, "create orders", e.c.CreateTable(ctx, salesTable("sales", "Orders")), nil, "")
	ext := salesTable("sales", "ext")
	ext.TableType = "EXTERNAL_TABLE"
	ext.Parameters = map[string]string{"EXTERNAL": "TRUE"}
	ext.Sd.Location = "s3a://bucket/ext"
	wantErr(t, "create ext", e.c.CreateTableWithEnvironmentContext(ctx, ext, &hm.EnvironmentContext{}), nil, "")
	view := &hm.Table{
		DbName: "sales", TableName: "v_orders", TableType: "VIRTUAL_VIEW",
		Sd:               parquetSD("", col("id", "bigint")),
		ViewOriginalText: "select id from orders", ViewExpandedText: "select `orders`.`id` from `sales`.`orders`",
	}
	wantErr(t, "create view", e.c.CreateTable(ctx, view), nil, "")

	got, err := e.c.GetTable(ctx, "sales", "ORDERS")
	wantErr(t, "get_table", err, nil, "")
	if got.TableName != "orders" || got.Sd.Location != e.warehouse+"/sales.db/orders" || got.CreateTime == 0 {
		t.Errorf("orders: name %q location %q created %d", got.TableName, got.Sd.Location, got.CreateTime)
	}
	if len(got.PartitionKeys) != 2 || got.Parameters["comment"] != "sales facts" {
		t.Errorf("orders lost fields: %+v", got)
	}
	res, err := e.c.GetTableReq(ctx, &hm.GetTableRequest{DbName: "sales", TblName: "ext"})
	wantErr(t, "get_table_req", err, nil, "")
	if res.Table.Sd.Location != "s3a://bucket/ext" {
		t.Errorf("ext location = %q", res.Table.Sd.Location)
	}
	v, err := e.c.GetTable(ctx, "sales", "v_orders")
	wantErr(t, "get view", err, nil, "")
	if v.GetViewExpandedText() != view.ViewExpandedText || v.Sd.Location != "" {
		t.Errorf("view = %q at %q", v.GetViewExpandedText(), v.Sd.Location)
	}

	objs, err := e.c.GetTableObjectsByName(ctx, "sales", []string{"orders", "missing", "v_orders"})
	wantErr(t, "get_table_objects_by_name", err, nil, "")
	if len(objs) != 2 {
		t.Errorf("get_table_objects_by_name returned %d tables, want 2", len(objs))
	}
	objr, err := e.c.GetTableObjectsByNameReq(ctx, &hm.GetTablesRequest{DbName: "sales", TblNames: []string{"ext"}})
	wantErr(t, "get_table_objects_by_name_req", err, nil, "")
	if len(objr.Tables) != 1 {
		t.Errorf("req form returned %d", len(objr.Tables))
	}

	lists := []struct {
		name string
		call func() ([]string, error)
		want string
	}{
		{"get_all_tables", func() ([]string, error) { return e.c.GetAllTables(ctx, "sales") }, "[ext orders v_orders]"},
		{"get_tables *", func() ([]string, error) { return e.c.GetTables(ctx, "sales", "*") }, "[ext orders v_orders]"},
		{"get_tables o*|e*", func() ([]string, error) { return e.c.GetTables(ctx, "sales", "o*|e*") }, "[ext orders]"},
		{"get_tables_by_type view", func() ([]string, error) { return e.c.GetTablesByType(ctx, "sales", "*", "VIRTUAL_VIEW") }, "[v_orders]"},
		{"get_tables_by_type external", func() ([]string, error) { return e.c.GetTablesByType(ctx, "sales", "*", "EXTERNAL_TABLE") }, "[ext]"},
	}
	for _, l := range lists {
		got, err := l.call()
		wantErr(t, l.name, err, nil, "")
		sort.Strings(got)
		if fmt.Sprint(got) != l.want {
			t.Errorf("%s = %v, want %s", l.name, got, l.want)
		}
	}
	metas, err := e.c.GetTableMeta(ctx, "sal*", "*", []string{"MANAGED_TABLE", "VIRTUAL_VIEW"})
	wantErr(t, "get_table_meta", err, nil, "")
	var mnames []string
	for _, m := range metas {
		mnames = append(mnames, m.DbName+"."+m.TableName+":"+m.TableType)
	}
	sort.Strings(mnames)
	if fmt.Sprint(mnames) != "[sales.orders:MANAGED_TABLE sales.v_orders:VIRTUAL_VIEW]" {
		t.Errorf("get_table_meta = %v", mnames)
	}

	fields, err := e.c.GetFields(ctx, "sales", "orders")
	wantErr(t, "get_fields", err, nil, "")
	schema, err := e.c.GetSchema(ctx, "sales", "orders")
	wantErr(t, "get_schema", err, nil, "")
	if len(fields) != 3 || len(schema) != 5 || schema[4].Name != "day" {
		t.Errorf("get_fields %d columns, get_schema %d (want 3, 5 ending in day)", len(fields), len(schema))
	}

	errCases := []struct {
		name string
		call func() error
		want any
	}{
		{"create duplicate", func() error { return e.c.CreateTable(ctx, salesTable("sales", "orders")) }, alreadyExists},
		{"create in missing db", func() error { return e.c.CreateTable(ctx, salesTable("nodb", "t")) }, invalidObject},
		{"create bad name", func() error { return e.c.CreateTable(ctx, salesTable("sales", "bad name")) }, invalidObject},
		{"create duplicate column", func() error {
			t := salesTable("sales", "dup")
			t.Sd.Cols = append(t.Sd.Cols, col("id", "int"))
			return e.c.CreateTable(ctx, t)
		}, invalidObject},
		{"get missing", func() error { _, err := e.c.GetTable(ctx, "sales", "nope"); return err }, noSuchObject},
		{"get in missing db", func() error { _, err := e.c.GetTable(ctx, "nodb", "orders"); return err }, noSuchObject},
		{"get_fields missing", func() error { _, err := e.c.GetFields(ctx, "sales", "nope"); return err }, metaExc},
		{"drop missing", func() error { return e.c.DropTable(ctx, "sales", "nope", true) }, noSuchObject},
		{"alter missing", func() error { return e.c.AlterTable(ctx, "sales", "nope", salesTable("sales", "nope")) }, invalidOp},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil || reflect.TypeOf(err) != reflect.TypeOf(tc.want) {
				// get_fields declares UnknownTable/UnknownDB; alter_table InvalidOperation.
				if _, ok := err.(*hm.UnknownTableException); ok && tc.want == metaExc {
					return
				}
				if _, ok := err.(*hm.UnknownDBException); ok && tc.want == metaExc {
					return
				}
				t.Fatalf("%s: got %T (%v), want %T", tc.name, err, err, tc.want)
			}
		})
	}

	// Alter: add a column, with cascade to partitions.
	wantErr(t, "add partition", clientExt{e.c}.AddPartitionsReq2(t, "sales", "orders", [][]string{{"eu", "1"}}), nil, "")
	orders, _ := e.c.GetTable(ctx, "sales", "orders")
	orders.Sd.Cols = append(orders.Sd.Cols, col("channel", "string"))
	wantErr(t, "alter cascade", e.c.AlterTableWithCascade(ctx, "sales", "orders", orders, true), nil, "")
	p, err := e.c.GetPartition(ctx, "sales", "orders", []string{"eu", "1"})
	wantErr(t, "get partition", err, nil, "")
	if len(p.Sd.Cols) != 4 {
		t.Errorf("cascade did not reach the partition: %d columns", len(p.Sd.Cols))
	}

	// Rename moves the table and its partitions.
	orders.TableName = "orders_v2"
	wantErr(t, "rename", e.c.AlterTableWithEnvironmentContext(ctx, "sales", "orders", orders, nil), nil, "")
	_, err = e.c.GetTable(ctx, "sales", "orders")
	wantErr(t, "old name", err, noSuchObject, "")
	names, err := e.c.GetPartitionNames(ctx, "sales", "orders_v2", -1)
	wantErr(t, "partitions after rename", err, nil, "")
	if fmt.Sprint(names) != "[region=eu/day=1]" {
		t.Errorf("partitions after rename = %v", names)
	}
	moved, _ := e.c.GetTable(ctx, "sales", "orders_v2")
	if moved.Sd.Location != e.warehouse+"/sales.db/orders_v2" {
		t.Errorf("managed table location after rename = %q", moved.Sd.Location)
	}
	wantErr(t, "drop", e.c.DropTable(ctx, "sales", "orders_v2", true), nil, "")
	_, err = e.c.GetPartitionNames(ctx, "sales", "orders_v2", -1)
	if err == nil {
		t.Errorf("partitions of a dropped table still listed")
	}
}

func strPtr(s string) *string { return &s }

// AddPartitionsReq2 adds partitions by values through add_partitions_req.
func (c clientExt) AddPartitionsReq2(t *testing.T, db, tbl string, vals [][]string) error {
	req := &hm.AddPartitionsRequest{DbName: db, TblName: tbl, NeedResult_: true}
	for _, v := range vals {
		req.Parts = append(req.Parts, part(db, tbl, v...))
	}
	_, err := c.AddPartitionsReq(ctx, req)
	return err
}

type clientExt struct{ *hm.ThriftHiveMetastoreClient }

func TestPartitions(t *testing.T) {
	e := newEnv(t)
	c := clientExt{e.c}
	wantErr(t, "create db", c.CreateDatabase(ctx, &hm.Database{Name: "sales"}), nil, "")
	wantErr(t, "create table", c.CreateTable(ctx, salesTable("sales", "orders")), nil, "")

	added, err := c.AddPartition(ctx, part("sales", "orders", "eu", "1"))
	wantErr(t, "add_partition", err, nil, "")
	if added.Sd.Location != e.warehouse+"/sales.db/orders/region=eu/day=1" {
		t.Errorf("default partition location = %q", added.Sd.Location)
	}
	n, err := c.AddPartitions(ctx, []*hm.Partition{part("sales", "orders", "eu", "2"), part("sales", "orders", "us", "1")})
	wantErr(t, "add_partitions", err, nil, "")
	if n != 2 {
		t.Errorf("add_partitions = %d", n)
	}
	res, err := c.AddPartitionsReq(ctx, &hm.AddPartitionsRequest{DbName: "sales", TblName: "orders", IfNotExists: true, NeedResult_: true,
		Parts: []*hm.Partition{part("sales", "orders", "eu", "1"), part("sales", "orders", "us", "10"), part("sales", "orders", "a/b:c", "3")}})
	wantErr(t, "add_partitions_req if not exists", err, nil, "")
	if len(res.Partitions) != 2 {
		t.Errorf("add_partitions_req returned %d partitions, want the 2 new ones", len(res.Partitions))
	}
	_, err = c.AppendPartition(ctx, "sales", "orders", []string{"apac", "7"})
	wantErr(t, "append_partition", err, nil, "")
	_, err = c.AppendPartitionByName(ctx, "sales", "orders", "region=apac/day=8")
	wantErr(t, "append_partition_by_name", err, nil, "")

	errCases := []struct {
		name string
		call func() error
		want any
	}{
		{"duplicate", func() error { _, err := c.AddPartition(ctx, part("sales", "orders", "eu", "1")); return err }, alreadyExists},
		{"duplicate append", func() error { _, err := c.AppendPartition(ctx, "sales", "orders", []string{"eu", "1"}); return err }, alreadyExists},
		// Hive's add_partition answers a bad partition with MetaException, though it declares
		// InvalidObject, which it keeps for a missing table.
		{"wrong value count", func() error { _, err := c.AddPartition(ctx, part("sales", "orders", "eu")); return err }, metaExc},
		{"missing table", func() error { _, err := c.AddPartition(ctx, part("sales", "nope", "eu", "1")); return err }, invalidObject},
		{"get missing", func() error { _, err := c.GetPartition(ctx, "sales", "orders", []string{"xx", "1"}); return err }, noSuchObject},
		{"bad filter", func() error { _, err := c.GetPartitionsByFilter(ctx, "sales", "orders", "region = ", -1); return err }, metaExc},
		{"filter on non-key", func() error { _, err := c.GetPartitionsByFilter(ctx, "sales", "orders", "amount > 3", -1); return err }, metaExc},
		{"drop missing", func() error { _, err := c.DropPartition(ctx, "sales", "orders", []string{"xx", "1"}, true); return err }, noSuchObject},
		{"atomic add", func() error {
			_, err := c.AddPartitions(ctx, []*hm.Partition{part("sales", "orders", "new", "1"), part("sales", "orders", "eu", "1")})
			return err
		}, alreadyExists},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if reflect.TypeOf(err) != reflect.TypeOf(tc.want) {
				if _, ok := err.(*hm.NoSuchObjectException); ok && tc.want == invalidObject {
					return // Hive itself differs by version between the two
				}
				t.Fatalf("%s: got %T (%v), want %T", tc.name, err, err, tc.want)
			}
		})
	}
	if _, err := c.GetPartition(ctx, "sales", "orders", []string{"new", "1"}); err == nil {
		t.Fatal("a failed add_partitions left a partition behind")
	}

	all := "[region=a%2Fb%3Ac/day=3 region=apac/day=7 region=apac/day=8 region=eu/day=1 region=eu/day=2 region=us/day=1 region=us/day=10]"
	names, err := c.GetPartitionNames(ctx, "sales", "orders", -1)
	wantErr(t, "get_partition_names", err, nil, "")
	if fmt.Sprint(names) != all {
		t.Errorf("get_partition_names = %v\nwant %s", names, all)
	}
	byName, err := c.GetPartitionByName(ctx, "sales", "orders", "region=a%2Fb%3Ac/day=3")
	wantErr(t, "get_partition_by_name escaped", err, nil, "")
	if byName.Values[0] != "a/b:c" {
		t.Errorf("escaped partition values = %v", byName.Values)
	}

	filters := []struct {
		filter string
		want   string
	}{
		{`region = "eu"`, "[region=eu/day=1 region=eu/day=2]"},
		{`region = 'us' and day > 2`, "[region=us/day=10]"},
		{`day >= 8 or region = "eu"`, "[region=apac/day=8 region=eu/day=1 region=eu/day=2 region=us/day=10]"},
		{`not (region = "eu") and day < 3`, "[region=us/day=1]"},
		{`region <> "eu" and region != "apac" and day <= 1`, "[region=us/day=1]"},
		{`(region = "eu" or region = "us") and day = 1`, "[region=eu/day=1 region=us/day=1]"},
		{`day = 10`, "[region=us/day=10]"},
	}
	for _, f := range filters {
		ps, err := c.GetPartitionsByFilter(ctx, "sales", "orders", f.filter, -1)
		wantErr(t, "filter "+f.filter, err, nil, "")
		var got []string
		for _, p := range ps {
			got = append(got, "region="+p.Values[0]+"/day="+p.Values[1])
		}
		sort.Strings(got)
		if fmt.Sprint(got) != f.want {
			t.Errorf("get_partitions_by_filter(%s) = %v, want %s", f.filter, got, f.want)
		}
		n, err := c.GetNumPartitionsByFilter(ctx, "sales", "orders", f.filter)
		wantErr(t, "count "+f.filter, err, nil, "")
		if int(n) != len(got) {
			t.Errorf("get_num_partitions_by_filter(%s) = %d, want %d", f.filter, n, len(got))
		}
	}

	ps, err := c.GetPartitionsPs(ctx, "sales", "orders", []string{"eu"}, -1)
	wantErr(t, "get_partitions_ps", err, nil, "")
	if len(ps) != 2 {
		t.Errorf("get_partitions_ps(eu) = %d partitions", len(ps))
	}
	pn, err := c.GetPartitionNamesPs(ctx, "sales", "orders", []string{"", "1"}, -1)
	wantErr(t, "get_partition_names_ps", err, nil, "")
	if fmt.Sprint(pn) != "[region=eu/day=1 region=us/day=1]" {
		t.Errorf("get_partition_names_ps(*,1) = %v", pn)
	}
	ps, err = c.GetPartitions(ctx, "sales", "orders", 3)
	wantErr(t, "get_partitions max", err, nil, "")
	if len(ps) != 3 {
		t.Errorf("get_partitions(max 3) = %d", len(ps))
	}
	ps, err = c.GetPartitionsByNames(ctx, "sales", "orders", []string{"region=eu/day=2", "region=zz/day=1", "region=us/day=1"})
	wantErr(t, "get_partitions_by_names", err, nil, "")
	if len(ps) != 2 {
		t.Errorf("get_partitions_by_names = %d, want 2", len(ps))
	}
	psr, err := c.GetPartitionsByNamesReq(ctx, &hm.GetPartitionsByNamesRequest{DbName: "sales", TblName: "orders", Names: []string{"region=eu/day=2"}})
	wantErr(t, "get_partitions_by_names_req", err, nil, "")
	if len(psr.Partitions) != 1 {
		t.Errorf("get_partitions_by_names_req = %d", len(psr.Partitions))
	}

	// alter_partition(s) keeps values and replaces parameters.
	p, _ := c.GetPartition(ctx, "sales", "orders", []string{"eu", "1"})
	p.Parameters = map[string]string{"numRows": "42"}
	wantErr(t, "alter_partition", c.AlterPartition(ctx, "sales", "orders", p), nil, "")
	p2, _ := c.GetPartition(ctx, "sales", "orders", []string{"eu", "2"})
	p2.Parameters = map[string]string{"numRows": "7"}
	wantErr(t, "alter_partitions", c.AlterPartitionsWithEnvironmentContext(ctx, "sales", "orders", []*hm.Partition{p, p2}, nil), nil, "")
	got, _ := c.GetPartition(ctx, "sales", "orders", []string{"eu", "2"})
	if got.Parameters["numRows"] != "7" {
		t.Errorf("alter_partitions lost parameters: %v", got.Parameters)
	}
	missing := part("sales", "orders", "zz", "9")
	wantErr(t, "alter missing partition", c.AlterPartition(ctx, "sales", "orders", missing), invalidOp, "")

	// rename_partition
	np := part("sales", "orders", "eu", "3")
	wantErr(t, "rename_partition", c.RenamePartition(ctx, "sales", "orders", []string{"eu", "2"}, np), nil, "")
	if _, err := c.GetPartition(ctx, "sales", "orders", []string{"eu", "3"}); err != nil {
		t.Errorf("renamed partition missing: %v", err)
	}

	ok, err := c.DropPartition(ctx, "sales", "orders", []string{"eu", "1"}, true)
	wantErr(t, "drop_partition", err, nil, "")
	ok2, err := c.DropPartitionByName(ctx, "sales", "orders", "region=us/day=10", true)
	wantErr(t, "drop_partition_by_name", err, nil, "")
	if !ok || !ok2 {
		t.Error("drop returned false")
	}
	names, _ = c.GetPartitionNames(ctx, "sales", "orders", -1)
	if len(names) != 5 {
		t.Errorf("after drops: %v", names)
	}
	vals, err := c.PartitionNameToVals(ctx, "region=a%2Fb/day=3")
	wantErr(t, "partition_name_to_vals", err, nil, "")
	if fmt.Sprint(vals) != "[a/b 3]" {
		t.Errorf("partition_name_to_vals = %v", vals)
	}
}

func TestStatistics(t *testing.T) {
	e := newEnv(t)
	c := e.c
	wantErr(t, "create db", c.CreateDatabase(ctx, &hm.Database{Name: "sales"}), nil, "")
	wantErr(t, "create table", c.CreateTable(ctx, salesTable("sales", "orders")), nil, "")
	_, err := c.AddPartition(ctx, part("sales", "orders", "eu", "1"))
	wantErr(t, "add", err, nil, "")

	long := func(name string, lo, hi, nulls, ndv int64) *hm.ColumnStatisticsObj {
		return &hm.ColumnStatisticsObj{ColName: name, ColType: "bigint", StatsData: &hm.ColumnStatisticsData{
			LongStats: &hm.LongColumnStatsData{LowValue: &lo, HighValue: &hi, NumNulls: nulls, NumDVs: ndv}}}
	}
	str := func(name string, maxLen int64) *hm.ColumnStatisticsObj {
		return &hm.ColumnStatisticsObj{ColName: name, ColType: "string", StatsData: &hm.ColumnStatisticsData{
			StringStats: &hm.StringColumnStatsData{MaxColLen: maxLen, AvgColLen: 10, NumNulls: 0, NumDVs: 5}}}
	}
	tbl := &hm.ColumnStatistics{StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: true, DbName: "sales", TableName: "orders"},
		StatsObj: []*hm.ColumnStatisticsObj{long("id", 1, 100, 0, 100)}}
	ok, err := c.UpdateTableColumnStatistics(ctx, tbl)
	wantErr(t, "update table stats", err, nil, "")
	if !ok {
		t.Error("update returned false")
	}
	_, err = c.SetAggrStatsFor(ctx, &hm.SetPartitionsStatsRequest{ColStats: []*hm.ColumnStatistics{{
		StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: true, DbName: "sales", TableName: "orders"},
		StatsObj:  []*hm.ColumnStatisticsObj{str("email", 40)}}}})
	wantErr(t, "set_aggr_stats_for", err, nil, "")
	res, err := c.GetTableStatisticsReq(ctx, &hm.TableStatsRequest{DbName: "sales", TblName: "orders", ColNames: []string{"id", "email", "amount"}})
	wantErr(t, "get_table_statistics_req", err, nil, "")
	if len(res.TableStats) != 2 {
		t.Fatalf("table stats = %d columns, want 2 (id, email merged)", len(res.TableStats))
	}
	for _, o := range res.TableStats {
		if o.ColName == "id" && o.StatsData.LongStats.GetHighValue() != 100 {
			t.Errorf("id high value = %d", o.StatsData.LongStats.GetHighValue())
		}
	}
	one, err := c.GetTableColumnStatistics(ctx, "sales", "orders", "id")
	wantErr(t, "get_table_column_statistics", err, nil, "")
	if len(one.StatsObj) != 1 {
		t.Errorf("get_table_column_statistics = %d objs", len(one.StatsObj))
	}

	pname := "region=eu/day=1"
	_, err = c.UpdatePartitionColumnStatistics(ctx, &hm.ColumnStatistics{
		StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: false, DbName: "sales", TableName: "orders", PartName: &pname},
		StatsObj:  []*hm.ColumnStatisticsObj{long("id", 5, 6, 1, 2)}})
	wantErr(t, "update partition stats", err, nil, "")
	pres, err := c.GetPartitionsStatisticsReq(ctx, &hm.PartitionsStatsRequest{DbName: "sales", TblName: "orders", ColNames: []string{"id"}, PartNames: []string{pname}})
	wantErr(t, "get_partitions_statistics_req", err, nil, "")
	if len(pres.PartStats[pname]) != 1 || pres.PartStats[pname][0].StatsData.LongStats.GetLowValue() != 5 {
		t.Errorf("partition stats = %v", pres.PartStats)
	}

	_, err = c.UpdateTableColumnStatistics(ctx, &hm.ColumnStatistics{StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: true, DbName: "sales", TableName: "orders"},
		StatsObj: []*hm.ColumnStatisticsObj{long("no_such_col", 1, 2, 0, 1)}})
	if err == nil {
		t.Error("stats for a column the table does not have were accepted")
	}
	_, err = c.DeleteTableColumnStatistics(ctx, "sales", "orders", "id", "hive")
	wantErr(t, "delete_table_column_statistics", err, nil, "")
	res, _ = c.GetTableStatisticsReq(ctx, &hm.TableStatsRequest{DbName: "sales", TblName: "orders", ColNames: []string{"id", "email"}})
	if len(res.TableStats) != 1 {
		t.Errorf("after delete: %d columns", len(res.TableStats))
	}
	_, err = c.DeletePartitionColumnStatistics(ctx, "sales", "orders", pname, "id", "hive")
	wantErr(t, "delete_partition_column_statistics", err, nil, "")
}

func TestFunctionsConfigAndEvents(t *testing.T) {
	e := newEnv(t)
	c := e.c
	start, err := c.GetCurrentNotificationEventId(ctx)
	wantErr(t, "event id", err, nil, "")
	f := &hm.Function{DbName: "default", FunctionName: "MyUpper", ClassName: "com.example.Upper", OwnerName: "alice", OwnerType: hm.PrincipalType_USER, FunctionType: hm.FunctionType_JAVA}
	wantErr(t, "create_function", c.CreateFunction(ctx, f), nil, "")
	wantErr(t, "duplicate function", c.CreateFunction(ctx, f), alreadyExists, "")
	got, err := c.GetFunction(ctx, "default", "myupper")
	wantErr(t, "get_function", err, nil, "")
	if got.ClassName != "com.example.Upper" {
		t.Errorf("function = %+v", got)
	}
	_, err = c.GetFunction(ctx, "default", "nope")
	wantErr(t, "missing function", err, noSuchObject, "")
	all, err := c.GetAllFunctions(ctx)
	wantErr(t, "get_all_functions", err, nil, "")
	if len(all.Functions) != 1 {
		t.Errorf("get_all_functions = %d", len(all.Functions))
	}
	names, err := c.GetFunctions(ctx, "default", "my*")
	wantErr(t, "get_functions", err, nil, "")
	if fmt.Sprint(names) != "[myupper]" {
		t.Errorf("get_functions = %v", names)
	}
	wantErr(t, "drop_function", c.DropFunction(ctx, "default", "myupper"), nil, "")

	v, err := c.GetConfigValue(ctx, "hive.metastore.warehouse.dir", "x")
	wantErr(t, "get_config_value", err, nil, "")
	if v != e.warehouse {
		t.Errorf("warehouse dir = %q", v)
	}
	v, err = c.GetConfigValue(ctx, "hive.unknown.setting", "fallback")
	if v != "fallback" {
		t.Errorf("default not returned: %q %v", v, err)
	}
	if v, _ = c.GetConfigValue(ctx, "metastore.txn.timeout", ""); v != "300s" {
		t.Errorf("Hive's default not returned: %q", v)
	}
	for _, key := range []string{"unknown.key", "fs.s3a.secret.key", "javax.jdo.option.ConnectionPassword", "hive.metastore.keystore.password"} {
		_, err := c.GetConfigValue(ctx, key, "x")
		wantErr(t, "get_config_value "+key, err, &hm.ConfigValSecurityException{}, key)
	}
	groups, err := c.SetUgi(ctx, "alice", []string{"analysts"})
	wantErr(t, "set_ugi", err, nil, "")
	if fmt.Sprint(groups) != "[analysts]" {
		t.Errorf("set_ugi = %v", groups)
	}
	ver, err := c.GetVersion(ctx)
	wantErr(t, "getVersion", err, nil, "")
	st, err := c.GetStatus(ctx)
	wantErr(t, "getStatus", err, nil, "")
	if ver != "test" || st.String() != "ALIVE" {
		t.Errorf("version %q status %v", ver, st)
	}

	end, err := c.GetCurrentNotificationEventId(ctx)
	wantErr(t, "event id", err, nil, "")
	if end.EventId < start.EventId+2 {
		t.Errorf("event id went from %d to %d over two writes", start.EventId, end.EventId)
	}
	evs, err := c.GetNextNotification(ctx, &hm.NotificationEventRequest{LastEvent: start.EventId})
	wantErr(t, "get_next_notification", err, nil, "")
	var types []string
	for _, ev := range evs.Events {
		types = append(types, ev.EventType)
	}
	if fmt.Sprint(types) != "[CREATE_FUNCTION DROP_FUNCTION]" {
		t.Errorf("events = %v", types)
	}
}

func TestLocks(t *testing.T) {
	e := newEnv(t)
	c := e.c
	c2 := dial(t, e.addr, true) // a second client, over the framed transport
	wantErr(t, "create table", c.CreateTable(ctx, salesTable("default", "ice")), nil, "")
	tbl := "ice"
	req := &hm.LockRequest{User: "alice", Hostname: "h", Component: []*hm.LockComponent{{
		Type: hm.LockType_EXCLUSIVE, Level: hm.LockLevel_TABLE, Dbname: "default", Tablename: &tbl, OperationType: hm.DataOperationType_UNSET}}}
	first, err := c.Lock(ctx, req)
	wantErr(t, "lock", err, nil, "")
	if first.State != hm.LockState_ACQUIRED {
		t.Fatalf("first lock state = %v", first.State)
	}
	second, err := c2.Lock(ctx, req)
	wantErr(t, "second lock", err, nil, "")
	if second.State != hm.LockState_WAITING {
		t.Fatalf("second exclusive lock state = %v, want WAITING", second.State)
	}
	chk, err := c2.CheckLock(ctx, &hm.CheckLockRequest{Lockid: second.Lockid})
	wantErr(t, "check_lock", err, nil, "")
	if chk.State != hm.LockState_WAITING {
		t.Fatalf("check_lock while held = %v", chk.State)
	}
	wantErr(t, "heartbeat", c.Heartbeat(ctx, &hm.HeartbeatRequest{Lockid: &first.Lockid}), nil, "")
	wantErr(t, "unlock", c.Unlock(ctx, &hm.UnlockRequest{Lockid: first.Lockid}), nil, "")
	chk, err = c2.CheckLock(ctx, &hm.CheckLockRequest{Lockid: second.Lockid})
	wantErr(t, "check_lock after unlock", err, nil, "")
	if chk.State != hm.LockState_ACQUIRED {
		t.Fatalf("check_lock after unlock = %v, want ACQUIRED", chk.State)
	}
	shown, err := c.ShowLocks(ctx, &hm.ShowLocksRequest{})
	wantErr(t, "show_locks", err, nil, "")
	if len(shown.Locks) != 1 {
		t.Errorf("show_locks = %d locks", len(shown.Locks))
	}
	err = c.Unlock(ctx, &hm.UnlockRequest{Lockid: 987654})
	wantErr(t, "unlock unknown", err, &hm.NoSuchLockException{}, "")
	wantErr(t, "unlock second", c2.Unlock(ctx, &hm.UnlockRequest{Lockid: second.Lockid}), nil, "")
}

func TestUnimplementedMethodIsUnknown(t *testing.T) {
	e := newEnv(t)
	_, err := e.c.GetTablesExt(ctx, &hm.GetTablesExtRequest{Catalog: "hive", Database: "default", TableNamePattern: "*"})
	var ae athrift.TApplicationException
	if !errors.As(err, &ae) || ae.TypeId() != athrift.UNKNOWN_METHOD || !strings.Contains(err.Error(), "get_tables_ext") {
		t.Fatalf("unimplemented method: got %T %v, want UNKNOWN_METHOD naming get_tables_ext", err, err)
	}
	if _, err := e.c.GetAllDatabases(ctx); err != nil {
		t.Fatalf("connection unusable after an unknown method: %v", err)
	}
}

// panicky panics on every call: fault injection for the handler's recovery.
type panicky struct{ hms.Backend }

func TestPanicBecomesMetaException(t *testing.T) {
	addr := serveBackend(t, panicky{}, "file:///tmp/wh")
	c := dial(t, addr, false)
	for i := 0; i < 2; i++ {
		_, err := c.GetTable(ctx, "default", "t")
		wantErr(t, "panicking get_table", err, metaExc, "internal error")
	}
	if v, err := c.GetVersion(ctx); err != nil || v != "test" {
		t.Fatalf("server unusable after panics: %v", err)
	}
}

// Many connections writing at once must neither fail spuriously nor lose a partition.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	e := newEnv(t)
	wantErr(t, "create table", e.c.CreateTable(ctx, salesTable("default", "busy")), nil, "")
	const writers, each = 8, 25
	errc := make(chan error, writers)
	for w := 0; w < writers; w++ {
		c := dial(t, e.addr, w%2 == 0)
		go func(w int) {
			for i := 0; i < each; i++ {
				if _, err := c.AddPartition(ctx, part("default", "busy", fmt.Sprintf("w%d", w), fmt.Sprint(i))); err != nil {
					errc <- fmt.Errorf("writer %d partition %d: %w", w, i, err)
					return
				}
				if i%5 == 0 {
					tb := salesTable("default", fmt.Sprintf("t_%d_%d", w, i))
					if err := c.CreateTable(ctx, tb); err != nil {
						errc <- fmt.Errorf("writer %d table %d: %w", w, i, err)
						return
					}
				}
			}
			errc <- nil
		}(w)
	}
	for w := 0; w < writers; w++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	n, err := e.c.GetNumPartitionsByFilter(ctx, "default", "busy", "")
	wantErr(t, "count", err, nil, "")
	if n != writers*each {
		t.Fatalf("%d partitions after %d acknowledged adds", n, writers*each)
	}
	tables, _ := e.c.GetTables(ctx, "default", "t_*")
	if len(tables) != writers*each/5 {
		t.Fatalf("%d tables after %d acknowledged creates", len(tables), writers*each/5)
	}
}

// Empty answers are empty lists on the wire, never an unset result ("unknown result").
func TestEmptyResultsAreEmptyLists(t *testing.T) {
	e := newEnv(t)
	wantErr(t, "create db", e.c.CreateDatabase(ctx, &hm.Database{Name: "empty"}), nil, "")
	wantErr(t, "create table", e.c.CreateTable(ctx, salesTable("default", "nothing")), nil, "")
	calls := []struct {
		name string
		call func() (int, error)
	}{
		{"get_table_meta", func() (int, error) { r, err := e.c.GetTableMeta(ctx, "empty", "*", nil); return len(r), err }},
		{"get_all_tables", func() (int, error) { r, err := e.c.GetAllTables(ctx, "empty"); return len(r), err }},
		{"get_partitions", func() (int, error) { r, err := e.c.GetPartitions(ctx, "default", "nothing", -1); return len(r), err }},
		{"get_partition_names", func() (int, error) {
			r, err := e.c.GetPartitionNames(ctx, "default", "nothing", -1)
			return len(r), err
		}},
		{"get_partitions_by_filter", func() (int, error) {
			r, err := e.c.GetPartitionsByFilter(ctx, "default", "nothing", `region = "x"`, -1)
			return len(r), err
		}},
		{"get_functions", func() (int, error) { r, err := e.c.GetFunctions(ctx, "empty", "*"); return len(r), err }},
		{"get_table_objects_by_name", func() (int, error) {
			r, err := e.c.GetTableObjectsByName(ctx, "empty", []string{"x"})
			return len(r), err
		}},
	}
	for _, c := range calls {
		n, err := c.call()
		if err != nil || n != 0 {
			t.Errorf("%s: %d results, err %v; want an empty list", c.name, n, err)
		}
	}
}

// Older clients (Spark's Hive 2.3, Trino) send statistics requests without Hive 4's "engine";
// they must be served, not disconnected.
func TestStatisticsRequestsWithoutEngine(t *testing.T) {
	e := newEnv(t)
	wantErr(t, "create table", e.c.CreateTable(ctx, salesTable("default", "s")), nil, "")
	conf := &athrift.TConfiguration{ConnectTimeout: 5 * time.Second, SocketTimeout: 10 * time.Second}
	tr := athrift.NewTBufferedTransport(athrift.NewTSocketConf(e.addr, conf), 8192)
	if err := tr.Open(); err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	in := athrift.NewTBinaryProtocolConf(tr, conf)
	out := pthrift.OmitEmptyStrings(in, map[string][]string{
		"TableStatsRequest": {"engine"}, "PartitionsStatsRequest": {"engine"}, "SetPartitionsStatsRequest": {"engine"}})
	old := hm.NewThriftHiveMetastoreClient(athrift.NewTStandardClient(in, out))

	hi := int64(9)
	_, err := old.UpdateTableColumnStatisticsReq(ctx, &hm.SetPartitionsStatsRequest{ColStats: []*hm.ColumnStatistics{{
		StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: true, DbName: "default", TableName: "s"},
		StatsObj: []*hm.ColumnStatisticsObj{{ColName: "id", ColType: "bigint",
			StatsData: &hm.ColumnStatisticsData{LongStats: &hm.LongColumnStatsData{HighValue: &hi, NumDVs: 3}}}}}}})
	wantErr(t, "update_table_column_statistics_req without engine", err, nil, "")
	res, err := old.GetTableStatisticsReq(ctx, &hm.TableStatsRequest{DbName: "default", TblName: "s", ColNames: []string{"id"}})
	wantErr(t, "get_table_statistics_req without engine", err, nil, "")
	if len(res.TableStats) != 1 {
		t.Fatalf("stats = %v", res.TableStats)
	}
	pres, err := old.GetPartitionsStatisticsReq(ctx, &hm.PartitionsStatsRequest{DbName: "default", TblName: "s", ColNames: []string{"id"}, PartNames: []string{}})
	wantErr(t, "get_partitions_statistics_req without engine", err, nil, "")
	if pres.PartStats == nil {
		t.Fatal("nil partition stats map")
	}
}

// Spark's client creates databases with an owner and no owner type; Trino cannot read those,
// so the owner type gets Hive's default.
func TestOwnerTypeDefaults(t *testing.T) {
	e := newEnv(t)
	owner := "alice"
	wantErr(t, "create", e.c.CreateDatabase(ctx, &hm.Database{Name: "owned", OwnerName: &owner}), nil, "")
	db, err := e.c.GetDatabase(ctx, "owned")
	wantErr(t, "get", err, nil, "")
	if db.OwnerType == nil || *db.OwnerType != hm.PrincipalType_USER {
		t.Fatalf("owner type = %v", db.OwnerType)
	}
	tb := salesTable("owned", "t")
	tb.OwnerType = 0
	wantErr(t, "create table", e.c.CreateTable(ctx, tb), nil, "")
	got, err := e.c.GetTable(ctx, "owned", "t")
	wantErr(t, "get table", err, nil, "")
	if got.OwnerType != hm.PrincipalType_USER {
		t.Fatalf("table owner type = %v", got.OwnerType)
	}
}
