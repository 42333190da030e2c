"""Spark (pyspark 3.5, built-in Hive 2.3.9 metastore client) as one user, under Propolis's policy.

    HADOOP_USER_NAME=propolis python policy_test.py setup --metastore URI --warehouse DIR --spec spec.json --out out.json
    HADOOP_USER_NAME=alice    python policy_test.py read  --metastore URI --warehouse DIR --spec spec.json --out out.json

The user is the process's Hadoop user: Spark's Hive client sends it with set_ugi, and Propolis
decides from it. `setup` (run as the service principal) creates the sales database and its tables
and inserts the rows in spec.json. `read` runs the statements in spec.json's "queries" and writes
every outcome (columns and rows, or the error) to out.json; the Go test (policy_test.go) holds the
expectations and judges them, so this script never decides what is right. Prints SPARK_VERSION=...
and SPARK_USER=... for the Go test.
"""

import argparse
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spark_test import session  # noqa: E402  (the same Spark session as TestSpark)


def value(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def run(spark, sql):
    print(f"--- {sql}", flush=True)
    try:
        df = spark.sql(sql)
        rows = [[value(x) for x in r] for r in df.collect()]
        print(f"    {len(rows)} row(s)", flush=True)
        return {"sql": sql, "ok": True, "columns": df.columns, "rows": rows}
    except Exception as e:  # the error is the result: the Go test judges it
        msg = str(e).strip()
        first = msg.splitlines()[0] if msg else type(e).__name__
        print(f"    error: {first}", flush=True)
        return {"sql": sql, "ok": False, "error": f"{type(e).__name__}: {msg}"[:4000]}


def setup(spark, spec, out):
    results = []
    db_loc = spec["database_location"]
    stmts = [
        f"CREATE DATABASE sales LOCATION '{db_loc}'",
        "CREATE TABLE sales.customers (id BIGINT, name STRING, email STRING, phone STRING, ssn STRING) "
        "PARTITIONED BY (region STRING) STORED AS PARQUET",
        "CREATE TABLE sales.payments (id BIGINT, customer_id BIGINT, amount DOUBLE, card STRING) STORED AS PARQUET",
    ]
    for s in stmts:
        r = run(spark, s)
        results.append(r)
        if not r["ok"]:
            raise SystemExit(f"setup failed: {s}: {r['error']}")
    customers = spark.createDataFrame(
        [tuple(r) for r in spec["customers"]],
        "id BIGINT, name STRING, email STRING, phone STRING, ssn STRING, region STRING")
    customers.createOrReplaceTempView("src_customers")
    payments = spark.createDataFrame(
        [(r[0], r[1], None if r[2] is None else float(r[2]), r[3]) for r in spec["payments"]],
        "id BIGINT, customer_id BIGINT, amount DOUBLE, card STRING")
    payments.createOrReplaceTempView("src_payments")
    for s in [
        "INSERT INTO sales.customers PARTITION (region) SELECT id, name, email, phone, ssn, region FROM src_customers",
        "INSERT INTO sales.payments SELECT id, customer_id, amount, card FROM src_payments",
    ]:
        r = run(spark, s)
        results.append(r)
        if not r["ok"]:
            raise SystemExit(f"setup failed: {s}: {r['error']}")
    for q in spec["queries"]:
        results.append(run(spark, q))
    with open(out, "w") as f:
        json.dump(results, f)


def read(spark, spec, out):
    results = [run(spark, q) for q in spec["queries"]]
    with open(out, "w") as f:
        json.dump(results, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["setup", "read"])
    ap.add_argument("--metastore", required=True)
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(a.spec) as f:
        spec = json.load(f)
    user = os.environ.get("HADOOP_USER_NAME", "")
    spark = session(a.metastore, a.warehouse, f"propolis-policy-{user}-{a.phase}")
    spark.sparkContext.setLogLevel("ERROR")
    print(f"SPARK_VERSION={spark.version}", flush=True)
    jvm = spark.sparkContext._jvm
    print(f"SPARK_USER={jvm.org.apache.hadoop.security.UserGroupInformation.getCurrentUser().getShortUserName()}", flush=True)
    print(f"HIVE_METASTORE_CLIENT={spark.conf.get('spark.sql.hive.metastore.version', '2.3.9')}", flush=True)
    try:
        (setup if a.phase == "setup" else read)(spark, spec, a.out)
    except SystemExit:
        raise
    except Exception:
        traceback.print_exc()
        sys.exit(1)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
