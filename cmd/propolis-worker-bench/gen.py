# Generates the worker bench's table files with DuckDB: called by propolis-worker-bench as
#   python gen.py DIR FILES ROWS_PER_FILE ROW_GROUP_ROWS THREADS
# Every value derives from the row id, so the same arguments give the same rows.
import json, os, sys, time

import duckdb

out, files, rows, group, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
con = duckdb.connect()
con.execute(f"SET threads={threads}")
con.execute("SET preserve_insertion_order=true")

SELECT = """SELECT i AS id,
 (['Ada','Ben','Cleo','Dev','Eli','Fay','Gus','Hana','Ivo','Jun','Kai','Lea','Mo','Nia','Oz','Pia'])[1 + (hash(i) % 16)::INT] || ' ' ||
 (['Smith','Jones','Garcia','Müller','Rossi','Dubois','Kowalski','Tanaka','Silva','Novak','Larsen','Ivanova'])[1 + (hash(i + 1) % 12)::INT] AS name,
 'user' || (hash(i * 31) % 50000000)::VARCHAR || '.' || substr(md5(i::VARCHAR), 1, 6) || '@' ||
   (['example.com','mail.test','corp.example','post.example'])[1 + (i % 4)::INT] AS email,
 '+1' || lpad((hash(i * 7) % 10000000000)::VARCHAR, 10, '0') AS phone,
 (['eu-west','eu-north','us-east','us-west','ap-south','ap-east','sa-east','af-south'])[1 + (hash(i * 13) % 8)::INT] AS region,
 ((hash(i * 17) % 10000000)::BIGINT / 100.0)::DECIMAL(12,2) AS amount,
 TIMESTAMP '2024-01-01' + to_microseconds((hash(i * 19) % 31536000000000)::BIGINT) AS ts
FROM range({lo}, {hi}) t(i)"""

total = 0
for k in range(files):
    t0 = time.time()
    name = f"part-{k:03d}.parquet"
    tmp = os.path.join(out, "." + name + ".tmp")
    con.execute(f"COPY ({SELECT.format(lo=k * rows, hi=(k + 1) * rows)}) TO '{tmp}' "
                f"(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE {group})")
    os.replace(tmp, os.path.join(out, name))
    size = os.path.getsize(os.path.join(out, name))
    total += size
    print(json.dumps({"file": name, "rows": rows, "bytes": size, "seconds": round(time.time() - t0, 2), "total": total}), flush=True)

con.execute(f"""COPY (SELECT * FROM (VALUES
  ('alice', 'eu-west'), ('alice', 'eu-north'), ('bob', 'us-east'), ('bob', 'us-west'), ('bob', 'eu-west'),
  ('carol', 'ap-south'), ('dave', 'sa-east'), ('erin', 'af-south'), ('erin', 'ap-east')) v("user", region))
  TO '{os.path.join(out, "lookup", "user_regions.parquet")}' (FORMAT parquet, COMPRESSION snappy)""")
print(json.dumps({"file": "lookup/user_regions.parquet", "version": duckdb.__version__}), flush=True)
