package hms_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"

	pthrift "github.com/propolis/propolis/thrift"
)

// rawClient calls methods our bindings lack, as a Hive 4 client sends them.
type rawClient struct {
	t *testing.T
	c athrift.TClient
}

type rawReply struct{ s *pthrift.Struct }

func (r *rawReply) Read(ctx context.Context, p athrift.TProtocol) (err error) {
	r.s, err = pthrift.ReadStruct(ctx, p, pthrift.Limits{})
	return err
}
func (r *rawReply) Write(ctx context.Context, p athrift.TProtocol) error { return r.s.Write(ctx, p) }

func newRawClient(t *testing.T, addr string) rawClient {
	t.Helper()
	conf := &athrift.TConfiguration{}
	tr := athrift.NewTBufferedTransport(athrift.NewTSocketConf(addr, conf), 8192)
	if err := tr.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	p := athrift.NewTBinaryProtocolConf(tr, conf)
	return rawClient{t: t, c: athrift.NewTStandardClient(p, p)}
}

// call sends method with the request struct req as argument 1 and returns the reply struct.
func (rc rawClient) call(method string, req *pthrift.Struct) *pthrift.Struct {
	rc.t.Helper()
	args := &pthrift.Struct{Fields: []pthrift.Field{{ID: 1, Value: pthrift.Value{Type: athrift.STRUCT, Struct: req}}}}
	res := &rawReply{}
	if _, err := rc.c.Call(ctx, method, args, res); err != nil {
		rc.t.Fatalf("%s: %v", method, err)
	}
	return res.s
}

func fields(fs ...pthrift.Field) *pthrift.Struct { return &pthrift.Struct{Fields: fs} }
func fstr(id int16, s string) pthrift.Field {
	return pthrift.Field{ID: id, Value: pthrift.Value{Type: athrift.STRING, Bytes: []byte(s)}}
}
func fbool(id int16, b bool) pthrift.Field {
	return pthrift.Field{ID: id, Value: pthrift.Value{Type: athrift.BOOL, Bool: b}}
}
func fi16(id int16, n int64) pthrift.Field {
	return pthrift.Field{ID: id, Value: pthrift.Value{Type: athrift.I16, Int: n}}
}
func fstrs(id int16, ss ...string) pthrift.Field {
	l := &pthrift.List{Elem: athrift.STRING}
	for _, s := range ss {
		l.Values = append(l.Values, pthrift.Value{Type: athrift.STRING, Bytes: []byte(s)})
	}
	return pthrift.Field{ID: id, Value: pthrift.Value{Type: athrift.LIST, List: l}}
}
func fstruct(t *testing.T, id int16, v athrift.TStruct) pthrift.Field {
	t.Helper()
	e, err := pthrift.Encode(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	return pthrift.Field{ID: id, Value: e}
}

// wantReply asserts the reply carries a success value (excID 0) or the exception of type exc in
// field excID, and returns the reply.
func wantReply(t *testing.T, what string, reply *pthrift.Struct, excID int16, exc athrift.TStruct) *pthrift.Struct {
	t.Helper()
	for _, f := range reply.Fields {
		if f.ID != 0 && f.ID != excID {
			var m hm.MetaException
			_ = pthrift.Decode(ctx, &f.Value, &m)
			t.Fatalf("%s: exception in field %d (%s), want field %d", what, f.ID, m.GetMessage(), excID)
		}
	}
	if excID == 0 {
		return reply
	}
	v := reply.Field(excID)
	if v == nil {
		t.Fatalf("%s: no exception, want %T in field %d", what, exc, excID)
	}
	if err := pthrift.Decode(ctx, v, exc); err != nil {
		t.Fatalf("%s: exception field %d: %v", what, excID, err)
	}
	return reply
}

func replyStrings(t *testing.T, reply *pthrift.Struct) []string {
	t.Helper()
	v := reply.Field(0)
	if v == nil || v.List == nil {
		t.Fatalf("reply has no list: %+v", reply)
	}
	out := []string{}
	for _, e := range v.List.Values {
		out = append(out, e.Str())
	}
	return out
}

// TestHive4RequestMethods drives the request-style calls a Hive 4 HiveMetaStoreClient makes for
// basic DDL, which our generated bindings do not know, through the production dispatcher.
func TestHive4RequestMethods(t *testing.T) {
	e := newEnv(t)
	rc := newRawClient(t, e.addr)

	// create_database_req: CreateDatabaseRequest shares Database's field ids.
	desc := "made by hive 4"
	db := &hm.Database{Name: "h4", Description: desc, Parameters: map[string]string{"k": "v"}}
	req, err := pthrift.Encode(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	wantReply(t, "create_database_req", rc.call("create_database_req", req.Struct), 0, nil)
	got, err := e.c.GetDatabase(ctx, "h4")
	wantErr(t, "get created database", err, nil, "")
	if got.Description != desc || got.Parameters["k"] != "v" {
		t.Fatalf("created database: %+v", got)
	}
	wantReply(t, "create_database_req again", rc.call("create_database_req", req.Struct), 1, &hm.AlreadyExistsException{})

	// alter_database_req: 1 oldDbName, 2 newDb.
	wantReply(t, "alter_database_req", rc.call("alter_database_req",
		fields(fstr(1, "h4"), fstruct(t, 2, &hm.Database{Name: "h4", Description: "altered", Parameters: map[string]string{"k": "w"}}))), 0, nil)
	if got, _ := e.c.GetDatabase(ctx, "h4"); got.Description != "altered" || got.Parameters["k"] != "w" {
		t.Fatalf("altered database: %+v", got)
	}

	tbl := salesTable("h4", "sales")
	wantErr(t, "create table", e.c.CreateTable(ctx, tbl), nil, "")

	// append_partition_req: by values (5) and by name (4).
	r := wantReply(t, "append_partition_req values", rc.call("append_partition_req",
		fields(fstr(2, "h4"), fstr(3, "sales"), fstrs(5, "eu", "1"))), 0, nil)
	var p hm.Partition
	if err := pthrift.Decode(ctx, r.Field(0), &p); err != nil || len(p.Values) != 2 || p.Values[0] != "eu" {
		t.Fatalf("appended partition: %+v (%v)", p, err)
	}
	wantReply(t, "append_partition_req name", rc.call("append_partition_req",
		fields(fstr(1, "hive"), fstr(2, "h4"), fstr(3, "sales"), fstr(4, "region=us/day=2"))), 0, nil)
	wantReply(t, "append_partition_req again", rc.call("append_partition_req",
		fields(fstr(2, "h4"), fstr(3, "sales"), fstrs(5, "eu", "1"))), 2, &hm.AlreadyExistsException{})

	// fetch_partition_names_req: 4 maxParts.
	names := replyStrings(t, wantReply(t, "fetch_partition_names_req", rc.call("fetch_partition_names_req",
		fields(fstr(2, "h4"), fstr(3, "sales"))), 0, nil))
	if len(names) != 2 || names[0] != "region=eu/day=1" || names[1] != "region=us/day=2" {
		t.Fatalf("partition names: %v", names)
	}
	if names := replyStrings(t, rc.call("fetch_partition_names_req", fields(fstr(2, "h4"), fstr(3, "sales"), fi16(4, 1)))); len(names) != 1 {
		t.Fatalf("partition names, max 1: %v", names)
	}

	// get_partitions_by_filter_req: 4 filter.
	r = wantReply(t, "get_partitions_by_filter_req", rc.call("get_partitions_by_filter_req",
		fields(fstr(2, "h4"), fstr(3, "sales"), fstr(4, `region = "us"`))), 0, nil)
	if l := r.Field(0).List; l == nil || len(l.Values) != 1 {
		t.Fatalf("filtered partitions: %+v", r)
	}
	wantReply(t, "get_partitions_by_filter_req missing table", rc.call("get_partitions_by_filter_req",
		fields(fstr(2, "h4"), fstr(3, "nope"), fstr(4, `region = "us"`))), 2, &hm.NoSuchObjectException{})

	// drop_partition_req: by name (4) and by values (5).
	r = wantReply(t, "drop_partition_req name", rc.call("drop_partition_req",
		fields(fstr(2, "h4"), fstr(3, "sales"), fstr(4, "region=us/day=2"), fbool(6, true))), 0, nil)
	if v := r.Field(0); v == nil || !v.Bool {
		t.Fatalf("drop_partition_req: %+v", r)
	}
	wantReply(t, "drop_partition_req values", rc.call("drop_partition_req",
		fields(fstr(2, "h4"), fstr(3, "sales"), fstrs(5, "eu", "1"))), 0, nil)
	wantReply(t, "drop_partition_req missing", rc.call("drop_partition_req",
		fields(fstr(2, "h4"), fstr(3, "sales"), fstrs(5, "eu", "1"))), 1, &hm.NoSuchObjectException{})

	// drop_table_req: 1 catalogName, 2 dbName, 3 tableName, 4 deleteData.
	wantReply(t, "drop_table_req other catalog", rc.call("drop_table_req",
		fields(fstr(1, "spark"), fstr(2, "h4"), fstr(3, "sales"))), 1, &hm.NoSuchObjectException{})
	wantReply(t, "drop_table_req", rc.call("drop_table_req",
		fields(fstr(1, "hive"), fstr(2, "h4"), fstr(3, "sales"), fbool(4, true))), 0, nil)
	wantReply(t, "drop_table_req again", rc.call("drop_table_req",
		fields(fstr(2, "h4"), fstr(3, "sales"))), 1, &hm.NoSuchObjectException{})

	// drop_database_req: 1 name, 3 ignoreUnknownDb, 4 deleteData, 5 cascade.
	wantReply(t, "drop_database_req missing, ignored", rc.call("drop_database_req",
		fields(fstr(1, "nope"), fbool(3, true), fbool(4, true), fbool(5, false))), 0, nil)
	wantReply(t, "drop_database_req missing", rc.call("drop_database_req",
		fields(fstr(1, "nope"), fbool(3, false), fbool(4, true), fbool(5, false))), 1, &hm.NoSuchObjectException{})
	wantReply(t, "drop_database_req", rc.call("drop_database_req",
		fields(fstr(1, "h4"), fstr(2, "hive"), fbool(3, false), fbool(4, true), fbool(5, true))), 0, nil)
	if _, err := e.c.GetDatabase(ctx, "h4"); err == nil {
		t.Fatal("database still there after drop_database_req")
	}
	if _, err := e.c.GetAllDatabases(ctx); err != nil {
		t.Fatalf("connection unusable: %v", err)
	}
}

// Hive answers listings of a missing database with an empty list, and Hive 4's SHOW TABLES
// LIKE sends get_table_objects_by_name_req with a pattern (field 8) and no names.
func TestTableListingsAsHive(t *testing.T) {
	e := newEnv(t)
	for _, call := range []func() ([]string, error){
		func() ([]string, error) { return e.c.GetAllTables(ctx, "nodb") },
		func() ([]string, error) { return e.c.GetTables(ctx, "nodb", "*") },
		func() ([]string, error) { return e.c.GetTablesByType(ctx, "nodb", "*", "MANAGED_TABLE") },
	} {
		if got, err := call(); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("listing a missing database: %v, %v; want an empty list", got, err)
		}
	}
	for _, n := range []string{"orders", "order_items", "customers"} {
		wantErr(t, "create", e.c.CreateTable(ctx, salesTable("default", n)), nil, "")
	}
	res, err := e.c.GetTableObjectsByNameReq(ctx, &hm.GetTablesRequest{DbName: "default", TblNames: []string{"customers"}})
	wantErr(t, "by names", err, nil, "")
	if len(res.Tables) != 1 || res.Tables[0].TableName != "customers" {
		t.Fatalf("by names: %v", res.Tables)
	}
	rc := newRawClient(t, e.addr)
	r := wantReply(t, "by pattern", rc.call("get_table_objects_by_name_req", fields(fstr(1, "default"), fstr(8, "order*"))), 0, nil)
	var got hm.GetTablesResult_
	if err := pthrift.Decode(ctx, r.Field(0), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Tables) != 2 || got.Tables[0].TableName != "order_items" || got.Tables[1].TableName != "orders" {
		t.Fatalf("by pattern: %d tables %v", len(got.Tables), got.Tables)
	}
	wantReply(t, "missing database", rc.call("get_table_objects_by_name_req", fields(fstr(1, "nodb"), fstr(8, "*"))), 3, &hm.UnknownDBException{})
}

// rawErr is the declared exception a raw reply carries, or nil.
func rawErr(reply *pthrift.Struct) error {
	for _, f := range reply.Fields {
		if f.ID != 0 {
			var m hm.MetaException
			_ = pthrift.Decode(ctx, &f.Value, &m)
			return &m
		}
	}
	return nil
}

// Semantics where Propolis used to differ from Hive, each as Hive's own suites check it.
func TestHiveSemantics(t *testing.T) {
	e := newEnv(t)
	// alter_database without a description keeps the stored one.
	wantErr(t, "create db", e.c.CreateDatabase(ctx, &hm.Database{Name: "d", Description: "dummy description", Parameters: map[string]string{"a": "1"}}), nil, "")
	wantErr(t, "alter db", e.c.AlterDatabase(ctx, "d", &hm.Database{Name: "d", Parameters: map[string]string{"b": "2"}}), nil, "")
	db, err := e.c.GetDatabase(ctx, "d")
	wantErr(t, "get db", err, nil, "")
	if db.Description != "dummy description" || db.Parameters["b"] != "2" || db.Parameters["a"] != "" {
		t.Fatalf("altered database: %+v", db)
	}

	// The server sets creation times, whatever the client sent.
	tbl := salesTable("d", "t")
	tbl.CreateTime = 123456
	wantErr(t, "create table", e.c.CreateTable(ctx, tbl), nil, "")
	p := part("d", "t", "eu", "1")
	p.CreateTime = 123456
	got, err := e.c.AddPartition(ctx, p)
	wantErr(t, "add partition", err, nil, "")
	st, _ := e.c.GetTable(ctx, "d", "t")
	if got.CreateTime == 123456 || st.CreateTime == 123456 {
		t.Fatalf("client create times kept: table %d, partition %d", st.CreateTime, got.CreateTime)
	}

	// Hive 4's SHOW PARTITIONS: names without an expression; an expression is refused.
	if names, err := e.c.GetPartitionNamesReq(ctx, &hm.PartitionsByExprRequest{DbName: "d", TblName: "t", MaxParts: -1}); err != nil || len(names) != 1 {
		t.Fatalf("get_partition_names_req: %v, %v", names, err)
	}
	_, err = e.c.GetPartitionNamesReq(ctx, &hm.PartitionsByExprRequest{DbName: "d", TblName: "t", Expr: []byte{1, 2}, MaxParts: -1})
	wantErr(t, "get_partition_names_req with an expression", err, metaExc, "serialized expressions")

	// max_parts 0 asks for no partitions; -1 for all.
	if ps, err := e.c.GetPartitions(ctx, "d", "t", 0); err != nil || len(ps) != 0 {
		t.Fatalf("max_parts 0: %d partitions, %v", len(ps), err)
	}
	if names, err := e.c.GetPartitionNames(ctx, "d", "t", -1); err != nil || len(names) != 1 {
		t.Fatalf("max_parts -1: %v, %v", names, err)
	}

	// A transactional table's metadata is kept; its transactions are refused with a clear error.
	acid := salesTable("d", "acid")
	acid.Parameters["transactional"] = "true"
	wantErr(t, "create transactional", e.c.CreateTable(ctx, acid), nil, "")
	if _, err := e.c.OpenTxns(ctx, &hm.OpenTxnRequest{NumTxns: 1, User: "u", Hostname: "h"}); err == nil || !strings.Contains(err.Error(), "does not support Hive ACID") {
		t.Fatalf("open_txns: %v", err)
	}
	_, err = e.c.GetValidWriteIds(ctx, &hm.GetValidWriteIdsRequest{FullTableNames: []string{"d.acid"}})
	wantErr(t, "get_valid_write_ids", err, metaExc, "does not support Hive ACID")

	// setMetaConf lasts for the connection that set it.
	wantErr(t, "setMetaConf", e.c.SetMetaConf(ctx, "hive.metastore.try.direct.sql", "false"), nil, "")
	if v, err := e.c.GetMetaConf(ctx, "metastore.try.direct.sql"); err != nil || v != "false" {
		t.Fatalf("getMetaConf on the same connection: %q %v", v, err)
	}
	if v, err := dial(t, e.addr, false).GetMetaConf(ctx, "metastore.try.direct.sql"); err != nil || v != "true" {
		t.Fatalf("getMetaConf on another connection: %q %v", v, err)
	}
	wantErr(t, "setMetaConf not allowed", e.c.SetMetaConf(ctx, "hive.metastore.warehouse.dir", "/x"), metaExc, "")
}

func TestPartitionSpecsAndValues(t *testing.T) {
	e := newEnv(t)
	wantErr(t, "create table", e.c.CreateTable(ctx, salesTable("default", "s")), nil, "")
	tbl, _ := e.c.GetTable(ctx, "default", "s")
	shared := parquetSD(tbl.Sd.Location)
	n, err := e.c.AddPartitionsPspec(ctx, []*hm.PartitionSpec{
		{DbName: "default", TableName: "s", RootPath: tbl.Sd.Location, SharedSDPartitionSpec: &hm.PartitionSpecWithSharedSD{Sd: shared,
			Partitions: []*hm.PartitionWithoutSD{{Values: []string{"eu", "1"}, RelativePath: "/region=eu/day=1"}, {Values: []string{"eu", "2"}, RelativePath: "/region=eu/day=2"}}}},
		{DbName: "default", TableName: "s", PartitionList: &hm.PartitionListComposingSpec{Partitions: []*hm.Partition{part("default", "s", "us", "1")}}},
	})
	wantErr(t, "add_partitions_pspec", err, nil, "")
	if n != 3 {
		t.Fatalf("added %d, want 3", n)
	}
	p, err := e.c.GetPartition(ctx, "default", "s", []string{"eu", "2"})
	wantErr(t, "get", err, nil, "")
	if p.Sd.Location != tbl.Sd.Location+"/region=eu/day=2" {
		t.Fatalf("shared-SD partition location %s", p.Sd.Location)
	}
	specs, err := e.c.GetPartitionsPspec(ctx, "default", "s", -1)
	wantErr(t, "get_partitions_pspec", err, nil, "")
	if len(specs) != 1 || len(specs[0].PartitionList.Partitions) != 3 || specs[0].RootPath != tbl.Sd.Location {
		t.Fatalf("specs: %+v", specs)
	}
	specs, err = e.c.GetPartSpecsByFilter(ctx, "default", "s", `region = "eu"`, -1)
	wantErr(t, "get_part_specs_by_filter", err, nil, "")
	if len(specs) != 1 || len(specs[0].PartitionList.Partitions) != 2 {
		t.Fatalf("filtered specs: %+v", specs)
	}
	vals, err := e.c.GetPartitionValues(ctx, &hm.PartitionValuesRequest{DbName: "default", TblName: "s",
		PartitionKeys: []*hm.FieldSchema{col("region", "string")}, ApplyDistinct: true, Ascending: false, MaxParts: -1})
	wantErr(t, "get_partition_values", err, nil, "")
	if len(vals.PartitionValues) != 2 || vals.PartitionValues[0].Row[0] != "us" || vals.PartitionValues[1].Row[0] != "eu" {
		t.Fatalf("distinct regions, descending: %+v", vals.PartitionValues)
	}
}

func TestTableNamesByFilter(t *testing.T) {
	e := newEnv(t)
	for i, n := range []string{"t1", "t2", "t3"} {
		tbl := salesTable("default", n)
		tbl.Owner = []string{"testowner", "other", "testowner2"}[i]
		tbl.Parameters = map[string]string{"retention": []string{"30", "90", "30"}[i]}
		if i == 2 {
			delete(tbl.Parameters, "retention")
		}
		wantErr(t, "create", e.c.CreateTable(ctx, tbl), nil, "")
	}
	for _, tc := range []struct {
		filter string
		want   string
	}{
		{`hive_filter_field_owner__ like ".*test.*"`, "[t1 t3]"},
		{`hive_filter_field_params__retention = "30"`, "[t1]"},
		{`hive_filter_field_params__retention <> "30"`, "[t2]"},
		{`hive_filter_field_owner__ = "other" or hive_filter_field_params__retention = "30"`, "[t1 t2]"},
		{`hive_filter_field_last_access__ = 0`, "[t1 t2 t3]"},
	} {
		got, err := e.c.GetTableNamesByFilter(ctx, "default", tc.filter, -1)
		wantErr(t, tc.filter, err, nil, "")
		sort.Strings(got)
		if fmt.Sprint(got) != tc.want {
			t.Errorf("%s: %v, want %s", tc.filter, got, tc.want)
		}
	}
	_, err := e.c.GetTableNamesByFilter(ctx, "nodb", "", -1)
	wantErr(t, "missing database", err, &hm.UnknownDBException{}, "")
}

func TestAggrStats(t *testing.T) {
	e := newEnv(t)
	wantErr(t, "create", e.c.CreateTable(ctx, salesTable("default", "s")), nil, "")
	lows := []int64{5, -3}
	for i, day := range []string{"1", "2"} {
		if _, err := e.c.AddPartition(ctx, part("default", "s", "eu", day)); err != nil {
			t.Fatal(err)
		}
		name := "region=eu/day=" + day
		lo, hi := lows[i], int64(10*(i+1))
		st := &hm.ColumnStatistics{
			StatsDesc: &hm.ColumnStatisticsDesc{DbName: "default", TableName: "s", PartName: &name},
			StatsObj: []*hm.ColumnStatisticsObj{{ColName: "id", ColType: "bigint", StatsData: &hm.ColumnStatisticsData{
				LongStats: &hm.LongColumnStatsData{LowValue: &lo, HighValue: &hi, NumNulls: 1, NumDVs: int64(7 + i)}}}},
		}
		if _, err := e.c.UpdatePartitionColumnStatistics(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.c.GetAggrStatsFor(ctx, &hm.PartitionsStatsRequest{DbName: "default", TblName: "s", ColNames: []string{"id"},
		PartNames: []string{"region=eu/day=1", "region=eu/day=2"}, Engine: "hive"})
	wantErr(t, "get_aggr_stats_for", err, nil, "")
	if got.PartsFound != 2 || len(got.ColStats) != 1 {
		t.Fatalf("aggregate: %+v", got)
	}
	l := got.ColStats[0].StatsData.LongStats
	if *l.LowValue != -3 || *l.HighValue != 20 || l.NumNulls != 2 || l.NumDVs != 8 {
		t.Fatalf("merged long stats: low %d high %d nulls %d ndv %d", *l.LowValue, *l.HighValue, l.NumNulls, l.NumDVs)
	}
}
