"""Spark (pyspark 3.5, built-in Hive 2.3.9 metastore client) for TestFederation.

    python federation_test.py seed     --dir DIR --out TABLES.json
    python federation_test.py register --metastore HOST:PORT --out TABLES.json
    python federation_test.py engine  --metastore thrift://PROPOLIS --warehouse DIR
    python federation_test.py down    --metastore thrift://PROPOLIS --warehouse DIR

`seed` writes every upstream's Parquet files with pyarrow and lets Spark define the legacy
metastore's table and views in a private, in-process metastore (Spark's own Derby one). Spark 3.5's
Hive 2.3.9 client cannot create tables in a Hive 4 metastore directly (it calls get_table, which
Hive 4 removed), so the seed dumps the Thrift Table objects Spark wrote, in Thrift's JSON protocol,
and `register` creates exactly those objects in the legacy metastore with Python's Thrift client
(which, like Spark, leaves unset fields such as a view's storage location unset: Go's Thrift
structs would send them as empty strings).

`engine` runs, through Propolis only: SHOW DATABASES, reads from every backend, a join across
backends, a view defined in a secondary, a CREATE TABLE that lands in the legacy metastore, and
writes the routing rules refuse. `down` runs while the newer metastore is stopped: listings
leave it out, reads from it fail naming it, the other backends still answer.

Prints SPARK_VERSION=... and exits non-zero with every failed check listed.
"""

import argparse
import contextlib
import json
import os
import sys
import time
import traceback

FAILURES = []


def fail(msg):
    print(f"FEDERATION SPARK FAILURE: {msg}", file=sys.stderr, flush=True)
    FAILURES.append(msg)


def step(msg):
    print(f"--- {msg}", flush=True)


def rows(spark, sql):
    step(sql)
    return [tuple(r) for r in spark.sql(sql).collect()]


def expect_rows(spark, sql, want, ordered=True):
    got = rows(spark, sql)
    g, w = (got, want) if ordered else (sorted(got, key=repr), sorted(want, key=repr))
    if len(g) != len(w):
        fail(f"{sql}\n  want {len(w)} rows: {w}\n  got  {len(g)} rows: {g}")
        return got
    for i, (a, b) in enumerate(zip(g, w)):
        if tuple(a) != tuple(b):
            fail(f"{sql}\n  row {i}: want {b!r}\n          got  {a!r}\n  all rows: {g}")
            return got
    print(f"    ok: {len(g)} row(s) as expected", flush=True)
    return got


def expect_error(spark, sql, *needles):
    """The statement must fail, and its error must contain every needle (case-insensitive)."""
    step(f"(must fail) {sql}")
    try:
        spark.sql(sql).collect()
    except Exception as e:  # noqa: BLE001
        text = str(e)
        missing = [n for n in needles if n.lower() not in text.lower()]
        first = "\n    ".join(l for l in text.splitlines()[:4])
        if missing:
            fail(f"{sql}: failed, but the error lacks {missing}:\n    {first}")
        else:
            print(f"    ok: refused: {first}", flush=True)
        return text
    fail(f"{sql}: succeeded, want an error containing {list(needles)}")
    return ""


@contextlib.contextmanager
def section(title):
    step(f"[{title}]")
    try:
        yield
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        text = str(e)
        causes = [l.strip() for l in text.splitlines() if l.strip().startswith("Caused by")]
        fail(f"[{title}] {type(e).__name__}: {text.splitlines()[0] if text else ''}"
             + "".join(f"\n  {c}" for c in causes[:3]))


def session(app, metastore=None, warehouse=None, derby=None):
    from pyspark.sql import SparkSession

    b = (SparkSession.builder.master("local[2]").appName(app)
         .config("spark.sql.catalogImplementation", "hive")
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.default.parallelism", "2")
         .config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false")
         .config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.driver.memory", "1g")
         .config("spark.sql.pyspark.jvmStacktrace.enabled", "true")
         # Fail fast when a metastore call fails instead of retrying for minutes.
         .config("spark.hadoop.hive.metastore.failure.retries", "1")
         .config("spark.hadoop.hive.metastore.client.connect.retry.delay", "1s"))
    if metastore:
        b = b.config("spark.hadoop.hive.metastore.uris", metastore)
    if warehouse:
        b = b.config("spark.sql.warehouse.dir", warehouse)
    if derby:
        b = b.config("spark.hadoop.javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={derby};create=true")
    return b.enableHiveSupport().getOrCreate()


# ------------------------------------------------------------------ the data every upstream holds

ORDERS = {  # legacy: sales.orders (order_id, customer_id, amount) partitioned by dt
    "2024-01-01": [(1, 10, 12.5), (2, 20, 7.0)],
    "2024-01-02": [(3, 10, 30.0), (4, 30, 3.5)],
}
CUSTOMERS = [(10, "alice", "FR"), (20, "bob", "DE"), (30, "carol", "US")]  # newer: crm.customers
EVENTS = [(100, 10, "click"), (101, 30, "view"), (102, 10, "buy")]  # glue: analytics.events


def register(a):
    """Create the tables Spark defined (seed's dump) in a metastore, field for field."""
    from hive_metastore import ThriftHiveMetastore
    from hive_metastore.ttypes import GetTableRequest, Table
    from thrift.protocol import TBinaryProtocol, TJSONProtocol
    from thrift.transport import TSocket, TTransport

    host, port = a.metastore.replace("thrift://", "").split(":")
    tr = TTransport.TBufferedTransport(TSocket.TSocket(host, int(port)))
    tr.open()
    c = ThriftHiveMetastore.Client(TBinaryProtocol.TBinaryProtocol(tr))
    with open(a.out) as f:
        dumped = json.load(f)
    for name in ("orders", "v_orders", "v_big"):
        t = Table()
        t.read(TJSONProtocol.TJSONProtocol(TTransport.TMemoryBuffer(dumped[name].encode())))
        step(f"create_table {t.dbName}.{t.tableName} ({t.tableType}) in {a.metastore}, as Spark wrote it")
        c.create_table(t)
        back = c.get_table_req(GetTableRequest(dbName=t.dbName, tblName=t.tableName)).table
        print(f"    ok: {back.dbName}.{back.tableName}: type {back.tableType}, sd.location {back.sd.location!r}, "
              f"viewExpandedText {back.viewExpandedText!r}, "
              f"view.catalogAndNamespace.part.1 {(back.parameters or {}).get('view.catalogAndNamespace.part.1')!r}",
              flush=True)
    tr.close()


def seed(a):
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = a.dir
    for dt, rs in ORDERS.items():
        p = os.path.join(d, "legacy", "sales.db", "orders", f"dt={dt}")
        os.makedirs(p, exist_ok=True)
        pq.write_table(pa.table({
            "order_id": pa.array([r[0] for r in rs], pa.int64()),
            "customer_id": pa.array([r[1] for r in rs], pa.int64()),
            "amount": pa.array([r[2] for r in rs], pa.float64())}), os.path.join(p, "part-00000.parquet"))
    p = os.path.join(d, "newer", "crm.db", "customers")
    os.makedirs(p, exist_ok=True)
    pq.write_table(pa.table({
        "customer_id": pa.array([r[0] for r in CUSTOMERS], pa.int64()),
        "name": pa.array([r[1] for r in CUSTOMERS], pa.string()),
        "country": pa.array([r[2] for r in CUSTOMERS], pa.string())}), os.path.join(p, "part-00000.parquet"))
    p = os.path.join(d, "lake", "analytics", "events")
    os.makedirs(p, exist_ok=True)
    pq.write_table(pa.table({
        "event_id": pa.array([r[0] for r in EVENTS], pa.int64()),
        "customer_id": pa.array([r[1] for r in EVENTS], pa.int64()),
        "kind": pa.array([r[2] for r in EVENTS], pa.string())}), os.path.join(p, "part-00000.parquet"))
    print("    ok: Parquet files written with pyarrow", flush=True)

    # Spark defines the legacy table and its views in its own in-process metastore.
    spark = session("propolis-federation-seed", warehouse=os.path.join(d, "seed-warehouse"),
                    derby=os.path.join(d, "seed-derby"))
    spark.sparkContext.setLogLevel("WARN")
    print(f"SPARK_VERSION={spark.version}", flush=True)
    loc = "file://" + os.path.join(d, "legacy", "sales.db")
    rows(spark, f"CREATE DATABASE sales LOCATION '{loc}'")
    # USE sales: Spark records the current database in view.catalogAndNamespace.part.1.
    rows(spark, "USE sales")
    rows(spark, "CREATE TABLE orders (order_id BIGINT, customer_id BIGINT, amount DOUBLE) "
                f"PARTITIONED BY (dt STRING) STORED AS PARQUET LOCATION '{loc}/orders'")
    for dt in ORDERS:
        rows(spark, f"ALTER TABLE orders ADD PARTITION (dt='{dt}') LOCATION '{loc}/orders/dt={dt}'")
    # A view qualified the way Hive's expanded text is (backquoted database.table) ...
    rows(spark, "CREATE VIEW v_orders AS SELECT `orders`.`order_id`, `orders`.`customer_id`, `orders`.`amount`, "
                "`orders`.`dt` FROM `sales`.`orders` WHERE `orders`.`amount` > 5.0")
    # ... and one with an unqualified table, which Spark resolves in view.catalogAndNamespace.
    rows(spark, "CREATE VIEW v_big AS SELECT order_id, amount FROM orders WHERE amount >= 30")
    expect_rows(spark, "SELECT order_id, customer_id, amount, dt FROM v_orders ORDER BY order_id",
                [(1, 10, 12.5, "2024-01-01"), (2, 20, 7.0, "2024-01-01"), (3, 10, 30.0, "2024-01-02")])
    client = spark._jsparkSession.sharedState().externalCatalog().unwrapped().client()
    jvm = spark._jvm
    ser = jvm.org.apache.thrift.TSerializer(jvm.org.apache.thrift.protocol.TJSONProtocol.Factory())
    out = {}
    for name in ("orders", "v_orders", "v_big"):
        out[name] = ser.toString(client.getRawHiveTable("sales", name).rawTable().getTTable())
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    for name in ("v_orders", "v_big"):
        t = client.getRawHiveTable("sales", name).rawTable().getTTable()
        print(f"    {name}: viewExpandedText={t.getViewExpandedText()!r} "
              f"catalogAndNamespace.part.1={t.getParameters().get('view.catalogAndNamespace.part.1')!r}", flush=True)
    spark.stop()


# ------------------------------------------------------------------ through Propolis

JOINED = [(1, "alice", 12.5), (2, "bob", 7.0), (3, "alice", 30.0), (4, "carol", 3.5)]


def engine(spark, a):
    with section("SHOW DATABASES: every backend, nothing hidden"):
        dbs = sorted(r[0] for r in rows(spark, "SHOW DATABASES"))
        want = ["default", "lake", "legacy_ref", "legacy_sales", "newer_crm"]
        if dbs != want:
            fail(f"SHOW DATABASES: got {dbs}, want exactly {want} "
                 "(legacy's secret and default, newer's default and Glue's raw must stay hidden)")
        else:
            print(f"    ok: {dbs}", flush=True)
        expect_rows(spark, "SHOW TABLES IN legacy_sales", [
            ("legacy_sales", "orders", False), ("legacy_sales", "v_big", False),
            ("legacy_sales", "v_orders", False)], ordered=False)
        expect_rows(spark, "SHOW TABLES IN newer_crm", [("newer_crm", "customers", False)])
        expect_rows(spark, "SHOW TABLES IN lake", [("lake", "events", False)])
        expect_error(spark, "SELECT * FROM legacy_sales.internal_audit", "internal_audit")
        expect_error(spark, "SHOW TABLES IN legacy_secret", "legacy_secret")

    with section("read each backend"):
        expect_rows(spark, "SELECT order_id, customer_id, amount, dt FROM legacy_sales.orders ORDER BY order_id", [
            (1, 10, 12.5, "2024-01-01"), (2, 20, 7.0, "2024-01-01"), (3, 10, 30.0, "2024-01-02"),
            (4, 30, 3.5, "2024-01-02")])
        expect_rows(spark, "SELECT order_id FROM legacy_sales.orders WHERE dt = '2024-01-02' ORDER BY order_id",
                    [(3,), (4,)])
        expect_rows(spark, "SHOW PARTITIONS legacy_sales.orders", [("dt=2024-01-01",), ("dt=2024-01-02",)])
        expect_rows(spark, "SELECT customer_id, name, country FROM newer_crm.customers ORDER BY customer_id",
                    CUSTOMERS)
        expect_rows(spark, "SELECT event_id, customer_id, kind FROM lake.events ORDER BY event_id", EVENTS)

    with section("join across backends"):
        expect_rows(spark, "SELECT o.order_id, c.name, o.amount FROM legacy_sales.orders o "
                           "JOIN newer_crm.customers c ON o.customer_id = c.customer_id ORDER BY o.order_id", JOINED)
        expect_rows(spark, "SELECT c.name, count(DISTINCT o.order_id), count(DISTINCT e.event_id) "
                           "FROM newer_crm.customers c JOIN legacy_sales.orders o ON o.customer_id = c.customer_id "
                           "JOIN lake.events e ON e.customer_id = c.customer_id GROUP BY c.name ORDER BY c.name",
                    [("alice", 2, 2), ("carol", 1, 1)])

    with section("views defined in the legacy metastore"):
        desc = dict((r[0], r[1]) for r in rows(spark, "DESCRIBE TABLE EXTENDED legacy_sales.v_orders"))
        print(f"    view text through Propolis: {desc.get('View Text')!r}; "
              f"current database: {desc.get('View Current Catalog')!r}.{desc.get('View Catalog and Namespace')!r}",
              flush=True)
        expect_rows(spark, "SELECT order_id, customer_id, amount, dt FROM legacy_sales.v_orders ORDER BY order_id",
                    [(1, 10, 12.5, "2024-01-01"), (2, 20, 7.0, "2024-01-01"), (3, 10, 30.0, "2024-01-02")])
        expect_rows(spark, "SELECT order_id, amount FROM legacy_sales.v_big", [(3, 30.0)])
        expect_rows(spark, "SELECT v.order_id, c.name FROM legacy_sales.v_orders v "
                           "JOIN newer_crm.customers c ON v.customer_id = c.customer_id ORDER BY v.order_id",
                    [(1, "alice"), (2, "bob"), (3, "alice")])

    with section("CREATE TABLE in legacy_sales lands in the legacy metastore (allow-listed)"):
        rows(spark, "CREATE TABLE legacy_sales.spark_made (id BIGINT, note STRING) USING parquet")
        rows(spark, "INSERT INTO legacy_sales.spark_made VALUES (1, 'through propolis'), (2, 'spark')")
        expect_rows(spark, "SELECT id, note FROM legacy_sales.spark_made ORDER BY id",
                    [(1, "through propolis"), (2, "spark")])
        desc = dict((r[0], r[1]) for r in rows(spark, "DESCRIBE TABLE EXTENDED legacy_sales.spark_made"))
        print(f"SPARK_MADE_LOCATION={desc.get('Location')}", flush=True)

    with section("writes the routing rules refuse"):
        expect_error(spark, "CREATE TABLE lake.spark_made (id BIGINT) USING parquet", "glue", "read-only")
        expect_error(spark, "CREATE TABLE legacy_ref.spark_made (id BIGINT) USING parquet", "legacy", "ref")
        dbs = sorted(r[0] for r in rows(spark, "SHOW DATABASES"))
        if "lake" not in dbs or any("spark_made" in r[1] for r in rows(spark, "SHOW TABLES IN lake")):
            fail(f"after the refused CREATE TABLE: lake must be unchanged ({dbs})")


def down(spark, a):
    """The newer metastore is stopped: omit rule for listings, named failures for its tables."""
    with section("SHOW DATABASES leaves the stopped backend out"):
        dbs = sorted(r[0] for r in rows(spark, "SHOW DATABASES"))
        want = ["default", "lake", "legacy_ref", "legacy_sales"]
        if dbs != want:
            fail(f"SHOW DATABASES with newer down: got {dbs}, want {want}")
        else:
            print(f"    ok: {dbs}", flush=True)
    with section("a table of the stopped backend fails, naming it"):
        text = expect_error(spark, "SELECT * FROM newer_crm.customers", "newer")
        if "NoSuchObject" in text or "TABLE_OR_VIEW_NOT_FOUND" in text:
            fail("reading a table of the stopped backend reported it missing instead of unavailable:\n    "
                 + "\n    ".join(text.splitlines()[:4]))
    with section("the other backends keep answering"):
        expect_rows(spark, "SELECT count(*), sum(amount) FROM legacy_sales.orders", [(4, 53.0)])
        expect_rows(spark, "SELECT count(*) FROM lake.events", [(3,)])
        expect_rows(spark, "SELECT order_id FROM legacy_sales.v_big", [(3,)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["seed", "register", "engine", "down"])
    ap.add_argument("--metastore")
    ap.add_argument("--warehouse")
    ap.add_argument("--dir")
    ap.add_argument("--out")
    a = ap.parse_args()
    t0 = time.time()
    try:
        if a.phase == "seed":
            seed(a)
        elif a.phase == "register":
            register(a)
        else:
            spark = session(f"propolis-federation-{a.phase}", metastore=a.metastore, warehouse=a.warehouse)
            spark.sparkContext.setLogLevel("WARN")
            print(f"SPARK_VERSION={spark.version}", flush=True)
            print(f"session up in {time.time() - t0:.1f}s", flush=True)
            try:
                (engine if a.phase == "engine" else down)(spark, a)
            finally:
                spark.stop()
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        fail(f"{type(e).__name__}: {e}")
    if FAILURES:
        print(f"FEDERATION SPARK {a.phase.upper()} FAILED: {len(FAILURES)} check(s) failed:", file=sys.stderr, flush=True)
        for f in FAILURES:
            print("  * " + "\n    ".join(f.splitlines()[:8]), file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"FEDERATION SPARK {a.phase.upper()} PASSED in {time.time() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main()
