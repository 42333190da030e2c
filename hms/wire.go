package hms

import (
	"context"

	athrift "github.com/apache/thrift/lib/go/thrift"

	pthrift "github.com/propolis/propolis/thrift"
)

// nullStrings are the string fields a Java metastore leaves unset (null) when it has no value,
// and that clients treat differently from "": Hive's client turns a view's empty location into
// an invalid Path ("Can not create a Path from an empty string").
var nullStrings = map[string][]string{
	"StorageDescriptor": {"location"},
	"Table":             {"viewOriginalText", "viewExpandedText", "owner"},
	"Database":          {"description"},
	"SerDeInfo":         {"name"},
}

// WireOutput wraps a connection's output protocol so replies look like a Java metastore's.
func WireOutput(p athrift.TProtocol) athrift.TProtocol {
	return pthrift.OmitEmptyStrings(p, nullStrings)
}

// Hive 4's IDL made "engine" required in the statistics requests; every older client (Hive 2
// and 3, Spark's Hive 2.3 client, Trino) omits it. These methods read it as "hive" when absent
// instead of refusing the call. Field ids are those of the request structs.
var defaultEngine = map[string]int16{
	"get_table_statistics_req":               6, // TableStatsRequest.engine
	"get_partitions_statistics_req":          7, // PartitionsStatsRequest.engine
	"get_aggr_stats_for":                     7, // PartitionsStatsRequest.engine
	"update_table_column_statistics_req":     5, // SetPartitionsStatsRequest.engine
	"update_partition_column_statistics_req": 5,
	"set_aggr_stats_for":                     5,
}

// engineDefaulting supplies the engine field of a statistics request (depth 2: inside the
// arguments struct) before the generated code checks it.
type engineDefaulting struct {
	next athrift.TProcessorFunction
	id   int16
}

func (e engineDefaulting) Process(ctx context.Context, seqID int32, in, out athrift.TProtocol) (bool, athrift.TException) {
	return e.next.Process(ctx, seqID, pthrift.WithDefaultString(in, 2, e.id, "hive"), out)
}

func withDefaultEngines(m map[string]athrift.TProcessorFunction) {
	for name, id := range defaultEngine {
		if f, ok := m[name]; ok {
			m[name] = engineDefaulting{next: f, id: id}
		}
	}
}
