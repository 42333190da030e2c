package thrift

import (
	"context"
	"testing"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"
)

func encode(t *testing.T, s athrift.TStruct, wrap func(athrift.TProtocol) athrift.TProtocol) []byte {
	t.Helper()
	buf := athrift.NewTMemoryBuffer()
	var p athrift.TProtocol = athrift.NewTBinaryProtocolConf(buf, nil)
	if wrap != nil {
		p = wrap(p)
	}
	if err := s.Write(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOmitEmptyStrings(t *testing.T) {
	rules := map[string][]string{"StorageDescriptor": {"location"}}
	wrap := func(p athrift.TProtocol) athrift.TProtocol { return OmitEmptyStrings(p, rules) }
	cases := []struct {
		name     string
		location string
		shorter  int // bytes saved: field header (3) + string length (4)
	}{
		{"empty is left out", "", 7},
		{"set is kept", "file:///x", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sd := &hm.StorageDescriptor{Location: tc.location, Cols: []*hm.FieldSchema{{Name: "a", Type: "int"}}, SerdeInfo: &hm.SerDeInfo{}}
			plain, omitted := encode(t, sd, nil), encode(t, sd, wrap)
			if len(plain)-len(omitted) != tc.shorter {
				t.Fatalf("omitted %d bytes, want %d", len(plain)-len(omitted), tc.shorter)
			}
			back := hm.NewStorageDescriptor()
			buf := athrift.NewTMemoryBuffer()
			buf.Write(omitted)
			if err := back.Read(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
				t.Fatalf("the shortened struct does not read back: %v", err)
			}
			if back.Location != tc.location || len(back.Cols) != 1 {
				t.Fatalf("read back %+v", back)
			}
		})
	}
}

func TestWithDefaultString(t *testing.T) {
	// An older client's request: the "engine" field (id 6, required in Hive 4's IDL) is absent.
	req := &hm.TableStatsRequest{DbName: "db", TblName: "t", ColNames: []string{"a"}}
	omit := func(p athrift.TProtocol) athrift.TProtocol {
		return OmitEmptyStrings(p, map[string][]string{"TableStatsRequest": {"engine"}})
	}
	args := &hm.ThriftHiveMetastoreGetTableStatisticsReqArgs{Request: req}
	raw := encode(t, args, omit)

	read := func(wrap bool) (*hm.ThriftHiveMetastoreGetTableStatisticsReqArgs, error) {
		buf := athrift.NewTMemoryBuffer()
		buf.Write(raw)
		var p athrift.TProtocol = athrift.NewTBinaryProtocolConf(buf, nil)
		if wrap {
			p = WithDefaultString(p, 2, 6, "hive")
		}
		out := hm.NewThriftHiveMetastoreGetTableStatisticsReqArgs()
		return out, out.Read(context.Background(), p)
	}
	if _, err := read(false); err == nil {
		t.Fatal("the generated reader accepted a request without engine: the shim is no longer needed?")
	}
	got, err := read(true)
	if err != nil {
		t.Fatalf("with the default: %v", err)
	}
	if got.Request.Engine != "hive" || got.Request.DbName != "db" || len(got.Request.ColNames) != 1 {
		t.Fatalf("read %+v", got.Request)
	}
	// A request that carries engine keeps its own value.
	req.Engine = "spark"
	raw = encode(t, args, nil)
	got, err = read(true)
	if err != nil || got.Request.Engine != "spark" {
		t.Fatalf("explicit engine: %+v, %v", got.Request, err)
	}
}
