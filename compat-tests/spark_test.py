"""Spark (pyspark 3.5, built-in Hive 2.3.9 metastore client) against a Hive metastore.

    python spark_test.py write  --metastore thrift://HOST:PORT --warehouse DIR
    python spark_test.py verify --metastore thrift://HOST:PORT --warehouse DIR

`write` creates a database, partitioned Parquet tables (data source and Hive format), inserts with
static and dynamic partitions, prunes partitions, alters, analyzes and creates a view, checking
every result row by row. `verify` runs in a new JVM (so a new metastore connection) and checks
that everything `write` made is still there, then drops it all. Exits non-zero with a clear
message at the first mismatch. Prints SPARK_VERSION=... for the Go test.
"""

import argparse
import contextlib
import os
import sys
import time
import traceback

DB = "propolis_compat"


FAILURES = []


def fail(msg):
    """Record a mismatch and go on (so one run shows every problem); main() exits 1 at the end."""
    print(f"SPARK COMPAT FAILURE: {msg}", file=sys.stderr, flush=True)
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


def session(metastore, warehouse, app):
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName(app)
        .config("spark.sql.catalogImplementation", "hive")
        .config("spark.hadoop.hive.metastore.uris", metastore)
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.hive.metastorePartitionPruning", "true")
        .config("spark.sql.pyspark.jvmStacktrace.enabled", "true")
        .config("spark.hadoop.hive.exec.dynamic.partition", "true")
        .config("spark.hadoop.hive.exec.dynamic.partition.mode", "nonstrict")
        .enableHiveSupport()
        .getOrCreate()
    )


def stats_row(spark, sql):
    """The 'Statistics' value of DESCRIBE EXTENDED (table or partition level), or None."""
    for r in rows(spark, sql):
        if r[0] in ("Statistics", "Partition Statistics"):
            return r[1]
    return None


def plan_of(df):
    return df._jdf.queryExecution().executedPlan().toString()


def check_pruning(spark, sql, table_dir_part, want_dirs):
    """The query's scan must carry partition filters and read files of the wanted partitions only."""
    step(f"pruning: {sql}")
    df = spark.sql(sql)
    plan = plan_of(df)
    print("    plan: " + " | ".join(l.strip() for l in plan.splitlines()[:6]), flush=True)
    if "PartitionFilters: [" not in plan or "PartitionFilters: []" in plan:
        fail(f"{sql}: no partition filters in the physical plan:\n{plan}")
        return df
    files = df.inputFiles()
    dirs = sorted({os.path.basename(os.path.dirname(f)) for f in files})
    if dirs != sorted(want_dirs):
        fail(f"{sql}: read partitions {dirs}, want only {sorted(want_dirs)} (files: {files})")
        return df
    print(f"    ok: pruned to {dirs} ({len(files)} file(s))", flush=True)
    return df


@contextlib.contextmanager
def section(title):
    """Run one group of statements; an exception fails the group, and the next group still runs."""
    step(f"[{title}]")
    try:
        yield
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        text = str(e)
        causes = [l.strip() for l in text.splitlines() if l.strip().startswith("Caused by")]
        where = [l.strip() for l in text.splitlines() if l.strip().startswith("at org.apache.hadoop.hive")][:3]
        fail(f"[{title}] {type(e).__name__}: {text.splitlines()[0] if text else ''}"
             + "".join(f"\n  {c}" for c in causes + where))


def write(spark, warehouse):
    spark.sql(f"DROP DATABASE IF EXISTS {DB} CASCADE")
    with section('databases'):
        rows(spark, f"CREATE DATABASE {DB} COMMENT 'propolis compat' WITH DBPROPERTIES ('owner.team'='lake')")
        dbs = [r[0] for r in rows(spark, "SHOW DATABASES")]
        if DB not in dbs or "default" not in dbs:
            fail(f"SHOW DATABASES: want default and {DB} in {dbs}")
        desc = dict((r[0], r[1]) for r in rows(spark, f"DESCRIBE DATABASE EXTENDED {DB}"))
        if desc.get("Comment") != "propolis compat":
            fail(f"DESCRIBE DATABASE: comment {desc.get('Comment')!r}, want 'propolis compat' ({desc})")
        if "owner.team" not in (desc.get("Properties") or ""):
            fail(f"DESCRIBE DATABASE: properties {desc.get('Properties')!r} lack owner.team")
        if not (desc.get("Location") or "").rstrip("/").endswith(f"{DB}.db"):
            fail(f"DESCRIBE DATABASE: location {desc.get('Location')!r} does not end in {DB}.db")
        spark.sql(f"USE {DB}")

    with section('a data source table, partitioned by a string'):
        rows(spark, "CREATE TABLE events (id INT, name STRING, amount DOUBLE, dt STRING) "
                    "USING parquet PARTITIONED BY (dt) TBLPROPERTIES ('purpose'='compat')")
        # static partition
        rows(spark, "INSERT INTO events PARTITION (dt='2024-01-01') VALUES (1,'a',1.5),(2,'b',2.5)")
        # dynamic partitions
        rows(spark, "SET hive.exec.dynamic.partition.mode=nonstrict")
        rows(spark, "INSERT INTO events PARTITION (dt) VALUES (3,'c',3.5,'2024-01-02'),(4,'d',4.5,'2024-01-03'),"
                    "(5,'e',5.5,'2024-01-03')")
        expect_rows(spark, "SELECT id, name, amount, dt FROM events ORDER BY id", [
            (1, "a", 1.5, "2024-01-01"), (2, "b", 2.5, "2024-01-01"), (3, "c", 3.5, "2024-01-02"),
            (4, "d", 4.5, "2024-01-03"), (5, "e", 5.5, "2024-01-03")])
        expect_rows(spark, "SHOW PARTITIONS events",
                    [("dt=2024-01-01",), ("dt=2024-01-02",), ("dt=2024-01-03",)])
        df = check_pruning(spark, "SELECT id, name FROM events WHERE dt = '2024-01-03'", "events", ["dt=2024-01-03"])
        got = sorted(tuple(r) for r in df.collect())
        if got != [(4, "d"), (5, "e")]:
            fail(f"pruned select: got {got}")
        df = check_pruning(spark, "SELECT id FROM events WHERE dt >= '2024-01-02'", "events",
                           ["dt=2024-01-02", "dt=2024-01-03"])
        got = sorted(r[0] for r in df.collect())
        if got != [3, 4, 5]:
            fail(f"pruned range select: got {got}")

        # overwrite one partition
        rows(spark, "INSERT OVERWRITE TABLE events PARTITION (dt='2024-01-02') VALUES (30,'cc',30.5)")
        expect_rows(spark, "SELECT id, name FROM events WHERE dt='2024-01-02'", [(30, "cc")])

    with section('ALTER TABLE ADD COLUMNS, then write and read the new column'):
        rows(spark, "ALTER TABLE events ADD COLUMNS (note STRING COMMENT 'added later')")
        rows(spark, "INSERT INTO events PARTITION (dt='2024-01-04') VALUES (6,'f',6.5,'new column')")
        expect_rows(spark, "SELECT id, note, dt FROM events ORDER BY id", [
            (1, None, "2024-01-01"), (2, None, "2024-01-01"), (4, None, "2024-01-03"),
            (5, None, "2024-01-03"), (6, "new column", "2024-01-04"), (30, None, "2024-01-02")])
        cols = [r[0] for r in rows(spark, "DESCRIBE events") if r[0] and not r[0].startswith("#")]
        if cols[:5] != ["id", "name", "amount", "note", "dt"]:
            fail(f"DESCRIBE events: columns {cols}, want id, name, amount, note, dt")

    with section('a Hive-format table (STORED AS PARQUET), two partition keys, one of them an int'):
        rows(spark, "CREATE TABLE hive_events (id INT, name STRING) PARTITIONED BY (country STRING, year INT) "
                    "STORED AS PARQUET")
        rows(spark, "INSERT INTO hive_events PARTITION (country='us', year=2023) VALUES (1,'x'),(2,'y')")
        rows(spark, "INSERT INTO hive_events PARTITION (country, year) "
                    "SELECT id + 10, name, 'fr', 2024 FROM events WHERE dt = '2024-01-01'")
        rows(spark, "INSERT INTO hive_events PARTITION (country='us', year) VALUES (3,'z',2024)")
        expect_rows(spark, "SELECT id, name, country, year FROM hive_events ORDER BY id", [
            (1, "x", "us", 2023), (2, "y", "us", 2023), (3, "z", "us", 2024), (11, "a", "fr", 2024),
            (12, "b", "fr", 2024)])
        expect_rows(spark, "SHOW PARTITIONS hive_events", [
            ("country=fr/year=2024",), ("country=us/year=2023",), ("country=us/year=2024",)], ordered=False)
        expect_rows(spark, "SHOW PARTITIONS hive_events PARTITION (country='us')", [
            ("country=us/year=2023",), ("country=us/year=2024",)], ordered=False)
        df = check_pruning(spark, "SELECT id FROM hive_events WHERE country = 'us' AND year > 2023", "hive_events",
                           ["year=2024"])
        if sorted(r[0] for r in df.collect()) != [3]:
            fail("pruned select on hive_events: want [3]")
        # ALTER TABLE ... ADD/DROP PARTITION and a location per partition
        rows(spark, "ALTER TABLE hive_events ADD PARTITION (country='de', year=2022)")
        expect_rows(spark, "SELECT count(*) FROM hive_events WHERE country='de'", [(0,)])
        rows(spark, "ALTER TABLE hive_events DROP PARTITION (country='de', year=2022)")
        expect_rows(spark, "SHOW PARTITIONS hive_events", [
            ("country=fr/year=2024",), ("country=us/year=2023",), ("country=us/year=2024",)], ordered=False)

    with section('statistics'):
        rows(spark, "ANALYZE TABLE events COMPUTE STATISTICS")
        rows(spark, "ANALYZE TABLE events COMPUTE STATISTICS FOR COLUMNS id, amount")
        rows(spark, "ANALYZE TABLE hive_events PARTITION (country, year) COMPUTE STATISTICS")
        check_stats(spark)

    with section('views'):
        rows(spark, "CREATE VIEW big_events COMMENT 'amount over 3' AS "
                    "SELECT id, name, amount FROM events WHERE amount > 3")
        expect_rows(spark, "SELECT id, name FROM big_events ORDER BY id",
                    [(4, "d"), (5, "e"), (6, "f"), (30, "cc")])
        expect_rows(spark, f"SHOW TABLES IN {DB}", [(DB, "big_events", False), (DB, "events", False),
                                                    (DB, "hive_events", False)], ordered=False)
        expect_rows(spark, f"SHOW VIEWS IN {DB}", [(DB, "big_events", False)])

    with section('a table to drop now, and rename'):
        rows(spark, "CREATE TABLE scratch (k INT) USING parquet")
        rows(spark, "INSERT INTO scratch VALUES (1)")
        rows(spark, "ALTER TABLE scratch RENAME TO scratch2")
        expect_rows(spark, "SELECT k FROM scratch2", [(1,)])
        rows(spark, "DROP TABLE scratch2")
        tables = [r[1] for r in rows(spark, f"SHOW TABLES IN {DB}")]
        if "scratch" in tables or "scratch2" in tables:
            fail(f"dropped/renamed table still listed: {tables}")


def check_stats(spark):
    st = stats_row(spark, "DESCRIBE TABLE EXTENDED events")
    # e.g. "2345 bytes, 6 rows"
    if not st or "6 rows" not in st or "bytes" not in st:
        fail(f"DESCRIBE EXTENDED events: Statistics {st!r}, want '... bytes, 6 rows'")
    else:
        print(f"    ok: events statistics: {st}", flush=True)
    col = dict((r[0], r[1]) for r in rows(spark, "DESCRIBE TABLE EXTENDED events id"))
    want = {"min": "1", "max": "30", "num_nulls": "0", "distinct_count": "6"}
    bad = {k: col.get(k) for k, v in want.items() if col.get(k) != v}
    if bad:
        fail(f"DESCRIBE EXTENDED events id: {bad}, want {want} (all: {col})")
    col = dict((r[0], r[1]) for r in rows(spark, "DESCRIBE TABLE EXTENDED events amount"))
    if col.get("min") != "1.5" or col.get("max") != "30.5":
        fail(f"DESCRIBE EXTENDED events amount: min/max {col.get('min')}/{col.get('max')}, want 1.5/30.5")
        bad = True
    if not bad:
        print("    ok: column statistics for id and amount", flush=True)
    pst = stats_row(spark, "DESCRIBE TABLE EXTENDED hive_events PARTITION (country='us', year=2023)")
    if not pst or "2 rows" not in pst:
        fail(f"partition statistics of hive_events us/2023: {pst!r}, want '... 2 rows'")
    else:
        print(f"    ok: partition statistics: {pst}", flush=True)


def verify(spark, warehouse):
    dbs = [r[0] for r in rows(spark, "SHOW DATABASES")]
    if DB not in dbs:
        fail(f"a new session does not see database {DB}: {dbs}")
        return
    spark.sql(f"USE {DB}")
    with section('tables, rows and partitions persisted'):
        expect_rows(spark, f"SHOW TABLES IN {DB}", [(DB, "big_events", False), (DB, "events", False),
                                                    (DB, "hive_events", False)], ordered=False)
        expect_rows(spark, "SELECT id, name, amount, note, dt FROM events ORDER BY id", [
            (1, "a", 1.5, None, "2024-01-01"), (2, "b", 2.5, None, "2024-01-01"), (4, "d", 4.5, None, "2024-01-03"),
            (5, "e", 5.5, None, "2024-01-03"), (6, "f", 6.5, "new column", "2024-01-04"),
            (30, "cc", 30.5, None, "2024-01-02")])
        expect_rows(spark, "SHOW PARTITIONS events",
                    [("dt=2024-01-01",), ("dt=2024-01-02",), ("dt=2024-01-03",), ("dt=2024-01-04",)])
        expect_rows(spark, "SELECT id, name, country, year FROM hive_events WHERE year = 2024 ORDER BY id", [
            (3, "z", "us", 2024), (11, "a", "fr", 2024), (12, "b", "fr", 2024)])
    with section('statistics persisted'):
        check_stats(spark)
    with section('view and table properties persisted'):
        expect_rows(spark, "SELECT id FROM big_events ORDER BY id", [(4,), (5,), (6,), (30,)])
        props = dict((r[0], r[1]) for r in rows(spark, "SHOW TBLPROPERTIES events"))
        if props.get("purpose") != "compat":
            fail(f"SHOW TBLPROPERTIES events: purpose={props.get('purpose')!r}, want 'compat' ({props})")

    with section('drops'):
        rows(spark, "DROP VIEW big_events")
        rows(spark, "DROP TABLE hive_events")
        expect_rows(spark, f"SHOW TABLES IN {DB}", [(DB, "events", False)])
        events_dir = os.path.join(warehouse, f"{DB}.db", "events")
        rows(spark, f"DROP DATABASE {DB} CASCADE")
        dbs = [r[0] for r in rows(spark, "SHOW DATABASES")]
        if DB in dbs:
            fail(f"DROP DATABASE CASCADE: {DB} still listed: {dbs}")
        try:
            spark.sql(f"USE {DB}")
            fail(f"USE {DB} after DROP DATABASE succeeded")
        except Exception as e:  # noqa: BLE001 - pyspark raises AnalysisException subclasses
            if "SCHEMA_NOT_FOUND" not in str(e) and "not found" not in str(e).lower():
                fail(f"USE {DB} after drop: unexpected error {e}")
        if os.path.exists(events_dir):
            # The real HMS deletes a managed table's directory when it drops it (deleteData=true).
            print(f"WARNING: managed table directory {events_dir} still exists after DROP DATABASE CASCADE", flush=True)
        else:
            print("    ok: managed table data deleted with the database", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["write", "verify"])
    ap.add_argument("--metastore", required=True)
    ap.add_argument("--warehouse", required=True)
    a = ap.parse_args()
    t0 = time.time()
    spark = session(a.metastore, a.warehouse, f"propolis-compat-{a.phase}")
    spark.sparkContext.setLogLevel("WARN")
    print(f"SPARK_VERSION={spark.version}", flush=True)
    print(f"HIVE_METASTORE_CLIENT={spark.conf.get('spark.sql.hive.metastore.version', '2.3.9')}", flush=True)
    print(f"session up in {time.time() - t0:.1f}s", flush=True)
    try:
        (write if a.phase == "write" else verify)(spark, a.warehouse)
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        fail(f"{type(e).__name__}: {e}")
    finally:
        spark.stop()
    if FAILURES:
        print(f"SPARK PHASE {a.phase.upper()} FAILED: {len(FAILURES)} check(s) failed:", file=sys.stderr, flush=True)
        for f in FAILURES:
            print("  * " + "\n    ".join(f.splitlines()[:8]), file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"SPARK PHASE {a.phase.upper()} PASSED in {time.time() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main()
