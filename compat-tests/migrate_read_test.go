package compattests

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/compat-tests/hms/hmstest"
)

// TestMigratedTablesReadByEngines: a partitioned Parquet table registered in a real Hive 4.0.1
// metastore is migrated into Propolis with its files moved (--location-map old=lake); then
// Trino, configured with exactly what `propolis config render --engine trino` prints (one
// catalog on the source metastore, one on Propolis), and Spark, configured with exactly what
// `propolis config render --engine spark` prints, read it: the rows through Propolis are the
// rows through the source, and every file Trino reads through Propolis is under the new location.
func TestMigratedTablesReadByEngines(t *testing.T) {
	ctx := context.Background()
	trinoHome(t)
	py := venvPython(t, "pyspark venv", "pyspark", "pyarrow")
	java := java17Home(t)
	dir := t.TempDir()
	hmsAddr := hmstest.Start(t, filepath.Join(dir, "hms"))
	oldRoot, lakeRoot := filepath.Join(dir, "old"), filepath.Join(dir, "lake")
	script := filepath.Join(repoRoot, "compat-tests", "migrate_read_test.py")

	// Data files, then the table and its partitions in the source metastore.
	out := runScript(t, 2*time.Minute, nil, dir, py, script, "write", filepath.Join(oldRoot, "mig_read.db", "sales"))
	rows := markerValue(out, "ROWS")
	src := dialHMS(t, hmsAddr)
	if err := src.CreateDatabase(ctx, &hm.Database{Name: "mig_read", LocationUri: "file://" + oldRoot + "/mig_read.db"}); err != nil {
		t.Fatal(err)
	}
	tbl := parquetTable("mig_read", "sales", "file://"+oldRoot+"/mig_read.db/sales",
		[]*hm.FieldSchema{{Name: "id", Type: "bigint"}, {Name: "name", Type: "string"}, {Name: "amount", Type: "double"}})
	tbl.PartitionKeys = []*hm.FieldSchema{{Name: "day", Type: "string"}}
	if err := src.CreateTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	var parts []*hm.Partition
	for d := 1; d <= 3; d++ {
		parts = append(parts, partitionOf(tbl, fmt.Sprintf("2024-01-0%d", d)))
	}
	if _, err := src.AddPartitions(ctx, parts); err != nil {
		t.Fatal(err)
	}

	// The files move to the lake; the metadata follows with the location map.
	if err := os.CopyFS(lakeRoot, os.DirFS(oldRoot)); err != nil {
		t.Fatal(err)
	}
	p := startPropolis(t)
	mapping := "--location-map=file://" + oldRoot + "=file://" + lakeRoot
	runPropolis(t, 0, "migrate", "apply", "--from=thrift://"+hmsAddr, "--to="+p.URI(), mapping, "-d", "mig_read", "--execute", "--report=")
	runPropolis(t, 0, "migrate", "verify", "--from=thrift://"+hmsAddr, "--to="+p.URI(), mapping, "-d", "mig_read")

	// Trino with the rendered catalogs (plus what reading local files needs).
	local := "fs.hadoop.enabled=true\nhive.metastore.thrift.client.read-timeout=60s\n"
	srcCatalog, _ := runPropolis(t, 0, "config", "render", "--engine", "trino", "--catalog", "src", "--endpoint", "thrift://"+hmsAddr)
	dstCatalog, _ := runPropolis(t, 0, "config", "render", "--engine", "trino", "--endpoint", p.URI())
	t.Logf("rendered Trino catalogs:\n%s%s", srcCatalog, dstCatalog)
	tr := startTrinoWith(t, p.URI(), "", func(string) map[string]string {
		return map[string]string{"catalog/hive.properties": dstCatalog + local, "catalog/src.properties": srcCatalog + local}
	})
	db, err := sql.Open("trino", fmt.Sprintf("http://compat@127.0.0.1:%d?catalog=hive&schema=default", tr.port))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := &trinoDB{t: t, db: db}
	const q = "SELECT id, name, amount, day FROM %s.mig_read.sales ORDER BY id"
	viaSource := d.query(fmt.Sprintf(q, "src"))
	viaPropolis := d.query(fmt.Sprintf(q, "hive"))
	if fmt.Sprint(len(viaSource)) != rows || !reflect.DeepEqual(viaSource, viaPropolis) {
		t.Fatalf("Trino: %d rows through the source, %d through Propolis (want %s, equal):\n%v\n%v", len(viaSource), len(viaPropolis), rows, viaSource, viaPropolis)
	}
	for _, r := range d.query(`SELECT DISTINCT "$path" FROM hive.mig_read.sales`) {
		if path := fmt.Sprint(r[0]); !strings.Contains(path, lakeRoot) {
			t.Errorf("Trino read %s through Propolis, not a file under the new location %s", path, lakeRoot)
		}
	}
	t.Logf("Trino %s: %d rows, the same through the source and through Propolis, files read from %s", tr.version, len(viaPropolis), lakeRoot)

	// Spark with the rendered spark-defaults lines.
	conf, _ := runPropolis(t, 0, "config", "render", "--engine", "spark", "--endpoint", p.URI(), "--warehouse", "file://"+filepath.Join(dir, "spark-warehouse"))
	confFile := filepath.Join(dir, "spark-defaults.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"JAVA_HOME=" + java, "PATH=" + filepath.Join(java, "bin") + ":" + getenv("PATH", "/usr/bin:/bin"),
		"PYSPARK_PYTHON=" + py, "PYSPARK_DRIVER_PYTHON=" + py, "SPARK_LOCAL_IP=127.0.0.1", "PYTHONUNBUFFERED=1"}
	out = runScript(t, 10*time.Minute, env, dir, py, script, "spark", "--conf-file", confFile,
		"--query", "SELECT id, name, amount, day FROM mig_read.sales ORDER BY id")
	var viaSpark [][]any
	for _, line := range strings.Split(out, "\n") {
		if _, js, ok := strings.Cut(line, "ROW="); ok {
			var r []any
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				t.Fatalf("spark row %q: %v", js, err)
			}
			viaSpark = append(viaSpark, r)
		}
	}
	if len(viaSpark) != len(viaPropolis) {
		t.Fatalf("Spark read %d rows through Propolis, Trino %d", len(viaSpark), len(viaPropolis))
	}
	for i := range viaSpark {
		if fmt.Sprint(viaSpark[i]) != fmt.Sprint(viaPropolis[i]) {
			t.Errorf("row %d: Spark %v, Trino %v", i, viaSpark[i], viaPropolis[i])
		}
	}
	t.Logf("Spark %s: the same %d rows through Propolis", markerValue(out, "SPARK_VERSION"), len(viaSpark))
}
