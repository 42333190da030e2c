"""PyIceberg's HiveCatalog against a Hive metastore.

    python pyiceberg_test.py --metastore thrift://HOST:PORT --warehouse file:///DIR

Creates a namespace and a partitioned Iceberg table, appends twice (each commit takes the
metastore lock: lock / check_lock / unlock, then alter_table), reads back with scan().to_arrow()
and compares row by row, loads the table from a fresh catalog object, checks the metastore lock's
mutual exclusion directly, races two committers on a stale base (exactly one must fail with
CommitFailedException), runs two concurrent appenders with retries (every row must land exactly
once), then drops everything. Prints PYICEBERG_VERSION=... and COMMITS=... for the Go test.
"""

import argparse
import datetime
import decimal
import getpass
import socket
import sys
import threading
import time
import traceback

import pyarrow as pa
import pyiceberg
from pyiceberg.catalog.hive import HiveCatalog
from pyiceberg.exceptions import CommitFailedException, NamespaceAlreadyExistsError, NoSuchTableError
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import (BooleanType, DateType, DecimalType, DoubleType, LongType, NestedField, StringType,
                             TimestampType)

NS = "iceberg_compat"
TABLE = (NS, "orders")
COMMITS = 0  # successful data commits (each took the metastore lock)


def fail(msg):
    print(f"PYICEBERG COMPAT FAILURE: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def step(msg):
    print(f"--- {msg}", flush=True)


SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "name", StringType(), required=False),
    NestedField(3, "price", DoubleType(), required=False),
    NestedField(4, "amount", DecimalType(10, 2), required=False),
    NestedField(5, "ts", TimestampType(), required=False),
    NestedField(6, "day", DateType(), required=False),
    NestedField(7, "active", BooleanType(), required=False),
    NestedField(8, "category", StringType(), required=False),
    identifier_field_ids=[1],
)
SPEC = PartitionSpec(PartitionField(source_id=8, field_id=1000, transform=IdentityTransform(), name="category"))
ARROW = pa.schema([
    pa.field("id", pa.int64(), nullable=False),
    pa.field("name", pa.string()),
    pa.field("price", pa.float64()),
    pa.field("amount", pa.decimal128(10, 2)),
    pa.field("ts", pa.timestamp("us")),
    pa.field("day", pa.date32()),
    pa.field("active", pa.bool_()),
    pa.field("category", pa.string()),
])


def make_row(i, category):
    return {
        "id": i, "name": f"item-{i}", "price": i * 1.25, "amount": decimal.Decimal(f"{i}.{i % 100:02d}"),
        "ts": datetime.datetime(2024, 1, 1, 12, 0, 0) + datetime.timedelta(hours=i),
        "day": datetime.date(2024, 1, 1) + datetime.timedelta(days=i % 3),
        "active": i % 2 == 0, "category": category,
    }


def batch(rows):
    return pa.Table.from_pylist(rows, schema=ARROW)


def catalog(a, name="compat", second=False):
    """A HiveCatalog on the first metastore, or on the second (another Propolis replica over the
    same store) when second is true and --metastore2 was given."""
    uri = a.metastore2 if second and a.metastore2 else a.metastore
    return HiveCatalog(name, uri=uri, warehouse=a.warehouse, ugi=f"{getpass.getuser()}:compat")


def read_rows(table, row_filter=None):
    kw = {} if row_filter is None else {"row_filter": row_filter}
    t = table.scan(**kw).to_arrow().sort_by("id")
    return t.to_pylist()


def expect_rows(what, got, want):
    if len(got) != len(want):
        fail(f"{what}: want {len(want)} rows, got {len(got)}:\n  want ids {[r['id'] for r in want]}\n"
             f"  got ids  {[r['id'] for r in got]}")
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            fail(f"{what}: row {i}:\n  want {w}\n  got  {g}")
    print(f"    ok: {what}: {len(got)} row(s) as expected", flush=True)


def append(table, rows, what):
    global COMMITS
    step(f"append {what}: ids {[r['id'] for r in rows]}")
    t0 = time.time()
    table.append(batch(rows))
    COMMITS += 1
    print(f"    committed in {time.time() - t0:.2f}s; metadata {table.metadata_location}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--metastore", required=True)
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--metastore2", help="a second metastore over the same catalog (a Propolis replica)")
    ap.add_argument("--appends-per-writer", type=int, default=3)
    a = ap.parse_args()
    print(f"PYICEBERG_VERSION={pyiceberg.__version__}", flush=True)
    print(f"PYARROW_VERSION={pa.__version__}", flush=True)
    if a.metastore2:
        print(f"two metastores: {a.metastore} and {a.metastore2} (second writer, second locker, fresh reads)", flush=True)
    try:
        run(a)
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        fail(f"{type(e).__name__}: {e}")
    print(f"COMMITS={COMMITS}", flush=True)
    print("PYICEBERG COMPAT PASSED", flush=True)


def run(a):
    cat = catalog(a)
    # ---- namespace
    step(f"create_namespace {NS}")
    try:
        cat.create_namespace(NS, {"owner.team": "lake", "comment": "pyiceberg compat"})
    except NamespaceAlreadyExistsError:
        fail(f"namespace {NS} already exists in a fresh metastore")
    try:
        cat.create_namespace(NS)
        fail("create_namespace twice did not raise NamespaceAlreadyExistsError")
    except NamespaceAlreadyExistsError:
        print("    ok: second create_namespace raised NamespaceAlreadyExistsError", flush=True)
    namespaces = cat.list_namespaces()
    if (NS,) not in namespaces or ("default",) not in namespaces:
        fail(f"list_namespaces: want default and {NS} in {namespaces}")
    props = cat.load_namespace_properties(NS)
    if props.get("owner.team") != "lake" or props.get("comment") != "pyiceberg compat":
        fail(f"load_namespace_properties: {props}")
    print(f"    ok: namespace properties {props}", flush=True)

    # ---- table
    step(f"create_table {TABLE}")
    table = cat.create_table(TABLE, schema=SCHEMA, partition_spec=SPEC, properties={"write.format.default": "parquet"})
    if cat.list_tables(NS) != [TABLE]:
        fail(f"list_tables: {cat.list_tables(NS)}, want [{TABLE}]")
    try:
        cat.load_table((NS, "nope"))
        fail("load_table of a missing table did not raise NoSuchTableError")
    except NoSuchTableError:
        print("    ok: load_table of a missing table raised NoSuchTableError", flush=True)

    rows1 = [make_row(1, "a"), make_row(2, "a"), make_row(3, "b")]
    rows2 = [make_row(4, "b"), make_row(5, "c")]
    append(table, rows1, "#1")
    expect_rows("scan after append #1", read_rows(table), rows1)
    append(table, rows2, "#2")
    expect_rows("scan after append #2", read_rows(table), rows1 + rows2)
    expect_rows("scan with category == 'b'", read_rows(table, "category == 'b'"), [make_row(3, "b"), make_row(4, "b")])

    # ---- a fresh catalog object (new metastore connection) sees both commits
    step("load_table from a fresh catalog")
    fresh = catalog(a, "fresh", second=True).load_table(TABLE)
    if fresh.metadata_location != table.metadata_location:
        fail(f"fresh load: metadata_location {fresh.metadata_location}, want {table.metadata_location}")
    if len(fresh.snapshots()) != 2:
        fail(f"fresh load: {len(fresh.snapshots())} snapshots, want 2")
    expect_rows("scan from a fresh catalog", read_rows(fresh), rows1 + rows2)
    if fresh.schema().as_struct() != SCHEMA.as_struct():
        fail(f"fresh load: schema {fresh.schema()}, want {SCHEMA}")

    check_lock_exclusion(a)
    rows = stale_commit_race(a)
    concurrent_appenders(a, rows)

    # ---- drop
    step(f"drop_table {TABLE}, drop_namespace {NS}")
    cat.drop_table(TABLE)
    if cat.list_tables(NS):
        fail(f"list_tables after drop_table: {cat.list_tables(NS)}")
    try:
        cat.load_table(TABLE)
        fail("load_table after drop_table did not raise NoSuchTableError")
    except NoSuchTableError:
        pass
    cat.drop_namespace(NS)
    if (NS,) in cat.list_namespaces():
        fail(f"list_namespaces after drop_namespace: {cat.list_namespaces()}")
    print("    ok: dropped", flush=True)


def check_lock_exclusion(a):
    """Two metastore connections: the second EXCLUSIVE table lock must not be granted while the
    first is held, and must be granted (by check_lock) once the first is released."""
    from hive_metastore.ttypes import CheckLockRequest, LockState, UnlockRequest

    step("metastore lock mutual exclusion (lock / check_lock / unlock)")
    c1, c2 = catalog(a, "l1"), catalog(a, "l2", second=True)
    req = c1._create_lock_request(NS, TABLE[1])
    with c1._client as h1, c2._client as h2:
        l1 = h1.lock(req)
        if l1.state != LockState.ACQUIRED:
            fail(f"first lock on a free table: state {LockState._VALUES_TO_NAMES.get(l1.state)}, want ACQUIRED")
        l2 = h2.lock(c2._create_lock_request(NS, TABLE[1]))
        st = LockState._VALUES_TO_NAMES.get(l2.state)
        if l2.state == LockState.ACQUIRED:
            h1.unlock(UnlockRequest(lockid=l1.lockid))
            h2.unlock(UnlockRequest(lockid=l2.lockid))
            fail("a second EXCLUSIVE lock on the same table was ACQUIRED while the first was held")
        print(f"    ok: second lock while the first is held: {st}", flush=True)
        if l2.state == LockState.WAITING:
            c = h2.check_lock(CheckLockRequest(lockid=l2.lockid))
            if c.state == LockState.ACQUIRED:
                fail("check_lock granted the second lock while the first was held")
            h1.unlock(UnlockRequest(lockid=l1.lockid))
            deadline = time.time() + 10
            while True:
                c = h2.check_lock(CheckLockRequest(lockid=l2.lockid))
                if c.state == LockState.ACQUIRED:
                    break
                if time.time() > deadline:
                    fail(f"check_lock did not grant the waiting lock within 10 s of the first's unlock: "
                         f"{LockState._VALUES_TO_NAMES.get(c.state)}")
                time.sleep(0.2)
            print("    ok: after unlock of the first, check_lock granted the second", flush=True)
            h2.unlock(UnlockRequest(lockid=l2.lockid))
        else:
            h1.unlock(UnlockRequest(lockid=l1.lockid))
        l3 = h1.lock(req)
        if l3.state != LockState.ACQUIRED:
            fail(f"lock after both released: {LockState._VALUES_TO_NAMES.get(l3.state)}, want ACQUIRED")
        h1.unlock(UnlockRequest(lockid=l3.lockid))
        print("    ok: lock free again after unlock", flush=True)


def stale_commit_race(a):
    """Two writers load the same version; the first commit wins. The second must not overwrite
    it: either it fails with CommitFailedException, or (pyiceberg >= 0.10 retries commits
    itself) it is re-applied on top of the winner. Either way no row is lost and the snapshot
    log stays one chain. Returns the rows the table holds afterwards."""
    global COMMITS
    step("stale-base race: two writers from the same version")
    t1 = catalog(a, "w1").load_table(TABLE)
    t2 = catalog(a, "w2", second=True).load_table(TABLE)
    base_rows = read_rows(t1)
    append(t1, [make_row(100, "r")], "winner")
    want = base_rows + [make_row(100, "r")]
    try:
        t2.append(batch([make_row(200, "r")]))
        COMMITS += 1
        want.append(make_row(200, "r"))
        print("    ok: the stale writer's commit was retried on top of the winner's", flush=True)
    except CommitFailedException as e:
        print(f"    ok: the stale writer failed cleanly: CommitFailedException: {e}", flush=True)
    final = catalog(a, "check").load_table(TABLE)
    want.sort(key=lambda r: r["id"])
    expect_rows("after the race", read_rows(final), want)
    check_chain(final)
    return want


def check_chain(table):
    snaps = table.snapshots()
    for prev, cur in zip(snaps, snaps[1:]):
        if cur.parent_snapshot_id != prev.snapshot_id:
            fail(f"snapshot log is not a chain: {cur.snapshot_id} has parent {cur.parent_snapshot_id}, "
                 f"want {prev.snapshot_id}")
    print(f"    ok: {len(snaps)} snapshots in one chain", flush=True)


def concurrent_appenders(a, before_rows):
    """Two threads, each with its own catalog, append N batches at once, retrying on
    CommitFailedException. Every row must land exactly once, and nothing else may fail."""
    global COMMITS
    n = a.appends_per_writer
    step(f"two concurrent appenders, {n} appends each")
    errors, retries, lock = [], [0, 0], threading.Lock()

    def writer(w):
        global COMMITS
        cat = catalog(a, f"writer{w}", second=(w == 1))
        for k in range(n):
            rows = [make_row(1000 * (w + 1) + k, f"w{w}")]
            for attempt in range(30):
                try:
                    tbl = cat.load_table(TABLE)
                    tbl.append(batch(rows))
                    with lock:
                        COMMITS += 1
                    break
                except CommitFailedException as e:
                    with lock:
                        retries[w] += 1
                    print(f"    writer {w} append {k}: CommitFailedException (retry {attempt + 1}): {e}", flush=True)
                    time.sleep(0.05 * (attempt + 1))
                except Exception as e:  # noqa: BLE001
                    errors.append(f"writer {w} append {k}: {type(e).__name__}: {e}\n{traceback.format_exc()}")
                    return
            else:
                errors.append(f"writer {w} append {k}: still failing after 30 attempts")
                return

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    if any(t.is_alive() for t in threads):
        fail("concurrent appenders did not finish within 10 minutes")
    if errors:
        fail("concurrent appenders: " + "\n".join(errors))
    print(f"    both writers done in {time.time() - t0:.1f}s; CommitFailedException retries: {retries}", flush=True)
    final = catalog(a, "final").load_table(TABLE)
    got = read_rows(final)
    want = sorted(before_rows + [make_row(1000 * (w + 1) + k, f"w{w}") for w in range(2) for k in range(n)],
                  key=lambda r: r["id"])
    expect_rows("after concurrent appends", got, want)
    check_chain(final)


if __name__ == "__main__":
    socket.setdefaulttimeout(120)
    main()
