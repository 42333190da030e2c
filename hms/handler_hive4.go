package hms

import (
	"context"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
	pthrift "github.com/propolis/propolis/thrift"
)

// Request-style variants Hive 3 and 4 clients call, which our bindings model: each reads its
// request and runs the call it is a variant of.

// qualify gives db the catalog prefix of a request's catName, so dbName applies the one rule
// for catalogs.
func qualify(cat *string, db string) string {
	if cat == nil || *cat == "" || strings.HasPrefix(db, "@") {
		return db
	}
	return "@" + *cat + "#" + db
}

func (h *Handler) GetPartitionReq(ctx context.Context, req *hm.GetPartitionRequest) (*hm.GetPartitionResponse, error) {
	if req == nil {
		return nil, errs.Invalid("get_partition_req: no request")
	}
	p, err := h.GetPartition(ctx, qualify(req.CatName, req.DbName), req.TblName, req.PartVals)
	if err != nil {
		return nil, err
	}
	return &hm.GetPartitionResponse{Partition: p}, nil
}

func (h *Handler) GetPartitionsReq(ctx context.Context, req *hm.PartitionsRequest) (*hm.PartitionsResponse, error) {
	if req == nil {
		return nil, errs.Invalid("get_partitions_req: no request")
	}
	ps, err := h.GetPartitions(ctx, qualify(req.CatName, req.DbName), req.TblName, req.MaxParts)
	if err != nil {
		return nil, err
	}
	return &hm.PartitionsResponse{Partitions: ps}, nil
}

func (h *Handler) GetFieldsReq(ctx context.Context, req *hm.GetFieldsRequest) (*hm.GetFieldsResponse, error) {
	if req == nil {
		return nil, errs.Invalid("get_fields_req: no request")
	}
	fs, err := h.GetFields(ctx, qualify(req.CatName, req.DbName), req.TblName)
	if err != nil {
		return nil, err
	}
	return &hm.GetFieldsResponse{Fields: fs}, nil
}

func (h *Handler) GetSchemaReq(ctx context.Context, req *hm.GetSchemaRequest) (*hm.GetSchemaResponse, error) {
	if req == nil {
		return nil, errs.Invalid("get_schema_req: no request")
	}
	fs, err := h.GetSchema(ctx, qualify(req.CatName, req.DbName), req.TblName)
	if err != nil {
		return nil, err
	}
	return &hm.GetSchemaResponse{Fields: fs}, nil
}

func (h *Handler) RenamePartitionReq(ctx context.Context, req *hm.RenamePartitionRequest) (*hm.RenamePartitionResponse, error) {
	if req == nil {
		return nil, errs.Invalid("rename_partition_req: no request")
	}
	if err := h.RenamePartition(ctx, qualify(req.CatName, req.DbName), req.TableName, req.PartVals, req.NewPart_); err != nil {
		return nil, err
	}
	return &hm.RenamePartitionResponse{}, nil
}

// GetMaterializedViewsForRewriting lists no views: Propolis serves no materialized-view
// rewriting, and HiveServer2 asks on every query it compiles.
func (h *Handler) GetMaterializedViewsForRewriting(ctx context.Context, db string) ([]string, error) {
	if _, err := dbName(db); err != nil {
		return nil, err
	}
	return []string{}, nil
}

func (h *Handler) GetAllMaterializedViewObjectsForRewriting(ctx context.Context) ([]*hm.Table, error) {
	return []*hm.Table{}, nil
}

// Shutdown is fb303's oneway request to stop the server. Spark's and Hive 2.3's clients send
// it when they close; a client never stops a shared metastore, so it is only logged.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.log.DebugContext(ctx, "ignoring fb303 shutdown from a client")
	return nil
}

// metaConfVars are the settings a Hive client may change for its own connection
// (MetastoreConf's metaConfVars), under both their metastore and hive names.
var metaConfVars = map[string]string{
	"metastore.try.direct.sql":                         "true",
	"metastore.try.direct.sql.ddl":                     "true",
	"metastore.client.socket.timeout":                  "600s",
	"metastore.partition.name.whitelist.pattern":       "",
	"metastore.client.capability.check":                "true",
	"metastore.disallow.incompatible.col.type.changes": "true",
	"metastore.limit.partition.request":                "-1",
}

// metaConfKey maps a hive.metastore.* alias to its metastore.* name.
func metaConfKey(key string) (string, bool) {
	k := strings.TrimPrefix(key, "hive.")
	_, ok := metaConfVars[k]
	return k, ok
}

// SetMetaConf changes one of Hive's per-connection settings for the rest of the connection.
func (h *Handler) SetMetaConf(ctx context.Context, key, value string) error {
	k, ok := metaConfKey(key)
	if !ok {
		return errs.Invalid("%s is not one of the metastore settings a client may change", key)
	}
	s := pthrift.SessionFrom(ctx)
	if s == nil {
		return errs.Invalid("setMetaConf needs a connection")
	}
	s.SetConf(k, value)
	return nil
}

// Hive ACID: Propolis keeps a transactional table's metadata but runs no transactions. The
// calls an engine makes before it reads or writes such a table answer with this, so the user
// learns why instead of meeting an unknown method.
func noACID(method string) error {
	return errs.Unsupported("Propolis does not support Hive ACID transactions (%s): read or write transactional tables through the metastore that owns them", method)
}

func (h *Handler) OpenTxns(ctx context.Context, req *hm.OpenTxnRequest) (*hm.OpenTxnsResponse, error) {
	return nil, noACID("open_txns")
}

func (h *Handler) AllocateTableWriteIds(ctx context.Context, req *hm.AllocateTableWriteIdsRequest) (*hm.AllocateTableWriteIdsResponse, error) {
	return nil, noACID("allocate_table_write_ids")
}

func (h *Handler) GetValidWriteIds(ctx context.Context, req *hm.GetValidWriteIdsRequest) (*hm.GetValidWriteIdsResponse, error) {
	return nil, noACID("get_valid_write_ids")
}

// GetPartitionNamesReq is Hive 4's SHOW PARTITIONS. Without an expression it lists every
// partition name, up to maxParts. With one it is refused: the expression is a Kryo-serialized
// Java object tree that only Hive's own classes can read, and answering every name instead
// would be a silently wrong answer.
func (h *Handler) GetPartitionNamesReq(ctx context.Context, req *hm.PartitionsByExprRequest) ([]string, error) {
	if req == nil {
		return nil, errs.Invalid("get_partition_names_req: no request")
	}
	if len(req.Expr) > 0 {
		return nil, errs.Unsupported("get_partition_names_req with a partition expression: Propolis cannot read Hive's serialized expressions; list the names with get_partition_names_ps or filter with get_partitions_by_filter")
	}
	return h.GetPartitionNames(ctx, qualify(req.CatName, req.DbName), req.TblName, req.MaxParts)
}
