package compattests

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	hm "github.com/beltran/gohive/hive_metastore"

	"github.com/propolis/propolis/policy/expr"
	"github.com/propolis/propolis/workers/eval"
	"github.com/propolis/propolis/workers/plan"
)

// The data of TestWorkers: customers partitioned by region, orders sharing their emails, and
// the lookup table the row filter joins.
type wCustomer struct {
	ID                         int64
	Name, Email, Phone, Region string
}

type wOrder struct {
	ID     int64
	Email  string
	Amount int64
}

var (
	wCustomers = []wCustomer{
		{1, "Ada", "ada@example.com", "+1 (555) 010-0001", "EU"},
		{2, "Bob", "bob@example.com", "555-010-0002", "US"},
		{3, "Cy", "cy@example.com", "5550100003", "APAC"},
		{4, "Di", "di@example.com", "+44 20 7946 0004", "EU"},
		{5, "Ed", "ed@example.com", "", "US"},
	}
	wOrders = []wOrder{
		{10, "ada@example.com", 1200}, {11, "bob@example.com", 50}, {12, "ada@example.com", 75},
		{13, "cy@example.com", 990}, {14, "nobody@example.com", 5},
	}
	wRegions = [][2]string{{"alice", "EU"}, {"alice", "US"}, {"erin", "EU"}}
	// events is partitioned by dt and has no row filter: served partitioned, so engines prune.
	wEvents = []struct {
		ID        int64
		Email, DT string
	}{{100, "ada@example.com", "2024-01-01"}, {101, "bob@example.com", "2024-01-02"}, {102, "cy@example.com", "2024-01-02"}, {103, "ada@example.com", "2024-01-03"}}
)

const (
	wTokenKey = "token-key-0123456789abcdef0123456789"
	wFleetKey = "fleet-key-0123456789"
	wPIIKey   = "pii-secret-version-1-0123456789abcdef"
)

// TestWorkers is the worker issue's proof with real engines: a policy that tokenizes emails
// under a key no engine holds, tokenizes phones keeping their last 4 digits, and filters
// customers through a lookup table, served by a `propolis worker` to an untrusted Spark
// (s3a, nothing installed but hadoop-aws) and an untrusted Trino (native S3 file system),
// and to pyarrow.flight. Each gets exactly the rows the test computes: the filtered
// customers, tokens equal to the worker's function (the same for the same email in both
// tables, so the join works), no raw email anywhere.
func TestWorkers(t *testing.T) {
	if os.Getenv("PROPOLIS_COMPAT_METASTORE") != "" {
		t.Skip("TestWorkers needs Propolis's own policy layer and workers, not PROPOLIS_COMPAT_METASTORE")
	}
	py := venvPython(t, "pyspark venv", "pyspark", "pyarrow.flight")
	java := java17Home(t)
	trinoHome(t)
	jars := s3aJars(t)
	ctx := context.Background()
	timer := &phaseTimer{t: t, last: time.Now()}
	defer timer.report()

	dir := t.TempDir()
	sparkListen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	trinoListen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// Two workers, a fleet: Flight spreads a table's endpoints over both.
	flight1, flight2 := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfgPath := filepath.Join(dir, "propolis.yaml")
	cfg := fmt.Sprintf(`policy:
  enabled: true
  audit_log: %q
  poll_interval: 200ms
  default_profile: etl
  profiles:
    - {name: etl, dialect: hive, trusted: true}
    - {name: spark, dialect: hive, trusted: false, listen: %q}
    - {name: trino, dialect: trino, trusted: false, listen: %q}
workers:
  enabled: true
  token_keys: [{id: k1, secret: %q}]
  fleet_key: %q
  keys: [{id: pii, version: 1, secret: %q}]
  trust_asserted_user: true
  memory_budget: 64MiB
  flight_locations: ["grpc://%s", "grpc://%s"]
  allowed_locations: [%q]
`, filepath.Join(dir, "audit.jsonl"), sparkListen, trinoListen, wTokenKey, wFleetKey, wPIIKey, flight1, flight2, filepath.Join(dir, "lake"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startPropolis(t, "--config", cfgPath)
	w := startWorker(t, cfgPath, "http://"+p.Admin, flight1)
	w2 := startWorker(t, cfgPath, "http://"+p.Admin, flight2)
	t.Logf("Propolis: etl (trusted) %s, spark (untrusted) %s, trino (untrusted) %s; workers: s3 %s and %s, flight %s and %s", p.Thrift, sparkListen, trinoListen, w.S3, w2.S3, w.Flight, w2.Flight)
	timer.mark("start Propolis and a worker")

	svc := applyPolicy(t, ctx, p, filepath.Join(repoRoot, "compat-tests", "testdata", "workers", "policy.yaml"))
	seedWorkerTables(t, ctx, svc, filepath.Join(dir, "lake"))
	timer.mark("policy apply and seed")

	want := expectedWorkerRows(t, "alice")

	// ---------------------------------------------------------------- Spark (untrusted)
	queries := []string{
		"SELECT id, name, email, phone, region FROM shop.customers ORDER BY id",
		"SELECT id, email, amount FROM shop.orders ORDER BY id",
		"SELECT c.id, o.id FROM shop.customers c JOIN shop.orders o ON c.email = o.email ORDER BY c.id, o.id",
		"SELECT id, email, dt FROM shop.events WHERE dt = '2024-01-02' ORDER BY id",
	}
	qPath := filepath.Join(dir, "queries.json")
	b, _ := json.Marshal(queries)
	os.WriteFile(qPath, b, 0o644)
	sparkOut := filepath.Join(dir, "spark-out.json")
	env := []string{
		"JAVA_HOME=" + java, "PATH=" + filepath.Join(java, "bin") + ":" + getenv("PATH", "/usr/bin:/bin"),
		"PYSPARK_PYTHON=" + py, "PYSPARK_DRIVER_PYTHON=" + py, "SPARK_LOCAL_IP=127.0.0.1",
		"SPARK_LOCAL_DIRS=" + filepath.Join(dir, "spark-local"), "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1",
		"HADOOP_USER_NAME=alice",
	}
	sout := runScript(t, 6*time.Minute, env, dir, py, filepath.Join(repoRoot, "compat-tests", "workers_test.py"),
		"--metastore", "thrift://"+sparkListen, "--s3-endpoint", "http://"+w.S3, "--bucket", "propolis",
		"--jars", strings.Join(jars, ","), "--warehouse", filepath.Join(dir, "warehouse"), "--queries", qPath, "--out", sparkOut)
	t.Logf("ENGINE: Spark %s (s3a, hadoop-aws 3.3.4) through Propolis's untrusted spark listener", markerValue(sout, "SPARK_VERSION"))
	var sres []queryResult
	if b, err := os.ReadFile(sparkOut); err != nil || json.Unmarshal(b, &sres) != nil || len(sres) != len(queries) {
		t.Fatalf("spark results: %v\n%s", err, tail(sout, 40))
	}
	judgeWorkerRows(t, "Spark as alice", sres, want)
	timer.mark("Spark as alice")

	// ---------------------------------------------------------------- Trino (untrusted)
	tr := startTrinoWith(t, "thrift://"+trinoListen,
		"hive.metastore.thrift.impersonation.enabled=true\n"+
			"fs.native-s3.enabled=true\n"+
			"s3.endpoint=http://"+w2.S3+"\n"+
			"s3.region=us-east-1\n"+
			"s3.path-style-access=true\n"+
			"s3.aws-access-key=anonymous\n"+
			"s3.aws-secret-key=anonymous\n", nil)
	defer tr.stop()
	timer.mark("start Trino")
	t.Logf("ENGINE: Trino %s (native S3 file system) through Propolis's untrusted trino listener", tr.version)
	tdb := mustOpenTrino(t, "alice", tr.port)
	var tres []queryResult
	for _, q := range queries {
		tres = append(tres, trinoRun(t, tdb, "alice", strings.ReplaceAll(strings.ReplaceAll(q, "FROM shop.", "FROM hive.shop."), "JOIN shop.", "JOIN hive.shop.")))
	}
	judgeWorkerRows(t, "Trino as alice", tres, want)
	// erin sees EU customers only: the lookup filter is per reader.
	edb := mustOpenTrino(t, "erin", tr.port)
	var eres []queryResult
	for _, q := range queries {
		eres = append(eres, trinoRun(t, edb, "erin", strings.ReplaceAll(strings.ReplaceAll(q, "FROM shop.", "FROM hive.shop."), "JOIN shop.", "JOIN hive.shop.")))
	}
	judgeWorkerRows(t, "Trino as erin", eres, expectedWorkerRows(t, "erin"))
	// bob is no analyst: the table does not exist for him.
	expectNotFound(t, "Trino as bob", trinoRun(t, mustOpenTrino(t, "bob", tr.port), "bob", "SELECT * FROM hive.shop.customers"), trinoDialect)
	timer.mark("Trino as alice, erin and bob")
	// shop.orders and shop.events have no row filter: their unmasked columns (id, amount)
	// were served as the source's column chunks, copied next to the re-encoded tokens.
	for name, admin := range map[string]string{"Spark's worker": w.Admin, "Trino's worker": w2.Admin} {
		if n := copiedBytes(t, admin); n <= 0 {
			t.Errorf("%s copied no column chunk (propolis_worker_scan_copied_bytes_total %v)", name, n)
		}
	}

	// ---------------------------------------------------------------- pyarrow.flight
	flightRows := func(user string, args ...string) [][]any {
		t.Helper()
		out := runScript(t, 2*time.Minute, []string{"PYTHONUNBUFFERED=1"}, dir, py, append([]string{filepath.Join(repoRoot, "compat-tests", "flight_client.py"),
			"--location", "grpc://" + w.Flight, "--user", user}, args...)...)
		var rows [][]any
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("flight_client.py printed %q: %v", line, err)
			}
			rows = append(rows, []any{m["id"], m["name"], m["email"], m["phone"], m["region"]})
		}
		sort.Slice(rows, func(i, j int) bool { return fmt.Sprint(rows[i][0]) < fmt.Sprint(rows[j][0]) })
		return rows
	}
	for _, u := range []string{"alice", "erin"} {
		rows := flightRows(u, "--table", "shop.customers")
		checkRows(t, "pyarrow.flight as "+u, queryResult{SQL: "flight shop.customers", OK: true, Rows: rows}, nil, expectedWorkerRows(t, u).customers)
	}
	// The same rows through the worker token a metastore location carries.
	atbl, err := getTable(ctx, dialHMSAs(t, sparkListen, "alice"), "shop", "customers")
	if err != nil {
		t.Fatal(err)
	}
	rows := flightRows("alice", "--cmd", strings.TrimPrefix(atbl.Sd.Location, "s3a://propolis/"))
	checkRows(t, "pyarrow.flight with alice's token", queryResult{SQL: "flight token", OK: true, Rows: rows}, nil, want.customers)
	if out, err := tryScript(t, time.Minute, []string{"PYTHONUNBUFFERED=1"}, dir, py, filepath.Join(repoRoot, "compat-tests", "flight_client.py"),
		"--location", "grpc://"+w.Flight, "--user", "bob", "--table", "shop.customers"); err == nil || !strings.Contains(strings.ToLower(out), "not found") {
		t.Errorf("pyarrow.flight as bob: %v\n%s", err, tail(out, 5))
	}
	timer.mark("pyarrow.flight as alice, erin and bob")

	// ---------------------------------------------------------------- refusals
	// A tampered token, and a token of one table replayed with another's file names, are
	// refused by the worker itself.
	tbl, err := getTable(ctx, dialHMSAs(t, sparkListen, "alice"), "shop", "customers")
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimPrefix(tbl.Sd.Location, "s3a://propolis/")
	for name, key := range map[string]string{
		"tampered": tok[:len(tok)-3] + "AAA" + "/",
		"garbage":  "not.a.token/",
	} {
		resp, err := http.Get("http://" + w.S3 + "/propolis?list-type=2&prefix=" + key)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden && !(name == "garbage" && resp.StatusCode < 300 && !strings.Contains(string(body), "<Key>")) {
			t.Errorf("listing with a %s token: %s\n%s", name, resp.Status, body)
		}
	}
	// bob is no analyst: the table does not exist for him, through the untrusted profile too.
	if _, err := getTable(ctx, dialHMSAs(t, sparkListen, "bob"), "shop", "customers"); err == nil || !strings.Contains(strings.ToLower(err.Error()), "not found") {
		t.Errorf("bob's get_table: %v, want not found", err)
	}
	// Both workers streamed Flight endpoints: the fleet shares the work.
	for i, wk := range []*workerProc{w, w2} {
		resp, err := http.Get("http://" + wk.Admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		streamed := false
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "propolis_worker_") || strings.HasPrefix(line, "propolis_flight_rows") {
				t.Logf("worker %d metric: %s", i+1, line)
			}
			if strings.HasPrefix(line, "propolis_flight_rows_total ") && !strings.HasSuffix(line, " 0") {
				streamed = true
			}
		}
		if !streamed {
			t.Errorf("worker %d streamed no Flight rows: endpoints were not spread over the fleet", i+1)
		}
	}
}

func dialHMSAs(t *testing.T, addr, user string) *hm.ThriftHiveMetastoreClient {
	c := dialHMS(t, addr)
	if _, err := c.SetUgi(context.Background(), user, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// workerRows is what a user must read.
type workerRows struct {
	customers, orders, joined, events [][]any
}

// expectedWorkerRows computes what user reads: customers of the user's regions, emails
// tokenized with the worker's own function (the reference implementation, compared with
// every engine), phones by fpe_digits, orders with tokenized emails, and the join.
func expectedWorkerRows(t *testing.T, user string) workerRows {
	regions := map[string]bool{}
	for _, r := range wRegions {
		if r[0] == user {
			regions[r[1]] = true
		}
	}
	var emails, phones []string
	for _, c := range wCustomers {
		emails, phones = append(emails, c.Email), append(phones, c.Phone)
	}
	for _, o := range wOrders {
		emails = append(emails, o.Email)
	}
	for _, e := range wEvents {
		emails = append(emails, e.Email)
	}
	tok := evalStrings(t, "tokenize(s, 'pii')", emails)
	fpe := evalStrings(t, "fpe_digits(s, 4, 'pii')", phones)
	var w workerRows
	for i, c := range wCustomers {
		if tok[i] == c.Email || !strings.HasPrefix(tok[i], "") {
			t.Fatalf("tokenize(%q) = %q", c.Email, tok[i])
		}
		if regions[c.Region] {
			w.customers = append(w.customers, []any{c.ID, c.Name, tok[i], fpe[i], c.Region})
		}
	}
	for i, o := range wOrders {
		w.orders = append(w.orders, []any{o.ID, tok[len(wCustomers)+i], o.Amount})
	}
	for _, c := range wCustomers {
		for _, o := range wOrders {
			if c.Email == o.Email && regions[c.Region] {
				w.joined = append(w.joined, []any{c.ID, o.ID})
			}
		}
	}
	for i, e := range wEvents {
		if e.DT == "2024-01-02" {
			w.events = append(w.events, []any{e.ID, tok[len(wCustomers)+len(wOrders)+i], e.DT})
		}
	}
	return w
}

// evalStrings applies a policy expression over the string column s with the worker's
// evaluator and the test's keys.
func evalStrings(t *testing.T, src string, in []string) []string {
	t.Helper()
	e, err := expr.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := expr.Check(e, map[string]string{"s": "string"}); err != nil {
		t.Fatal(err)
	}
	keys, err := eval.NewStaticKeyring([]eval.KeySpec{{ID: "pii", Version: 1, Secret: []byte(wPIIKey)}})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	bld := array.NewStringBuilder(mem)
	bld.AppendValues(in, nil)
	col := bld.NewArray()
	defer col.Release()
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, int64(len(in)))
	defer rec.Release()
	prog, err := eval.Compile(e, schema, eval.Env{User: "alice", Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	res, err := prog.Eval(context.Background(), mem, rec, plan.Pos{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	out := make([]string, len(in))
	for i := range out {
		out[i] = res.(*array.String).Value(i)
	}
	return out
}

func judgeWorkerRows(t *testing.T, who string, res []queryResult, want workerRows) {
	t.Helper()
	checkRows(t, who, res[0], nil, want.customers)
	checkRows(t, who, res[1], nil, want.orders)
	checkRows(t, who, res[2], nil, want.joined)
	checkRows(t, who, res[3], nil, want.events)
	for _, r := range res {
		for _, row := range r.Rows {
			for _, v := range row {
				for _, c := range wCustomers {
					if fmt.Sprint(v) == c.Email {
						t.Errorf("%s: %s returned the raw email %s", who, r.SQL, c.Email)
					}
				}
			}
		}
	}
}

// seedWorkerTables writes the Parquet files and registers the tables as the service principal.
func seedWorkerTables(t *testing.T, ctx context.Context, c *hm.ThriftHiveMetastoreClient, lake string) {
	t.Helper()
	for _, db := range []string{"shop", "acl"} {
		must(t, "create database "+db, c.CreateDatabase(ctx, &hm.Database{Name: db, LocationUri: "file://" + filepath.Join(lake, db)}))
	}
	str := arrow.BinaryTypes.String
	i64 := arrow.PrimitiveTypes.Int64
	custSchema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: i64, Nullable: true}, {Name: "name", Type: str, Nullable: true}, {Name: "email", Type: str, Nullable: true}, {Name: "phone", Type: str, Nullable: true}}, nil)
	custDir := filepath.Join(lake, "shop", "customers")
	ct := parquetTable("shop", "customers", "file://"+custDir, []*hm.FieldSchema{{Name: "id", Type: "bigint"}, {Name: "name", Type: "string"}, {Name: "email", Type: "string"}, {Name: "phone", Type: "string"}})
	ct.PartitionKeys = []*hm.FieldSchema{{Name: "region", Type: "string"}}
	must(t, "create shop.customers", c.CreateTable(ctx, ct))
	byRegion := map[string][]wCustomer{}
	for _, cu := range wCustomers {
		byRegion[cu.Region] = append(byRegion[cu.Region], cu)
	}
	var parts []*hm.Partition
	for region, cs := range byRegion {
		loc := filepath.Join(custDir, "region="+region)
		writeParquet(t, filepath.Join(loc, "part-00000.parquet"), custSchema, func(bs []array.Builder) {
			for _, cu := range cs {
				bs[0].(*array.Int64Builder).Append(cu.ID)
				bs[1].(*array.StringBuilder).Append(cu.Name)
				bs[2].(*array.StringBuilder).Append(cu.Email)
				bs[3].(*array.StringBuilder).Append(cu.Phone)
			}
		})
		sd := *ct.Sd
		sd.Location = "file://" + loc
		parts = append(parts, &hm.Partition{DbName: "shop", TableName: "customers", Values: []string{region}, Sd: &sd})
	}
	if _, err := c.AddPartitions(ctx, parts); err != nil {
		t.Fatal(err)
	}
	ordSchema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: i64, Nullable: true}, {Name: "email", Type: str, Nullable: true}, {Name: "amount", Type: i64, Nullable: true}}, nil)
	ordDir := filepath.Join(lake, "shop", "orders")
	must(t, "create shop.orders", c.CreateTable(ctx, parquetTable("shop", "orders", "file://"+ordDir, []*hm.FieldSchema{{Name: "id", Type: "bigint"}, {Name: "email", Type: "string"}, {Name: "amount", Type: "bigint"}})))
	// Two files, so a table is more than one object.
	for f, os := range [][]wOrder{wOrders[:3], wOrders[3:]} {
		writeParquet(t, filepath.Join(ordDir, fmt.Sprintf("part-%05d.parquet", f)), ordSchema, func(bs []array.Builder) {
			for _, o := range os {
				bs[0].(*array.Int64Builder).Append(o.ID)
				bs[1].(*array.StringBuilder).Append(o.Email)
				bs[2].(*array.Int64Builder).Append(o.Amount)
			}
		})
	}
	evSchema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: i64, Nullable: true}, {Name: "email", Type: str, Nullable: true}}, nil)
	evDir := filepath.Join(lake, "shop", "events")
	et := parquetTable("shop", "events", "file://"+evDir, []*hm.FieldSchema{{Name: "id", Type: "bigint"}, {Name: "email", Type: "string"}})
	et.PartitionKeys = []*hm.FieldSchema{{Name: "dt", Type: "string"}}
	must(t, "create shop.events", c.CreateTable(ctx, et))
	var evParts []*hm.Partition
	for _, dt := range []string{"2024-01-01", "2024-01-02", "2024-01-03"} {
		loc := filepath.Join(evDir, "dt="+dt)
		writeParquet(t, filepath.Join(loc, "part-00000.parquet"), evSchema, func(bs []array.Builder) {
			for _, e := range wEvents {
				if e.DT == dt {
					bs[0].(*array.Int64Builder).Append(e.ID)
					bs[1].(*array.StringBuilder).Append(e.Email)
				}
			}
		})
		sd := *et.Sd
		sd.Location = "file://" + loc
		evParts = append(evParts, &hm.Partition{DbName: "shop", TableName: "events", Values: []string{dt}, Sd: &sd})
	}
	if _, err := c.AddPartitions(ctx, evParts); err != nil {
		t.Fatal(err)
	}
	aclSchema := arrow.NewSchema([]arrow.Field{{Name: "user", Type: str, Nullable: true}, {Name: "region", Type: str, Nullable: true}}, nil)
	aclDir := filepath.Join(lake, "acl", "user_regions")
	must(t, "create acl.user_regions", c.CreateTable(ctx, parquetTable("acl", "user_regions", "file://"+aclDir, []*hm.FieldSchema{{Name: "user", Type: "string"}, {Name: "region", Type: "string"}})))
	writeParquet(t, filepath.Join(aclDir, "part-00000.parquet"), aclSchema, func(bs []array.Builder) {
		for _, r := range wRegions {
			bs[0].(*array.StringBuilder).Append(r[0])
			bs[1].(*array.StringBuilder).Append(r[1])
		}
	})
}

func writeParquet(t *testing.T, path string, schema *arrow.Schema, fill func([]array.Builder)) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	defer b.Release()
	fill(b.Fields())
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// s3aJars are the hadoop-aws jars compat-tests/setup.sh fetched.
func s3aJars(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, j := range []string{"hadoop-aws-3.3.4.jar", "aws-java-sdk-bundle-1.12.262.jar"} {
		p := filepath.Join(cacheDir(), "jars", j)
		if _, err := os.Stat(p); err != nil {
			missing(t, "hadoop-aws jars", "no "+p+" (run make deps: compat-tests/setup.sh fetches them from Maven Central)")
		}
		out = append(out, p)
	}
	return out
}

// workerProc is a running `propolis worker`.
type workerProc struct {
	S3, Flight, Admin string
	cmd               *exec.Cmd
	done              chan struct{}
	stderr            string
}

// startWorker starts a worker on ports the kernel picks, asking server for plans.
func startWorker(t *testing.T, cfgPath, server, flightListen string) *workerProc {
	t.Helper()
	base := t.TempDir()
	w := &workerProc{done: make(chan struct{}), stderr: filepath.Join(base, "worker.stderr")}
	ready := filepath.Join(base, "ready.json")
	errf, err := os.Create(w.stderr)
	if err != nil {
		t.Fatal(err)
	}
	w.cmd = exec.Command(propolisBin, "worker", "--config", cfgPath, "--listen", "127.0.0.1:0", "--flight-listen", flightListen,
		"--admin-listen", "127.0.0.1:0", "--server", server, "--ready-file", ready)
	w.cmd.Stdout, w.cmd.Stderr = errf, errf
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.cmd.Wait(); errf.Close(); close(w.done) }()
	t.Cleanup(func() {
		syscall.Kill(-w.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
		}
		if t.Failed() {
			t.Logf("---- worker stderr (last 60 lines) ----\n%s", fileTail(w.stderr, 60))
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			var r map[string]string
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatalf("worker ready file: %v", err)
			}
			w.S3, w.Flight, w.Admin = r["s3"], r["flight"], r["admin"]
			return w
		}
		select {
		case <-w.done:
			t.Fatalf("the worker exited before it was ready:\n%s", fileTail(w.stderr, 40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker was not ready after 30 s:\n%s", fileTail(w.stderr, 40))
		}
	}
}

// copiedBytes reads a worker's count of column chunk bytes served without re-encoding.
func copiedBytes(t *testing.T, admin string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "propolis_worker_scan_copied_bytes_total "); ok {
			var n float64
			fmt.Sscan(v, &n)
			return n
		}
	}
	t.Fatalf("worker %s exports no propolis_worker_scan_copied_bytes_total", admin)
	return 0
}

var _ = sql.ErrNoRows
