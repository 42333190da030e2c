"""Read a Propolis table (or a worker token) over Arrow Flight with pyarrow.flight.

    python flight_client.py --location grpc://HOST:PORT --user alice --table db.t
    python flight_client.py --location grpc://HOST:PORT --cmd WORKER_TOKEN
    python flight_client.py --location grpc://HOST:PORT --user carol --password PW --table db.t
    python flight_client.py --location grpc://HOST:PORT --user alice --table db.t --info
    python flight_client.py --location grpc://HOST:PORT --user steward --detokenize \
        --table db.t --key k1 --values '["tok_1", null]'

Rows go to stdout as JSON lines (one object per row, columns in schema order), sorted by their
text so two reads of the same table compare equal whichever worker served which endpoint.
Every endpoint is read at its own location (the fleet spreads them); an endpoint without a
location is read from --location. --info prints the flight info as one JSON object instead.
--detokenize prints the action's JSON result. A Flight error exits 2 with
"FLIGHT ERROR <ExceptionClass>: message" on stderr; a bad argument exits 1.
"""

import argparse
import base64
import datetime
import decimal
import json
import sys

import pyarrow.flight as flight


def jsonable(v):
    if isinstance(v, bytes):
        return "base64:" + base64.b64encode(v).decode()
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, datetime.timedelta):
        return v.total_seconds()
    if isinstance(v, decimal.Decimal):
        return str(v)
    raise TypeError(f"cannot print a {type(v).__name__} as JSON")


def descriptor(args):
    if args.cmd is not None:
        return flight.FlightDescriptor.for_command(args.cmd.encode())
    db, sep, table = args.table.partition(".")
    if not sep or not db or not table:
        raise SystemExit(f"--table {args.table!r}: want db.table")
    return flight.FlightDescriptor.for_path(db, table)


def call_options(args, client):
    headers = []
    if args.password is not None:
        key, value = client.authenticate_basic_token(args.user, args.password)
        headers.append((key, value))
    elif args.user:
        headers.append((b"x-propolis-user", args.user.encode()))
        if args.groups:
            headers.append((b"x-propolis-groups", args.groups.encode()))
    return flight.FlightCallOptions(headers=headers)


def read_rows(args, client, options, info):
    clients = {args.location: client}
    lines = []
    for ep in info.endpoints:
        loc = ep.locations[0].uri.decode() if ep.locations else args.location
        if loc not in clients:
            clients[loc] = flight.connect(loc)
        table = clients[loc].do_get(ep.ticket, options).read_all()
        for row in table.to_pylist():
            lines.append(json.dumps(row, default=jsonable, ensure_ascii=False))
    for c in clients.values():
        c.close()
    lines.sort()
    return lines


def info_json(info):
    return json.dumps({
        "schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in info.schema],
        "total_records": info.total_records,
        "total_bytes": info.total_bytes,
        "endpoints": [[l.uri.decode() for l in ep.locations] for ep in info.endpoints],
    }, sort_keys=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--location", required=True, help="grpc://host:port of a worker")
    p.add_argument("--user", help="the user to read as (x-propolis-user, or the basic-auth user with --password)")
    p.add_argument("--groups", help="comma-separated groups (x-propolis-groups)")
    p.add_argument("--password", help="authenticate with the basic-auth Handshake instead of asserting --user")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--table", help="db.table")
    what.add_argument("--cmd", help="a worker token (or a JSON command) as the descriptor")
    p.add_argument("--info", action="store_true", help="print the flight info, not the rows")
    p.add_argument("--detokenize", action="store_true", help="run the detokenize action on --values")
    p.add_argument("--key", help="detokenize: the key id")
    p.add_argument("--values", help="detokenize: a JSON list of tokens (null stays null)")
    args = p.parse_args()
    if args.password is not None and not args.user:
        p.error("--password needs --user")
    if args.detokenize and (args.table is None or args.key is None or args.values is None):
        p.error("--detokenize needs --table, --key and --values")

    client = flight.connect(args.location)
    try:
        options = call_options(args, client)
        if args.detokenize:
            body = json.dumps({"table": args.table, "key": args.key, "values": json.loads(args.values)})
            results = list(client.do_action(flight.Action("detokenize", body.encode()), options))
            for r in results:
                print(json.dumps(json.loads(r.body.to_pybytes()), sort_keys=True))
            return 0
        info = client.get_flight_info(descriptor(args), options)
        if args.info:
            print(info_json(info))
            return 0
        for line in read_rows(args, client, options, info):
            print(line)
        return 0
    except flight.FlightError as e:
        print(f"FLIGHT ERROR {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # pyarrow maps some gRPC codes to plain Arrow errors
        if type(e).__module__.startswith("pyarrow"):
            print(f"FLIGHT ERROR {type(e).__name__}: {e}", file=sys.stderr)
            return 2
        raise
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
