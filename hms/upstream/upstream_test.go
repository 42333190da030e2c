package upstream

import (
	"path/filepath"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
)

// newerCalls are the request-struct calls the client prefers, each with the older call it
// falls back to. A metastore without them is Hive 2.3 (or older 3.x), as far as the client can
// tell.
var newerCalls = []string{
	"get_table_req", "get_table_objects_by_name_req", "get_table_meta", "add_partitions_req",
	"get_partitions_by_names_req", "get_partition_names_ps_req", "alter_table_with_environment_context",
	"alter_partitions_req", "rename_partition_req", "get_table_statistics_req", "get_partitions_statistics_req",
}

// TestContractPropolis runs the contract against an in-process Propolis as the upstream.
func TestContractPropolis(t *testing.T) {
	p := startPeer(t, nil)
	c := newClient(t, Config{Address: p.addr, CallTimeout: 10 * time.Second})
	runContract(t, c, "file://"+filepath.Join(t.TempDir(), "ext"), "")
	for _, name := range newerCalls {
		if c.compatFlag(name).Load() {
			t.Errorf("%s: fell back, but Propolis serves it", name)
		}
	}
}

// TestContractOlderMetastore runs the contract against a Propolis that lacks every newer call:
// each one answers UNKNOWN_METHOD, as Hive 2.3 does for get_partitions_by_names_req. Every
// call must still work, each newer call must be tried exactly once per backend, and the choice
// must be remembered.
func TestContractOlderMetastore(t *testing.T) {
	unknown := map[string]*unknownMethod{}
	p := startPeer(t, func(proc athrift.TProcessor) {
		for _, name := range newerCalls {
			u := &unknownMethod{name: name}
			unknown[name] = u
			proc.AddToProcessorMap(name, u)
		}
	})
	c := newClient(t, Config{Address: p.addr, CallTimeout: 10 * time.Second, Framed: false})
	runContract(t, c, "file://"+filepath.Join(t.TempDir(), "ext"), "")
	runContract(t, c, "file://"+filepath.Join(t.TempDir(), "ext2"), "") // a second pass: no newer call again
	for _, name := range newerCalls {
		if n := unknown[name].count(); n != 1 {
			t.Errorf("%s tried %d times, want exactly once", name, n)
		}
		if !c.compatFlag(name).Load() {
			t.Errorf("%s: fallback not remembered", name)
		}
	}
}
