package hiverule

import (
	"strconv"
	"strings"

	hm "github.com/beltran/gohive/hive_metastore"
)

// Table types, as Hive spells them.
const (
	ManagedTable     = "MANAGED_TABLE"
	ExternalTable    = "EXTERNAL_TABLE"
	VirtualView      = "VIRTUAL_VIEW"
	MaterializedView = "MATERIALIZED_VIEW"
)

// Table parameters Hive reads to decide external-ness and purging.
const (
	ParamExternal      = "EXTERNAL"
	ParamExternalPurge = "external.table.purge"
	ParamArchived      = "is_archived"
	ParamOriginalLoc   = "original_location"
)

func paramTrue(params map[string]string, key string) bool {
	for k, v := range params {
		if strings.EqualFold(k, key) {
			return strings.EqualFold(strings.TrimSpace(v), "true")
		}
	}
	return false
}

// IsExternal reports whether Hive treats t as external: its EXTERNAL parameter is TRUE (how
// many tools mark an external table, whatever its type says) or its type is EXTERNAL_TABLE.
// Either one makes it external: data is only ever deleted when both say managed.
func IsExternal(t *hm.Table) bool {
	if t == nil {
		return false
	}
	return paramTrue(t.Parameters, ParamExternal) || strings.EqualFold(t.TableType, ExternalTable)
}

// IsManaged reports whether t owns its data: a table that is neither external nor a view.
func IsManaged(t *hm.Table) bool {
	if t == nil || IsExternal(t) {
		return false
	}
	switch strings.ToUpper(t.TableType) {
	case VirtualView, MaterializedView:
		return false
	}
	return true
}

// DeletesData reports whether dropping t (or its partitions) with deleteData removes files, as
// Hive's metastore decides it: a managed table's data goes; an external table's only when its
// external.table.purge parameter is true.
func DeletesData(t *hm.Table, deleteData bool) bool {
	if !deleteData || t == nil {
		return false
	}
	if IsManaged(t) {
		return true
	}
	return IsExternal(t) && paramTrue(t.Parameters, ParamExternalPurge)
}

// MovesDataOnRename reports whether renaming t moves its directory: only a managed table's.
func MovesDataOnRename(t *hm.Table) bool { return IsManaged(t) }

// NormalizeType gives t the type its EXTERNAL parameter implies, as Hive stores it: a
// MANAGED_TABLE marked EXTERNAL=TRUE is an EXTERNAL_TABLE, and an empty type is MANAGED_TABLE.
// It changes t, which the caller owns.
func NormalizeType(t *hm.Table) {
	if t.TableType == "" {
		t.TableType = ManagedTable
	}
	if strings.EqualFold(t.TableType, ManagedTable) && paramTrue(t.Parameters, ParamExternal) {
		t.TableType = ExternalTable
	}
}

// PartitionDataLocation is the directory dropping p deletes: an archived partition's data is
// its original directory (its location points into the archive), any other's its location.
func PartitionDataLocation(p *hm.Partition) string {
	if p == nil {
		return ""
	}
	if paramTrue(p.Parameters, ParamArchived) {
		if orig := p.Parameters[ParamOriginalLoc]; orig != "" {
			return orig
		}
	}
	if p.Sd == nil {
		return ""
	}
	return p.Sd.Location
}

// AlterDatabase returns what Hive stores when a client alters old to in: parameters and owner
// as sent; description and locations as sent unless blank, when the stored ones stay (a client
// that leaves them out must not wipe them); the creation time stays. It copies, changing
// neither argument.
func AlterDatabase(old, in *hm.Database) *hm.Database {
	out := *in
	if old == nil {
		return &out
	}
	if strings.TrimSpace(out.Description) == "" {
		out.Description = old.Description
	}
	if strings.TrimSpace(out.LocationUri) == "" {
		out.LocationUri = old.LocationUri
	}
	if out.ManagedLocationUri == nil || strings.TrimSpace(*out.ManagedLocationUri) == "" {
		out.ManagedLocationUri = old.ManagedLocationUri
	}
	if out.OwnerType == nil {
		out.OwnerType = old.OwnerType
	}
	out.CreateTime = old.CreateTime
	if out.CatalogName == nil {
		out.CatalogName = old.CatalogName
	}
	return &out
}

// ParamTransactional marks a Hive ACID table.
const ParamTransactional = "transactional"

// IsTransactional reports whether t is a Hive ACID table (full or insert-only).
func IsTransactional(t *hm.Table) bool {
	return t != nil && paramTrue(t.Parameters, ParamTransactional)
}

// ParamDDLTime is the table and partition parameter holding the last DDL time, in seconds.
const ParamDDLTime = "transient_lastDdlTime"

// StampDDLTime sets the DDL time in params, which the caller owns, as Hive does on create and
// alter: only when the client sent none or "0". A client that sends the value it read keeps
// it, so a table read and written back is unchanged.
func StampDDLTime(params map[string]string, now int64) map[string]string {
	if params == nil {
		params = map[string]string{}
	}
	if v, ok := params[ParamDDLTime]; !ok || v == "" || v == "0" {
		params[ParamDDLTime] = strconv.FormatInt(now, 10)
	}
	return params
}
