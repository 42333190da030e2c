package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"
)

const (
	benchDB    = "propolis_bench"
	benchTable = "events"
	regions    = 10
)

// client is one Thrift connection, as an engine opens it: TSocket + TBufferedTransport +
// TBinaryProtocol.
type client struct {
	hm.ThriftHiveMetastore
	tr athrift.TTransport
}

func dial(addr string) (*client, error) {
	conf := &athrift.TConfiguration{ConnectTimeout: 10 * time.Second, SocketTimeout: 120 * time.Second}
	tr := athrift.NewTBufferedTransport(athrift.NewTSocketConf(addr, conf), 64*1024)
	if err := tr.Open(); err != nil {
		return nil, err
	}
	p := athrift.NewTBinaryProtocolConf(tr, conf)
	return &client{ThriftHiveMetastore: hm.NewThriftHiveMetastoreClient(athrift.NewTStandardClient(p, p)), tr: tr}, nil
}

func (c *client) Close() { c.tr.Close() }

// fixture: table propolis_bench.events partitioned by (ds string, region string): days x 10 regions.
type fixture struct {
	n       int
	days    int
	names   []string // partition names in load order
	filter  string   // selects the first tenth of the days, ~10% of the partitions
	matches int      // partitions the filter selects
	lake    string   // file:// root for locations on the server being loaded or measured
	// db is the fixture database's name as the measured server shows it: benchDB, or its
	// prefixed name through a federating Propolis.
	db string
}

func newFixture(n int) *fixture {
	f := &fixture{n: n, days: (n + regions - 1) / regions, db: benchDB}
	for i := 0; i < n; i++ {
		ds, region := f.values(i)
		f.names = append(f.names, "ds="+ds+"/region="+region)
	}
	tenth := max(f.days/10, 1)
	f.filter = fmt.Sprintf(`ds >= "%s" and ds < "%s"`, day(0), day(tenth))
	for i := 0; i < n; i++ {
		if i/regions < tenth {
			f.matches++
		}
	}
	return f
}

func day(d int) string {
	return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d).Format("2006-01-02")
}

func (f *fixture) values(i int) (ds, region string) {
	return day(i / regions), fmt.Sprintf("r%02d", i%regions)
}

func cols() []*hm.FieldSchema {
	return []*hm.FieldSchema{
		{Name: "id", Type: "bigint", Comment: "event id"},
		{Name: "user_id", Type: "bigint"},
		{Name: "kind", Type: "string"},
		{Name: "amount", Type: "double"},
		{Name: "payload", Type: "string"},
		{Name: "ts", Type: "timestamp"},
	}
}

func ptr[T any](v T) *T { return &v }

func sd(location string) *hm.StorageDescriptor {
	return &hm.StorageDescriptor{
		Cols:         cols(),
		Location:     location,
		InputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
		OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
		SerdeInfo: &hm.SerDeInfo{
			SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
			Parameters:       map[string]string{"serialization.format": "1"},
		},
		Parameters: map[string]string{},
	}
}

// table is an external partitioned Parquet table, the kind Spark and Trino create over a lake.
// (External, so Hive 4's default transformer keeps it as given.)
func table(name, location string) *hm.Table {
	return &hm.Table{
		DbName: benchDB, TableName: name, Owner: "bench", TableType: "EXTERNAL_TABLE",
		CreateTime: int32(time.Now().Unix()),
		Parameters: map[string]string{"EXTERNAL": "TRUE", "comment": "propolis-bench fixture", "parquet.compression": "SNAPPY"},
		Sd:         sd(location),
		PartitionKeys: []*hm.FieldSchema{
			{Name: "ds", Type: "string"}, {Name: "region", Type: "string"},
		},
	}
}

type loadStats struct {
	total, partitions time.Duration
	n                 int
}

func (l loadStats) partitionsPerSec() float64 { return float64(l.n) / l.partitions.Seconds() }

// load creates the database, the table, N partitions (add_partitions in batches) and table column
// statistics.
func (f *fixture) load(ctx context.Context, addr string, batch int) (loadStats, error) {
	start := time.Now()
	c, err := dial(addr)
	if err != nil {
		return loadStats{}, err
	}
	defer c.Close()
	root := f.lake
	if err := c.CreateDatabase(ctx, &hm.Database{Name: benchDB, Description: "propolis-bench", LocationUri: root + "/" + benchDB + ".db"}); err != nil {
		return loadStats{}, fmt.Errorf("create_database: %w", err)
	}
	loc := root + "/" + benchDB + ".db/" + benchTable
	if err := c.CreateTable(ctx, table(benchTable, loc)); err != nil {
		return loadStats{}, fmt.Errorf("create_table: %w", err)
	}
	pstart := time.Now()
	for i := 0; i < f.n; i += batch {
		var parts []*hm.Partition
		for j := i; j < min(i+batch, f.n); j++ {
			ds, region := f.values(j)
			parts = append(parts, &hm.Partition{
				DbName: benchDB, TableName: benchTable, Values: []string{ds, region},
				CreateTime: int32(time.Now().Unix()),
				Sd:         sd(loc + "/" + f.names[j]),
				Parameters: map[string]string{"numFiles": "4", "numRows": "250000", "totalSize": "52428800"},
			})
		}
		got, err := c.AddPartitions(ctx, parts)
		if err != nil {
			return loadStats{}, fmt.Errorf("add_partitions (%d..%d): %w", i, i+len(parts)-1, err)
		}
		if int(got) != len(parts) {
			return loadStats{}, fmt.Errorf("add_partitions (%d..%d) added %d, want %d", i, i+len(parts)-1, got, len(parts))
		}
	}
	pdur := time.Since(pstart)
	lo, hi := int64(1), int64(1_000_000_000)
	dlo, dhi := 0.0, 99_999.5
	stats := &hm.ColumnStatistics{
		StatsDesc: &hm.ColumnStatisticsDesc{IsTblLevel: true, DbName: benchDB, TableName: benchTable, LastAnalyzed: ptr(time.Now().Unix())},
		StatsObj: []*hm.ColumnStatisticsObj{
			{ColName: "id", ColType: "bigint", StatsData: &hm.ColumnStatisticsData{LongStats: &hm.LongColumnStatsData{LowValue: &lo, HighValue: &hi, NumNulls: 0, NumDVs: 250_000_000}}},
			{ColName: "user_id", ColType: "bigint", StatsData: &hm.ColumnStatisticsData{LongStats: &hm.LongColumnStatsData{LowValue: &lo, HighValue: ptr(int64(5_000_000)), NumNulls: 12, NumDVs: 4_800_000}}},
			{ColName: "kind", ColType: "string", StatsData: &hm.ColumnStatisticsData{StringStats: &hm.StringColumnStatsData{MaxColLen: 16, AvgColLen: 7.5, NumNulls: 0, NumDVs: 12}}},
			{ColName: "amount", ColType: "double", StatsData: &hm.ColumnStatisticsData{DoubleStats: &hm.DoubleColumnStatsData{LowValue: &dlo, HighValue: &dhi, NumNulls: 3, NumDVs: 1_000_000}}},
			{ColName: "payload", ColType: "string", StatsData: &hm.ColumnStatisticsData{StringStats: &hm.StringColumnStatsData{MaxColLen: 4096, AvgColLen: 812.25, NumNulls: 1000, NumDVs: 240_000_000}}},
		},
		Engine: ptr("hive"),
	}
	if _, err := c.UpdateTableColumnStatistics(ctx, stats); err != nil {
		return loadStats{}, fmt.Errorf("update_table_column_statistics: %w", err)
	}
	return loadStats{total: time.Since(start), partitions: pdur, n: f.n}, nil
}

// check reads the fixture back, so both servers are known to answer the measured calls with the
// same amount of data.
func (f *fixture) check(ctx context.Context, addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	names, err := c.GetPartitionNames(ctx, f.db, benchTable, -1)
	if err != nil {
		return fmt.Errorf("get_partition_names: %w", err)
	}
	if len(names) != f.n {
		return fmt.Errorf("get_partition_names returned %d names, want %d", len(names), f.n)
	}
	parts, err := c.GetPartitionsByFilter(ctx, f.db, benchTable, f.filter, -1)
	if err != nil {
		return fmt.Errorf("get_partitions_by_filter(%s): %w", f.filter, err)
	}
	if len(parts) != f.matches {
		return fmt.Errorf("get_partitions_by_filter(%s) returned %d partitions, want %d", f.filter, len(parts), f.matches)
	}
	byNames, err := c.GetPartitionsByNames(ctx, f.db, benchTable, f.names[:50])
	if err != nil {
		return fmt.Errorf("get_partitions_by_names: %w", err)
	}
	if len(byNames) != 50 {
		return fmt.Errorf("get_partitions_by_names returned %d partitions, want 50", len(byNames))
	}
	st, err := c.GetTableStatisticsReq(ctx, &hm.TableStatsRequest{DbName: f.db, TblName: benchTable, ColNames: []string{"id", "kind", "amount"}, Engine: "hive"})
	if err != nil {
		return fmt.Errorf("get_table_statistics_req: %w", err)
	}
	if len(st.TableStats) != 3 {
		return fmt.Errorf("get_table_statistics_req returned %d column statistics, want 3", len(st.TableStats))
	}
	return nil
}

// operation is one measured call. call runs it once on a worker's connection; worker is the
// worker's index and seq its call count, for calls that need distinct arguments.
type operation struct {
	name, detail string
	optional     bool // measured only when named in --ops
	call         func(ctx context.Context, c *client, worker, seq int, rng *rand.Rand) error
}

var tableSeq atomic.Int64

func (f *fixture) operations() []operation {
	const byNames = 50
	return []operation{
		{
			name: "get_table_req", detail: "The partitioned table (Hive 4 removed the older get_table; get_table_req is what its clients call)",
			call: func(ctx context.Context, c *client, _, _ int, _ *rand.Rand) error {
				req := hm.NewGetTableRequest() // as Hive's own client builds it (id unset, not 0)
				req.DbName, req.TblName = f.db, benchTable
				r, err := c.GetTableReq(ctx, req)
				if err == nil && (r.Table == nil || r.Table.Sd == nil || len(r.Table.Sd.Cols) != 6 || r.Table.DbName != f.db) {
					err = fmt.Errorf("get_table_req returned an unexpected table")
				}
				return err
			},
		},
		{
			name: "get_partitions_by_names", detail: fmt.Sprintf("%d partitions, spread over the table, chosen at random per call", byNames),
			call: func(ctx context.Context, c *client, _, _ int, rng *rand.Rand) error {
				names := make([]string, byNames)
				off, step := rng.IntN(f.n), f.n/byNames
				for i := range names {
					names[i] = f.names[(off+i*step)%f.n]
				}
				parts, err := c.GetPartitionsByNames(ctx, f.db, benchTable, names)
				if err == nil && len(parts) != byNames {
					err = fmt.Errorf("get_partitions_by_names returned %d partitions, want %d", len(parts), byNames)
				}
				return err
			},
		},
		{
			name: "get_partitions_by_names_req", detail: fmt.Sprintf("%d partitions, as get_partitions_by_names, with Hive 4's request-struct call (what Propolis sends an upstream Hive 4); only with --ops", byNames),
			optional: true,
			call: func(ctx context.Context, c *client, _, _ int, rng *rand.Rand) error {
				req := hm.NewGetPartitionsByNamesRequest()
				req.DbName, req.TblName, req.Names = f.db, benchTable, make([]string, byNames)
				off, step := rng.IntN(f.n), f.n/byNames
				for i := range req.Names {
					req.Names[i] = f.names[(off+i*step)%f.n]
				}
				res, err := c.GetPartitionsByNamesReq(ctx, req)
				if err == nil && len(res.Partitions) != byNames {
					err = fmt.Errorf("get_partitions_by_names_req returned %d partitions, want %d", len(res.Partitions), byNames)
				}
				return err
			},
		},
		{
			name: "get_partition_names", detail: fmt.Sprintf("all %d names (max_parts -1)", f.n),
			call: func(ctx context.Context, c *client, _, _ int, _ *rand.Rand) error {
				names, err := c.GetPartitionNames(ctx, f.db, benchTable, -1)
				if err == nil && len(names) != f.n {
					err = fmt.Errorf("get_partition_names returned %d names, want %d", len(names), f.n)
				}
				return err
			},
		},
		{
			name: "get_partitions_by_filter", detail: fmt.Sprintf("`%s`: %d of %d partitions", f.filter, f.matches, f.n),
			call: func(ctx context.Context, c *client, _, _ int, _ *rand.Rand) error {
				parts, err := c.GetPartitionsByFilter(ctx, f.db, benchTable, f.filter, -1)
				if err == nil && len(parts) != f.matches {
					err = fmt.Errorf("get_partitions_by_filter returned %d partitions, want %d", len(parts), f.matches)
				}
				return err
			},
		},
		{
			name: "get_all_databases", detail: "2 databases (default and the fixture's)",
			call: func(ctx context.Context, c *client, _, _ int, _ *rand.Rand) error {
				dbs, err := c.GetAllDatabases(ctx)
				if err == nil && len(dbs) < 2 {
					err = fmt.Errorf("get_all_databases returned %v", dbs)
				}
				return err
			},
		},
		{
			name: "create_table + drop_table", detail: "one op = create a partitioned external table, then drop it",
			call: func(ctx context.Context, c *client, _, _ int, _ *rand.Rand) error {
				name := fmt.Sprintf("tmp_%d_%d", time.Now().UnixNano(), tableSeq.Add(1))
				if err := c.CreateTable(ctx, table(name, f.lake+"/"+benchDB+".db/"+name)); err != nil {
					return fmt.Errorf("create_table: %w", err)
				}
				if err := c.DropTable(ctx, benchDB, name, false); err != nil {
					return fmt.Errorf("drop_table: %w", err)
				}
				return nil
			},
		},
	}
}
