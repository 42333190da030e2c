# Runs one statement with DuckDB on one thread and reports its wall and CPU time: called by
# propolis-worker-bench as
#   python duck.py THREADS SQL
# The clocks start after the import and the connection, so only the statement is timed.
import json, resource, sys, time

import duckdb

threads, sql = int(sys.argv[1]), sys.argv[2]
con = duckdb.connect()
con.execute(f"SET threads={threads}")
w0, c0 = time.perf_counter(), time.process_time()
rows = con.execute(sql).fetchall()[0][0]
w1, c1 = time.perf_counter(), time.process_time()
print(json.dumps({"rows": rows, "wall": w1 - w0, "cpu": c1 - c0, "version": duckdb.__version__,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
