package thrift

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	"github.com/beltran/gohive/gohivemeta/fb303"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

func encodeStruct(t *testing.T, s athrift.TStruct) []byte {
	t.Helper()
	buf := athrift.NewTMemoryBuffer()
	if err := s.Write(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		t.Fatalf("encode %T: %v", s, err)
	}
	return buf.Bytes()
}

func decode(b []byte, lim Limits) (*Struct, error) {
	buf := athrift.NewTMemoryBuffer()
	buf.Write(b)
	return ReadStruct(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil), lim)
}

func uuidStruct() *Struct {
	return &Struct{Fields: []Field{
		{ID: 1, Value: Value{Type: athrift.UUID, Bytes: bytes.Repeat([]byte{0xab}, 16)}},
		{ID: -3, Value: Value{Type: athrift.DOUBLE, Double: math.Copysign(0, -1)}},
		{ID: 7, Value: Value{Type: athrift.SET, List: &List{Elem: athrift.I64}}},
		{ID: 8, Value: Value{Type: athrift.MAP, Map: &Map{Key: athrift.STRING, Val: athrift.STRUCT}}},
		// Hive's skewedColValueLocationMaps: map<list<string>,string>, which Go bindings drop.
		{ID: 9, Value: Value{Type: athrift.MAP, Map: &Map{Key: athrift.LIST, Val: athrift.STRING, Entries: []MapEntry{{
			Key:   Value{Type: athrift.LIST, List: &List{Elem: athrift.STRING, Values: []Value{{Type: athrift.STRING, Bytes: []byte("eu")}}}},
			Value: Value{Type: athrift.STRING, Bytes: []byte("s3://x/eu")},
		}}}}},
		{ID: 10, Value: Value{Type: athrift.BYTE, Int: -128}},
		{ID: 11, Value: Value{Type: athrift.I16, Int: math.MinInt16}},
	}}
}

// TestRoundTrip reads real metastore structs without their IDL and writes them back: the bytes
// must be those the generated code wrote, so a forwarded call reaches the backend as sent.
func TestRoundTrip(t *testing.T) {
	sd := &hm.StorageDescriptor{
		Cols:         []*hm.FieldSchema{{Name: "id", Type: "bigint", Comment: "key"}, {Name: "email", Type: "string"}},
		Location:     "s3://bucket/sales",
		InputFormat:  "parquet.In",
		OutputFormat: "parquet.Out",
		Compressed:   true,
		NumBuckets:   -1,
		SerdeInfo:    &hm.SerDeInfo{Name: "ser", SerializationLib: "parquet.SerDe", Parameters: map[string]string{"a": "1", "b": ""}},
		BucketCols:   []string{},
		SortCols:     []*hm.Order{{Col: "id", Order: 1}},
		Parameters:   map[string]string{},
		SkewedInfo: &hm.SkewedInfo{
			SkewedColNames:  []string{"region"},
			SkewedColValues: [][]string{{"eu"}, {"us", "ca"}},
		},
		StoredAsSubDirectories: fptr(false),
	}
	mode := hm.PrincipalType_ROLE
	table := &hm.Table{
		DbName: "sales", TableName: "orders", Owner: "alice", CreateTime: 1700000000, Retention: 0,
		Sd:            sd,
		PartitionKeys: []*hm.FieldSchema{{Name: "day", Type: "int"}},
		Parameters:    map[string]string{"comment": "facts", "numRows": "42"},
		TableType:     "EXTERNAL_TABLE", OwnerType: mode, Temporary: true, RewriteEnabled: fptr(true),
		Privileges: &hm.PrincipalPrivilegeSet{UserPrivileges: map[string][]*hm.PrivilegeGrantInfo{
			"bob": {{Privilege: "SELECT", Grantor: "alice", GrantOption: true}},
		}},
		CatName: fptr("hive"), WriteId: -7,
	}
	stats := &hm.ColumnStatistics{
		StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: true, DbName: "sales", TableName: "orders"},
		StatsObj: []*hm.ColumnStatisticsObj{{ColName: "amount", ColType: "double", StatsData: &hm.ColumnStatisticsData{
			DoubleStats: &hm.DoubleColumnStatsData{LowValue: fptr(-1.5), HighValue: fptr(math.MaxFloat64), NumNulls: 3, NumDVs: 9, BitVectors: []byte{0, 1, 0xff}},
		}}},
		IsStatsCompliant: fptr(false),
		Engine:           fptr("hive"),
	}
	tests := []struct {
		name string
		s    athrift.TStruct
	}{
		{"Table", table},
		{"empty Table", &hm.Table{}},
		{"ColumnStatistics (doubles, binary, unions)", stats},
		{"CreationMetadata (set)", &hm.CreationMetadata{CatName: "hive", DbName: "db", TblName: "mv", TablesUsed: []string{"db.a", "db.b"}}},
		{"get_tables_ext args", &hm.ThriftHiveMetastoreGetTablesExtArgs{Req: &hm.GetTablesExtRequest{
			Catalog: "hive", Database: "sales", TableNamePattern: "*", RequestedFields: 3, Limit: fptr(int32(10)),
			ProcessorCapabilities: []string{"HIVEFULLACIDREAD"},
		}}},
		{"get_partition_values result", &hm.ThriftHiveMetastoreGetPartitionValuesResult{Success: &hm.PartitionValuesResponse{
			PartitionValues: []*hm.PartitionValuesRow{{Row: []string{"2024-01-01", "eu"}}, {Row: []string{}}},
		}}},
		{"MetaException in a result", &hm.ThriftHiveMetastoreGetTablesExtResult{O1: &hm.MetaException{Message: "boom"}}},
		{"UUID, negative field id, empty containers, list keys", uuidStruct()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := encodeStruct(t, tt.s)
			s, err := decode(want, Limits{})
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if got := encodeStruct(t, s); !bytes.Equal(got, want) {
				t.Fatalf("written back differs:\n got % x\nwant % x", got, want)
			}
		})
	}
}

func fptr[T any](v T) *T { return &v }

func TestStringFields(t *testing.T) {
	args := &hm.ThriftHiveMetastoreGetTablesExtArgs{Req: &hm.GetTablesExtRequest{
		Catalog: "hive", Database: "sales", TableNamePattern: "ord*", ProcessorIdentifier: fptr("spark"),
	}}
	top := &hm.ThriftHiveMetastoreGetPartitionValuesArgs{Request: &hm.PartitionValuesRequest{
		DbName: "sales", TblName: "orders", PartitionKeys: []*hm.FieldSchema{{Name: "day", Type: "int"}},
	}}
	tests := []struct {
		name  string
		s     athrift.TStruct
		depth int
		want  []string // path:value
	}{
		{"top level only", args, 0, nil},
		{"request struct", args, 1, []string{"1.1:hive", "1.2:sales", "1.3:ord*", "1.7:spark"}},
		{"not inside lists", top, 3, []string{"1.1:sales", "1.2:orders"}},
		{"plain arguments", &hm.ThriftHiveMetastoreGetTableArgs{Dbname: "db", TblName: "t"}, 1, []string{"1:db", "2:t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := decode(encodeStruct(t, tt.s), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range s.StringFields(tt.depth) {
				var p []string
				for _, id := range f.Path {
					p = append(p, strconv.Itoa(int(id)))
				}
				got = append(got, strings.Join(p, ".")+":"+f.Value.Str())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	// Rewriting through the returned pointer edits the tree.
	s, _ := decode(encodeStruct(t, args), Limits{})
	s.StringFields(1)[1].Value.Bytes = []byte("own_sales")
	var back hm.ThriftHiveMetastoreGetTablesExtArgs
	buf := athrift.NewTMemoryBuffer()
	buf.Write(encodeStruct(t, s))
	if err := back.Read(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		t.Fatal(err)
	}
	if back.Req.Database != "own_sales" || back.Req.Catalog != "hive" || back.Req.TableNamePattern != "ord*" {
		t.Fatalf("rewritten request: %+v", back.Req)
	}
}

// bin builds binary-protocol bytes by hand, for input no generated struct would produce.
type bin struct{ bytes.Buffer }

func (b *bin) u8(v byte) *bin   { b.WriteByte(v); return b }
func (b *bin) i16(v int16) *bin { b.Write([]byte{byte(v >> 8), byte(v)}); return b }
func (b *bin) i32(v int32) *bin {
	b.Write([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return b
}
func (b *bin) field(t athrift.TType, id int16) *bin  { return b.u8(byte(t)).i16(id) }
func (b *bin) list(elem athrift.TType, n int32) *bin { return b.u8(byte(elem)).i32(n) }

func TestReadLimits(t *testing.T) {
	deep := func(n int) []byte {
		b := &bin{}
		b.field(athrift.LIST, 1)
		for range n - 1 {
			b.list(athrift.LIST, 1)
		}
		b.list(athrift.I32, 0)
		b.u8(0) // STOP
		return b.Bytes()
	}
	many := func(n int32) []byte {
		b := &bin{}
		b.field(athrift.LIST, 1).list(athrift.BOOL, n)
		for range n {
			b.u8(1)
		}
		return b.u8(0).Bytes()
	}
	tests := []struct {
		name    string
		in      []byte
		lim     Limits
		typ     int // protocol exception type; -1: any error
		wantErr bool
	}{
		{"nesting within the limit", deep(10), Limits{MaxDepth: 12}, 0, false},
		{"nesting over the limit", deep(100), Limits{MaxDepth: 12}, athrift.DEPTH_LIMIT, true},
		{"default depth stops a deep bomb", deep(10000), Limits{}, athrift.DEPTH_LIMIT, true},
		{"values within the limit", many(100), Limits{MaxValues: 101}, 0, false},
		{"values over the limit", many(100), Limits{MaxValues: 50}, athrift.SIZE_LIMIT, true},
		{"unknown type", (&bin{}).field(0x55, 1).u8(0).Bytes(), Limits{}, athrift.INVALID_DATA, true},
		{"negative list size", (&bin{}).field(athrift.LIST, 1).list(athrift.I32, -2).Bytes(), Limits{}, -1, true},
		{"list claims more than it holds", (&bin{}).field(athrift.LIST, 1).list(athrift.I32, 1<<30).Bytes(), Limits{}, -1, true},
		{"truncated", encodeStruct(t, &hm.Table{DbName: "db", TableName: "t"})[:9], Limits{}, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode(tt.in, tt.lim)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("read succeeded")
			}
			if tt.typ >= 0 {
				var pe athrift.TProtocolException
				if !errors.As(err, &pe) || pe.TypeId() != tt.typ {
					t.Fatalf("error %T %v, want protocol exception type %d", err, err, tt.typ)
				}
			}
		})
	}
}

// fallbackFunc adapts a function to Fallback and records the calls.
type fallbackFunc struct {
	mu    sync.Mutex
	calls []string
	fn    func(method string, args *Struct) (*Struct, athrift.TMessageType, error)
}

func (f *fallbackFunc) Forward(ctx context.Context, method string, args *Struct) (*Struct, athrift.TMessageType, error) {
	f.mu.Lock()
	f.calls = append(f.calls, method)
	f.mu.Unlock()
	if SessionFrom(ctx) == nil {
		return nil, 0, errors.New("no session in the context")
	}
	return f.fn(method, args)
}

func startDispatcher(t *testing.T, fb Fallback) string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var d *Dispatcher
	if fb == nil {
		d = NewDispatcher(fb303.NewFacebookServiceProcessor(fbHandler{}), nil, Limits{}, log)
	} else {
		d = NewDispatcher(fb303.NewFacebookServiceProcessor(fbHandler{}), fb, Limits{MaxDepth: 16}, log)
	}
	srv := NewServer(Config{}, d, log, nil)
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

func hiveClient(t *testing.T, addr string) (*hm.ThriftHiveMetastoreClient, athrift.TTransport) {
	t.Helper()
	conf := &athrift.TConfiguration{ConnectTimeout: 5 * time.Second, SocketTimeout: 5 * time.Second}
	tr := athrift.NewTBufferedTransport(athrift.NewTSocketConf(addr, conf), 1<<16)
	if err := tr.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	p := athrift.NewTBinaryProtocolConf(tr, conf)
	return hm.NewThriftHiveMetastoreClient(athrift.NewTStandardClient(p, p)), tr
}

func generic(t *testing.T, s athrift.TStruct) *Struct {
	t.Helper()
	g, err := decode(encodeStruct(t, s), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func appErr(err error) (int32, string, bool) {
	var ae athrift.TApplicationException
	if !errors.As(err, &ae) {
		return 0, "", false
	}
	return ae.TypeId(), ae.Error(), true
}

// TestDispatcher serves fb303 (standing for the modeled methods) with a fallback for the rest,
// and calls it with gohive's metastore client, as an engine would.
func TestDispatcher(t *testing.T) {
	rows := &hm.PartitionValuesResponse{PartitionValues: []*hm.PartitionValuesRow{{Row: []string{"2024-01-01"}}}}
	fb := &fallbackFunc{fn: func(method string, args *Struct) (*Struct, athrift.TMessageType, error) {
		req := args.Field(1)
		db := ""
		if req != nil && req.Struct != nil {
			if v := req.Struct.Field(1); v != nil {
				db = v.Str()
			}
		}
		switch db {
		case "values":
			return generic(t, &hm.ThriftHiveMetastoreGetPartitionValuesResult{Success: rows}), athrift.REPLY, nil
		case "meta":
			return generic(t, &hm.ThriftHiveMetastoreGetPartitionValuesResult{O1: &hm.MetaException{Message: "upstream says no"}}), athrift.REPLY, nil
		case "relay":
			return AppException(athrift.UNKNOWN_METHOD, "Invalid method name: '"+method+"'"), athrift.EXCEPTION, nil
		case "unsupported":
			return nil, 0, errs.Unsupported("backend embedded cannot forward %s", method)
		case "down":
			return nil, 0, errs.Unavailable(`backend "legacy" (127.0.0.1:1) unavailable: connect: refused`)
		case "panic":
			panic("fallback bug")
		case "bad reply":
			return &Struct{}, athrift.CALL, nil
		}
		return nil, 0, errors.New("unexpected db " + db)
	}}
	c, _ := hiveClient(t, startDispatcher(t, fb))
	call := func(db string) (*hm.PartitionValuesResponse, error) {
		return c.GetPartitionValues(context.Background(), &hm.PartitionValuesRequest{DbName: db, TblName: "t", PartitionKeys: []*hm.FieldSchema{}})
	}
	tests := []struct {
		db      string
		appType int32  // 0: no application exception
		msg     string // in the error
		meta    bool
	}{
		{db: "values"},
		{db: "meta", meta: true, msg: "upstream says no"},
		{db: "relay", appType: athrift.UNKNOWN_METHOD, msg: "Invalid method name"},
		{db: "unsupported", appType: athrift.UNKNOWN_METHOD, msg: "Unknown function get_partition_values: backend embedded cannot forward"},
		{db: "down", appType: athrift.INTERNAL_ERROR, msg: `backend "legacy" (127.0.0.1:1) unavailable`},
		{db: "panic", appType: athrift.INTERNAL_ERROR, msg: "panic: fallback bug"},
		{db: "bad reply", appType: athrift.INTERNAL_ERROR, msg: "message type"},
	}
	for _, tt := range tests {
		t.Run(tt.db, func(t *testing.T) {
			got, err := call(tt.db)
			switch {
			case tt.meta:
				var me *hm.MetaException
				if !errors.As(err, &me) || !strings.Contains(me.Message, tt.msg) {
					t.Fatalf("got %T %v, want MetaException %q", err, err, tt.msg)
				}
			case tt.appType != 0:
				typ, msg, ok := appErr(err)
				if !ok || typ != tt.appType || !strings.Contains(msg, tt.msg) {
					t.Fatalf("got %T %v, want application exception %d containing %q", err, err, tt.appType, tt.msg)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, rows) {
					t.Fatalf("got %+v, want %+v", got, rows)
				}
			}
			// Whatever happened, the connection carries the next call, modeled or not.
			if name, err := c.GetName(context.Background()); err != nil || name != "session-buffered" {
				t.Fatalf("modeled call after: %q, %v", name, err)
			}
			if _, err := call("values"); err != nil {
				t.Fatalf("forwarded call after: %v", err)
			}
		})
	}
	// Modeled methods never reach the fallback.
	for _, m := range fb.calls {
		if m != "get_partition_values" {
			t.Errorf("fallback got %s", m)
		}
	}
}

// TestDispatcherWithoutFallback: unknown methods are answered as by the processor alone.
func TestDispatcherWithoutFallback(t *testing.T) {
	c, _ := hiveClient(t, startDispatcher(t, nil))
	for range 2 {
		_, err := c.GetTablesExt(context.Background(), &hm.GetTablesExtRequest{Catalog: "hive", Database: "db", TableNamePattern: "*"})
		typ, msg, ok := appErr(err)
		if !ok || typ != athrift.UNKNOWN_METHOD || msg != "Unknown function get_tables_ext" {
			t.Fatalf("got %T %v, want UNKNOWN_METHOD naming the method", err, err)
		}
		if name, err := c.GetName(context.Background()); err != nil || name != "session-buffered" {
			t.Fatalf("modeled call: %q, %v", name, err)
		}
	}
}

// TestDispatcherMalformed: arguments that cannot be read close the connection (the stream is
// out of step), after a PROTOCOL_ERROR the client can read, and never reach the fallback;
// oneway calls are never forwarded.
func TestDispatcherMalformed(t *testing.T) {
	fb := &fallbackFunc{fn: func(string, *Struct) (*Struct, athrift.TMessageType, error) {
		return &Struct{}, athrift.REPLY, nil
	}}
	addr := startDispatcher(t, fb)
	msg := func(typ athrift.TMessageType, name string, body []byte) []byte {
		b := &bin{}
		b.i32(int32(uint32(0x80010000) | uint32(typ))).i32(int32(len(name)))
		b.WriteString(name)
		b.i32(1)
		b.Write(body)
		return b.Bytes()
	}
	deep := &bin{}
	deep.field(athrift.LIST, 1)
	for range 40 {
		deep.list(athrift.LIST, 1)
	}
	deep.list(athrift.LIST, 0).u8(0) // complete: the server receives a message whole before decoding it
	tests := []struct {
		name string
		in   []byte
	}{
		{"unknown type", msg(athrift.CALL, "get_new_thing", (&bin{}).field(0x55, 1).u8(0).Bytes())},
		{"too deep", msg(athrift.CALL, "get_new_thing", deep.Bytes())},
		{"truncated", msg(athrift.CALL, "get_new_thing", (&bin{}).field(athrift.STRING, 1).i32(100).Bytes())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := nc.Write(tt.in); err != nil {
				t.Fatal(err)
			}
			if tt.name == "truncated" {
				nc.(*net.TCPConn).CloseWrite()
			}
			got, err := io.ReadAll(nc)
			if err != nil {
				t.Fatalf("reading until the server closes: %v", err)
			}
			if tt.name != "truncated" && !bytes.Contains(got, []byte("get_new_thing")) {
				t.Errorf("no exception reply before closing: % x", got)
			}
		})
	}
	fb.mu.Lock()
	if len(fb.calls) != 0 {
		t.Fatalf("fallback called for malformed input: %v", fb.calls)
	}
	fb.mu.Unlock()

	// A oneway call is refused (Propolis serves no oneway method): not forwarded, answered
	// INVALID_MESSAGE_TYPE, and the connection closes; the next one is served.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	nc.Write(msg(athrift.ONEWAY, "shutdown_everything", []byte{0}))
	got, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("reading until the server closes: %v", err)
	}
	if !bytes.Contains(got, []byte("not accepted")) {
		t.Fatalf("oneway call not refused with a reason: % x", got)
	}
	nc2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	nc2.SetDeadline(time.Now().Add(5 * time.Second))
	nc2.Write(msg(athrift.CALL, "getName", []byte{0}))
	got = nil
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte("session-buffered")) {
		n, err := nc2.Read(buf)
		if err != nil {
			t.Fatalf("getName after a oneway call: %v (read % x)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if len(fb.calls) != 0 {
		t.Fatalf("oneway call forwarded: %v", fb.calls)
	}
}
