package hms

import (
	"context"
	"sort"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
)

// PartitionSpec calls: Hive's compact form of a partition list, either partitions sharing one
// storage descriptor (each with a path relative to it) or a plain list. Propolis stores
// partitions, so these calls only translate.

// specPartitions expands the specs into partitions.
func specPartitions(specs []*hm.PartitionSpec) ([]*hm.Partition, error) {
	var out []*hm.Partition
	for _, s := range specs {
		if s == nil {
			return nil, errs.Invalid("add_partitions_pspec: nil partition spec")
		}
		switch {
		case s.PartitionList != nil:
			for _, p := range s.PartitionList.Partitions {
				if p == nil {
					return nil, errs.Invalid("add_partitions_pspec: nil partition")
				}
				c := *p
				if c.DbName == "" {
					c.DbName = s.DbName
				}
				if c.TableName == "" {
					c.TableName = s.TableName
				}
				out = append(out, &c)
			}
		case s.SharedSDPartitionSpec != nil:
			shared := s.SharedSDPartitionSpec
			if shared.Sd == nil {
				return nil, errs.Invalid("add_partitions_pspec: shared-SD spec of %s.%s has no storage descriptor", s.DbName, s.TableName)
			}
			for _, p := range shared.Partitions {
				if p == nil {
					return nil, errs.Invalid("add_partitions_pspec: nil partition")
				}
				sd := *shared.Sd
				sd.Location = shared.Sd.Location + p.RelativePath
				out = append(out, &hm.Partition{
					Values: p.Values, DbName: s.DbName, TableName: s.TableName,
					CreateTime: p.CreateTime, LastAccessTime: p.LastAccessTime,
					Sd: &sd, Parameters: p.Parameters, Privileges: p.Privileges, CatName: s.CatName,
				})
			}
		default:
			return nil, errs.Invalid("add_partitions_pspec: spec of %s.%s has neither partitions nor a shared storage descriptor", s.DbName, s.TableName)
		}
	}
	return out, nil
}

func (h *Handler) AddPartitionsPspec(ctx context.Context, specs []*hm.PartitionSpec) (int32, error) {
	if specs == nil {
		return 0, errs.Invalid("add_partitions_pspec: no partition specs given")
	}
	parts, err := specPartitions(specs)
	if err != nil {
		return 0, asMeta(err, errs.KindInvalid)
	}
	if len(parts) == 0 {
		return 0, nil
	}
	added, err := h.addPartitionsMeta(ctx, parts, false)
	return int32(len(added)), err
}

// partitionSpecs wraps partitions of one table as a plain-list PartitionSpec, rooted at the
// table's location.
func (h *Handler) partitionSpecs(ctx context.Context, db, tbl string, ps []*hm.Partition) []*hm.PartitionSpec {
	if len(ps) == 0 {
		return []*hm.PartitionSpec{}
	}
	root := ""
	if r, err := ref(db, tbl); err == nil {
		if t, err := h.backend().GetTable(ctx, r.db, r.tbl); err == nil && t.Sd != nil {
			root = t.Sd.Location
		}
	}
	return []*hm.PartitionSpec{{
		DbName: ps[0].DbName, TableName: ps[0].TableName, RootPath: root, CatName: ps[0].CatName,
		PartitionList: &hm.PartitionListComposingSpec{Partitions: ps}, WriteId: -1,
	}}
}

// maxParts32 narrows the i32 max_parts of the spec calls to the i16 of the others.
func maxParts32(n int32) int16 {
	if n < 0 || n > 1<<15-1 {
		return -1
	}
	return int16(n)
}

func (h *Handler) GetPartitionsPspec(ctx context.Context, db, tbl string, max int32) ([]*hm.PartitionSpec, error) {
	ps, err := h.GetPartitions(ctx, db, tbl, maxParts32(max))
	if err != nil {
		return nil, err
	}
	return h.partitionSpecs(ctx, db, tbl, ps), nil
}

func (h *Handler) GetPartSpecsByFilter(ctx context.Context, db, tbl, filter string, max int32) ([]*hm.PartitionSpec, error) {
	ps, err := h.GetPartitionsByFilter(ctx, db, tbl, filter, maxParts32(max))
	if err != nil {
		return nil, err
	}
	return h.partitionSpecs(ctx, db, tbl, ps), nil
}

// GetPartitionValues returns, per partition matching the filter, the values of the requested
// keys: distinct when asked, ordered by partitionOrder (the requested keys when absent).
func (h *Handler) GetPartitionValues(ctx context.Context, req *hm.PartitionValuesRequest) (*hm.PartitionValuesResponse, error) {
	if req == nil {
		return nil, errs.Invalid("get_partition_values: no request")
	}
	db := qualify(req.CatName, req.DbName)
	r, err := h.rawRef(ctx, db, req.TblName)
	if err != nil {
		return nil, err
	}
	t, err := h.backend().GetTable(ctx, r.db, r.tbl)
	if err != nil {
		return nil, err
	}
	pos := map[string]int{}
	for i, k := range t.PartitionKeys {
		pos[strings.ToLower(k.Name)] = i
	}
	index := func(cols []*hm.FieldSchema) ([]int, error) {
		out := make([]int, len(cols))
		for i, c := range cols {
			p, ok := pos[strings.ToLower(c.GetName())]
			if !ok {
				return nil, errs.Invalid("%s is not a partition key of %s.%s", c.GetName(), r.db, r.tbl)
			}
			out[i] = p
		}
		return out, nil
	}
	want, err := index(req.PartitionKeys)
	if err != nil {
		return nil, err
	}
	if len(want) == 0 {
		return nil, errs.Invalid("get_partition_values: no partition keys requested")
	}
	order := want
	if len(req.PartitionOrder) > 0 {
		if order, err = index(req.PartitionOrder); err != nil {
			return nil, err
		}
	}
	filter := ""
	if req.Filter != nil {
		filter = *req.Filter
	}
	ps, err := h.listPartitions(ctx, db, req.TblName, PartitionQuery{Filter: filter})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ps, func(i, j int) bool {
		for _, k := range order {
			a, b := ps[i].Values[k], ps[j].Values[k]
			if a != b {
				if req.Ascending {
					return a < b
				}
				return a > b
			}
		}
		return false
	})
	seen := map[string]bool{}
	rows := []*hm.PartitionValuesRow{}
	for _, p := range ps {
		row := make([]string, len(want))
		for i, k := range want {
			row[i] = p.Values[k]
		}
		key := strings.Join(row, "\x00")
		if req.ApplyDistinct && seen[key] {
			continue
		}
		seen[key] = true
		if req.MaxParts > 0 && int64(len(rows)) >= req.MaxParts { // Hive: 0 or less, no bound
			break
		}
		rows = append(rows, &hm.PartitionValuesRow{Row: row})
	}
	return &hm.PartitionValuesResponse{PartitionValues: rows}, nil
}

// --- exchange ---

func (h *Handler) ExchangePartition(ctx context.Context, spec map[string]string, srcDB, srcTbl, dstDB, dstTbl string) (*hm.Partition, error) {
	ps, err := h.exchangePartitions(ctx, spec, srcDB, srcTbl, dstDB, dstTbl)
	if err != nil {
		return nil, err
	}
	return ps[0], nil
}

func (h *Handler) ExchangePartitions(ctx context.Context, spec map[string]string, srcDB, srcTbl, dstDB, dstTbl string) ([]*hm.Partition, error) {
	return h.exchangePartitions(ctx, spec, srcDB, srcTbl, dstDB, dstTbl)
}

// exchangePartitions moves the partitions of the source table that match spec to the
// destination. Hive refuses every failed exchange with MetaException (a missing table, a bad
// specification, a partition already there), and clients expect that one type (asMeta).
func (h *Handler) exchangePartitions(ctx context.Context, spec map[string]string, srcDB, srcTbl, dstDB, dstTbl string) ([]*hm.Partition, error) {
	refuse := func(err error) error { return asMeta(err, errs.KindNotFound, errs.KindInvalid, errs.KindExists) }
	if len(spec) == 0 || srcDB == "" || srcTbl == "" || dstDB == "" || dstTbl == "" {
		return nil, refuse(errs.Invalid("The DB and table name for the source and destination tables, and the partition specs must not be null."))
	}
	src, err := h.writeRef(ctx, OpDrop, srcDB, srcTbl)
	if err != nil {
		return nil, refuse(err)
	}
	dst, err := h.writeRef(ctx, OpInsert, dstDB, dstTbl)
	if err != nil {
		return nil, refuse(err)
	}
	t, err := h.backend().GetTable(ctx, src.db, src.tbl)
	if err != nil {
		return nil, refuse(err)
	}
	byKey := make(map[string]string, len(spec))
	for k, v := range spec {
		byKey[strings.ToLower(k)] = v
	}
	values := make([]string, len(t.PartitionKeys))
	for i, k := range t.PartitionKeys {
		key := strings.ToLower(k.Name)
		values[i] = byKey[key]
		delete(byKey, key)
	}
	for k := range byKey {
		return nil, refuse(errs.Invalid("%s is not a partition key of %s.%s", k, src.db, src.tbl))
	}
	ps, err := h.backend().ExchangePartitions(ctx, src.db, src.tbl, dst.db, dst.tbl, values)
	if err != nil {
		return nil, refuse(err)
	}
	return ps, nil
}
