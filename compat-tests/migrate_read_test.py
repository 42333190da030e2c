"""Data files and a Spark reader for migrate_read_test.go.

    python migrate_read_test.py write DIR
        writes a partitioned Parquet table under DIR (day=2024-01-0N/part-0.parquet, 3 days,
        4 rows each) with pyarrow, and prints ROWS=<n>.
    python migrate_read_test.py spark --conf-file FILE --query SQL
        starts Spark (local[2]) with exactly the spark-defaults.conf lines in FILE (what
        `propolis config render --engine spark` printed) and prints each result row as
        ROW=<json list>.
"""
import argparse
import json
import os
import sys


def write(out):
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 0
    for d in range(1, 4):
        day = f"2024-01-0{d}"
        path = os.path.join(out, f"day={day}")
        os.makedirs(path, exist_ok=True)
        ids = [d * 100 + i for i in range(4)]
        t = pa.table({
            "id": pa.array(ids, pa.int64()),
            "name": pa.array([f"name-{i}" for i in ids], pa.string()),
            "amount": pa.array([i * 1.5 for i in ids], pa.float64()),
        })
        pq.write_table(t, os.path.join(path, "part-0.parquet"))
        n += len(ids)
    print(f"ROWS={n}", flush=True)


def spark(conf_file, query):
    from pyspark.sql import SparkSession

    b = SparkSession.builder.master("local[2]").appName("migrate-read")
    with open(conf_file) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, value = line.split(None, 1)
            print(f"spark conf (rendered): {key}={value}", flush=True)
            b = b.config(key, value.strip())
    for k, v in {
        "spark.ui.enabled": "false", "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.shuffle.partitions": "2", "spark.driver.memory": "1g", "spark.ui.showConsoleProgress": "false",
    }.items():
        b = b.config(k, v)
    s = b.enableHiveSupport().getOrCreate()
    s.sparkContext.setLogLevel("WARN")
    print(f"SPARK_VERSION={s.version}", flush=True)
    for r in s.sql(query).collect():
        print("ROW=" + json.dumps(list(r), default=str), flush=True)
    s.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["write", "spark"])
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--conf-file")
    ap.add_argument("--query")
    a = ap.parse_args()
    if a.mode == "write":
        write(a.dir)
    else:
        spark(a.conf_file, a.query)


if __name__ == "__main__":
    sys.exit(main())
