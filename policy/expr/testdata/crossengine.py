"""Runs the queries of policy/expr's TestCrossEngineQueries in Spark (pyspark 3.5) and Trino and
reports every mask whose results differ between the two engines.

    PROPOLIS_CROSSENGINE_OUT=/tmp/q.json go test ./policy/expr -run TestCrossEngineQueries
    JAVA_HOME=<java 17> ~/.cache/propolis/venv/bin/python policy/expr/testdata/crossengine.py /tmp/q.json http://127.0.0.1:8080

Trino needs no catalog (the queries select from literals). Exit status 1 when anything differs.
"""
import json, sys, urllib.request, datetime, decimal
TRINO = sys.argv[2] if len(sys.argv) > 2 else 'http://127.0.0.1:8080'
from pyspark.sql import SparkSession
qs = json.load(open(sys.argv[1]))
def trino(sql):
    req = urllib.request.Request(TRINO + '/v1/statement', data=sql.encode(), headers={'X-Trino-User':'alice'})
    r = json.load(urllib.request.urlopen(req)); rows=[]; cols=None
    while True:
        if 'error' in r: return 'ERROR: ' + r['error']['message'], None
        cols = r.get('columns', cols)
        rows += r.get('data', [])
        if 'nextUri' not in r: break
        r = json.load(urllib.request.urlopen(r['nextUri']))
    return rows, cols
def norm(v, t=None):
    if v is None: return None
    if isinstance(v, bool): return v
    if isinstance(v, decimal.Decimal): return ('dec', decimal.Decimal(v).normalize())
    if isinstance(v, datetime.datetime): return ('ts', v.strftime('%Y-%m-%d %H:%M:%S.%f'))
    if isinstance(v, datetime.date): return ('date', v.isoformat())
    if isinstance(v, float): return ('dbl', v)
    if isinstance(v, int): return ('int', v)
    return v
def normt(v, t):
    if v is None: return None
    b = t['rawType']
    if b == 'decimal': return ('dec', decimal.Decimal(v).normalize())
    if b == 'timestamp': return ('ts', datetime.datetime.strptime(v, '%Y-%m-%d %H:%M:%S.%f').strftime('%Y-%m-%d %H:%M:%S.%f'))
    if b == 'date': return ('date', v)
    if b in ('double','real'): return ('dbl', float(v))
    if b in ('integer','bigint','smallint','tinyint'): return ('int', v)
    return v
spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled","false").config("spark.sql.session.timeZone","UTC").getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
bad = 0
for q in qs:
    try:
        srows = [[norm(x) for x in r] for r in spark.sql(q['Hive']).collect()]
    except Exception as e:
        srows = 'ERROR: ' + str(e).splitlines()[0]
    trows, cols = trino(q['Trino'])
    if cols: trows = [[r[0], normt(r[1], cols[1]['typeSignature'])] for r in trows]; trows=[[('int',r[0]), r[1]] for r in trows]
    if srows != trows:
        bad += 1
        print('DIFF', q['Mask'], q['Type']); print('  spark', srows); print('  trino', trows)
print('compared', len(qs), 'mask x type cases; differing:', bad)
sys.exit(1 if bad else 0)
