package hms_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDropKeepsWhatHiveKeeps drops tables and partitions with deleteData=true and checks, on
// local files, that data goes exactly where Hive's metastore deletes it: managed tables, and
// external ones only with external.table.purge. A MANAGED_TABLE marked EXTERNAL=TRUE is
// external, as Hive stores it.
func TestDropKeepsWhatHiveKeeps(t *testing.T) {
	e := newEnv(t)
	for i, tc := range []struct {
		name     string
		typ      string
		params   map[string]string
		wantType string
		deleted  bool
	}{
		{"managed", "MANAGED_TABLE", nil, "MANAGED_TABLE", true},
		{"external", "EXTERNAL_TABLE", map[string]string{"EXTERNAL": "TRUE"}, "EXTERNAL_TABLE", false},
		{"external type only", "EXTERNAL_TABLE", nil, "EXTERNAL_TABLE", false},
		{"managed marked EXTERNAL=TRUE", "MANAGED_TABLE", map[string]string{"EXTERNAL": "TRUE"}, "EXTERNAL_TABLE", false},
		{"managed marked external=true", "MANAGED_TABLE", map[string]string{"external": "true"}, "EXTERNAL_TABLE", false},
		{"external with purge", "EXTERNAL_TABLE", map[string]string{"EXTERNAL": "TRUE", "external.table.purge": "true"}, "EXTERNAL_TABLE", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "outside-warehouse")
			name := "t" + string(rune('a'+i))
			tbl := salesTable("default", name)
			tbl.TableType, tbl.Parameters, tbl.Sd.Location = tc.typ, tc.params, "file://"+dir
			wantErr(t, "create", e.c.CreateTable(ctx, tbl), nil, "")
			got, err := e.c.GetTable(ctx, "default", name)
			wantErr(t, "get", err, nil, "")
			if got.TableType != tc.wantType {
				t.Fatalf("stored type %s, want %s", got.TableType, tc.wantType)
			}
			// Two partitions with files: one dropped alone, one with the table.
			var files []string
			for _, region := range []string{"eu", "us"} {
				p := part("default", name, region, "1")
				p.Sd.Location = "file://" + filepath.Join(dir, "region="+region)
				if _, err := e.c.AddPartition(ctx, p); err != nil {
					t.Fatal(err)
				}
				f := filepath.Join(dir, "region="+region, "data.parquet")
				if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, []byte("rows"), 0o644); err != nil {
					t.Fatal(err)
				}
				files = append(files, f)
			}
			if _, err := e.c.DropPartition(ctx, "default", name, []string{"eu", "1"}, true); err != nil {
				t.Fatal(err)
			}
			checkDeleted(t, "after drop_partition", files[0], tc.deleted)
			checkDeleted(t, "after drop_partition, other partition", files[1], false)
			wantErr(t, "drop table", e.c.DropTable(ctx, "default", name, true), nil, "")
			checkDeleted(t, "after drop_table", files[1], tc.deleted)
		})
	}
}

// An archived partition's data is its original directory; the archive location is not its
// data and dropping must delete the original, as Hive does.
func TestDropArchivedPartitionDeletesOriginal(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	tbl := salesTable("default", "arch")
	tbl.Sd.Location = "file://" + filepath.Join(dir, "arch")
	wantErr(t, "create", e.c.CreateTable(ctx, tbl), nil, "")
	orig := filepath.Join(dir, "arch", "region=eu")
	archive := filepath.Join(dir, "elsewhere", "data.har")
	for _, d := range []string{orig, archive} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := part("default", "arch", "eu", "1")
	p.Sd.Location = "file://" + archive
	p.Parameters = map[string]string{"is_archived": "true", "original_location": "file://" + orig}
	if _, err := e.c.AddPartition(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DropPartition(ctx, "default", "arch", []string{"eu", "1"}, true); err != nil {
		t.Fatal(err)
	}
	checkDeleted(t, "original directory", filepath.Join(orig, "f"), true)
}

func checkDeleted(t *testing.T, what, f string, wantDeleted bool) {
	t.Helper()
	_, err := os.Stat(f)
	switch {
	case wantDeleted && err == nil:
		t.Fatalf("%s: %s still exists, want it deleted", what, f)
	case !wantDeleted && err != nil:
		t.Fatalf("%s: %s is gone (%v), want it kept", what, f, err)
	}
}

// exchange_partitions moves partitions and their directory from one table to another, all or
// nothing, and refuses everything else with MetaException, as Hive does.
func TestExchangePartitions(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"src", "dst"} {
		wantErr(t, "create "+n, e.c.CreateTable(ctx, salesTable("default", n)), nil, "")
	}
	src, _ := e.c.GetTable(ctx, "default", "src")
	dst, _ := e.c.GetTable(ctx, "default", "dst")
	local := func(loc string) string { return strings.TrimPrefix(loc, "file://") }
	for _, v := range [][]string{{"eu", "1"}, {"eu", "2"}, {"us", "1"}} {
		if _, err := e.c.AddPartition(ctx, part("default", "src", v...)); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(local(src.Sd.Location), "region="+v[0], "day="+v[1], "data")
		if err := os.WriteFile(f, []byte(v[0]+v[1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	moved, err := e.c.ExchangePartitions(ctx, map[string]string{"region": "eu"}, "default", "src", "default", "dst")
	wantErr(t, "exchange", err, nil, "")
	if len(moved) != 2 {
		t.Fatalf("moved %d partitions, want 2", len(moved))
	}
	p, err := e.c.GetPartition(ctx, "default", "dst", []string{"eu", "2"})
	wantErr(t, "get moved partition", err, nil, "")
	if p.Sd.Location != dst.Sd.Location+"/region=eu/day=2" {
		t.Fatalf("moved partition at %s", p.Sd.Location)
	}
	if b, err := os.ReadFile(filepath.Join(local(p.Sd.Location), "data")); err != nil || string(b) != "eu2" {
		t.Fatalf("moved data: %q %v", b, err)
	}
	checkDeleted(t, "source directory", filepath.Join(local(src.Sd.Location), "region=eu"), true)
	if names, _ := e.c.GetPartitionNames(ctx, "default", "src", -1); len(names) != 1 || names[0] != "region=us/day=1" {
		t.Fatalf("source keeps %v", names)
	}

	// Refusals: nothing left to move, a partition already there, other schemas, bad names.
	_, err = e.c.ExchangePartitions(ctx, map[string]string{"region": "eu"}, "default", "src", "default", "dst")
	wantErr(t, "exchange nothing", err, metaExc, "no partition")
	if _, err := e.c.AddPartition(ctx, part("default", "dst", "us", "1")); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.ExchangePartition(ctx, map[string]string{"region": "us", "day": "1"}, "default", "src", "default", "dst")
	wantErr(t, "exchange onto an existing partition", err, metaExc, "already exists")
	other := salesTable("default", "other")
	other.Sd.Cols = other.Sd.Cols[:1]
	wantErr(t, "create other", e.c.CreateTable(ctx, other), nil, "")
	_, err = e.c.ExchangePartition(ctx, map[string]string{"region": "us"}, "default", "src", "default", "other")
	wantErr(t, "exchange between schemas", err, metaExc, "different schemas")
	for _, args := range [][4]string{{"nodb", "src", "default", "dst"}, {"default", "nosuch", "default", "dst"}, {"default", "src", "", "dst"}} {
		_, err = e.c.ExchangePartition(ctx, map[string]string{"region": "us"}, args[0], args[1], args[2], args[3])
		wantErr(t, "exchange "+strings.Join(args[:], "."), err, metaExc, "")
	}
	if names, _ := e.c.GetPartitionNames(ctx, "default", "src", -1); len(names) != 1 {
		t.Fatalf("a refused exchange changed the source: %v", names)
	}
}
