"""Records what Spark 3.5 computes for the queries of workers/eval's TestSparkQueries, for
TestMatchesSpark to compare the worker against (no Spark at `go test` time).

    PROPOLIS_SPARK_OUT=/tmp/spark_q.json go test ./workers/eval -run TestSparkQueries
    ~/.cache/propolis/venv/bin/python workers/eval/testdata/spark.py /tmp/spark_q.json workers/eval/testdata/spark.json

Every result is CAST(... AS STRING) in Spark with the session time zone UTC; NULL is null.
"""
import json, sys
from pyspark.sql import SparkSession

cases = json.load(open(sys.argv[1]))
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
print("spark", spark.version, file=sys.stderr)
for c in cases:
    try:
        c["Spark"] = [r[1] for r in spark.sql(c["Hive"]).collect()]
    except Exception as e:
        c["SparkError"] = str(e).splitlines()[0]
json.dump(cases, open(sys.argv[2], "w"), indent=1, ensure_ascii=False)
print(len(cases), "cases", file=sys.stderr)
