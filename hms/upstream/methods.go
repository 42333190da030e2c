package upstream

import (
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/internal/errs"
)

// engine is the statistics engine Hive 4 files column statistics under; older metastores
// ignore the field.
const engine = "hive"

// defaultCatalog is Hive 3+'s default catalog, where plain database names live. Request
// structs leave it unset (the upstream fills it in) except where a Hive release needs it.
const defaultCatalog = "hive"

type client = hm.ThriftHiveMetastoreClient

func ptr[T any](v T) *T { return &v }

// --- databases ---

func (c *Client) CreateDatabase(ctx context.Context, db *hm.Database) error {
	return c.do(ctx, "create_database", false, func(ctx context.Context, cl *client) error {
		return cl.CreateDatabase(ctx, db)
	})
}

func (c *Client) GetDatabase(ctx context.Context, name string) (*hm.Database, error) {
	return callT(ctx, c, "get_database", true, func(ctx context.Context, cl *client) (*hm.Database, error) {
		return cl.GetDatabase(ctx, name)
	})
}

func (c *Client) ListDatabases(ctx context.Context) ([]string, error) {
	names, err := callT(ctx, c, "get_all_databases", true, func(ctx context.Context, cl *client) ([]string, error) {
		return cl.GetAllDatabases(ctx)
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return nonNil(names), nil
}

func (c *Client) AlterDatabase(ctx context.Context, name string, db *hm.Database) error {
	return c.do(ctx, "alter_database", false, func(ctx context.Context, cl *client) error {
		return cl.AlterDatabase(ctx, name, db)
	})
}

func (c *Client) DropDatabase(ctx context.Context, name string, deleteData, cascade bool) error {
	return c.do(ctx, "drop_database", false, func(ctx context.Context, cl *client) error {
		return cl.DropDatabase(ctx, name, deleteData, cascade)
	})
}

// mustExistDB turns an empty listing into NotFound when the database is missing: the listing
// calls answer an empty list for a database that does not exist.
func (c *Client) mustExistDB(ctx context.Context, db string) error {
	_, err := c.GetDatabase(ctx, db)
	return err
}

// mustExistTable turns an empty partition listing into NotFound when the table is missing:
// Hive answers an empty list for a table that does not exist.
func (c *Client) mustExistTable(ctx context.Context, db, tbl string) error {
	_, err := c.GetTable(ctx, db, tbl)
	return err
}

// --- tables ---

func (c *Client) CreateTable(ctx context.Context, t *hm.Table) error {
	return c.do(ctx, "create_table", false, func(ctx context.Context, cl *client) error {
		return cl.CreateTable(ctx, t)
	})
}

func (c *Client) GetTable(ctx context.Context, db, name string) (*hm.Table, error) {
	return fallback(ctx, c, &c.compat.getTableReq, "get_table_req", "get_table", true,
		func(ctx context.Context, cl *client) (*hm.Table, error) {
			req := hm.NewGetTableRequest()
			req.DbName, req.TblName = db, name
			res, err := cl.GetTableReq(ctx, req)
			if err != nil {
				return nil, err
			}
			if res.Table == nil {
				return nil, errs.Unavailable("backend %q: get_table_req answered without a table", c.cfg.Name)
			}
			return res.Table, nil
		},
		func(ctx context.Context, cl *client) (*hm.Table, error) {
			return cl.GetTable(ctx, db, name)
		})
}

func (c *Client) GetTables(ctx context.Context, db string, names []string) ([]*hm.Table, error) {
	if len(names) == 0 {
		return []*hm.Table{}, nil
	}
	ts, err := c.getTables(ctx, db, names)
	if err != nil {
		return nil, err
	}
	// The metastore answers in its own order; the contract is the order asked.
	byName := make(map[string]*hm.Table, len(ts))
	for _, t := range ts {
		if t != nil {
			byName[strings.ToLower(t.TableName)] = t
		}
	}
	out := make([]*hm.Table, 0, len(ts))
	for _, n := range names {
		if t, ok := byName[strings.ToLower(n)]; ok {
			out = append(out, t)
			delete(byName, strings.ToLower(n))
		}
	}
	return out, nil
}

func (c *Client) getTables(ctx context.Context, db string, names []string) ([]*hm.Table, error) {
	return fallback(ctx, c, &c.compat.getTablesReq, "get_table_objects_by_name_req", "get_table_objects_by_name", true,
		func(ctx context.Context, cl *client) ([]*hm.Table, error) {
			req := hm.NewGetTablesRequest()
			req.DbName, req.TblNames = db, names
			res, err := cl.GetTableObjectsByNameReq(ctx, req)
			if err != nil {
				return nil, err
			}
			return res.Tables, nil
		},
		func(ctx context.Context, cl *client) ([]*hm.Table, error) {
			return cl.GetTableObjectsByName(ctx, db, names)
		})
}

// ListTables takes names, types and comments from get_table_meta in one call. Owner is not
// part of that answer and stays empty.
func (c *Client) ListTables(ctx context.Context, db string) ([]hms.TableInfo, error) {
	infos, err := fallback(ctx, c, &c.compat.getTableMeta, "get_table_meta", "get_all_tables", true,
		func(ctx context.Context, cl *client) ([]hms.TableInfo, error) {
			metas, err := cl.GetTableMeta(ctx, db, "*", nil)
			if err != nil {
				return nil, err
			}
			out := make([]hms.TableInfo, 0, len(metas))
			for _, m := range metas {
				if m == nil || !strings.EqualFold(m.DbName, db) {
					continue
				}
				ti := hms.TableInfo{Name: m.TableName, Type: m.TableType}
				if m.Comments != nil {
					ti.Comment = *m.Comments
				}
				out = append(out, ti)
			}
			return out, nil
		},
		func(ctx context.Context, cl *client) ([]hms.TableInfo, error) {
			names, err := cl.GetAllTables(ctx, db)
			if err != nil || len(names) == 0 {
				return nil, err
			}
			ts, err := cl.GetTableObjectsByName(ctx, db, names)
			if err != nil {
				return nil, err
			}
			out := make([]hms.TableInfo, 0, len(ts))
			for _, t := range ts {
				out = append(out, hms.TableInfo{Name: t.TableName, Type: t.TableType, Comment: t.Parameters["comment"], Owner: t.Owner})
			}
			return out, nil
		})
	if err != nil {
		if errs.KindOf(err) == errs.KindUnknown {
			// get_all_tables declares only MetaException, which some metastores (Propolis
			// among them) answer for a missing database: ask, rather than read the message.
			if dbErr := c.mustExistDB(ctx, db); errs.KindOf(dbErr) == errs.KindNotFound {
				return nil, dbErr
			}
		}
		return nil, err
	}
	if len(infos) == 0 {
		if err := c.mustExistDB(ctx, db); err != nil {
			return nil, err
		}
		return []hms.TableInfo{}, nil
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos, nil
}

func (c *Client) AlterTable(ctx context.Context, db, name string, t *hm.Table, cascade bool) error {
	_, err := fallback(ctx, c, &c.compat.alterTableEnv, "alter_table_with_environment_context", "alter_table_with_cascade", false,
		func(ctx context.Context, cl *client) (struct{}, error) {
			env := hm.NewEnvironmentContext()
			env.Properties = map[string]string{}
			if cascade {
				env.Properties["CASCADE"] = "true" // Hive's StatsSetupConst.CASCADE
			}
			return struct{}{}, cl.AlterTableWithEnvironmentContext(ctx, db, name, t, env)
		},
		func(ctx context.Context, cl *client) (struct{}, error) {
			return struct{}{}, cl.AlterTableWithCascade(ctx, db, name, t, cascade)
		})
	return err
}

func (c *Client) DropTable(ctx context.Context, db, name string, deleteData bool) error {
	return c.do(ctx, "drop_table", false, func(ctx context.Context, cl *client) error {
		return cl.DropTable(ctx, db, name, deleteData)
	})
}

// --- partitions ---

// maxParts is Hive's max_parts: an i16, -1 for all. A bound beyond the i16 range is clamped.
func maxParts(max int) int16 {
	if max <= 0 {
		return -1
	}
	return int16(min(max, math.MaxInt16))
}

// forTable returns parts naming db.tbl, as the metastore requires, copying those that do not.
func forTable(db, tbl string, parts []*hm.Partition) []*hm.Partition {
	out := make([]*hm.Partition, len(parts))
	for i, p := range parts {
		if p != nil && (p.DbName != db || p.TableName != tbl) {
			cp := *p
			cp.DbName, cp.TableName = db, tbl
			p = &cp
		}
		out[i] = p
	}
	return out
}

func (c *Client) AddPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition, ifNotExists bool) ([]*hm.Partition, error) {
	if len(parts) == 0 {
		return []*hm.Partition{}, nil
	}
	parts = forTable(db, tbl, parts)
	if !c.compat.addPartitionsReq.Load() {
		added, err := callT(ctx, c, "add_partitions_req", false, func(ctx context.Context, cl *client) ([]*hm.Partition, error) {
			req := hm.NewAddPartitionsRequest()
			req.DbName, req.TblName, req.Parts, req.IfNotExists, req.NeedResult_ = db, tbl, parts, ifNotExists, true
			res, err := cl.AddPartitionsReq(ctx, req)
			if err != nil {
				return nil, err
			}
			return res.Partitions, nil
		})
		if err == nil || !isUnknownMethod(err) {
			return nonNil(added), err
		}
		c.lacks(&c.compat.addPartitionsReq, "add_partitions_req", "add_partitions", err)
	}
	if ifNotExists {
		// Only the request form skips existing partitions; the plain call fails on them.
		return c.addMissingPartitions(ctx, db, tbl, parts)
	}
	err := c.do(ctx, "add_partitions", false, func(ctx context.Context, cl *client) error {
		_, err := cl.AddPartitions(ctx, parts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return copyParts(parts), nil
}

// addMissingPartitions adds, with the plain add_partitions, those of parts that do not exist.
// It is not atomic: a partition someone else adds in between still fails with Exists.
func (c *Client) addMissingPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition) ([]*hm.Partition, error) {
	t, err := c.GetTable(ctx, db, tbl)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(t.PartitionKeys))
	for i, k := range t.PartitionKeys {
		keys[i] = k.Name
	}
	byName := make(map[string]*hm.Partition, len(parts))
	names := make([]string, 0, len(parts))
	for _, p := range parts {
		n, err := hivename.MakePartName(keys, p.Values)
		if err != nil {
			return nil, errs.Invalid("partition of %s.%s: %w", db, tbl, err)
		}
		if _, dup := byName[n]; !dup {
			names = append(names, n)
		}
		byName[n] = p
	}
	existing, err := c.GetPartitionsByNames(ctx, db, tbl, names)
	if err != nil {
		return nil, err
	}
	for _, p := range existing {
		if n, err := hivename.MakePartName(keys, p.Values); err == nil {
			delete(byName, n)
		}
	}
	missing := make([]*hm.Partition, 0, len(byName))
	for _, n := range names {
		if p, ok := byName[n]; ok {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return []*hm.Partition{}, nil
	}
	err = c.do(ctx, "add_partitions", false, func(ctx context.Context, cl *client) error {
		_, err := cl.AddPartitions(ctx, missing)
		return err
	})
	if err != nil {
		return nil, err
	}
	return copyParts(missing), nil
}

// copyParts returns copies of the partitions the caller sent, to hand back as "added" when the
// upstream's answer does not carry them.
func copyParts(parts []*hm.Partition) []*hm.Partition {
	out := make([]*hm.Partition, len(parts))
	for i, p := range parts {
		cp := *p
		out[i] = &cp
	}
	return out
}

func (c *Client) GetPartition(ctx context.Context, db, tbl string, values []string) (*hm.Partition, error) {
	return callT(ctx, c, "get_partition", true, func(ctx context.Context, cl *client) (*hm.Partition, error) {
		return cl.GetPartition(ctx, db, tbl, values)
	})
}

func (c *Client) GetPartitionsByNames(ctx context.Context, db, tbl string, names []string) ([]*hm.Partition, error) {
	if len(names) == 0 {
		return []*hm.Partition{}, nil
	}
	ps, err := fallback(ctx, c, &c.compat.getPartitionsByNamesReq, "get_partitions_by_names_req", "get_partitions_by_names", true,
		func(ctx context.Context, cl *client) ([]*hm.Partition, error) {
			req := hm.NewGetPartitionsByNamesRequest()
			req.DbName, req.TblName, req.Names = db, tbl, names
			res, err := cl.GetPartitionsByNamesReq(ctx, req)
			if err != nil {
				return nil, err
			}
			return res.Partitions, nil
		},
		func(ctx context.Context, cl *client) ([]*hm.Partition, error) {
			return cl.GetPartitionsByNames(ctx, db, tbl, names)
		})
	return nonNil(ps), err
}

func checkQuery(q hms.PartitionQuery) error {
	if q.Filter != "" && len(q.Values) > 0 {
		return errs.Invalid("a partition query takes a filter or partition values, not both")
	}
	return nil
}

func (c *Client) ListPartitions(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]*hm.Partition, error) {
	if err := checkQuery(q); err != nil {
		return nil, err
	}
	max := maxParts(q.Max)
	var ps []*hm.Partition
	var err error
	switch {
	case q.Filter != "":
		ps, err = callT(ctx, c, "get_partitions_by_filter", true, func(ctx context.Context, cl *client) ([]*hm.Partition, error) {
			return cl.GetPartitionsByFilter(ctx, db, tbl, q.Filter, max)
		})
	case len(q.Values) > 0:
		ps, err = callT(ctx, c, "get_partitions_ps", true, func(ctx context.Context, cl *client) ([]*hm.Partition, error) {
			return cl.GetPartitionsPs(ctx, db, tbl, q.Values, max)
		})
	default:
		ps, err = callT(ctx, c, "get_partitions", true, func(ctx context.Context, cl *client) ([]*hm.Partition, error) {
			return cl.GetPartitions(ctx, db, tbl, max)
		})
	}
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		if err := c.mustExistTable(ctx, db, tbl); err != nil {
			return nil, err
		}
	}
	return nonNil(ps), nil
}

func (c *Client) ListPartitionNames(ctx context.Context, db, tbl string, q hms.PartitionQuery) ([]string, error) {
	if err := checkQuery(q); err != nil {
		return nil, err
	}
	max := maxParts(q.Max)
	var names []string
	var err error
	switch {
	case q.Filter != "":
		// No call in 2.3/3.1 names partitions by filter: list them and name them from the
		// table's partition keys.
		names, err = c.partitionNamesByFilter(ctx, db, tbl, q.Filter, max)
	case len(q.Values) > 0:
		names, err = fallback(ctx, c, &c.compat.getPartitionNamesPsReq, "get_partition_names_ps_req", "get_partition_names_ps", true,
			func(ctx context.Context, cl *client) ([]string, error) {
				req := hm.NewGetPartitionNamesPsRequest()
				req.DbName, req.TblName, req.PartValues, req.MaxParts = db, tbl, q.Values, max
				res, err := cl.GetPartitionNamesPsReq(ctx, req)
				if err != nil {
					return nil, err
				}
				return res.Names, nil
			},
			func(ctx context.Context, cl *client) ([]string, error) {
				return cl.GetPartitionNamesPs(ctx, db, tbl, q.Values, max)
			})
	default:
		names, err = callT(ctx, c, "get_partition_names", true, func(ctx context.Context, cl *client) ([]string, error) {
			return cl.GetPartitionNames(ctx, db, tbl, max)
		})
	}
	if err != nil {
		return nil, err
	}
	if len(names) == 0 && q.Filter == "" {
		if err := c.mustExistTable(ctx, db, tbl); err != nil {
			return nil, err
		}
	}
	return nonNil(names), nil
}

func (c *Client) partitionNamesByFilter(ctx context.Context, db, tbl, filter string, max int16) ([]string, error) {
	t, err := c.GetTable(ctx, db, tbl)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(t.PartitionKeys))
	for i, k := range t.PartitionKeys {
		keys[i] = k.Name
	}
	ps, err := c.ListPartitions(ctx, db, tbl, hms.PartitionQuery{Filter: filter, Max: int(max)})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		n, err := hivename.MakePartName(keys, p.Values)
		if err != nil {
			return nil, errs.Invalid("backend %q: partition of %s.%s: %w", c.cfg.Name, db, tbl, err)
		}
		names = append(names, n)
	}
	return names, nil
}

func (c *Client) CountPartitions(ctx context.Context, db, tbl string, q hms.PartitionQuery) (int, error) {
	if err := checkQuery(q); err != nil {
		return 0, err
	}
	if q.Filter != "" {
		n, err := callT(ctx, c, "get_num_partitions_by_filter", true, func(ctx context.Context, cl *client) (int32, error) {
			return cl.GetNumPartitionsByFilter(ctx, db, tbl, q.Filter)
		})
		return int(n), err
	}
	names, err := c.ListPartitionNames(ctx, db, tbl, hms.PartitionQuery{Values: q.Values})
	return len(names), err
}

func (c *Client) AlterPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition) error {
	if len(parts) == 0 {
		return nil
	}
	parts = forTable(db, tbl, parts)
	_, err := fallback(ctx, c, &c.compat.alterPartitionsReq, "alter_partitions_req", "alter_partitions", false,
		func(ctx context.Context, cl *client) (struct{}, error) {
			req := hm.NewAlterPartitionsRequest()
			req.DbName, req.TableName, req.Partitions = db, tbl, parts
			_, err := cl.AlterPartitionsReq(ctx, req)
			return struct{}{}, err
		},
		func(ctx context.Context, cl *client) (struct{}, error) {
			return struct{}{}, cl.AlterPartitions(ctx, db, tbl, parts)
		})
	return err
}

func (c *Client) RenamePartition(ctx context.Context, db, tbl string, oldValues []string, p *hm.Partition) error {
	p = forTable(db, tbl, []*hm.Partition{p})[0]
	_, err := fallback(ctx, c, &c.compat.renamePartitionReq, "rename_partition_req", "rename_partition", false,
		func(ctx context.Context, cl *client) (struct{}, error) {
			req := hm.NewRenamePartitionRequest()
			req.CatName = ptr(defaultCatalog) // Hive 4 fails on a request without one
			req.DbName, req.TableName, req.PartVals, req.NewPart_ = db, tbl, oldValues, p
			_, err := cl.RenamePartitionReq(ctx, req)
			return struct{}{}, err
		},
		func(ctx context.Context, cl *client) (struct{}, error) {
			return struct{}{}, cl.RenamePartition(ctx, db, tbl, oldValues, p)
		})
	return err
}

// DropPartition fetches the partition, then drops it: the drop call answers only true.
func (c *Client) DropPartition(ctx context.Context, db, tbl string, values []string, deleteData bool) (*hm.Partition, error) {
	p, err := c.GetPartition(ctx, db, tbl, values)
	if err != nil {
		return nil, err
	}
	err = c.do(ctx, "drop_partition", false, func(ctx context.Context, cl *client) error {
		_, err := cl.DropPartition(ctx, db, tbl, values, deleteData)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ExchangePartitions asks the upstream to exchange, with the specification as a map of the
// given values: the upstream moves the data itself.
func (c *Client) ExchangePartitions(ctx context.Context, srcDB, srcTbl, dstDB, dstTbl string, values []string) ([]*hm.Partition, error) {
	t, err := c.GetTable(ctx, srcDB, srcTbl)
	if err != nil {
		return nil, err
	}
	spec := map[string]string{}
	for i, k := range t.PartitionKeys {
		if i < len(values) && values[i] != "" {
			spec[k.Name] = values[i]
		}
	}
	var out []*hm.Partition
	err = c.do(ctx, "exchange_partitions", false, func(ctx context.Context, cl *client) (err error) {
		out, err = cl.ExchangePartitions(ctx, spec, srcDB, srcTbl, dstDB, dstTbl)
		return err
	})
	return out, err
}

// --- statistics ---

func (c *Client) UpdateColumnStatistics(ctx context.Context, stats *hm.ColumnStatistics) error {
	if stats == nil || stats.StatsDesc == nil {
		return errs.Invalid("column statistics without a descriptor")
	}
	st := stats
	if st.Engine == nil {
		cp := *stats
		cp.Engine = ptr(engine)
		st = &cp
	}
	if st.StatsDesc.IsTblLevel {
		return c.do(ctx, "update_table_column_statistics", false, func(ctx context.Context, cl *client) error {
			_, err := cl.UpdateTableColumnStatistics(ctx, st)
			return err
		})
	}
	return c.do(ctx, "update_partition_column_statistics", false, func(ctx context.Context, cl *client) error {
		_, err := cl.UpdatePartitionColumnStatistics(ctx, st)
		return err
	})
}

func (c *Client) TableColumnStatistics(ctx context.Context, db, tbl string, cols []string) ([]*hm.ColumnStatisticsObj, error) {
	if len(cols) == 0 {
		return []*hm.ColumnStatisticsObj{}, nil
	}
	objs, err := fallback(ctx, c, &c.compat.tableStatsReq, "get_table_statistics_req", "get_table_column_statistics", true,
		func(ctx context.Context, cl *client) ([]*hm.ColumnStatisticsObj, error) {
			req := hm.NewTableStatsRequest()
			req.DbName, req.TblName, req.ColNames, req.Engine = db, tbl, cols, engine
			res, err := cl.GetTableStatisticsReq(ctx, req)
			if err != nil {
				return nil, err
			}
			return res.TableStats, nil
		},
		func(ctx context.Context, cl *client) ([]*hm.ColumnStatisticsObj, error) {
			var out []*hm.ColumnStatisticsObj
			for _, col := range cols {
				st, err := cl.GetTableColumnStatistics(ctx, db, tbl, col)
				if missingStats(err) {
					continue
				}
				if err != nil {
					return nil, err
				}
				out = append(out, st.StatsObj...)
			}
			return out, nil
		})
	return nonNil(objs), err
}

func (c *Client) PartitionColumnStatistics(ctx context.Context, db, tbl string, partNames, cols []string) (map[string][]*hm.ColumnStatisticsObj, error) {
	if len(partNames) == 0 || len(cols) == 0 {
		return map[string][]*hm.ColumnStatisticsObj{}, nil
	}
	m, err := fallback(ctx, c, &c.compat.partitionStatsReq, "get_partitions_statistics_req", "get_partition_column_statistics", true,
		func(ctx context.Context, cl *client) (map[string][]*hm.ColumnStatisticsObj, error) {
			req := hm.NewPartitionsStatsRequest()
			req.DbName, req.TblName, req.ColNames, req.PartNames, req.Engine = db, tbl, cols, partNames, engine
			res, err := cl.GetPartitionsStatisticsReq(ctx, req)
			if err != nil {
				return nil, err
			}
			return res.PartStats, nil
		},
		func(ctx context.Context, cl *client) (map[string][]*hm.ColumnStatisticsObj, error) {
			out := map[string][]*hm.ColumnStatisticsObj{}
			for _, part := range partNames {
				for _, col := range cols {
					st, err := cl.GetPartitionColumnStatistics(ctx, db, tbl, part, col)
					if missingStats(err) {
						continue
					}
					if err != nil {
						return nil, err
					}
					out[part] = append(out[part], st.StatsObj...)
				}
			}
			return out, nil
		})
	if m == nil && err == nil {
		m = map[string][]*hm.ColumnStatisticsObj{}
	}
	return m, err
}

// missingStats reports the NoSuchObjectException the per-column calls answer for a column
// without statistics.
func missingStats(err error) bool {
	var nso *hm.NoSuchObjectException
	return errors.As(err, &nso)
}

// DeleteColumnStatistics with col == "" deletes the statistics of every column, one call per
// column: Hive's delete calls take one column name (null for all), and Thrift cannot send null.
func (c *Client) DeleteColumnStatistics(ctx context.Context, db, tbl, partName, col string) error {
	if col != "" {
		return c.deleteStats(ctx, db, tbl, partName, col)
	}
	t, err := c.GetTable(ctx, db, tbl)
	if err != nil {
		return err
	}
	if t.Sd == nil {
		return nil
	}
	for _, fs := range t.Sd.Cols {
		err := c.deleteStats(ctx, db, tbl, partName, strings.ToLower(fs.Name))
		if err != nil && errs.KindOf(err) != errs.KindNotFound {
			return err
		}
	}
	return nil
}

func (c *Client) deleteStats(ctx context.Context, db, tbl, partName, col string) error {
	if partName == "" {
		return c.do(ctx, "delete_table_column_statistics", false, func(ctx context.Context, cl *client) error {
			_, err := cl.DeleteTableColumnStatistics(ctx, db, tbl, col, engine)
			return err
		})
	}
	return c.do(ctx, "delete_partition_column_statistics", false, func(ctx context.Context, cl *client) error {
		_, err := cl.DeletePartitionColumnStatistics(ctx, db, tbl, partName, col, engine)
		return err
	})
}

// --- functions ---

func (c *Client) CreateFunction(ctx context.Context, f *hm.Function) error {
	return c.do(ctx, "create_function", false, func(ctx context.Context, cl *client) error {
		return cl.CreateFunction(ctx, f)
	})
}

func (c *Client) GetFunction(ctx context.Context, db, name string) (*hm.Function, error) {
	return callT(ctx, c, "get_function", true, func(ctx context.Context, cl *client) (*hm.Function, error) {
		return cl.GetFunction(ctx, db, name)
	})
}

// ListFunctions uses get_all_functions, one call for every database, rather than
// get_functions plus one get_function per name.
func (c *Client) ListFunctions(ctx context.Context, db string) ([]*hm.Function, error) {
	res, err := callT(ctx, c, "get_all_functions", true, func(ctx context.Context, cl *client) (*hm.GetAllFunctionsResponse, error) {
		return cl.GetAllFunctions(ctx)
	})
	if err != nil {
		return nil, err
	}
	out := []*hm.Function{}
	for _, f := range res.GetFunctions() {
		if f != nil && (db == "" || strings.EqualFold(f.DbName, db)) {
			out = append(out, f)
		}
	}
	if len(out) == 0 && db != "" {
		if err := c.mustExistDB(ctx, db); err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].DbName != out[j].DbName {
			return out[i].DbName < out[j].DbName
		}
		return out[i].FunctionName < out[j].FunctionName
	})
	return out, nil
}

func (c *Client) AlterFunction(ctx context.Context, db, name string, f *hm.Function) error {
	return c.do(ctx, "alter_function", false, func(ctx context.Context, cl *client) error {
		return cl.AlterFunction(ctx, db, name, f)
	})
}

func (c *Client) DropFunction(ctx context.Context, db, name string) error {
	return c.do(ctx, "drop_function", false, func(ctx context.Context, cl *client) error {
		return cl.DropFunction(ctx, db, name)
	})
}

// --- locks ---

func (c *Client) Lock(ctx context.Context, req *hm.LockRequest) (*hm.LockResponse, error) {
	return callT(ctx, c, "lock", false, func(ctx context.Context, cl *client) (*hm.LockResponse, error) {
		return cl.Lock(ctx, req)
	})
}

func (c *Client) CheckLock(ctx context.Context, lockID int64) (*hm.LockResponse, error) {
	return callT(ctx, c, "check_lock", true, func(ctx context.Context, cl *client) (*hm.LockResponse, error) {
		req := hm.NewCheckLockRequest()
		req.Lockid = lockID
		return cl.CheckLock(ctx, req)
	})
}

func (c *Client) Unlock(ctx context.Context, lockID int64) error {
	return c.do(ctx, "unlock", false, func(ctx context.Context, cl *client) error {
		req := hm.NewUnlockRequest()
		req.Lockid = lockID
		return cl.Unlock(ctx, req)
	})
}

func (c *Client) Heartbeat(ctx context.Context, lockID int64) error {
	return c.do(ctx, "heartbeat", true, func(ctx context.Context, cl *client) error {
		req := hm.NewHeartbeatRequest()
		req.Lockid = ptr(lockID)
		return cl.Heartbeat(ctx, req)
	})
}

func (c *Client) ShowLocks(ctx context.Context, req *hm.ShowLocksRequest) (*hm.ShowLocksResponse, error) {
	if req == nil {
		req = hm.NewShowLocksRequest()
	}
	return callT(ctx, c, "show_locks", true, func(ctx context.Context, cl *client) (*hm.ShowLocksResponse, error) {
		return cl.ShowLocks(ctx, req)
	})
}

// --- events ---

func (c *Client) CurrentEventID(ctx context.Context) (int64, error) {
	res, err := callT(ctx, c, "get_current_notificationEventId", true, func(ctx context.Context, cl *client) (*hm.CurrentNotificationEventId, error) {
		return cl.GetCurrentNotificationEventId(ctx)
	})
	if err != nil {
		return 0, err
	}
	return res.GetEventId(), nil
}

func (c *Client) NextEvents(ctx context.Context, lastID int64, max int) ([]*hm.NotificationEvent, error) {
	req := hm.NewNotificationEventRequest()
	req.LastEvent = lastID
	if max > 0 {
		req.MaxEvents = ptr(int32(min(max, math.MaxInt32)))
	}
	res, err := callT(ctx, c, "get_next_notification", true, func(ctx context.Context, cl *client) (*hm.NotificationEventResponse, error) {
		return cl.GetNextNotification(ctx, req)
	})
	if err != nil {
		return nil, err
	}
	return nonNil(res.GetEvents()), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
