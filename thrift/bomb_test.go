package thrift

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"
)

// hmsStub is the metastore's generated processor with no handler behind it: the bombs below
// must never get as far as a call.
type hmsStub struct{ hm.ThriftHiveMetastore }

// mapBomb is the 47-byte create_database whose Database.parameters map announces 13,107,199
// entries (8 bytes each at the least, just under the 100 MiB message limit) and sends none.
func mapBomb() []byte {
	b := &bin{}
	version := uint32(0x80010000)
	b.i32(int32(version | uint32(athrift.CALL))).i32(int32(len("create_database")))
	b.WriteString("create_database")
	b.i32(1)
	b.field(athrift.STRUCT, 1)                                                                // database
	b.field(athrift.STRING, 1).i32(1).u8('x')                                                 // name
	b.field(athrift.MAP, 4).u8(byte(athrift.STRING)).u8(byte(athrift.STRING)).i32(13_107_199) // parameters
	return b.Bytes()
}

// TestAnnouncedSizesCostNothing: what a message costs the server is proportional to the bytes
// it sent, whatever sizes it announced, on both transports, while it stalls and once it gives
// up.
func TestAnnouncedSizesCostNothing(t *testing.T) {
	bomb := mapBomb()
	if len(bomb) != 47 {
		t.Fatalf("bomb is %d bytes, want 47", len(bomb))
	}
	framed := binary.BigEndian.AppendUint32(nil, DefaultMaxMessageBytes-1) // a frame claiming ~100 MiB
	framed = append(framed, bomb...)

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := NewServer(Config{}, hm.NewThriftHiveMetastoreProcessor(hmsStub{}), log, nil)
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

	const budget = 2 << 20 // bytes: buffers and goroutines, nothing in proportion to the claims
	for _, tc := range []struct {
		name    string
		payload []byte
	}{{"buffered", bomb}, {"framed", framed}} {
		t.Run(tc.name, func(t *testing.T) {
			const conns = 4
			before := totalAlloc()
			var cs []net.Conn
			for range conns {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := c.Write(tc.payload); err != nil {
					t.Fatal(err)
				}
				cs = append(cs, c)
			}
			time.Sleep(300 * time.Millisecond) // the server has read what was sent and waits for more
			stalled := totalAlloc() - before
			for _, c := range cs {
				c.(*net.TCPConn).CloseWrite()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				io.Copy(io.Discard, c) // until the server closes
			}
			gone := totalAlloc() - before
			t.Logf("%d connections of %d bytes: %d bytes allocated while stalled, %d in all", conns, len(tc.payload), stalled, gone)
			if gone > budget {
				t.Fatalf("%d bombs of %d bytes cost %d bytes, budget %d", conns, len(tc.payload), gone, budget)
			}
		})
	}
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// emptyStructs is an add_partitions call whose list holds n partitions of one byte each (an
// empty struct): bytes actually sent, each decoding into a 128-byte Partition.
func emptyStructs(n int) []byte {
	b := &bin{}
	version := uint32(0x80010000)
	b.i32(int32(version | uint32(athrift.CALL))).i32(int32(len("add_partitions")))
	b.WriteString("add_partitions")
	b.i32(1)
	b.field(athrift.LIST, 1).u8(byte(athrift.STRUCT)).i32(int32(n))
	b.Write(make([]byte, n)) // n STOPs: n empty structs
	b.u8(0)
	return b.Bytes()
}

// TestDecodeAmplificationRefused: a message of empty structures, which would decode into some
// 137 times its size, is refused before decoding, on both transports, with a reason; a real
// request of the same size (wide partitions, as MSCK sends them) is not.
func TestDecodeAmplificationRefused(t *testing.T) {
	bomb := emptyStructs(1 << 20)
	for _, framed := range []bool{false, true} {
		var scratch []byte
		read, data := readBuffered, bomb
		if framed {
			read, data = readFramed, append(binary.BigEndian.AppendUint32(nil, uint32(len(bomb))), bomb...)
		}
		before := totalAlloc()
		_, err := read(bufio.NewReader(bytes.NewReader(data)), DefaultMaxMessageBytes, &scratch)
		cost := totalAlloc() - before
		if err == nil || !strings.Contains(err.Error(), "empty structures") {
			t.Fatalf("framed %v: %d empty structs read: %v; want refused", framed, 1<<20, err)
		}
		if cost > uint64(4*len(data)) { // the bytes, received into a buffer that doubles
			t.Fatalf("framed %v: refusing %d bytes cost %d", framed, len(data), cost)
		}
		t.Logf("framed %v: %d bytes refused (%v), %d bytes allocated", framed, len(data), err, cost)
	}

	// 600 partitions of a 300-column table: about 10 MB, as Hive's MSCK batches send them.
	cols := make([]*hm.FieldSchema, 300)
	for i := range cols {
		cols[i] = &hm.FieldSchema{Name: fmt.Sprintf("c%d", i), Type: "string"}
	}
	var parts []*hm.Partition
	for i := range 600 {
		dt := fmt.Sprintf("2024-%02d-%02d", i%12+1, i%28+1)
		parts = append(parts, &hm.Partition{DbName: "sales", TableName: "wide", Values: []string{dt},
			Sd: &hm.StorageDescriptor{Cols: cols, Location: "s3a://lake/wide/dt=" + dt, SerdeInfo: &hm.SerDeInfo{}}})
	}
	buf := athrift.NewTMemoryBuffer()
	p := athrift.NewTBinaryProtocolConf(buf, nil)
	hm.NewThriftHiveMetastoreClient(athrift.NewTStandardClient(athrift.NewTBinaryProtocolConf(athrift.NewTMemoryBuffer(), nil), p)).
		AddPartitions(context.Background(), parts)
	msg := append([]byte(nil), buf.Bytes()...)
	var scratch []byte
	if _, err := readBuffered(bufio.NewReader(bytes.NewReader(msg)), DefaultMaxMessageBytes, &scratch); err != nil {
		t.Fatalf("a real add_partitions of %d bytes refused: %v", len(msg), err)
	}
	m := msgReader{buf: msg, limit: DefaultMaxMessageBytes}
	m.message()
	t.Logf("real add_partitions: %d bytes, estimated to decode into %.1f times that", len(msg), float64(m.est)/float64(len(msg)))
}
