#!/usr/bin/python3
"""Helpers of the DynamoDB integration tests, with boto3 as the independent client.

  free-port                              print a free 127.0.0.1 port
  wait URL                               wait until a DynamoDB endpoint answers
  create-table URL TABLE PK              create (PK S, window_start S), PAY_PER_REQUEST
  gen OUT --products N --windows W [--seed S] [--global] [--late-share F]
                                         firing JSON lines with late firings of earlier windows
  check URL TABLE FIRINGS [--pk NAME]    the table holds exactly the last firing of every
                                         (key, window_start) of FIRINGS, nothing else
  query-check URL TABLE FIRINGS KEY FROM TO  weir-ddb query output (stdin) equals boto3's Query
  baseline URL TABLE --items N --threads T   items/s boto3 batch_write_item achieves
  raw-baseline URL TABLE --items N --threads T  items/s of pre-built requests (peer ceiling)
"""
import json
import random
import socket
import sys
import threading
import time

import boto3
from botocore.config import Config


def client(url):
    return boto3.client(
        "dynamodb", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 10, "mode": "standard"},
                      max_pool_connections=64))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url, timeout=30):
    c = client(url)
    deadline = time.time() + timeout
    while True:
        try:
            c.list_tables()
            return
        except Exception as e:  # noqa: BLE001 - any failure means not ready yet
            if time.time() > deadline:
                raise SystemExit(f"dynamodb endpoint {url} not ready: {e}")
            time.sleep(0.1)


def create_table(url, table, pk):
    c = client(url)
    c.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": pk, "AttributeType": "S"},
                              {"AttributeName": "window_start", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": pk, "KeyType": "HASH"},
                   {"AttributeName": "window_start", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST")
    c.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.2})


def iso(ms):
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03dZ" % (ms % 1000)


def gen(out, products, windows, seed, is_global, late_share):
    rnd = random.Random(seed)
    base = 1704067200000
    counts = {}
    lines = []

    def fire(p, w, late):
        key = (p, w)
        u, e = counts.get(key, (0, 0))
        u, e = u + rnd.randint(0 if late else 1, 3), e + rnd.randint(1, 5)
        counts[key] = (u, e)
        rec = {}
        if not is_global:
            rec["product_id"] = p
        rec.update(window_start=iso(base + w * 60000), window_end=iso(base + (w + 1) * 60000),
                   unique_user_count=u, event_count=e)
        if late:
            rec["late"] = True
        lines.append(json.dumps(rec, separators=(",", ":")))

    keys = ["all"] if is_global else [f"p{i}" if i % 7 else f"prod \"{i}\"/é" for i in range(products)]
    for w in range(windows):
        for p in keys:
            fire(p, w, False)
            # Late firings: the same window again right away (same batch) or an earlier one.
            while rnd.random() < late_share:
                fire(p, max(0, w - rnd.randint(0, 2)), True)
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(lines)} firings, {len(counts)} windows", file=sys.stderr)


def last_firings(path, pk):
    want = {}
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            key = (r.get(pk, "all") if pk != "window" else "all", r["window_start"])
            want[key] = r
    return want


def scan(url, table):
    c = client(url)
    items, kw = [], {"TableName": table, "ConsistentRead": True}
    while True:
        page = c.scan(**kw)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def check(url, table, path, pk):
    want = last_firings(path, pk)
    got = {}
    bad = 0
    for it in scan(url, table):
        key = (it[pk]["S"], it["window_start"]["S"])
        if key in got:
            bad += 1
            print(f"duplicate item {key}")
        got[key] = it
    for key, r in want.items():
        it = got.get(key)
        if it is None:
            bad += 1
            print(f"missing item {key}")
            continue
        exp = {"window_end": {"S": r["window_end"]},
               "unique_user_count": {"N": str(r["unique_user_count"])},
               "event_count": {"N": str(r["event_count"])}}
        for attr, v in exp.items():
            if it.get(attr) != v:
                bad += 1
                print(f"item {key}: {attr} is {it.get(attr)}, the last firing has {v}")
        extra = set(it) - set(exp) - {pk, "window_start"}
        if extra:
            bad += 1
            print(f"item {key}: unexpected attributes {sorted(extra)}")
    for key in got.keys() - want.keys():
        bad += 1
        print(f"unexpected item {key}")
    print(f"checked {len(want)} windows against {len(got)} items: {bad} problems")
    return 1 if bad or not want else 0


def query_check(url, table, path, key, lo, hi):
    c = client(url)
    resp = c.query(TableName=table, ConsistentRead=True,
                   KeyConditionExpression="product_id = :p AND window_start BETWEEN :a AND :b",
                   ExpressionAttributeValues={":p": {"S": key}, ":a": {"S": lo}, ":b": {"S": hi}})
    want = [{"product_id": it["product_id"]["S"], "window_start": it["window_start"]["S"],
             "window_end": it["window_end"]["S"],
             "unique_user_count": int(it["unique_user_count"]["N"]),
             "event_count": int(it["event_count"]["N"])} for it in resp["Items"]]
    got = [json.loads(line) for line in sys.stdin if line.strip()]
    if got != want or not want:
        print(f"query mismatch for {key} [{lo}, {hi}]:\n weir:  {got}\n boto3: {want}")
        return 1
    print(f"query of {key}: {len(got)} items equal boto3's")
    return 0


def baseline(url, table, n, threads):
    """boto3 BatchWriteItem of 25 items from `threads` threads: the peer's own rate."""
    c = client(url)
    per = n // threads

    def work(t):
        for start in range(0, per, 25):
            reqs = [{"PutRequest": {"Item": {
                "product_id": {"S": f"b{t}-{(start + i) % 1000}"},
                "window_start": {"S": iso(1704067200000 + (start + i) // 1000 * 60000)},
                "window_end": {"S": iso(1704067260000)},
                "unique_user_count": {"N": "1"}, "event_count": {"N": "2"}}}}
                for i in range(min(25, per - start))]
            items = {table: reqs}
            while items:
                items = c.batch_write_item(RequestItems=items).get("UnprocessedItems") or None

    t0 = time.time()
    ths = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    dt = time.time() - t0
    print(f"boto3 baseline: {per * threads} items in {dt:.3f}s = {per * threads / dt:.0f} items/s "
          f"({threads} threads)")


def raw_baseline(url, table, n, threads):
    """Pre-built 25-item BatchWriteItem bodies over keep-alive connections from `threads`
    threads, with a fixed (unchecked by dynalite) Authorization: what dynalite accepts when
    the client costs almost nothing."""
    import http.client
    from urllib.parse import urlsplit
    u = urlsplit(url)
    per = n // threads // 25
    bodies = [[json.dumps({"RequestItems": {table: [{"PutRequest": {"Item": {
        "product_id": {"S": f"r{t}-{(b * 25 + i) % 1000}"},
        "window_start": {"S": iso(1704067200000 + (b * 25 + i) // 1000 * 60000)},
        "window_end": {"S": iso(1704067260000)},
        "unique_user_count": {"N": "1"}, "event_count": {"N": "2"}}}} for i in range(25)]}})
        for b in range(per)] for t in range(threads)]
    hdrs = {"Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.BatchWriteItem", "X-Amz-Date": "20240101T000000Z",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/"
                             "aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64}
    unprocessed = [0]

    def work(t):
        c = http.client.HTTPConnection(u.hostname, u.port)
        for body in bodies[t]:
            c.request("POST", "/", body=body, headers=hdrs)
            r = c.getresponse()
            data = json.loads(r.read())
            if r.status != 200 or data.get("UnprocessedItems"):
                unprocessed[0] += 1

    t0 = time.time()
    ths = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    dt = time.time() - t0
    total = per * 25 * threads
    print(f"raw baseline: {total} items in {dt:.3f}s = {total / dt:.0f} items/s ({threads} "
          f"connections, {unprocessed[0]} failed requests)")


def main(argv):
    cmd = argv[1]
    if cmd == "free-port":
        print(free_port())
    elif cmd == "wait":
        wait(argv[2])
    elif cmd == "create-table":
        create_table(argv[2], argv[3], argv[4])
    elif cmd == "gen":
        import argparse
        ap = argparse.ArgumentParser()
        ap.add_argument("out")
        ap.add_argument("--products", type=int, default=50)
        ap.add_argument("--windows", type=int, default=20)
        ap.add_argument("--seed", type=int, default=1)
        ap.add_argument("--global", dest="is_global", action="store_true")
        ap.add_argument("--late-share", type=float, default=0.3)
        a = ap.parse_args(argv[2:])
        gen(a.out, a.products, a.windows, a.seed, a.is_global, a.late_share)
    elif cmd == "check":
        pk = argv[argv.index("--pk") + 1] if "--pk" in argv else "product_id"
        return check(argv[2], argv[3], argv[4], pk)
    elif cmd == "query-check":
        return query_check(*argv[2:8])
    elif cmd == "baseline":
        n = int(argv[argv.index("--items") + 1])
        t = int(argv[argv.index("--threads") + 1])
        baseline(argv[2], argv[3], n, t)
    elif cmd == "raw-baseline":
        n = int(argv[argv.index("--items") + 1])
        t = int(argv[argv.index("--threads") + 1])
        raw_baseline(argv[2], argv[3], n, t)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
