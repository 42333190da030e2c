package hms

import (
	"context"
	"math"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/hms/hivename"
	"github.com/propolis/propolis/hms/hiverule"
	"github.com/propolis/propolis/internal/errs"
)

// tableRef is a resolved (database, table) pair.
type tableRef struct{ db, tbl string }

func ref(db, tbl string) (tableRef, error) {
	d, err := dbName(db)
	return tableRef{d, tableName(tbl)}, err
}

// rawRef resolves a table whose partitions are about to be revealed, and decides whether the
// caller may see them.
func (h *Handler) rawRef(ctx context.Context, db, tbl string) (tableRef, error) {
	r, err := ref(db, tbl)
	if err != nil {
		return r, err
	}
	return h.readRaw(ctx, r)
}

// partRef is rawRef for calls that return partitions: a table the guard serves rewritten
// (hms.WithheldError) may still have its partitions listed, rewritten by the guard's
// PartitionViewer. rewrite is never nil.
func (h *Handler) partRef(ctx context.Context, db, tbl string) (tableRef, func([]*hm.Partition) ([]*hm.Partition, error), error) {
	r, err := h.rawRef(ctx, db, tbl)
	if err == nil {
		return r, keepPartitions, nil
	}
	if pv, ok := h.guard.(PartitionViewer); ok && withheld(err) {
		rewrite, verr := pv.PartitionView(ctx, r.db, r.tbl)
		if verr != nil {
			return r, nil, verr
		}
		return r, rewrite, nil
	}
	return r, nil, err
}

func keepPartitions(ps []*hm.Partition) ([]*hm.Partition, error) { return ps, nil }

// onePartition rewrites a single partition.
func onePartition(rewrite func([]*hm.Partition) ([]*hm.Partition, error), p *hm.Partition, err error) (*hm.Partition, error) {
	if err != nil {
		return nil, err
	}
	ps, err := rewrite([]*hm.Partition{p})
	if err != nil {
		return nil, err
	}
	if len(ps) != 1 {
		return nil, errs.NotFound("partition not found")
	}
	return ps[0], nil
}

// writeRef resolves a table about to be changed, and decides whether the caller may.
func (h *Handler) writeRef(ctx context.Context, op, db, tbl string) (tableRef, error) {
	r, err := ref(db, tbl)
	if err != nil {
		return r, err
	}
	return r, h.guard.CheckWrite(ctx, op, r.db, r.tbl)
}

// maxParts turns Hive's int16 max_parts (negative = all) into PartitionQuery.Max. Zero asks
// for none, as in Hive; backends read zero as no bound, so it becomes noParts, which the
// listing helpers answer themselves.
func maxParts(n int16) int {
	if n == 0 {
		return noParts
	}
	return int(n)
}

const noParts = math.MinInt

// valuesOf turns a partition name into values in the table's key order.
func (h *Handler) valuesOf(ctx context.Context, r tableRef, name string) ([]string, error) {
	t, err := h.backend().GetTable(ctx, r.db, r.tbl)
	if err != nil {
		return nil, err
	}
	// Hive looks a malformed or non-matching name up and finds nothing: NoSuchObjectException;
	// an empty name it refuses.
	if name == "" {
		return nil, errs.Invalid("no partition name given")
	}
	keys, vals, err := hivename.ParsePartName(name)
	if err != nil {
		return nil, errs.NotFound("partition %s not found: %v", name, err)
	}
	byKey := make(map[string]string, len(keys))
	for i, k := range keys {
		byKey[k] = vals[i]
	}
	if len(keys) != len(t.PartitionKeys) {
		return nil, errs.NotFound("partition %s not found: the partition keys of %s.%s differ", name, r.db, r.tbl)
	}
	out := make([]string, len(t.PartitionKeys))
	for i, k := range t.PartitionKeys {
		v, ok := byKey[tableName(k.Name)]
		if !ok {
			return nil, errs.NotFound("partition %s not found: no value for key %s", name, k.Name)
		}
		out[i] = v
	}
	return out, nil
}

// --- add ---

// addPartitionsMeta is addPartitions for add_partition and add_partitions: Hive answers those
// with MetaException for an invalid partition or a list naming several tables (asMeta); a
// missing table stays InvalidObjectException and an existing partition AlreadyExistsException.
func (h *Handler) addPartitionsMeta(ctx context.Context, parts []*hm.Partition, ifNotExists bool) ([]*hm.Partition, error) {
	added, err := h.addPartitions(ctx, parts, ifNotExists)
	return added, asMeta(err, errs.KindInvalid)
}

// checkPartition is what Hive checks of a partition a client adds: it has values and a
// storage descriptor, and every column in it has a name and a type.
func checkPartition(p *hm.Partition) error {
	if len(p.Values) == 0 {
		return errs.Invalid("the partition has no values")
	}
	if p.Sd == nil {
		return nil // checked against the table: a view's partitions may have none
	}
	for _, c := range p.Sd.Cols {
		if c == nil || c.Name == "" || c.Type == "" {
			return errs.Invalid("partition %v has a column without a name or a type", p.Values)
		}
	}
	return nil
}

func (h *Handler) addPartitions(ctx context.Context, parts []*hm.Partition, ifNotExists bool) ([]*hm.Partition, error) {
	if parts == nil {
		return nil, errs.Invalid("add_partitions: no partition list given")
	}
	if len(parts) == 0 {
		return nil, nil
	}
	if parts[0] == nil {
		return nil, errs.Invalid("add_partitions: nil partition")
	}
	r, err := ref(parts[0].DbName, parts[0].TableName)
	if err != nil {
		return nil, err
	}
	// The first partition's table is decided and looked up first, as Hive does: a missing one
	// is reported before anything about the others.
	if err := h.guard.CheckWrite(ctx, OpInsert, r.db, r.tbl); err != nil {
		return nil, err
	}
	t, err := h.backend().GetTable(ctx, r.db, r.tbl)
	if err != nil {
		return nil, err
	}
	cp := make([]*hm.Partition, len(parts))
	seen := make(map[string]bool, len(parts))
	for i, p := range parts {
		if p == nil {
			return nil, errs.Invalid("add_partitions: nil partition")
		}
		pr, err := ref(p.DbName, p.TableName)
		if err != nil {
			return nil, err
		}
		if pr != r {
			return nil, errs.Invalid("add_partitions: partitions of %s.%s and %s.%s in one call", r.db, r.tbl, pr.db, pr.tbl)
		}
		if err := checkPartition(p); err != nil {
			return nil, err
		}
		key := strings.Join(p.Values, "\x00")
		if seen[key] {
			return nil, errs.Invalid("add_partitions: partition %v is in the list twice", p.Values)
		}
		seen[key] = true
		c := *p
		c.DbName, c.TableName = r.db, r.tbl
		cp[i] = &c
	}
	if !strings.EqualFold(t.TableType, hiverule.VirtualView) {
		for _, p := range cp {
			if p.Sd == nil {
				return nil, errs.Invalid("partition %v has no storage descriptor", p.Values)
			}
		}
	}
	return h.backend().AddPartitions(ctx, r.db, r.tbl, cp, ifNotExists)
}

func (h *Handler) AddPartition(ctx context.Context, p *hm.Partition) (*hm.Partition, error) {
	added, err := h.addPartitionsMeta(ctx, []*hm.Partition{p}, false)
	if err != nil {
		return nil, err
	}
	if len(added) != 1 {
		return nil, errs.Invalid("add_partition: no partition given")
	}
	return added[0], nil
}

func (h *Handler) AddPartitionWithEnvironmentContext(ctx context.Context, p *hm.Partition, _ *hm.EnvironmentContext) (*hm.Partition, error) {
	return h.AddPartition(ctx, p)
}

func (h *Handler) AddPartitions(ctx context.Context, parts []*hm.Partition) (int32, error) {
	added, err := h.addPartitionsMeta(ctx, parts, false)
	return int32(len(added)), err
}

func (h *Handler) AddPartitionsReq(ctx context.Context, req *hm.AddPartitionsRequest) (*hm.AddPartitionsResult_, error) {
	if req == nil {
		return nil, errs.Invalid("add_partitions_req: no request")
	}
	r, err := ref(req.DbName, req.TblName)
	if err != nil {
		return nil, err
	}
	parts := make([]*hm.Partition, len(req.Parts))
	for i, p := range req.Parts {
		if p == nil {
			return nil, errs.Invalid("add_partitions_req: nil partition")
		}
		c := *p
		if c.DbName == "" {
			c.DbName = r.db
		}
		if c.TableName == "" {
			c.TableName = r.tbl
		}
		parts[i] = &c
	}
	added, err := h.addPartitions(ctx, parts, req.IfNotExists)
	if err != nil {
		return nil, err
	}
	res := &hm.AddPartitionsResult_{}
	if req.NeedResult_ {
		res.Partitions = added
		if res.Partitions == nil {
			res.Partitions = []*hm.Partition{}
		}
	}
	return res, nil
}

// appendPartition creates a partition from values alone, with the table's storage.
func (h *Handler) appendPartition(ctx context.Context, r tableRef, values []string) (*hm.Partition, error) {
	if err := h.guard.CheckWrite(ctx, OpInsert, r.db, r.tbl); err != nil {
		return nil, err
	}
	if len(values) == 0 {
		return nil, asMeta(errs.Invalid("append_partition: no partition values given"), errs.KindInvalid)
	}
	p := &hm.Partition{DbName: r.db, TableName: r.tbl, Values: values}
	added, err := h.backend().AddPartitions(ctx, r.db, r.tbl, []*hm.Partition{p}, false)
	if err != nil {
		// Hive answers a bad value list with MetaException, a missing table with
		// InvalidObjectException.
		return nil, asMeta(err, errs.KindInvalid)
	}
	return added[0], nil
}

func (h *Handler) AppendPartition(ctx context.Context, db, tbl string, values []string) (*hm.Partition, error) {
	r, err := ref(db, tbl)
	if err != nil {
		return nil, err
	}
	return h.appendPartition(ctx, r, values)
}

func (h *Handler) AppendPartitionWithEnvironmentContext(ctx context.Context, db, tbl string, values []string, _ *hm.EnvironmentContext) (*hm.Partition, error) {
	return h.AppendPartition(ctx, db, tbl, values)
}

func (h *Handler) AppendPartitionByName(ctx context.Context, db, tbl, name string) (*hm.Partition, error) {
	r, err := ref(db, tbl)
	if err != nil {
		return nil, err
	}
	if err := h.guard.CheckWrite(ctx, OpInsert, r.db, r.tbl); err != nil {
		return nil, err
	}
	vals, err := h.valuesOf(ctx, r, name)
	if err != nil {
		return nil, err
	}
	return h.appendPartition(ctx, r, vals)
}

func (h *Handler) AppendPartitionByNameWithEnvironmentContext(ctx context.Context, db, tbl, name string, _ *hm.EnvironmentContext) (*hm.Partition, error) {
	return h.AppendPartitionByName(ctx, db, tbl, name)
}

// --- get one ---

func (h *Handler) GetPartition(ctx context.Context, db, tbl string, values []string) (*hm.Partition, error) {
	r, rewrite, err := h.partRef(ctx, db, tbl)
	if err != nil {
		return nil, err
	}
	p, err := h.backend().GetPartition(ctx, r.db, r.tbl, values)
	return onePartition(rewrite, p, err)
}

func (h *Handler) GetPartitionWithAuth(ctx context.Context, db, tbl string, values []string, _ string, _ []string) (*hm.Partition, error) {
	return h.GetPartition(ctx, db, tbl, values)
}

func (h *Handler) GetPartitionByName(ctx context.Context, db, tbl, name string) (*hm.Partition, error) {
	r, rewrite, err := h.partRef(ctx, db, tbl)
	if err != nil {
		return nil, err
	}
	vals, err := h.valuesOf(ctx, r, name)
	if err != nil {
		return nil, err
	}
	p, err := h.backend().GetPartition(ctx, r.db, r.tbl, vals)
	return onePartition(rewrite, p, err)
}

// --- listings ---

func (h *Handler) listPartitions(ctx context.Context, db, tbl string, q PartitionQuery) ([]*hm.Partition, error) {
	r, rewrite, err := h.partRef(ctx, db, tbl)
	if err != nil {
		return nil, err
	}
	if q.Max == noParts {
		return []*hm.Partition{}, nil
	}
	ps, err := h.backend().ListPartitions(ctx, r.db, r.tbl, q)
	if err != nil {
		return nil, err
	}
	return rewrite(ps)
}

func (h *Handler) listPartitionNames(ctx context.Context, db, tbl string, q PartitionQuery) ([]string, error) {
	r, _, err := h.partRef(ctx, db, tbl)
	if err != nil {
		return nil, err
	}
	if q.Max == noParts {
		return []string{}, nil
	}
	return h.backend().ListPartitionNames(ctx, r.db, r.tbl, q)
}

func (h *Handler) GetPartitions(ctx context.Context, db, tbl string, max int16) ([]*hm.Partition, error) {
	return h.listPartitions(ctx, db, tbl, PartitionQuery{Max: maxParts(max)})
}

func (h *Handler) GetPartitionsWithAuth(ctx context.Context, db, tbl string, max int16, _ string, _ []string) ([]*hm.Partition, error) {
	return h.GetPartitions(ctx, db, tbl, max)
}

func (h *Handler) GetPartitionsPs(ctx context.Context, db, tbl string, values []string, max int16) ([]*hm.Partition, error) {
	return h.listPartitions(ctx, db, tbl, PartitionQuery{Values: values, Max: maxParts(max)})
}

func (h *Handler) GetPartitionsPsWithAuth(ctx context.Context, db, tbl string, values []string, max int16, _ string, _ []string) ([]*hm.Partition, error) {
	return h.GetPartitionsPs(ctx, db, tbl, values, max)
}

func (h *Handler) GetPartitionsPsWithAuthReq(ctx context.Context, req *hm.GetPartitionsPsWithAuthRequest) (*hm.GetPartitionsPsWithAuthResponse, error) {
	if req == nil {
		return nil, errs.Invalid("get_partitions_ps_with_auth_req: no request")
	}
	ps, err := h.GetPartitionsPs(ctx, req.DbName, req.TblName, req.PartVals, req.MaxParts)
	if err != nil {
		return nil, err
	}
	return &hm.GetPartitionsPsWithAuthResponse{Partitions: ps}, nil
}

func (h *Handler) GetPartitionNames(ctx context.Context, db, tbl string, max int16) ([]string, error) {
	return h.listPartitionNames(ctx, db, tbl, PartitionQuery{Max: maxParts(max)})
}

func (h *Handler) GetPartitionNamesPs(ctx context.Context, db, tbl string, values []string, max int16) ([]string, error) {
	return h.listPartitionNames(ctx, db, tbl, PartitionQuery{Values: values, Max: maxParts(max)})
}

func (h *Handler) GetPartitionNamesPsReq(ctx context.Context, req *hm.GetPartitionNamesPsRequest) (*hm.GetPartitionNamesPsResponse, error) {
	if req == nil {
		return nil, errs.Invalid("get_partition_names_ps_req: no request")
	}
	names, err := h.GetPartitionNamesPs(ctx, req.DbName, req.TblName, req.PartValues, req.MaxParts)
	if err != nil {
		return nil, err
	}
	return &hm.GetPartitionNamesPsResponse{Names: names}, nil
}

func (h *Handler) GetPartitionsByFilter(ctx context.Context, db, tbl, filter string, max int16) ([]*hm.Partition, error) {
	return h.listPartitions(ctx, db, tbl, PartitionQuery{Filter: filter, Max: maxParts(max)})
}

func (h *Handler) GetNumPartitionsByFilter(ctx context.Context, db, tbl, filter string) (int32, error) {
	r, _, err := h.partRef(ctx, db, tbl)
	if err != nil {
		return 0, err
	}
	n, err := h.backend().CountPartitions(ctx, r.db, r.tbl, PartitionQuery{Filter: filter})
	return int32(n), err
}

func (h *Handler) GetPartitionsByNames(ctx context.Context, db, tbl string, names []string) ([]*hm.Partition, error) {
	r, rewrite, err := h.partRef(ctx, db, tbl)
	if err != nil {
		return nil, err
	}
	ps, err := h.backend().GetPartitionsByNames(ctx, r.db, r.tbl, names)
	if err != nil {
		return nil, err
	}
	return rewrite(ps)
}

func (h *Handler) GetPartitionsByNamesReq(ctx context.Context, req *hm.GetPartitionsByNamesRequest) (*hm.GetPartitionsByNamesResult_, error) {
	if req == nil {
		return nil, errs.Invalid("get_partitions_by_names_req: no request")
	}
	ps, err := h.GetPartitionsByNames(ctx, req.DbName, req.TblName, req.Names)
	if err != nil {
		return nil, err
	}
	return &hm.GetPartitionsByNamesResult_{Partitions: ps}, nil
}

func (h *Handler) PartitionNameToVals(ctx context.Context, name string) ([]string, error) {
	_, vals, err := hivename.ParsePartName(name)
	return vals, err
}

func (h *Handler) PartitionNameToSpec(ctx context.Context, name string) (map[string]string, error) {
	// Hive looks a malformed or non-matching name up and finds nothing: NoSuchObjectException;
	// an empty name it refuses.
	if name == "" {
		return nil, errs.Invalid("no partition name given")
	}
	keys, vals, err := hivename.ParsePartName(name)
	if err != nil {
		return nil, errs.NotFound("partition %s not found: %v", name, err)
	}
	spec := make(map[string]string, len(keys))
	for i, k := range keys {
		spec[k] = vals[i]
	}
	return spec, nil
}

// --- alter ---

// alterPartitions replaces partitions. Hive refuses a missing table, invalid values and a
// partition naming another table with MetaException (asMeta); a missing partition with
// InvalidOperationException ("alter is not possible").
func (h *Handler) alterPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition) error {
	return asMeta(h.alterPartitionsOf(ctx, db, tbl, parts), errs.KindInvalid)
}

// sameTable checks that p, when it names its table, names r.
func sameTable(r tableRef, p *hm.Partition) error {
	if p.DbName == "" && p.TableName == "" {
		return nil
	}
	pr, err := ref(p.DbName, p.TableName)
	if err != nil {
		return err
	}
	if pr != r {
		return errs.Invalid("the partition names %s.%s, not %s.%s", pr.db, pr.tbl, r.db, r.tbl)
	}
	return nil
}

func (h *Handler) alterPartitionsOf(ctx context.Context, db, tbl string, parts []*hm.Partition) error {
	r, err := ref(db, tbl)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return errs.Conflict("alter_partitions: no partitions given") // Hive: InvalidOperationException
	}
	cp := make([]*hm.Partition, len(parts))
	for i, p := range parts {
		if p == nil {
			return errs.Invalid("alter_partitions: nil partition")
		}
		if r.db != "" && r.tbl != "" {
			if err := sameTable(r, p); err != nil {
				return err
			}
		}
		c := *p
		c.DbName, c.TableName = r.db, r.tbl
		cp[i] = &c
	}
	if err := h.guard.CheckWrite(ctx, OpInsert, r.db, r.tbl); err != nil {
		return err
	}
	if _, err := h.backend().GetTable(ctx, r.db, r.tbl); err != nil && r.db != "" && r.tbl != "" {
		return asMeta(err, errs.KindNotFound) // an empty name stays InvalidOperationException
	}
	return h.backend().AlterPartitions(ctx, r.db, r.tbl, cp)
}

func (h *Handler) AlterPartition(ctx context.Context, db, tbl string, p *hm.Partition) error {
	return h.alterPartitions(ctx, db, tbl, []*hm.Partition{p})
}

func (h *Handler) AlterPartitionWithEnvironmentContext(ctx context.Context, db, tbl string, p *hm.Partition, _ *hm.EnvironmentContext) error {
	return h.AlterPartition(ctx, db, tbl, p)
}

func (h *Handler) AlterPartitions(ctx context.Context, db, tbl string, parts []*hm.Partition) error {
	return h.alterPartitions(ctx, db, tbl, parts)
}

func (h *Handler) AlterPartitionsWithEnvironmentContext(ctx context.Context, db, tbl string, parts []*hm.Partition, _ *hm.EnvironmentContext) error {
	return h.alterPartitions(ctx, db, tbl, parts)
}

func (h *Handler) AlterPartitionsReq(ctx context.Context, req *hm.AlterPartitionsRequest) (*hm.AlterPartitionsResponse, error) {
	if req == nil {
		return nil, errs.Invalid("alter_partitions_req: no request")
	}
	if err := h.alterPartitions(ctx, req.DbName, req.TableName, req.Partitions); err != nil {
		return nil, err
	}
	return &hm.AlterPartitionsResponse{}, nil
}

// RenamePartition with no old values is alter_partition, as in Hive.
func (h *Handler) RenamePartition(ctx context.Context, db, tbl string, values []string, p *hm.Partition) error {
	if len(values) == 0 {
		return h.AlterPartition(ctx, db, tbl, p)
	}
	r, err := ref(db, tbl)
	if err != nil {
		return asMeta(err, errs.KindInvalid)
	}
	if p == nil {
		return asMeta(errs.Invalid("rename_partition: no partition given"), errs.KindInvalid)
	}
	if r.db != "" && r.tbl != "" {
		if err := sameTable(r, p); err != nil {
			return asMeta(err, errs.KindInvalid)
		}
	}
	c := *p
	c.DbName, c.TableName = r.db, r.tbl
	if err := h.guard.CheckWrite(ctx, OpInsert, r.db, r.tbl); err != nil {
		return err
	}
	return h.backend().RenamePartition(ctx, r.db, r.tbl, values, &c)
}

// --- drop ---

func (h *Handler) DropPartition(ctx context.Context, db, tbl string, values []string, deleteData bool) (bool, error) {
	r, err := h.writeRef(ctx, OpDrop, db, tbl)
	if err != nil {
		return false, err
	}
	if _, err := h.backend().DropPartition(ctx, r.db, r.tbl, values, deleteData); err != nil {
		return false, err
	}
	return true, nil
}

func (h *Handler) DropPartitionWithEnvironmentContext(ctx context.Context, db, tbl string, values []string, deleteData bool, _ *hm.EnvironmentContext) (bool, error) {
	return h.DropPartition(ctx, db, tbl, values, deleteData)
}

func (h *Handler) DropPartitionByName(ctx context.Context, db, tbl, name string, deleteData bool) (bool, error) {
	r, err := h.writeRef(ctx, OpDrop, db, tbl)
	if err != nil {
		return false, err
	}
	vals, err := h.valuesOf(ctx, r, name)
	if err != nil {
		return false, err
	}
	if _, err := h.backend().DropPartition(ctx, r.db, r.tbl, vals, deleteData); err != nil {
		return false, err
	}
	return true, nil
}

func (h *Handler) DropPartitionByNameWithEnvironmentContext(ctx context.Context, db, tbl, name string, deleteData bool, _ *hm.EnvironmentContext) (bool, error) {
	return h.DropPartitionByName(ctx, db, tbl, name, deleteData)
}

// DropPartitionsReq drops partitions named in the request. Hive's serialized-expression form is
// refused: it carries Java-serialized Hive expression objects no other implementation can read.
func (h *Handler) DropPartitionsReq(ctx context.Context, req *hm.DropPartitionsRequest) (*hm.DropPartitionsResult_, error) {
	if req == nil || req.Parts == nil {
		return nil, errs.Invalid("drop_partitions_req: no partitions given")
	}
	if len(req.Parts.Exprs) > 0 {
		return nil, errs.Unsupported("drop_partitions_req with expressions is not supported: name the partitions")
	}
	r, err := h.writeRef(ctx, OpDrop, req.DbName, req.TblName)
	if err != nil {
		return nil, err
	}
	deleteData := req.DeleteData == nil || *req.DeleteData
	var dropped []*hm.Partition
	for _, name := range req.Parts.Names {
		vals, err := h.valuesOf(ctx, r, name)
		if err != nil {
			return nil, err
		}
		p, err := h.backend().DropPartition(ctx, r.db, r.tbl, vals, deleteData)
		if errs.KindOf(err) == errs.KindNotFound && req.IfExists {
			continue
		}
		if err != nil {
			return nil, err
		}
		dropped = append(dropped, p)
	}
	res := &hm.DropPartitionsResult_{}
	if req.NeedResult_ {
		res.Partitions = dropped
	}
	return res, nil
}
