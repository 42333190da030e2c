package compattests

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/compat-tests/hms/hmstest"
	"github.com/propolis/propolis/compat-tests/moto/mototest"
)

// TestFederation proves issue 3's federation with real peers: two real Apache Hive 4.0.1
// metastores ("legacy" and "newer"), moto's Glue, and Propolis's embedded catalog behind one
// Propolis, queried by Spark and Trino through Propolis only. Every upstream is seeded directly
// (never through Propolis); writes made through Propolis are checked by asking the upstream
// directly. Then the newer metastore is stopped in the middle: calls to it fail with a
// MetaException naming it, listings follow its rule (omit; a second Propolis shows the fail
// rule), the other backends keep answering, /backends and /metrics report it, and after a
// restart on the same port and data it answers again through the same Propolis.
func TestFederation(t *testing.T) {
	if os.Getenv("PROPOLIS_COMPAT_METASTORE") != "" {
		t.Skip("TestFederation needs its own Propolis (PROPOLIS_COMPAT_METASTORE is set)")
	}
	py := venvPython(t, "pyspark venv", "pyspark", "pyarrow")
	java := java17Home(t)
	trinoHome(t)
	if ok, why := hmstest.Installed(); !ok {
		missing(t, "real Hive Metastore (Apache Hive "+hmstest.Version()+", compat-tests/hms/hms.sh setup)", why)
	}
	if ok, why := mototest.Installed(); !ok {
		missing(t, "moto server (Glue emulator, compat-tests/moto/moto.sh setup)", why)
	}
	started := time.Now()
	timings := &phaseTimer{t: t, last: started}
	defer timings.report()

	dir := t.TempDir()
	legacyDir, newerDir, motoDir := filepath.Join(dir, "hms-legacy"), filepath.Join(dir, "hms-newer"), filepath.Join(dir, "moto")
	dataDir := filepath.Join(dir, "data") // the Parquet files every upstream points at
	sparkEnv := []string{
		"JAVA_HOME=" + java,
		"PATH=" + filepath.Join(java, "bin") + ":" + getenv("PATH", "/usr/bin:/bin"),
		"PYSPARK_PYTHON=" + py,
		"PYSPARK_DRIVER_PYTHON=" + py,
		"SPARK_LOCAL_IP=127.0.0.1",
		"SPARK_LOCAL_DIRS=" + filepath.Join(dir, "spark-local"),
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
	}
	script := filepath.Join(repoRoot, "compat-tests", "federation_test.py")

	// ---- the peers: two metastores and moto in parallel, while Spark writes the seed.
	var (
		wg                        sync.WaitGroup
		legacyAddr, newerAddr     string
		legacyErr, newerErr       error
		motoEndpoint, motoVersion string
		motoErr                   error
	)
	wg.Add(3)
	go func() {
		defer wg.Done()
		legacyAddr, legacyErr = hmstest.StartAny(legacyDir, prefixWriter{t, "[hms legacy] "})
	}()
	go func() {
		defer wg.Done()
		newerAddr, newerErr = hmstest.StartAny(newerDir, prefixWriter{t, "[hms newer] "})
	}()
	go func() {
		defer wg.Done()
		motoEndpoint, motoErr = mototest.StartAny(motoDir, nil)
		motoVersion = mototest.Version()
	}()
	t.Cleanup(func() {
		if t.Failed() {
			hmstest.LogTail(t, legacyDir, 30)
			hmstest.LogTail(t, newerDir, 30)
			mototest.LogTail(t, motoDir, 20)
		}
		_ = hmstest.StopServer(legacyDir, nil)
		_ = hmstest.StopServer(newerDir, nil)
		_ = mototest.StopServer(motoDir, nil)
	})
	tablesJSON := filepath.Join(dir, "spark-tables.json")
	_, seedErr := tryScript(t, 10*time.Minute, sparkEnv, dir, py, script, "seed", "--dir", dataDir, "--out", tablesJSON)
	wg.Wait()
	for _, e := range []error{legacyErr, newerErr, motoErr, seedErr} {
		if e != nil {
			t.Fatal(e)
		}
	}
	hmsVersion := hmstest.Version()
	t.Logf("PEERS: Apache Hive %s metastore legacy on %s, newer on %s; moto %s (Glue) on %s",
		hmsVersion, legacyAddr, newerAddr, motoVersion, motoEndpoint)
	timings.mark("peers started, Parquet written, Spark defined the legacy table and views")

	// ---- seed every upstream directly.
	ctx := context.Background()
	seedLegacy(t, ctx, legacyAddr, dataDir, tablesJSON, sparkEnv, py, script)
	seedNewer(t, ctx, newerAddr, dataDir)
	seedGlue(t, ctx, motoEndpoint, dataDir)
	timings.mark("upstreams seeded directly")

	// ---- Propolis over all of them.
	cfg := renderFederationConfig(t, dir, "propolis.yaml", legacyAddr, newerAddr, motoEndpoint, "omit")
	p := startPropolis(t, "--config", cfg)
	total := p.Metrics(t)
	defer func() { t.Logf("all metastore calls made through Propolis:\n%s", p.Metrics(t).Sub(total)) }()
	timings.mark("Propolis started")

	// ---- Spark through Propolis.
	warehouse := filepath.Join(dir, "spark-warehouse")
	before := p.Metrics(t)
	out, err := tryScript(t, 10*time.Minute, sparkEnv, dir, py, script, "engine", "--metastore", p.URI(), "--warehouse", warehouse)
	t.Logf("ENGINE: Spark %s (Hive metastore client 2.3.9) through Propolis", markerValue(out, "SPARK_VERSION"))
	reportCalls(t, "Spark (federation)", p.Metrics(t).Sub(before))
	if err != nil {
		t.Errorf("Spark through Propolis: %v", err)
	}
	// The table Spark created in legacy_sales must be in the legacy metastore as sales.spark_made.
	legacy := dialHMS(t, legacyAddr)
	if tbl, err := getTable(ctx, legacy, "sales", "spark_made"); err != nil {
		t.Errorf("the table Spark created through Propolis as legacy_sales.spark_made is not in the legacy metastore as sales.spark_made: %v", err)
	} else {
		loc := ""
		if tbl.Sd != nil {
			loc = tbl.Sd.Location
		}
		t.Logf("    ok: legacy metastore has %s.%s (type %s, location %s) - created through Propolis", tbl.DbName, tbl.TableName, tbl.TableType, loc)
		if tbl.DbName != "sales" {
			t.Errorf("legacy metastore: spark_made in database %q, want sales", tbl.DbName)
		}
	}
	for _, c := range []struct{ addr, db, name string }{{newerAddr, "crm", "spark_made"}} {
		if _, err := getTable(ctx, dialHMS(t, c.addr), c.db, c.name); err == nil {
			t.Errorf("%s.%s exists in the newer metastore too", c.db, c.name)
		}
	}
	timings.mark("Spark through Propolis")

	// ---- Trino through Propolis.
	runTrinoFederation(t, ctx, p, newerAddr)
	timings.mark("Trino through Propolis")

	// ---- the newer metastore goes down in the middle.
	t.Logf("stopping the newer metastore (%s)", newerAddr)
	if err := hmstest.StopServer(newerDir, prefixWriter{t, "[hms newer] "}); err != nil {
		t.Fatal(err)
	}
	downAt := time.Now()
	c := dialHMS(t, p.Thrift)
	for i := 0; i < 3; i++ { // enough to open the circuit (failures: 2); the open circuit's error too
		_, err := c.GetTableReq(ctx, &hm.GetTableRequest{DbName: "newer_crm", TblName: "customers"})
		expectBackendDown(t, fmt.Sprintf("get_table_req(newer_crm.customers) #%d", i+1), err, "newer")
	}
	_, err = c.GetTable(ctx, "newer_crm", "customers")
	expectBackendDown(t, "get_table(newer_crm.customers)", err, "newer")
	_, err = c.GetDatabase(ctx, "newer_crm")
	expectBackendDown(t, "get_database(newer_crm)", err, "newer")
	_, err = c.GetAllTables(ctx, "newer_crm")
	expectBackendDown(t, "get_all_tables(newer_crm)", err, "newer")

	dbs, err := c.GetAllDatabases(ctx)
	if err != nil {
		t.Errorf("get_all_databases with newer down (rule omit): %v", err)
	} else if want := []string{"default", "lake", "legacy_ref", "legacy_sales"}; !sameSet(dbs, want) {
		t.Errorf("get_all_databases with newer down (rule omit) = %v, want %v", dbs, want)
	} else {
		t.Logf("    ok: get_all_databases with newer down (omit): %v", dbs)
	}
	for _, x := range [][2]string{{"legacy_sales", "orders"}, {"legacy_sales", "v_orders"}, {"lake", "events"}} {
		if tbl, err := getTable(ctx, c, x[0], x[1]); err != nil {
			t.Errorf("with newer down, get_table_req(%s.%s) through Propolis: %v", x[0], x[1], err)
		} else if tbl.DbName != x[0] {
			t.Errorf("with newer down, get_table_req(%s.%s) returned database %q", x[0], x[1], tbl.DbName)
		} else {
			t.Logf("    ok: %s.%s still answers", x[0], x[1])
		}
	}
	st := backendStatus(t, p)
	if n := st["newer"]; !n.CircuitOpen || n.LastError == "" || n.Omissions < 1 {
		t.Errorf("/backends for newer while it is down: %+v, want circuit_open, a last_error and omissions >= 1", n)
	} else {
		t.Logf("    ok: /backends newer: circuit_open=%v omissions=%d last_error=%q", n.CircuitOpen, n.Omissions, n.LastError)
	}
	for _, name := range []string{"embedded", "legacy", "glue"} {
		if s := st[name]; s.CircuitOpen || s.Omissions != 0 {
			t.Errorf("/backends for %s (up): %+v, want a closed circuit and no omissions", name, s)
		}
	}
	if v := metricValue(t, p, "propolis_federation_omissions_total", "newer"); v < 1 {
		t.Errorf("/metrics: propolis_federation_omissions_total{backend=\"newer\"} = %v, want >= 1", v)
	} else {
		t.Logf("    ok: /metrics propolis_federation_omissions_total{backend=\"newer\"} = %v", v)
	}

	// A real engine while newer is down.
	before = p.Metrics(t)
	out, err = tryScript(t, 10*time.Minute, sparkEnv, dir, py, script, "down", "--metastore", p.URI(), "--warehouse", warehouse)
	reportCalls(t, "Spark (newer down)", p.Metrics(t).Sub(before))
	if err != nil {
		t.Errorf("Spark with newer down: %v", err)
	}
	_ = out

	// The fail rule: a second Propolis whose config says newer fails listings.
	cfgFail := renderFederationConfig(t, dir, "propolis-fail.yaml", legacyAddr, newerAddr, motoEndpoint, "fail")
	p2 := startPropolis(t, "--config", cfgFail)
	c2 := dialHMS(t, p2.Thrift)
	if dbs, err := c2.GetAllDatabases(ctx); err == nil {
		t.Errorf("get_all_databases with newer down (rule fail) succeeded: %v", dbs)
	} else {
		expectBackendDown(t, "get_all_databases with newer down (rule fail)", err, "newer")
	}
	if tbl, err := getTable(ctx, c2, "legacy_sales", "orders"); err != nil || tbl.DbName != "legacy_sales" {
		t.Errorf("rule fail: legacy_sales.orders must still answer: %v", err)
	}
	if s := backendStatus(t, p2)["newer"]; s.Omissions != 0 || s.LastError == "" {
		t.Errorf("rule fail: /backends for newer %+v, want no omissions and a last_error", s)
	}
	p2.stop()
	timings.mark("newer down: errors, omit and fail rules, other backends, /backends, /metrics, Spark")

	// ---- restart newer on the same port with the same data; the same Propolis recovers.
	_, port, _ := net.SplitHostPort(newerAddr)
	portN, _ := strconv.Atoi(port)
	restart := time.Now()
	if err := hmstest.StartServer(newerDir, portN, prefixWriter{t, "[hms newer] "}); err != nil {
		t.Fatalf("restarting the newer metastore: %v", err)
	}
	t.Logf("newer metastore restarted on %s in %s (down for %s)", newerAddr, time.Since(restart).Round(100*time.Millisecond),
		time.Since(downAt).Round(time.Second))
	var lastErr error
	recovered := time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := dialHMS(t, p.Thrift)
		tbl, err := getTable(ctx, c, "newer_crm", "customers")
		if err == nil && tbl.DbName == "newer_crm" {
			break
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("newer_crm.customers still failing 30 s after the newer metastore restarted: %v", lastErr)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("    ok: newer_crm.customers answers again through the same Propolis %s after the restart (last error before: %v)",
		time.Since(recovered).Round(100*time.Millisecond), lastErr)
	if dbs, err := dialHMS(t, p.Thrift).GetAllDatabases(ctx); err != nil || !slices.Contains(dbs, "newer_crm") {
		t.Errorf("get_all_databases after the restart: %v, %v; want newer_crm back", dbs, err)
	}
	if s := backendStatus(t, p)["newer"]; s.CircuitOpen {
		t.Errorf("/backends after recovery: newer circuit still open: %+v", s)
	}
	select {
	case <-p.done:
		t.Fatalf("Propolis exited: %v", p.waitErr)
	default:
	}
	timings.mark("newer restarted and answering through the same Propolis")
	t.Logf("TestFederation took %s", time.Since(started).Round(time.Second))
}

// ------------------------------------------------------------------ seeding the upstreams

func seedLegacy(t *testing.T, ctx context.Context, addr, dataDir, tablesJSON string, env []string, py, script string) {
	t.Helper()
	c := dialHMS(t, addr)
	loc := func(p ...string) string {
		return "file://" + filepath.Join(append([]string{dataDir, "legacy"}, p...)...)
	}
	for _, db := range []*hm.Database{
		{Name: "sales", Description: "legacy sales", LocationUri: loc("sales.db")},
		{Name: "ref", Description: "reference data (not writable through Propolis)", LocationUri: loc("ref.db")},
		{Name: "secret", Description: "hidden by the routing rules", LocationUri: loc("secret.db")},
	} {
		must(t, "legacy create_database "+db.Name, c.CreateDatabase(ctx, db))
	}
	// Spark's own objects (table and views), created with Python's Thrift client: see federation_test.py.
	runScript(t, 2*time.Minute, env, filepath.Dir(tablesJSON), py, script, "register", "--metastore", addr, "--out", tablesJSON)
	orders, err := getTable(ctx, c, "sales", "orders")
	if err != nil {
		t.Fatalf("legacy get_table_req sales.orders after register: %v", err)
	}
	view, err := getTable(ctx, c, "sales", "v_orders")
	if err != nil {
		t.Fatalf("legacy get_table_req sales.v_orders after register: %v", err)
	}
	t.Logf("legacy view sales.v_orders as Spark wrote it: viewExpandedText=%q, view.catalogAndNamespace.part.1=%q",
		view.GetViewExpandedText(), view.Parameters["view.catalogAndNamespace.part.1"])
	var parts []*hm.Partition
	for _, dt := range []string{"2024-01-01", "2024-01-02"} {
		sd := *orders.Sd
		sd.Location = loc("sales.db", "orders", "dt="+dt)
		parts = append(parts, &hm.Partition{DbName: "sales", TableName: "orders", Values: []string{dt}, Sd: &sd,
			Parameters: map[string]string{}})
	}
	if _, err := c.AddPartitions(ctx, parts); err != nil {
		t.Fatalf("legacy add_partitions: %v", err)
	}
	must(t, "legacy create_table sales.internal_audit", c.CreateTable(ctx,
		parquetTable("sales", "internal_audit", loc("sales.db", "internal_audit"), []*hm.FieldSchema{{Name: "who", Type: "string"}})))
	must(t, "legacy create_table secret.keys", c.CreateTable(ctx,
		parquetTable("secret", "keys", loc("secret.db", "keys"), []*hm.FieldSchema{{Name: "k", Type: "string"}})))
	t.Logf("legacy seeded: sales.{orders (2 partitions), v_orders, v_big, internal_audit}, ref, secret.keys")
}

func seedNewer(t *testing.T, ctx context.Context, addr, dataDir string) {
	t.Helper()
	c := dialHMS(t, addr)
	loc := "file://" + filepath.Join(dataDir, "newer", "crm.db")
	must(t, "newer create_database crm", c.CreateDatabase(ctx, &hm.Database{Name: "crm", Description: "customers", LocationUri: loc}))
	must(t, "newer create_table crm.customers", c.CreateTable(ctx, parquetTable("crm", "customers", loc+"/customers",
		[]*hm.FieldSchema{{Name: "customer_id", Type: "bigint"}, {Name: "name", Type: "string"}, {Name: "country", Type: "string"}})))
	t.Logf("newer seeded: crm.customers")
}

func seedGlue(t *testing.T, ctx context.Context, endpoint, dataDir string) {
	t.Helper()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(mototest.Region),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(mototest.AccessKeyID, mototest.SecretAccessKey, "")))
	if err != nil {
		t.Fatal(err)
	}
	g := glue.NewFromConfig(awsCfg, func(o *glue.Options) { o.BaseEndpoint = aws.String(endpoint) })
	loc := "file://" + filepath.Join(dataDir, "lake", "analytics")
	for _, db := range []string{"analytics", "raw"} {
		if _, err := g.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{
			Name: aws.String(db), LocationUri: aws.String("file://" + filepath.Join(dataDir, "lake", db)),
		}}); err != nil {
			t.Fatalf("glue CreateDatabase %s: %v", db, err)
		}
	}
	_, err = g.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("analytics"), TableInput: &gluetypes.TableInput{
		Name:       aws.String("events"),
		TableType:  aws.String("EXTERNAL_TABLE"),
		Parameters: map[string]string{"EXTERNAL": "TRUE", "classification": "parquet"},
		StorageDescriptor: &gluetypes.StorageDescriptor{
			Columns: []gluetypes.Column{
				{Name: aws.String("event_id"), Type: aws.String("bigint")},
				{Name: aws.String("customer_id"), Type: aws.String("bigint")},
				{Name: aws.String("kind"), Type: aws.String("string")},
			},
			Location:     aws.String(loc + "/events"),
			InputFormat:  aws.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"),
			OutputFormat: aws.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"),
			SerdeInfo: &gluetypes.SerDeInfo{
				SerializationLibrary: aws.String("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"),
				Parameters:           map[string]string{"serialization.format": "1"},
			},
		},
	}})
	if err != nil {
		t.Fatalf("glue CreateTable analytics.events: %v", err)
	}
	t.Logf("glue seeded through the AWS API: analytics.events (file:// Parquet), raw (unmapped, hidden)")
}

func parquetTable(db, name, location string, cols []*hm.FieldSchema) *hm.Table {
	return &hm.Table{
		DbName: db, TableName: name, Owner: "seed", TableType: "EXTERNAL_TABLE",
		Parameters: map[string]string{"EXTERNAL": "TRUE"},
		Sd: &hm.StorageDescriptor{
			Cols: cols, Location: location,
			InputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
			OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
			SerdeInfo: &hm.SerDeInfo{
				SerializationLib: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
				Parameters:       map[string]string{"serialization.format": "1"},
			},
		},
		PartitionKeys: []*hm.FieldSchema{},
	}
}

func renderFederationConfig(t *testing.T, dir, name, legacy, newer, endpoint, newerRule string) string {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join(repoRoot, "compat-tests", "testdata", "federation", "propolis.yaml.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, map[string]string{
		"Legacy": legacy, "Newer": newer, "NewerRule": newerRule, "Endpoint": endpoint,
		"Region": mototest.Region, "AccessKey": mototest.AccessKeyID, "SecretKey": mototest.SecretAccessKey,
	}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ------------------------------------------------------------------ Trino

func runTrinoFederation(t *testing.T, ctx context.Context, p *Propolis, newerAddr string) {
	t.Helper()
	tr := startTrino(t, p.URI())
	defer tr.stop() // free the cores for what follows
	t.Logf("ENGINE: Trino %s (hive connector, Thrift metastore client) through Propolis", tr.version)
	before := p.Metrics(t)
	defer func() { reportCalls(t, "Trino "+tr.version+" (federation)", p.Metrics(t).Sub(before)) }()

	// Statistics first, on their own, with a deadline: Trino asks for table and partition
	// statistics (get_table_statistics_req, get_partitions_statistics_req) while planning.
	stats, err := sql.Open("trino", fmt.Sprintf("http://federation@127.0.0.1:%d?catalog=hive&schema=default", tr.port))
	if err != nil {
		t.Fatal(err)
	}
	defer stats.Close()
	for _, q := range []string{"SELECT count(*) FROM hive.newer_crm.customers",
		"SELECT count(*) FROM hive.legacy_sales.orders WHERE dt = '2024-01-02'"} {
		t.Logf("trino> %s (statistics enabled, 40 s deadline)", q)
		const badStats = "Required field Engine is not set"
		logged := func() int { b, _ := os.ReadFile(p.Stderr); return strings.Count(string(b), badStats) }
		qctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		start, before := time.Now(), logged()
		var n int64
		err := retryNoNodes(qctx, t, func() error { return stats.QueryRowContext(qctx, q).Scan(&n) })
		cancel()
		if took, bad := time.Since(start), logged()-before; err != nil || bad > 0 {
			t.Errorf("%s with Trino's statistics on: err %v after %s; %d Propolis log lines say %q (Propolis cannot "+
				"read Trino's statistics request and closes the connection; Trino retries)", q, err,
				took.Round(100*time.Millisecond), bad, badStats)
		} else {
			t.Logf("    ok: %d in %s", n, took.Round(100*time.Millisecond))
		}
	}

	// The rest with Trino's defaults: statistics on, as an operator would run it.
	db, err := sql.Open("trino", fmt.Sprintf("http://federation@127.0.0.1:%d?catalog=hive&schema=default", tr.port))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := &trinoDB{t: t, db: db}

	d.expect("SHOW SCHEMAS FROM hive", row("default"), row("information_schema"), row("lake"),
		row("legacy_ref"), row("legacy_sales"), row("newer_crm"))
	d.expect("SELECT order_id, customer_id, amount, dt FROM hive.legacy_sales.orders ORDER BY order_id",
		row(int64(1), int64(10), 12.5, "2024-01-01"), row(int64(2), int64(20), 7.0, "2024-01-01"),
		row(int64(3), int64(10), 30.0, "2024-01-02"), row(int64(4), int64(30), 3.5, "2024-01-02"))
	d.expect("SELECT order_id FROM hive.legacy_sales.orders WHERE dt = '2024-01-02' ORDER BY order_id", row(int64(3)), row(int64(4)))
	d.expect("SELECT customer_id, name, country FROM hive.newer_crm.customers ORDER BY customer_id",
		row(int64(10), "alice", "FR"), row(int64(20), "bob", "DE"), row(int64(30), "carol", "US"))
	d.expect("SELECT event_id, customer_id, kind FROM hive.lake.events ORDER BY event_id",
		row(int64(100), int64(10), "click"), row(int64(101), int64(30), "view"), row(int64(102), int64(10), "buy"))
	d.expect("SELECT o.order_id, c.name, o.amount FROM hive.legacy_sales.orders o "+
		"JOIN hive.newer_crm.customers c ON o.customer_id = c.customer_id ORDER BY o.order_id",
		row(int64(1), "alice", 12.5), row(int64(2), "bob", 7.0), row(int64(3), "alice", 30.0), row(int64(4), "carol", 3.5))
	d.expect("SELECT c.name, count(*) FROM hive.lake.events e JOIN hive.newer_crm.customers c "+
		"ON e.customer_id = c.customer_id GROUP BY c.name ORDER BY c.name", row("alice", int64(2)), row("carol", int64(1)))
	d.expect("SHOW TABLES FROM hive.legacy_sales", row("orders"), row("spark_made"), row("v_big"), row("v_orders"))
	d.expect("SELECT id, note FROM hive.legacy_sales.spark_made ORDER BY id", row(int64(1), "through propolis"), row(int64(2), "spark"))

	// newer is read-write: a table Trino creates lands in the newer metastore as crm.trino_made.
	t.Logf("trino> CREATE TABLE hive.newer_crm.trino_made (id bigint, name varchar) WITH (format = 'PARQUET')")
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	err = trinoExec(cctx, t, db, "CREATE TABLE hive.newer_crm.trino_made (id bigint, name varchar) WITH (format = 'PARQUET')")
	cancel()
	if err != nil {
		t.Errorf("Trino CREATE TABLE hive.newer_crm.trino_made through Propolis failed (Trino commits table "+
			"statistics with get_table_statistics_req, whose request Propolis cannot read): %v", err)
	} else {
		d.exec("INSERT INTO hive.newer_crm.trino_made VALUES (1, 'one'), (2, 'two')")
		d.expect("SELECT id, name FROM hive.newer_crm.trino_made ORDER BY id", row(int64(1), "one"), row(int64(2), "two"))
		if tbl, err := getTable(ctx, dialHMS(t, newerAddr), "crm", "trino_made"); err != nil {
			t.Errorf("the table Trino created through Propolis as newer_crm.trino_made is not in the newer metastore as crm.trino_made: %v", err)
		} else {
			t.Logf("    ok: newer metastore has %s.%s (location %s) - created through Propolis by Trino", tbl.DbName, tbl.TableName, tbl.Sd.Location)
		}
	}
	// Glue is read-only, legacy's ref is not on the allow-list.
	trinoMustFail(t, db, "CREATE TABLE hive.lake.trino_made (id bigint)", "read-only")
	trinoMustFail(t, db, "CREATE TABLE hive.legacy_ref.trino_made (id bigint)", "ref")
	trinoMustFail(t, db, "SELECT * FROM hive.legacy_sales.internal_audit", "internal_audit")
}

func trinoMustFail(t *testing.T, db *sql.DB, q, needle string) {
	t.Helper()
	t.Logf("trino> (must fail) %s", q)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := trinoExec(ctx, t, db, q)
	if err == nil {
		t.Errorf("%s: succeeded, want an error containing %q", q, needle)
		return
	}
	if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(needle)) {
		t.Errorf("%s: error lacks %q: %v", q, needle, err)
		return
	}
	t.Logf("    ok: refused: %s", firstLine(err.Error()))
}

// ------------------------------------------------------------------ Thrift and admin helpers

func dialHMS(t *testing.T, addr string) *hm.ThriftHiveMetastoreClient {
	t.Helper()
	conf := &athrift.TConfiguration{ConnectTimeout: 5 * time.Second, SocketTimeout: 60 * time.Second}
	tr := athrift.NewTBufferedTransport(athrift.NewTSocketConf(addr, conf), 8192)
	if err := tr.Open(); err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	t.Cleanup(func() { tr.Close() })
	p := athrift.NewTBinaryProtocolConf(tr, conf)
	return hm.NewThriftHiveMetastoreClient(athrift.NewTStandardClient(p, p))
}

// getTable uses get_table_req, which Hive 4 metastores (which dropped get_table) and Propolis answer.
func getTable(ctx context.Context, c *hm.ThriftHiveMetastoreClient, db, name string) (*hm.Table, error) {
	res, err := c.GetTableReq(ctx, &hm.GetTableRequest{DbName: db, TblName: name})
	if err != nil {
		return nil, err
	}
	return res.Table, nil
}

// expectBackendDown checks the failure of a call addressed to a stopped backend: a
// MetaException whose message names the backend, never NoSuchObjectException.
func expectBackendDown(t *testing.T, what string, err error, backend string) {
	t.Helper()
	var me *hm.MetaException
	var nso *hm.NoSuchObjectException
	switch {
	case err == nil:
		t.Errorf("%s: succeeded with backend %s down", what, backend)
	case errors.As(err, &nso):
		t.Errorf("%s: NoSuchObjectException %q with backend %s down: clients would conclude the object is gone", what, nso.GetMessage(), backend)
	case !errors.As(err, &me):
		t.Errorf("%s: %T %v, want a MetaException naming backend %s", what, err, err, backend)
	case !strings.Contains(me.GetMessage(), backend):
		t.Errorf("%s: MetaException %q does not name backend %s", what, me.GetMessage(), backend)
	default:
		t.Logf("    ok: %s: MetaException %q", what, me.GetMessage())
	}
}

type backendState struct {
	Name        string `json:"name"`
	Primary     bool   `json:"primary"`
	CircuitOpen bool   `json:"circuit_open"`
	LastError   string `json:"last_error"`
	Omissions   int64  `json:"omissions"`
}

func backendStatus(t *testing.T, p *Propolis) map[string]backendState {
	t.Helper()
	resp, err := http.Get("http://" + p.Admin + "/backends")
	if err != nil {
		t.Fatalf("GET /backends: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var list []backendState
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("GET /backends: %v: %s", err, b)
	}
	out := map[string]backendState{}
	for _, s := range list {
		out[s.Name] = s
	}
	return out
}

// metricValue sums a counter's series whose backend label is backend.
func metricValue(t *testing.T, p *Propolis, name, backend string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.Admin + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\{[^}]*backend="` + regexp.QuoteMeta(backend) + `"[^}]*\}\s+(\S+)$`)
	var sum float64
	found := false
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		sum += v
		found = true
	}
	if !found {
		t.Errorf("/metrics has no %s{backend=%q}", name, backend)
	}
	return sum
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func sameSet(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	sort.Strings(g)
	sort.Strings(w)
	return slices.Equal(g, w)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// prefixWriter logs each line written to it, prefixed.
type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line = strings.TrimSpace(stripEscapes(line)); line != "" {
			w.t.Log(w.prefix + line)
		}
	}
	return len(b), nil
}

var escapes = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

func stripEscapes(s string) string { return escapes.ReplaceAllString(s, "") }

// phaseTimer logs how long each phase took.
type phaseTimer struct {
	t      *testing.T
	last   time.Time
	phases []string
}

func (p *phaseTimer) mark(what string) {
	now := time.Now()
	p.phases = append(p.phases, fmt.Sprintf("  %-90s %6.1fs", what, now.Sub(p.last).Seconds()))
	p.last = now
}

func (p *phaseTimer) report() { p.t.Logf("TIMINGS:\n%s", strings.Join(p.phases, "\n")) }
