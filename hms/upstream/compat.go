package upstream

import (
	"context"
	"sync/atomic"

	hm "github.com/beltran/gohive/hive_metastore"
)

// compat remembers, per backend, which newer calls the upstream lacks. Each flag is set once,
// the first time the upstream answers UNKNOWN_METHOD, and from then on the older call is made
// directly. Hive 4 dropped some old calls and Hive 2.3 lacks some new ones, so the newer call is
// always tried first.
type compat struct {
	getTableReq             atomic.Bool
	getTablesReq            atomic.Bool
	getTableMeta            atomic.Bool
	addPartitionsReq        atomic.Bool
	getPartitionsByNamesReq atomic.Bool
	getPartitionNamesPsReq  atomic.Bool
	alterTableEnv           atomic.Bool
	alterPartitionsReq      atomic.Bool
	renamePartitionReq      atomic.Bool
	tableStatsReq           atomic.Bool
	partitionStatsReq       atomic.Bool
}

type op[T any] func(context.Context, *hm.ThriftHiveMetastoreClient) (T, error)

// fallback calls newer unless the upstream is known to lack it, and older when it does.
func fallback[T any](ctx context.Context, c *Client, lacks *atomic.Bool, newName, oldName string, idempotent bool, newer, older op[T]) (T, error) {
	if !lacks.Load() {
		r, err := callT(ctx, c, newName, idempotent, newer)
		if err == nil || !isUnknownMethod(err) {
			return r, err
		}
		c.lacks(lacks, newName, oldName, err)
	}
	return callT(ctx, c, oldName, idempotent, older)
}

// lacks records that the upstream does not have newName.
func (c *Client) lacks(flag *atomic.Bool, newName, oldName string, err error) {
	if !flag.Swap(true) {
		c.log.Info("upstream metastore lacks a newer call; using the older one from now on", "method", newName, "instead", oldName, "err", err)
	}
}

func callT[T any](ctx context.Context, c *Client, name string, idempotent bool, fn op[T]) (T, error) {
	var r T
	err := c.call(ctx, name, idempotent, func(ctx context.Context, cl *hm.ThriftHiveMetastoreClient) error {
		var err error
		r, err = fn(ctx, cl)
		return err
	})
	return r, err
}

// do is call for operations without a result.
func (c *Client) do(ctx context.Context, name string, idempotent bool, fn func(context.Context, *hm.ThriftHiveMetastoreClient) error) error {
	return c.call(ctx, name, idempotent, fn)
}

// compatFlag returns the flag of a newer call, by its Thrift name (for tests and diagnostics).
func (c *Client) compatFlag(method string) *atomic.Bool {
	switch method {
	case "get_table_req":
		return &c.compat.getTableReq
	case "get_table_objects_by_name_req":
		return &c.compat.getTablesReq
	case "get_table_meta":
		return &c.compat.getTableMeta
	case "add_partitions_req":
		return &c.compat.addPartitionsReq
	case "get_partitions_by_names_req":
		return &c.compat.getPartitionsByNamesReq
	case "get_partition_names_ps_req":
		return &c.compat.getPartitionNamesPsReq
	case "alter_table_with_environment_context":
		return &c.compat.alterTableEnv
	case "alter_partitions_req":
		return &c.compat.alterPartitionsReq
	case "rename_partition_req":
		return &c.compat.renamePartitionReq
	case "get_table_statistics_req":
		return &c.compat.tableStatsReq
	case "get_partitions_statistics_req":
		return &c.compat.partitionStatsReq
	}
	return nil
}
