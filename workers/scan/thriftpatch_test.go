package scan

import (
	"bytes"
	"context"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/prometheus/client_golang/prometheus"
)

// columnChunk serializes a parquet ColumnChunk-shaped struct (the fields writers emit) with its
// offsets based at base, through Thrift's own compact protocol.
func columnChunk(t *testing.T, base int64) []byte {
	t.Helper()
	ctx := context.Background()
	buf := thrift.NewTMemoryBuffer()
	p := thrift.NewTCompactProtocolConf(buf, nil)
	i64 := func(id int16, v int64) {
		p.WriteFieldBegin(ctx, "", thrift.I64, id)
		p.WriteI64(ctx, v)
		p.WriteFieldEnd(ctx)
	}
	p.WriteStructBegin(ctx, "ColumnChunk")
	i64(2, base+100) // file_offset
	p.WriteFieldBegin(ctx, "", thrift.STRUCT, 3)
	p.WriteStructBegin(ctx, "ColumnMetaData")
	p.WriteFieldBegin(ctx, "", thrift.I32, 1)
	p.WriteI32(ctx, 6)
	p.WriteFieldEnd(ctx)
	p.WriteFieldBegin(ctx, "", thrift.LIST, 2)
	p.WriteListBegin(ctx, thrift.I32, 3)
	for _, e := range []int32{0, 3, 8} {
		p.WriteI32(ctx, e)
	}
	p.WriteListEnd(ctx)
	p.WriteFieldEnd(ctx)
	p.WriteFieldBegin(ctx, "", thrift.LIST, 3)
	p.WriteListBegin(ctx, thrift.STRING, 1)
	p.WriteString(ctx, "email_token")
	p.WriteListEnd(ctx)
	p.WriteFieldEnd(ctx)
	i64(5, 1234)                                  // num_values: not an offset
	i64(7, 98765)                                 // total_compressed_size: not an offset
	i64(9, base+4000)                             // data_page_offset
	i64(11, base+100)                             // dictionary_page_offset
	p.WriteFieldBegin(ctx, "", thrift.STRUCT, 12) // statistics with binary min/max and a bool
	p.WriteStructBegin(ctx, "Statistics")
	p.WriteFieldBegin(ctx, "", thrift.STRING, 5)
	p.WriteBinary(ctx, []byte("tok_000"))
	p.WriteFieldEnd(ctx)
	p.WriteFieldBegin(ctx, "", thrift.BOOL, 7)
	p.WriteBool(ctx, true)
	p.WriteFieldEnd(ctx)
	p.WriteFieldStop(ctx)
	p.WriteStructEnd(ctx)
	p.WriteFieldEnd(ctx)
	p.WriteFieldBegin(ctx, "", thrift.MAP, 13)
	p.WriteMapBegin(ctx, thrift.STRING, thrift.I64, 1)
	p.WriteString(ctx, "k")
	p.WriteI64(ctx, 7)
	p.WriteMapEnd(ctx)
	p.WriteFieldEnd(ctx)
	i64(14, base+9000) // bloom_filter_offset
	p.WriteFieldStop(ctx)
	p.WriteStructEnd(ctx)
	p.WriteFieldEnd(ctx)
	i64(4, base+20000) // offset_index_offset
	p.WriteFieldBegin(ctx, "", thrift.I32, 5)
	p.WriteI32(ctx, 77) // offset_index_length: not an offset
	p.WriteFieldEnd(ctx)
	p.WriteFieldStop(ctx)
	p.WriteStructEnd(ctx)
	p.Flush(ctx)
	return append([]byte(nil), buf.Bytes()...)
}

// TestShiftColumnChunk: moving inline column metadata by delta gives exactly what a writer
// would have written at the new place, including varints that grow.
func TestShiftColumnChunk(t *testing.T) {
	for _, tc := range []struct{ base, delta int64 }{{4, 0}, {4, 60}, {4, 1 << 20}, {1 << 40, -(1 << 39)}} {
		in := columnChunk(t, tc.base)
		want := columnChunk(t, tc.base+tc.delta)
		trailing := append(append([]byte(nil), in...), 0xAA, 0xBB) // the next column's pages
		got, used, err := shiftColumnChunk(trailing, tc.delta)
		if err != nil {
			t.Fatal(err)
		}
		if used != len(in) || !bytes.Equal(got, want) {
			t.Fatalf("base %d delta %d: used %d of %d, equal %v", tc.base, tc.delta, used, len(in), bytes.Equal(got, want))
		}
	}
	in := columnChunk(t, 4)
	for cut := 0; cut < len(in); cut++ {
		if _, _, err := shiftColumnChunk(in[:cut], 10); err == nil {
			t.Fatalf("truncated at %d: no error", cut)
		}
	}
}

func TestPromMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewProm()
	reg.MustRegister(m)
	loc := writeSource(t, t.TempDir(), "part-0.parquet", 3000, 1000, 0, 12)
	b := checked(t, 0)
	f := openFile(t, loc, newMaskFilter(false), b, Config{Metrics: m})
	data := fullEncode(t, f)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, fam := range fams {
		for _, mt := range fam.GetMetric() {
			name := fam.GetName()
			for _, l := range mt.GetLabel() {
				name += "/" + l.GetValue()
			}
			got[name] = mt.GetCounter().GetValue()
		}
	}
	if got["propolis_worker_scan_rows_in_total"] != 3000 || got["propolis_worker_scan_batches_total"] != 3 ||
		got["propolis_worker_scan_served_bytes_total"] != float64(len(data)) ||
		got["propolis_worker_scan_source_bytes_total"] == 0 || got["propolis_worker_scan_stage_seconds_total/encode"] <= 0 {
		t.Fatalf("metrics: %v", got)
	}
}
