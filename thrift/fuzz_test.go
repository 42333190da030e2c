package thrift

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the recorded calls in testdata/fuzz")

// recordedCalls are requests as a metastore client writes them (gohive's generated client,
// byte for byte what Hive's Java client sends in the binary protocol), by name.
func recordedCalls(t testing.TB) map[string][]byte {
	ctx := context.Background()
	loc := "s3a://lake/warehouse/sales.db/orders"
	cols := []*hm.FieldSchema{{Name: "id", Type: "bigint"}, {Name: "email", Type: "string", Comment: "pii"}}
	sd := &hm.StorageDescriptor{Cols: cols, Location: loc, InputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
		SerdeInfo: &hm.SerDeInfo{SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", Parameters: map[string]string{"serialization.format": "1"}}}
	table := &hm.Table{DbName: "sales", TableName: "orders", Owner: "alice", Sd: sd, TableType: "EXTERNAL_TABLE",
		PartitionKeys: []*hm.FieldSchema{{Name: "dt", Type: "string"}}, Parameters: map[string]string{"EXTERNAL": "TRUE"}} // one entry: Go writes maps in random order
	part := func(dt string) *hm.Partition {
		psd := *sd
		psd.Location = loc + "/dt=" + dt
		return &hm.Partition{DbName: "sales", TableName: "orders", Values: []string{dt}, Sd: &psd, Parameters: map[string]string{}}
	}
	calls := map[string]func(c *hm.ThriftHiveMetastoreClient){
		"set_ugi": func(c *hm.ThriftHiveMetastoreClient) { c.SetUgi(ctx, "alice", []string{"analysts", "alice"}) },
		"create_database": func(c *hm.ThriftHiveMetastoreClient) {
			c.CreateDatabase(ctx, &hm.Database{Name: "sales", LocationUri: "s3a://lake/sales.db", Parameters: map[string]string{"owner": "alice"}})
		},
		"create_table": func(c *hm.ThriftHiveMetastoreClient) { c.CreateTable(ctx, table) },
		"get_table_req": func(c *hm.ThriftHiveMetastoreClient) {
			c.GetTableReq(ctx, &hm.GetTableRequest{DbName: "sales", TblName: "orders"})
		},
		"get_table_objects_by_name_req": func(c *hm.ThriftHiveMetastoreClient) {
			c.GetTableObjectsByNameReq(ctx, &hm.GetTablesRequest{DbName: "sales", TblNames: []string{"orders", "customers"}})
		},
		"alter_table": func(c *hm.ThriftHiveMetastoreClient) { c.AlterTable(ctx, "sales", "orders", table) },
		"add_partitions": func(c *hm.ThriftHiveMetastoreClient) {
			c.AddPartitions(ctx, []*hm.Partition{part("2024-01-01"), part("2024-01-02")})
		},
		"get_partitions_by_filter": func(c *hm.ThriftHiveMetastoreClient) {
			c.GetPartitionsByFilter(ctx, "sales", "orders", `dt >= "2024-01-01" and dt < "2024-02-01"`, -1)
		},
		"lock": func(c *hm.ThriftHiveMetastoreClient) {
			c.Lock(ctx, &hm.LockRequest{User: "alice", Hostname: "h", Component: []*hm.LockComponent{{Type: hm.LockType_SHARED_READ, Level: hm.LockLevel_TABLE, Dbname: "sales", Tablename: &table.TableName}}})
		},
	}
	out := map[string][]byte{}
	for name, call := range calls {
		buf := athrift.NewTMemoryBuffer()
		p := athrift.NewTBinaryProtocolConf(buf, nil)
		// The reply cannot be read (there is none): only the request the client wrote matters.
		call(hm.NewThriftHiveMetastoreClient(athrift.NewTStandardClient(athrift.NewTBinaryProtocolConf(athrift.NewTMemoryBuffer(), nil), p)))
		out[name] = append([]byte(nil), buf.Bytes()...)
	}
	return out
}

// TestRecordedCorpus keeps testdata/fuzz in step with recordedCalls (-update-corpus rewrites
// it) and checks every recorded call decodes through the server's path.
func TestRecordedCorpus(t *testing.T) {
	for name, msg := range recordedCalls(t) {
		framed := append(binary.BigEndian.AppendUint32(nil, uint32(len(msg))), msg...)
		for _, c := range []struct{ target, file, body string }{
			{"FuzzDecodeRequest", name, fmt.Sprintf("[]byte(%q)\n", msg)},
			{"FuzzReadMessage", name + "-buffered", fmt.Sprintf("[]byte(%q)\nbool(false)\n", msg)},
			{"FuzzReadMessage", name + "-framed", fmt.Sprintf("[]byte(%q)\nbool(true)\n", framed)},
		} {
			path := filepath.Join("testdata", "fuzz", c.target, "recorded-"+c.file)
			want := "go test fuzz v1\n" + c.body
			if *updateCorpus {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != want {
				t.Errorf("%s is missing or stale (go test ./thrift -run TestRecordedCorpus -update-corpus): %v", path, err)
			}
		}
		h, err := parseHeader(msg)
		if err != nil || h.name != name || h.typ != athrift.CALL {
			t.Fatalf("%s: header %+v, %v", name, h, err)
		}
		args := argsFor(h.name)
		p := newMessageProtocol(msg, nil)
		if _, _, _, err := p.ReadMessageBegin(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := args.Read(context.Background(), p); err != nil {
			t.Fatalf("%s: recorded call does not decode: %v", name, err)
		}
	}
}

// argsFor is the generated argument struct of a metastore method (create_table's for others,
// so any bytes still exercise a deep decoder).
func argsFor(method string) athrift.TStruct {
	switch method {
	case "set_ugi":
		return hm.NewThriftHiveMetastoreSetUgiArgs()
	case "create_database":
		return hm.NewThriftHiveMetastoreCreateDatabaseArgs()
	case "get_table_req":
		return hm.NewThriftHiveMetastoreGetTableReqArgs()
	case "get_table_objects_by_name_req":
		return hm.NewThriftHiveMetastoreGetTableObjectsByNameReqArgs()
	case "alter_table":
		return hm.NewThriftHiveMetastoreAlterTableArgs()
	case "add_partitions":
		return hm.NewThriftHiveMetastoreAddPartitionsArgs()
	case "add_partitions_req":
		return hm.NewThriftHiveMetastoreAddPartitionsReqArgs()
	case "get_partitions_by_filter":
		return hm.NewThriftHiveMetastoreGetPartitionsByFilterArgs()
	case "get_partitions_by_names":
		return hm.NewThriftHiveMetastoreGetPartitionsByNamesArgs()
	case "lock":
		return hm.NewThriftHiveMetastoreLockArgs()
	}
	return hm.NewThriftHiveMetastoreCreateTableArgs()
}

// FuzzReadMessage: whatever arrives on a connection, reading one message (framed or not)
// returns an error or exactly the bytes of one message within the limit, never a panic, and
// costs memory in proportion to the bytes that arrived.
func FuzzReadMessage(f *testing.F) {
	f.Add(mapBomb(), false)
	f.Add(append(binary.BigEndian.AppendUint32(nil, 1<<20), mapBomb()...), true)
	f.Add([]byte{0x80, 0x01, 0x00, 0x01, 0, 0, 0, 1, 'x', 0, 0, 0, 1, 0x0f, 0, 1, 0x0c, 0x7f, 0xff, 0xff, 0xff}, false)
	f.Fuzz(func(t *testing.T, data []byte, framed bool) {
		const limit = 1 << 16
		read := readBuffered
		if framed {
			read = readFramed
		}
		var scratch []byte
		before := totalAlloc()
		msg, err := read(bufio.NewReader(bytes.NewReader(data)), limit, &scratch)
		if cost := totalAlloc() - before; cost > uint64(8*len(data))+(256<<10) {
			t.Fatalf("reading %d bytes allocated %d", len(data), cost)
		}
		if err != nil {
			return
		}
		if len(msg) > limit {
			t.Fatalf("message of %d bytes over the limit %d", len(msg), limit)
		}
		start := 0
		if framed {
			start = 4
		}
		if !bytes.HasPrefix(data[start:], msg) {
			t.Fatal("the message is not the bytes received")
		}
		parseHeader(msg)
	})
}

// FuzzDecodeRequest: any message, decoded as the metastore's generated code decodes requests
// and as the forwarding path reads unmodeled ones, fails cleanly or succeeds, never panics,
// and never allocates out of proportion to its bytes, whatever sizes it announces.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(mapBomb())
	f.Fuzz(func(t *testing.T, msg []byte) {
		ctx := context.Background()
		var args athrift.TStruct = hm.NewThriftHiveMetastoreCreateTableArgs()
		if h, err := parseHeader(msg); err == nil {
			args = argsFor(h.name)
		}
		before := totalAlloc()
		p := newMessageProtocol(msg, &athrift.TConfiguration{MaxMessageSize: 1 << 20})
		if _, _, _, err := p.ReadMessageBegin(ctx); err != nil {
			return
		}
		err := args.Read(ctx, p)
		// Go structs are bigger than their wire form (a 1-byte empty struct in a list is a
		// pointer and a struct of strings and maps): allow a constant factor.
		if cost := totalAlloc() - before; cost > uint64(1024*len(msg))+(1<<20) {
			t.Fatalf("decoding %d bytes allocated %d (err %v)", len(msg), cost, err)
		}
		// The schema-less reader a forwarded (unmodeled) method goes through, and back.
		p = newMessageProtocol(msg, &athrift.TConfiguration{MaxMessageSize: 1 << 20})
		if _, _, _, err := p.ReadMessageBegin(ctx); err != nil {
			return
		}
		st, err := ReadStruct(ctx, p, Limits{})
		if err != nil {
			return
		}
		out := athrift.NewTMemoryBuffer()
		if err := st.Write(ctx, athrift.NewTBinaryProtocolConf(out, nil)); err != nil {
			t.Fatalf("a struct read back does not write: %v", err)
		}
	})
}
