"""Spark (pyspark 3.5, s3a from hadoop-aws 3.3.4) reading worker-path tables as one user.

    HADOOP_USER_NAME=alice python workers_test.py --metastore URI --s3-endpoint URL --bucket B \
        --jars a.jar,b.jar --warehouse DIR --queries q.json --out out.json

Spark is an untrusted engine here: the metastore gives it, for every protected table, a location
on the Propolis worker fleet (s3a://<bucket>/<token>), and Spark's own s3a client reads the
policy-applied Parquet files from the worker's S3 endpoint. Nothing is installed in Spark: only
its S3 endpoint for the fleet's bucket is configured. Runs the statements in q.json and writes
every outcome to out.json; the Go test (workers_test.go) judges them. Prints SPARK_VERSION=...
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from policy_test import run  # noqa: E402  (one statement -> its outcome, as TestPolicy records it)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--metastore", required=True)
    ap.add_argument("--s3-endpoint", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--jars", required=True)
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    from pyspark.sql import SparkSession

    b = f"spark.hadoop.fs.s3a.bucket.{a.bucket}"
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("propolis-workers")
        .config("spark.jars", a.jars)
        .config("spark.sql.catalogImplementation", "hive")
        .config("spark.hadoop.hive.metastore.uris", a.metastore)
        .config("spark.sql.warehouse.dir", a.warehouse)
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "1g")
        # Only the fleet's bucket goes to the worker: per-bucket s3a settings.
        .config(f"{b}.endpoint", a.s3_endpoint)
        .config(f"{b}.path.style.access", "true")
        .config(f"{b}.connection.ssl.enabled", "false")
        .config(f"{b}.aws.credentials.provider", "org.apache.hadoop.fs.s3a.AnonymousAWSCredentialsProvider")
        .config("spark.hadoop.fs.s3a.impl", "org.apache.hadoop.fs.s3a.S3AFileSystem")
        .enableHiveSupport()
        .getOrCreate()
    )
    print(f"SPARK_VERSION={spark.version}", flush=True)
    with open(a.queries) as f:
        queries = json.load(f)
    results = [run(spark, q) for q in queries]
    with open(a.out, "w") as f:
        json.dump(results, f)
    spark.stop()


if __name__ == "__main__":
    main()
