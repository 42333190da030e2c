package hms_test

import (
	"os"
	"path/filepath"
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
