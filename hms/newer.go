package hms

import (
	"context"
	"fmt"

	athrift "github.com/apache/thrift/lib/go/thrift"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/internal/errs"
	pthrift "github.com/propolis/propolis/thrift"
)

// Hive 4 clients call request-style methods that are newer than the IDL our bindings were
// generated from (gohive), and they do not fall back when a server answers UNKNOWN_METHOD: a
// Hive 4 HiveMetaStoreClient cannot create a database or drop a table without them. Each one is
// a thin variant of a call the Handler models, so each is served natively from this table: the
// request struct is read by field id (the ids of Hive 4's hive_metastore.thrift), the modeled
// call does the work, and the reply is written as the IDL declares it.
//
// Fields whose types our bindings know (a Database, a Partition) are decoded by the generated
// code (pthrift.Decode); only the request envelopes are read here.

// newerMethod is one method our bindings lack.
type newerMethod struct {
	*Method
	// throws lists the declared exceptions in field-id order (id = index + 1).
	throws []excSet
	// serve does the call. Its result is written as field 0 of the reply: nil for void, or a
	// bool, []string, a generated struct, or []*hm.Partition.
	serve func(ctx context.Context, h *Handler, r request) (any, error)
}

func newerTable(ms ...*newerMethod) map[string]*newerMethod {
	out := make(map[string]*newerMethod, len(ms))
	for _, m := range ms {
		for _, e := range m.throws {
			m.Exceptions |= e
		}
		out[m.Name] = m
	}
	return out
}

func nm(name string, throws []excSet, serve func(context.Context, *Handler, request) (any, error)) *newerMethod {
	return &newerMethod{Method: &Method{Name: name}, throws: throws, serve: serve}
}

var (
	throwsCreate      = []excSet{excAlreadyExistsException, excInvalidObjectException, excMetaException}
	throwsDropDB      = []excSet{excNoSuchObjectException, excInvalidOperationException, excMetaException}
	throwsMetaNoSuch  = []excSet{excMetaException, excNoSuchObjectException}
	throwsNoSuchMeta  = []excSet{excNoSuchObjectException, excMetaException}
	throwsAppendParts = []excSet{excInvalidObjectException, excAlreadyExistsException, excMetaException}
)

// newer is the table of methods served natively although our bindings lack them. Field ids are
// those of the request structs in Hive 4's IDL, named in each comment.
var newer = newerTable(
	// CreateDatabaseRequest has Database's field ids and types (1 name ... 13 remote_dbname).
	nm("create_database_req", throwsCreate, func(ctx context.Context, h *Handler, r request) (any, error) {
		var db hm.Database
		if err := r.decodeAll(ctx, &db); err != nil {
			return nil, err
		}
		return nil, h.CreateDatabase(ctx, &db)
	}),
	// DropDatabaseRequest: 1 name, 2 catalogName, 3 ignoreUnknownDb, 4 deleteData, 5 cascade.
	nm("drop_database_req", throwsDropDB, func(ctx context.Context, h *Handler, r request) (any, error) {
		err := h.DropDatabase(ctx, r.qualified(2, 1), r.boolean(4, false), r.boolean(5, false))
		if err != nil && r.boolean(3, false) && errs.KindOf(err) == errs.KindNotFound {
			return nil, nil
		}
		return nil, err
	}),
	// AlterDatabaseRequest: 1 oldDbName, 2 newDb.
	nm("alter_database_req", []excSet{excMetaException, excNoSuchObjectException}, func(ctx context.Context, h *Handler, r request) (any, error) {
		var db hm.Database
		if err := r.decode(ctx, 2, &db); err != nil {
			return nil, err
		}
		return nil, h.AlterDatabase(ctx, r.str(1), &db)
	}),
	// DropTableRequest: 1 catalogName, 2 dbName, 3 tableName, 4 deleteData, 5 envContext.
	nm("drop_table_req", throwsNoSuchMeta, func(ctx context.Context, h *Handler, r request) (any, error) {
		return nil, h.DropTable(ctx, r.qualified(1, 2), r.str(3), r.boolean(4, false))
	}),
	// AppendPartitionsRequest: 1 catalogName, 2 dbName, 3 tableName, 4 name, 5 partVals.
	nm("append_partition_req", throwsAppendParts, func(ctx context.Context, h *Handler, r request) (any, error) {
		if name, ok := r.optStr(4); ok {
			return h.AppendPartitionByName(ctx, r.qualified(1, 2), r.str(3), name)
		}
		return h.AppendPartition(ctx, r.qualified(1, 2), r.str(3), r.strings(5))
	}),
	// DropPartitionRequest: 1 catName, 2 dbName, 3 tblName, 4 partName, 5 partVals, 6 deleteData.
	nm("drop_partition_req", throwsNoSuchMeta, func(ctx context.Context, h *Handler, r request) (any, error) {
		if name, ok := r.optStr(4); ok {
			return h.DropPartitionByName(ctx, r.qualified(1, 2), r.str(3), name, r.boolean(6, false))
		}
		return h.DropPartition(ctx, r.qualified(1, 2), r.str(3), r.strings(5), r.boolean(6, false))
	}),
	// PartitionsRequest: 1 catName, 2 dbName, 3 tblName, 4 maxParts (i16, default -1).
	nm("fetch_partition_names_req", throwsNoSuchMeta, func(ctx context.Context, h *Handler, r request) (any, error) {
		return h.GetPartitionNames(ctx, r.qualified(1, 2), r.str(3), int16(r.integer(4, -1)))
	}),
	// GetTablesRequest: our bindings know fields 1-7; Hive 4 added 8 tablesPattern (SHOW TABLES
	// LIKE), so the call is served here to read it.
	nm("get_table_objects_by_name_req", []excSet{excMetaException, excInvalidOperationException, excUnknownDBException}, func(ctx context.Context, h *Handler, r request) (any, error) {
		var req hm.GetTablesRequest
		if err := r.decodeAll(ctx, &req); err != nil {
			return nil, err
		}
		var pattern *string
		if p, ok := r.optStr(8); ok {
			pattern = &p
		}
		return h.getTableObjectsByNameReq(ctx, &req, pattern)
	}),
	// GetPartitionsByFilterRequest: 1 catName, 2 dbName, 3 tblName, 4 filter, 5 maxParts.
	nm("get_partitions_by_filter_req", throwsMetaNoSuch, func(ctx context.Context, h *Handler, r request) (any, error) {
		return h.GetPartitionsByFilter(ctx, r.qualified(1, 2), r.str(3), r.str(4), int16(r.integer(5, -1)))
	}),
)

// request reads the fields of a request struct by id. A field absent from the wire reads as
// its zero value or the given default, as the generated code would leave it.
type request struct{ s *pthrift.Struct }

func (r request) field(id int16, t athrift.TType) *pthrift.Value {
	if r.s == nil {
		return nil
	}
	v := r.s.Field(id)
	if v == nil || v.Type != t {
		return nil
	}
	return v
}

func (r request) optStr(id int16) (string, bool) {
	v := r.field(id, athrift.STRING)
	if v == nil {
		return "", false
	}
	return v.Str(), true
}

func (r request) str(id int16) string { s, _ := r.optStr(id); return s }

func (r request) boolean(id int16, def bool) bool {
	if v := r.field(id, athrift.BOOL); v != nil {
		return v.Bool
	}
	return def
}

func (r request) integer(id int16, def int64) int64 {
	if r.s == nil {
		return def
	}
	v := r.s.Field(id)
	if v == nil {
		return def
	}
	switch v.Type {
	case athrift.BYTE, athrift.I16, athrift.I32, athrift.I64:
		return v.Int
	}
	return def
}

func (r request) strings(id int16) []string {
	v := r.field(id, athrift.LIST)
	if v == nil || v.List == nil {
		return nil
	}
	out := make([]string, 0, len(v.List.Values))
	for i := range v.List.Values {
		out = append(out, v.List.Values[i].Str())
	}
	return out
}

// qualified is the database name of fields cat and db, catalog-qualified when the catalog is
// given, so the handler's one rule for catalogs applies (dbName).
func (r request) qualified(cat, db int16) string {
	c, ok := r.optStr(cat)
	if !ok || c == "" {
		return r.str(db)
	}
	return "@" + c + "#" + r.str(db)
}

func (r request) decode(ctx context.Context, id int16, dst athrift.TStruct) error {
	v := r.field(id, athrift.STRUCT)
	if v == nil {
		return errs.Invalid("the request has no struct in field %d", id)
	}
	if err := pthrift.Decode(ctx, v, dst); err != nil {
		return errs.Invalid("malformed request: %v", err)
	}
	return nil
}

func (r request) decodeAll(ctx context.Context, dst athrift.TStruct) error {
	if r.s == nil {
		return errs.Invalid("no request given")
	}
	if err := pthrift.DecodeStruct(ctx, r.s, dst); err != nil {
		return errs.Invalid("malformed request: %v", err)
	}
	return nil
}

// serveNewer runs one call of m through the interceptor chain and writes its reply struct.
func serveNewer(ctx context.Context, h *Handler, chain []Interceptor, m *newerMethod, args *pthrift.Struct) (*pthrift.Struct, athrift.TMessageType, error) {
	var result any
	var r request
	if args != nil {
		if v := args.Field(1); v != nil && v.Type == athrift.STRUCT {
			r = request{s: v.Struct}
		}
	}
	call := func(ctx context.Context) error {
		var err error
		result, err = m.serve(ctx, h, r)
		return err
	}
	for i := len(chain) - 1; i >= 0; i-- {
		ic, next := chain[i], call
		call = func(ctx context.Context) error { return ic(ctx, m.Method, next) }
	}
	if err := call(ctx); err != nil {
		reply, err := exceptionReply(ctx, m, ToThrift(err, m.Exceptions))
		return reply, athrift.REPLY, err
	}
	reply, err := resultReply(ctx, result)
	return reply, athrift.REPLY, err
}

// resultReply is a reply struct carrying v as its success field (0).
func resultReply(ctx context.Context, v any) (*pthrift.Struct, error) {
	var val pthrift.Value
	switch x := v.(type) {
	case nil:
		return &pthrift.Struct{}, nil
	case bool:
		val = pthrift.Value{Type: athrift.BOOL, Bool: x}
	case []string:
		l := &pthrift.List{Elem: athrift.STRING, Values: make([]pthrift.Value, len(x))}
		for i, s := range x {
			l.Values[i] = pthrift.Value{Type: athrift.STRING, Bytes: []byte(s)}
		}
		val = pthrift.Value{Type: athrift.LIST, List: l}
	case []*hm.Partition:
		l := &pthrift.List{Elem: athrift.STRUCT, Values: make([]pthrift.Value, len(x))}
		for i, p := range x {
			e, err := pthrift.Encode(ctx, p, WireOutput)
			if err != nil {
				return nil, err
			}
			l.Values[i] = e
		}
		val = pthrift.Value{Type: athrift.LIST, List: l}
	case athrift.TStruct:
		e, err := pthrift.Encode(ctx, x, WireOutput)
		if err != nil {
			return nil, err
		}
		val = e
	default:
		return nil, fmt.Errorf("no wire form for a result of type %T", v)
	}
	return &pthrift.Struct{Fields: []pthrift.Field{{ID: 0, Value: val}}}, nil
}

// exceptionReply is a reply struct carrying exc in the field the method declares for its type.
func exceptionReply(ctx context.Context, m *newerMethod, exc error) (*pthrift.Struct, error) {
	s, ok := exc.(athrift.TStruct)
	if !ok {
		return nil, exc
	}
	bit := excOf(exc)
	for i, e := range m.throws {
		if e == bit {
			v, err := pthrift.Encode(ctx, s, WireOutput)
			if err != nil {
				return nil, err
			}
			return &pthrift.Struct{Fields: []pthrift.Field{{ID: int16(i + 1), Value: v}}}, nil
		}
	}
	// Not declared: the client sees an application exception carrying the message.
	return nil, exc
}

// excOf names the exception type of a Hive exception.
func excOf(err error) excSet {
	switch err.(type) {
	case *hm.MetaException:
		return excMetaException
	case *hm.NoSuchObjectException:
		return excNoSuchObjectException
	case *hm.AlreadyExistsException:
		return excAlreadyExistsException
	case *hm.InvalidObjectException:
		return excInvalidObjectException
	case *hm.InvalidOperationException:
		return excInvalidOperationException
	case *hm.InvalidInputException:
		return excInvalidInputException
	case *hm.InvalidPartitionException:
		return excInvalidPartitionException
	case *hm.UnknownDBException:
		return excUnknownDBException
	case *hm.UnknownTableException:
		return excUnknownTableException
	case *hm.UnknownPartitionException:
		return excUnknownPartitionException
	case *hm.ConfigValSecurityException:
		return excConfigValSecurityException
	case *hm.NoSuchLockException:
		return excNoSuchLockException
	case *hm.NoSuchTxnException:
		return excNoSuchTxnException
	case *hm.TxnAbortedException:
		return excTxnAbortedException
	case *hm.TxnOpenException:
		return excTxnOpenException
	}
	return 0
}
