package engines

import (
	"context"
	"fmt"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"
)

// The calls, each made the way the engine's client makes it. Answers are summarized, never
// printed whole (a listing can be long).

var (
	setUGI = Call{"set_ugi", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		groups, err := c.SetUgi(ctx, s.User, []string{s.User})
		return fmt.Sprintf("user %s, %d groups", s.User, len(groups)), err
	}}
	getAllFunctions = Call{"get_all_functions", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetAllFunctions(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d functions", len(r.Functions)), nil
	}}
	getAllDatabases = Call{"get_all_databases", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetAllDatabases(ctx)
		return count(len(r), "database"), err
	}}
	getDatabases = Call{"get_databases", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetDatabases(ctx, "*")
		return count(len(r), "database"), err
	}}
	getDatabase = Call{"get_database", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		db, err := c.GetDatabase(ctx, s.Database)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s at %s", db.Name, db.LocationUri), nil
	}}
	getDatabaseReq = Call{"get_database_req", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		db, err := c.GetDatabaseReq(ctx, &hm.GetDatabaseRequest{Name: &s.Database})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s at %s", db.Name, db.LocationUri), nil
	}}
	getTables = Call{"get_tables", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetTables(ctx, s.Database, "*")
		return count(len(r), "table"), err
	}}
	getAllTables = Call{"get_all_tables", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetAllTables(ctx, s.Database)
		return count(len(r), "table"), err
	}}
	getTablesByType = Call{"get_tables_by_type", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetTablesByType(ctx, s.Database, "*", "VIRTUAL_VIEW")
		return count(len(r), "view"), err
	}}
	getTableMeta = Call{"get_table_meta", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetTableMeta(ctx, s.Database, "*", nil)
		return count(len(r), "table"), err
	}}
	getTable = Call{"get_table", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		t, err := c.GetTable(ctx, s.Database, s.Table)
		return describeTable(t), err
	}}
	getTableReq = Call{"get_table_req", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetTableReq(ctx, &hm.GetTableRequest{DbName: s.Database, TblName: s.Table})
		if err != nil {
			return "", err
		}
		return describeTable(r.Table), nil
	}}
	getTableObjectsByName = Call{"get_table_objects_by_name", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetTableObjectsByName(ctx, s.Database, []string{s.Table})
		return count(len(r), "table"), err
	}}
	getTableObjectsByNameReq = Call{"get_table_objects_by_name_req", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetTableObjectsByNameReq(ctx, &hm.GetTablesRequest{DbName: s.Database, TblNames: []string{s.Table}})
		if err != nil {
			return "", err
		}
		return count(len(r.Tables), "table"), nil
	}}
	getPartitionNames = Call{"get_partition_names", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetPartitionNames(ctx, s.Database, s.Table, -1)
		return count(len(r), "partition"), err
	}}
	getPartitionNamesPs = Call{"get_partition_names_ps", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetPartitionNamesPs(ctx, s.Database, s.Table, firstValueSpec(s), -1)
		return count(len(r), "partition"), err
	}}
	getPartitionNamesReq = Call{"get_partition_names_req", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetPartitionNamesReq(ctx, &hm.PartitionsByExprRequest{DbName: s.Database, TblName: s.Table, MaxParts: -1})
		return count(len(r), "partition"), err
	}}
	getPartitionsByFilter = Call{"get_partitions_by_filter", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetPartitionsByFilter(ctx, s.Database, s.Table, pruningFilter(s), -1)
		return count(len(r), "partition") + " for " + pruningFilter(s), err
	}}
	getPartitionsPsWithAuth = Call{"get_partitions_ps_with_auth", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetPartitionsPsWithAuth(ctx, s.Database, s.Table, firstValueSpec(s), -1, s.User, []string{s.User})
		return count(len(r), "partition"), err
	}}
	getPartitionsByNames = Call{"get_partitions_by_names", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetPartitionsByNames(ctx, s.Database, s.Table, partNames(s))
		return count(len(r), "partition"), err
	}}
	getPartitionsByNamesReq = Call{"get_partitions_by_names_req", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetPartitionsByNamesReq(ctx, &hm.GetPartitionsByNamesRequest{DbName: s.Database, TblName: s.Table, Names: partNames(s)})
		if err != nil {
			return "", err
		}
		return count(len(r.Partitions), "partition"), nil
	}}
	getTableStatisticsReq = Call{"get_table_statistics_req", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetTableStatisticsReq(ctx, &hm.TableStatsRequest{DbName: s.Database, TblName: s.Table, ColNames: s.Columns})
		if err != nil {
			return "", err
		}
		return count(len(r.TableStats), "column statistic"), nil
	}}
	getPartitionsStatisticsReq = Call{"get_partitions_statistics_req", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		r, err := c.GetPartitionsStatisticsReq(ctx, &hm.PartitionsStatsRequest{DbName: s.Database, TblName: s.Table, ColNames: s.Columns, PartNames: partNames(s)})
		if err != nil {
			return "", err
		}
		return count(len(r.PartStats), "partition") + " with statistics", nil
	}}
	getFunction = Call{"get_function", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		f, err := c.GetFunction(ctx, s.Database, "propolis_doctor_no_such_function")
		if err != nil {
			return "", err
		}
		return f.ClassName, nil
	}}
	getConfigValue = Call{"get_config_value", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		v, err := c.GetConfigValue(ctx, "hive.metastore.warehouse.dir", "")
		return "hive.metastore.warehouse.dir=" + v, err
	}}
	lockUnlock = Call{"lock", func(ctx context.Context, c *hm.ThriftHiveMetastoreClient, s *Scope) (string, error) {
		// PyIceberg's commit: an exclusive table lock, checked, then released. It is held for
		// microseconds and only on the probed table.
		r, err := c.Lock(ctx, &hm.LockRequest{User: s.User, Hostname: "propolis-doctor", Component: []*hm.LockComponent{{
			Type: hm.LockType_EXCLUSIVE, Level: hm.LockLevel_TABLE, Dbname: s.Database, Tablename: &s.Table}}})
		if err != nil {
			return "", err
		}
		state := r.State.String()
		if _, err := c.CheckLock(ctx, &hm.CheckLockRequest{Lockid: r.Lockid}); err != nil {
			return "", fmt.Errorf("check_lock: %w", err)
		}
		if err := c.Unlock(ctx, &hm.UnlockRequest{Lockid: r.Lockid}); err != nil {
			return "", fmt.Errorf("unlock: %w", err)
		}
		return "lock " + state + ", check_lock and unlock answered", nil
	}}
)

// Spark 3.5 talks to the metastore through its built-in Hive 2.3.9 HiveMetaStoreClient.
var sparkProfile = Profile{Engine: "spark", Description: "Spark 3.5 (built-in Hive 2.3.9 metastore client)", Probes: []Probe{
	{Purpose: "send the session user when the client opens (hive.metastore.execute.setugi)", Calls: []Call{setUGI}},
	{Purpose: "register permanent functions at session start", Calls: []Call{getAllFunctions}},
	{Purpose: "SHOW DATABASES", Calls: []Call{getDatabases}},
	{Purpose: "resolve a database (USE, databaseExists)", Calls: []Call{getDatabase}},
	{Purpose: "SHOW TABLES", Calls: []Call{getTables}},
	{Purpose: "read a table's definition", Calls: []Call{getTable}},
	{Purpose: "list table definitions (SHOW TABLE EXTENDED, catalog listings)", Calls: []Call{getTableObjectsByName}},
	{Purpose: "resolve a permanent function", Calls: []Call{getFunction}},
	{Purpose: "SHOW PARTITIONS", Calls: []Call{getPartitionNames}, NeedsPartitions: true},
	{Purpose: "prune partitions (spark.sql.hive.metastorePartitionPruning)", Calls: []Call{getPartitionsByFilter}, NeedsPartitions: true},
	{Purpose: "read the partitions of a partial spec (INSERT OVERWRITE PARTITION, SHOW PARTITIONS ... PARTITION)", Calls: []Call{getPartitionsPsWithAuth}, NeedsPartitions: true},
	{Purpose: "read named partitions", Calls: []Call{getPartitionsByNames}, NeedsPartitions: true},
}}

// Trino's ThriftHiveMetastoreClient (checked against Trino 476).
var trinoProfile = Profile{Engine: "trino", Description: "Trino (Hive connector, ThriftHiveMetastoreClient)", Probes: []Probe{
	{Purpose: "SHOW SCHEMAS", Calls: []Call{getAllDatabases}},
	{Purpose: "resolve a schema", Calls: []Call{getDatabase}},
	{Purpose: "SHOW TABLES and information_schema", Calls: []Call{getTableMeta}},
	{Purpose: "read a table's definition", Calls: []Call{getTableReq, getTable}},
	{Purpose: "read table statistics for the planner", Calls: []Call{getTableStatisticsReq}},
	{Purpose: "list partitions", Calls: []Call{getPartitionNames}, NeedsPartitions: true},
	{Purpose: "list partitions matching a predicate on the partition keys", Calls: []Call{getPartitionNamesPs}, NeedsPartitions: true},
	{Purpose: "read the partitions a query scans", Calls: []Call{getPartitionsByNames}, NeedsPartitions: true},
	{Purpose: "read partition statistics for the planner", Calls: []Call{getPartitionsStatisticsReq}, NeedsPartitions: true},
}}

// Hive 4's HiveMetaStoreClient (HiveServer2, the Hive CLI). Not probed: get_partitions_by_expr
// (its argument is a Kryo-serialized Hive expression no Go client can build) and
// fetch_partition_names_req (plain SHOW PARTITIONS; newer than the Thrift bindings we use).
var hiveProfile = Profile{Engine: "hive", Description: "Hive 4 (HiveServer2 / Beeline, HiveMetaStoreClient)", Probes: []Probe{
	{Purpose: "send the session user when the client opens", Calls: []Call{setUGI}},
	{Purpose: "register permanent functions at session start", Calls: []Call{getAllFunctions}},
	{Purpose: "read metastore settings the client depends on", Calls: []Call{getConfigValue}},
	{Purpose: "SHOW DATABASES", Calls: []Call{getDatabases}},
	{Purpose: "resolve a database", Calls: []Call{getDatabaseReq}},
	{Purpose: "SHOW VIEWS", Calls: []Call{getTablesByType}},
	{Purpose: "read a table's definition", Calls: []Call{getTableReq}},
	{Purpose: "read several table definitions", Calls: []Call{getTableObjectsByNameReq}},
	{Purpose: "read column statistics", Calls: []Call{getTableStatisticsReq}},
	{Purpose: "SHOW PARTITIONS with WHERE, ORDER BY or LIMIT (partition names by expression)", Calls: []Call{getPartitionNamesReq}, NeedsPartitions: true},
	{Purpose: "read named partitions", Calls: []Call{getPartitionsByNamesReq}, NeedsPartitions: true},
}}

// PyIceberg's HiveCatalog (checked against 0.12).
var pyicebergProfile = Profile{Engine: "pyiceberg", Description: "PyIceberg (HiveCatalog)", Probes: []Probe{
	{Purpose: "send the user given as ugi=", Calls: []Call{setUGI}},
	{Purpose: "list_namespaces", Calls: []Call{getAllDatabases}},
	{Purpose: "load_namespace_properties", Calls: []Call{getDatabase}},
	{Purpose: "list_tables", Calls: []Call{getAllTables}},
	{Purpose: "list_tables: filter Iceberg tables by their parameters", Calls: []Call{getTableObjectsByName}},
	{Purpose: "load_table", Calls: []Call{getTable}},
	{Purpose: "commit: take, check and release the table lock", Calls: []Call{lockUnlock}},
}}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func describeTable(t *hm.Table) string {
	if t == nil {
		return "no table"
	}
	return fmt.Sprintf("%s.%s (%s, %d partition keys)", t.DbName, t.TableName, t.TableType, len(t.PartitionKeys))
}

// firstValueSpec is a partial spec fixing the first partition key to an existing value (or to
// a value that matches nothing), as an INSERT OVERWRITE PARTITION would.
func firstValueSpec(s *Scope) []string {
	v := "propolis_doctor"
	if len(s.PartNames) > 0 {
		first := strings.SplitN(s.PartNames[0], "/", 2)[0]
		if _, val, ok := strings.Cut(first, "="); ok {
			v = val
		}
	}
	spec := make([]string, len(s.PartKeys))
	spec[0] = v
	return spec
}

// pruningFilter is a filter on the first partition key in Hive's filter grammar, as Spark sends
// for `WHERE key = value`.
func pruningFilter(s *Scope) string {
	k := s.PartKeys[0]
	spec := firstValueSpec(s)
	switch strings.ToLower(k.Type) {
	case "tinyint", "smallint", "int", "bigint":
		if spec[0] == "propolis_doctor" {
			return k.Name + " = 0"
		}
		return k.Name + " = " + spec[0]
	}
	return fmt.Sprintf("%s = %q", k.Name, spec[0])
}

func partNames(s *Scope) []string {
	if len(s.PartNames) > 0 {
		return s.PartNames[:1]
	}
	return []string{s.PartKeys[0].Name + "=propolis_doctor"}
}
