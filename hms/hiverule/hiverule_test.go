package hiverule

import (
	"testing"

	hm "github.com/beltran/gohive/hive_metastore"
)

func TestDeletesData(t *testing.T) {
	tbl := func(typ string, params map[string]string) *hm.Table {
		return &hm.Table{TableType: typ, Parameters: params}
	}
	for _, tc := range []struct {
		name       string
		t          *hm.Table
		deleteData bool
		external   bool
		deletes    bool
	}{
		{"managed", tbl(ManagedTable, nil), true, false, true},
		{"managed, keep data", tbl(ManagedTable, nil), false, false, false},
		{"external type", tbl(ExternalTable, nil), true, true, false},
		{"managed type, EXTERNAL=TRUE", tbl(ManagedTable, map[string]string{"EXTERNAL": "TRUE"}), true, true, false},
		{"managed type, external=true lower case", tbl(ManagedTable, map[string]string{"external": "true"}), true, true, false},
		{"managed type, EXTERNAL=FALSE", tbl(ManagedTable, map[string]string{"EXTERNAL": "FALSE"}), true, false, true},
		{"external, purge", tbl(ExternalTable, map[string]string{"external.table.purge": "true"}), true, true, true},
		{"EXTERNAL=TRUE, purge", tbl(ManagedTable, map[string]string{"EXTERNAL": "TRUE", "external.table.purge": "TRUE"}), true, true, true},
		{"external, purge, keep data", tbl(ExternalTable, map[string]string{"external.table.purge": "true"}), false, true, false},
		{"view", tbl(VirtualView, nil), true, false, false},
		{"materialized view", tbl(MaterializedView, nil), true, false, false},
		{"nil", nil, true, false, false},
	} {
		if got := IsExternal(tc.t); got != tc.external {
			t.Errorf("%s: IsExternal = %v, want %v", tc.name, got, tc.external)
		}
		if got := DeletesData(tc.t, tc.deleteData); got != tc.deletes {
			t.Errorf("%s: DeletesData = %v, want %v", tc.name, got, tc.deletes)
		}
	}
}

func TestNormalizeType(t *testing.T) {
	for _, tc := range []struct {
		typ    string
		params map[string]string
		want   string
	}{
		{"", nil, ManagedTable},
		{ManagedTable, map[string]string{"EXTERNAL": "TRUE"}, ExternalTable},
		{ManagedTable, map[string]string{"EXTERNAL": "false"}, ManagedTable},
		{ExternalTable, nil, ExternalTable},
		{VirtualView, map[string]string{"EXTERNAL": "TRUE"}, VirtualView},
	} {
		tbl := &hm.Table{TableType: tc.typ, Parameters: tc.params}
		NormalizeType(tbl)
		if tbl.TableType != tc.want {
			t.Errorf("%q %v: type %s, want %s", tc.typ, tc.params, tbl.TableType, tc.want)
		}
	}
}

func TestPartitionDataLocation(t *testing.T) {
	p := &hm.Partition{Sd: &hm.StorageDescriptor{Location: "har:///wh/t/dt=1/data.har"},
		Parameters: map[string]string{"is_archived": "true", "original_location": "file:///wh/t/dt=1"}}
	if got := PartitionDataLocation(p); got != "file:///wh/t/dt=1" {
		t.Fatalf("archived: %s", got)
	}
	p.Parameters = nil
	if got := PartitionDataLocation(p); got != "har:///wh/t/dt=1/data.har" {
		t.Fatalf("plain: %s", got)
	}
}

func TestAlterDatabase(t *testing.T) {
	ct := int32(7)
	loc := "file:///m"
	old := &hm.Database{Name: "d", Description: "kept", LocationUri: "file:///d", Parameters: map[string]string{"a": "1"}, CreateTime: &ct, ManagedLocationUri: &loc}
	in := &hm.Database{Name: "d", Parameters: map[string]string{"b": "2"}}
	got := AlterDatabase(old, in)
	if got.Description != "kept" || got.LocationUri != "file:///d" || got.ManagedLocationUri != &loc || *got.CreateTime != 7 {
		t.Fatalf("blank fields not kept: %+v", got)
	}
	if len(got.Parameters) != 1 || got.Parameters["b"] != "2" {
		t.Fatalf("parameters not replaced: %v", got.Parameters)
	}
	if in.Description != "" || old.Parameters["a"] != "1" {
		t.Fatal("arguments changed")
	}
	if got := AlterDatabase(old, &hm.Database{Description: "new"}); got.Description != "new" {
		t.Fatalf("description not changed: %q", got.Description)
	}
}
