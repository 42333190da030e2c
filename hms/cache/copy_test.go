package cache

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"
)

func richTable() *hm.Table {
	cols := make([]*hm.FieldSchema, 30)
	for i := range cols {
		cols[i] = &hm.FieldSchema{Name: fmt.Sprintf("col_%d", i), Type: "string", Comment: "a column"}
	}
	cat, yes := "hive", true
	id := int64(42)
	return &hm.Table{
		DbName: "sales", TableName: "orders", Owner: "alice", TableType: "EXTERNAL_TABLE", CatName: &cat,
		RewriteEnabled: &yes, ID: &id, RequiredReadCapabilities: []string{"HIVEFULLACIDREAD"},
		Sd: &hm.StorageDescriptor{
			Cols: cols, Location: "s3://bucket/warehouse/sales.db/orders",
			InputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
			OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
			SerdeInfo: &hm.SerDeInfo{SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
				Parameters: map[string]string{"serialization.format": "1"}},
			BucketCols: []string{}, SortCols: []*hm.Order{{Col: "col_1", Order: 1}},
			SkewedInfo: &hm.SkewedInfo{SkewedColNames: []string{"col_2"}, SkewedColValues: [][]string{{"a", "b"}}},
			Parameters: map[string]string{},
		},
		PartitionKeys: []*hm.FieldSchema{{Name: "region", Type: "string"}, {Name: "day", Type: "int"}},
		Parameters: map[string]string{"transient_lastDdlTime": "1700000000", "numFiles": "12", "totalSize": "123456",
			"spark.sql.sources.schema": "{\"type\":\"struct\",\"fields\":[]}", "comment": "orders"},
		Privileges: &hm.PrincipalPrivilegeSet{UserPrivileges: map[string][]*hm.PrivilegeGrantInfo{
			"alice": {{Privilege: "ALL", Grantor: "admin"}}}},
		ColStats: &hm.ColumnStatistics{StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: true, DbName: "sales", TableName: "orders"},
			StatsObj: []*hm.ColumnStatisticsObj{{ColName: "col_1", ColType: "bigint", StatsData: &hm.ColumnStatisticsData{
				LongStats: &hm.LongColumnStatsData{NumNulls: 1, NumDVs: 2, BitVectors: []byte{1, 2, 3}}}}}},
	}
}

func TestDeepCopy(t *testing.T) {
	src := richTable()
	got := deepCopy(src)
	if !reflect.DeepEqual(src, got) {
		t.Fatalf("copy differs:\n%+v\n%+v", src, got)
	}
	// Every reachable pointer, slice and map must be distinct memory.
	got.Sd.Cols[0].Name = "changed"
	got.Sd.SerdeInfo.Parameters["x"] = "y"
	got.Parameters["numFiles"] = "0"
	*got.CatName = "other"
	*got.RewriteEnabled = false
	got.PartitionKeys[0] = nil
	got.Sd.SkewedInfo.SkewedColValues[0][0] = "z"
	got.Privileges.UserPrivileges["alice"][0].Grantor = "eve"
	got.ColStats.StatsObj[0].StatsData.LongStats.BitVectors[0] = 9
	got.RequiredReadCapabilities[0] = "none"
	if !reflect.DeepEqual(src, richTable()) {
		t.Fatal("mutating the copy changed the original")
	}
	if deepCopy[hm.Table](nil) != nil {
		t.Fatal("nil copy")
	}
}

func thriftClone(ctx context.Context, t *hm.Table) *hm.Table {
	b, err := thrift.NewTSerializer().Write(ctx, t)
	if err != nil {
		panic(err)
	}
	out := &hm.Table{}
	if err := thrift.NewTDeserializer().Read(ctx, out, b); err != nil {
		panic(err)
	}
	return out
}

// BenchmarkCopy compares the two ways of handing out a private copy of a cached table.
func BenchmarkCopy(b *testing.B) {
	t := richTable()
	ctx := context.Background()
	ser, _ := thrift.NewTSerializer().Write(ctx, t)
	b.Run("reflect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = deepCopy(t)
		}
	})
	b.Run("thrift-decode", func(b *testing.B) { // from stored bytes: decode only
		b.ReportAllocs()
		for b.Loop() {
			out := &hm.Table{}
			if err := thrift.NewTDeserializer().Read(ctx, out, ser); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("thrift-roundtrip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = thriftClone(ctx, t)
		}
	})
}
