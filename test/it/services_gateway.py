#!/usr/bin/python3
"""Checks of the api-gateway and activity-service, driven by services_gateway.sh.

  routes GW                      every route through the gateway, good and bad input
  e2e GW ROOT WORK               events through the gateway == the reference model's final counts
  expect GW METHOD PATH STATUS [MAX_S] [BODY]   one call: its status (a list: a|b) within MAX_S
  until GW METHOD PATH STATUS [WAIT_S] [BODY]   retries until the call answers STATUS
  fill GW N                      posts batches of 100 until a 503 with Retry-After (<= N batches)
"""
import json
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def call(base, method, path, body=None, ctype="application/json", timeout=30, headers=None):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None and ctype:
        req.add_header("Content-Type", ctype)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None), dict(r.headers)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = {"raw": raw[:200]}
        return e.code, doc, dict(e.headers)


def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)


def expect(base, method, path, status, body=None, ctype="application/json", error=None):
    st, doc, hdr = call(base, method, path, body, ctype)
    check(st == status, f"{method} {path}: {st} {doc}, expected {status}")
    if status >= 400:
        check(isinstance(doc, dict) and isinstance(doc.get("error"), str) and "detail" in doc,
              f"{method} {path}: not a JSON error: {doc}")
        if error:
            check(doc["error"] == error, f"{method} {path}: error {doc['error']}, expected {error}")
    return doc, hdr


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def routes(gw):
    # products, with the query string and Location passed through
    p, hdr = expect(gw, "POST", "/products", 201,
                    {"name": "Tea, green; 'x' OR 1=1 --", "price": 4.5, "category": "tea ☕",
                     "stock_quantity": 3})
    check(hdr.get("Location") == f"/products/{p['id']}", f"Location not passed on: {hdr}")
    check(p["name"] == "Tea, green; 'x' OR 1=1 --", "name not verbatim")
    got, _ = expect(gw, "GET", f"/products/{p['id']}", 200)
    check(got == p, f"GET /products/id differs: {got} vs {p}")
    page, _ = expect(gw, "GET", "/products?category=tea%20%E2%98%95&limit=5", 200)
    check([x["id"] for x in page["products"]] == [p["id"]] and page["limit"] == 5,
          f"query string not passed on: {page}")
    expect(gw, "GET", "/products?limit=0", 400, error="bad_request")
    expect(gw, "PUT", f"/products/{p['id']}", 200, {"price": 5})
    expect(gw, "POST", "/products", 400, b'{"name": "x", "price": ', error="bad_request")
    expect(gw, "POST", "/products", 400, {"name": "x", "price": "1"}, error="bad_request")
    expect(gw, "POST", "/products", 400, {"price": 1}, error="bad_request")
    expect(gw, "POST", "/products", 415, {"name": "x", "price": 1}, ctype="text/plain")
    expect(gw, "POST", "/products", 413, b"{" + b" " * (10 * 1024 * 1024) + b"}")
    expect(gw, "GET", "/products/999999", 404, error="not_found")
    expect(gw, "DELETE", "/products/abc", 404)
    expect(gw, "GET", "/products/a%20b%3Fc", 404, error="not_found")  # encoded again, not a 502
    expect(gw, "GET", "/customers/%E2%98%95", 404, error="not_found")
    # customers and orders
    c, _ = expect(gw, "POST", "/customers", 201, {"name": "Zoë", "email": "zoe@example.com"})
    expect(gw, "POST", "/customers", 409, {"name": "Z2", "email": "zoe@example.com"})
    o, _ = expect(gw, "POST", "/orders", 201,
                  {"customer_id": c["id"], "product_id": p["id"], "quantity": 2})
    expect(gw, "PATCH", f"/orders/{o['id']}", 200, {"status": "PAID"})
    expect(gw, "PATCH", f"/orders/{o['id']}", 409, {"status": "CREATED"})
    expect(gw, "POST", "/orders", 409, {"customer_id": c["id"], "product_id": p["id"],
                                        "quantity": 2})
    lst, _ = expect(gw, "GET", f"/orders?customer_id={c['id']}", 200)
    check(len(lst["orders"]) == 1, f"orders of the customer: {lst}")
    # unknown routes and methods (the gateway's own)
    expect(gw, "GET", "/nowhere", 404, error="not_found")
    expect(gw, "GET", "/products/1/extra", 404)
    _, hdr = expect(gw, "GET", "/events", 405, error="method_not_allowed")
    check("POST" in hdr.get("Allow", ""), f"Allow: {hdr}")
    expect(gw, "DELETE", "/analytics/products/1", 405)
    # events: one, a batch with bad lines, wrong types, empty
    ev = {"user_id": "u1", "product_id": 42, "event_type": "VIEW_PRODUCT",
          "timestamp": "2024-01-01T12:00:00Z", "metadata": {"session_id": "abc"}}
    r, _ = expect(gw, "POST", "/events", 202, ev)
    check(r == {"accepted": 1, "rejected": []}, f"one event: {r}")
    expect(gw, "POST", "/events", 400, {"user_id": "u1", "timestamp": 1}, error="bad_request")
    expect(gw, "POST", "/events", 400, b'{"user_id": "u1", "product_id": "1", "timest',
           error="bad_request")
    expect(gw, "POST", "/events", 400, [ev], error="bad_request")
    lines = [json.dumps(ev), "", "not json", json.dumps({**ev, "timestamp": "yesterday"}),
             json.dumps({**ev, "user_id": None}), json.dumps({**ev, "product_id": [1]}),
             json.dumps({**ev, "timestamp": 1704110400}), '{"a":']
    r, _ = expect(gw, "POST", "/events", 202, "\n".join(lines).encode(), "application/x-ndjson")
    check(r["accepted"] == 2, f"batch accepted: {r}")
    check([x["line"] for x in r["rejected"]] == [3, 4, 5, 6, 8], f"batch rejected: {r}")
    check(r["rejected"][1]["reason"].startswith("bad_timestamp"), f"reason: {r}")
    expect(gw, "POST", "/events", 400, b"\n\n", "application/x-ndjson")
    # analytics: bad arguments, a product without windows
    expect(gw, "GET", "/analytics/products/1?from=yesterday", 400, error="bad_request")
    expect(gw, "GET", "/analytics/products/1?from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z",
           400)
    r, _ = expect(gw, "GET", "/analytics/products/no-such?from=2024-01-01T00:00:00Z", 200)
    check(r["product_id"] == "no-such" and r["windows"] == [], f"empty analytics: {r}")
    st, doc, _ = call(gw, "GET", "/healthz")
    check(st == 200, f"/healthz {st}")
    st, doc, _ = call(gw, "GET", "/readyz")
    check(st == 200, f"/readyz {st} {doc}")
    print("routes: ok")


def e2e(gw, root, work):
    """Events with disorder within the job's 10 s bound, some invalid, over 4 windows ending
    before now, posted through the gateway; the analytics read back equal the reference
    model's final counts."""
    rnd = random.Random(19)
    end = int(time.time() * 1000) // 60000 * 60000
    start = end - 4 * 60000
    base = sorted(rnd.randrange(start, end - 9000) for _ in range(4000))
    events = []
    for t in base:
        t += rnd.randrange(0, 9000)  # disorder under the 10 s of out-of-orderness
        p = str(rnd.choice([1, 1, 1, 2, 2, 3, 4, 5, 6, 7]))
        events.append({"user_id": f"u{rnd.randrange(300)}", "product_id": p,
                       "event_type": rnd.choice(["VIEW_PRODUCT", "ADD_TO_CART", "PURCHASE"]),
                       "timestamp": iso(t) if rnd.random() < 0.7 else t})
    lines = [json.dumps(e) for e in events]
    for i in range(0, len(lines), 97):  # a few invalid lines too
        lines.insert(i, '{"user_id": "x", "timestamp": 1}')
    path = f"{work}/e2e.jsonl"
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    accepted = 0
    for i in range(0, len(lines), 250):
        body = ("\n".join(lines[i:i + 250]) + "\n").encode()
        for _ in range(100):  # a full producer queue: 503, retried as Retry-After says
            st, r, hdr = call(gw, "POST", "/events", body, "application/x-ndjson")
            if st != 503 or hdr.get("Retry-After") is None:
                break
            time.sleep(0.2)
        check(st == 202, f"POST /events batch: {st} {r}")
        accepted += r["accepted"]
    check(accepted == len(events), f"accepted {accepted} of {len(events)}")
    ref = subprocess.run(["/usr/bin/python3", f"{root}/test/it/reference_model.py", path,
                          "product_id", "auto", "0", "60000", "10000", "0", "updates"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    summary = json.loads(ref[-1])
    check(summary["late_dropped"] == 0, f"the model drops late records: {summary}")
    want = {}
    for line in ref[:-1]:
        k, s, e, u, c, _late = json.loads(line)
        want.setdefault(k, {})[iso(s)] = (iso(e), u, c)
    deadline = time.time() + 60
    while True:
        got = {}
        for k in want:
            st, r, _ = call(gw, "GET", f"/analytics/products/{k}?from={iso(start)}&to={iso(end)}")
            check(st == 200, f"analytics {k}: {st} {r}")
            starts = [w["window_start"] for w in r["windows"]]
            check(starts == sorted(starts), f"windows not sorted: {starts}")
            got[k] = {w["window_start"]: (w["window_end"], w["unique_user_count"],
                                          w["event_count"]) for w in r["windows"]}
        if got == want:
            break
        if time.time() > deadline:
            for k in want:
                if got.get(k) != want[k]:
                    print(f"product {k}: got {got.get(k)}\n  want {want[k]}", file=sys.stderr)
            sys.exit("FAIL: the analytics differ from the reference model")
        time.sleep(0.5)
    n = sum(len(v) for v in want.values())
    print(f"e2e: {len(events)} events, {n} windows of {len(want)} products equal the model")


def main(argv):
    cmd, gw = argv[1], "http://" + argv[2]
    if cmd == "routes":
        routes(gw)
    elif cmd == "e2e":
        e2e(gw, argv[3], argv[4])
    elif cmd in ("expect", "until"):
        method, path = argv[3], argv[4]
        statuses = [int(s) for s in argv[5].split("|")]
        limit = float(argv[6]) if len(argv) > 6 else 10
        body = argv[7].encode() if len(argv) > 7 else None
        ctype = "application/x-ndjson" if body and b"\n" in body else "application/json"
        deadline = time.time() + limit
        while True:
            t = time.time()
            st, doc, hdr = call(gw, method, path, body, ctype, timeout=limit + 5)
            took = time.time() - t
            if cmd == "expect" or st in statuses or time.time() > deadline:
                break
            time.sleep(0.2)
        check(st in statuses, f"{method} {path}: {st} {doc}, expected {argv[5]}")
        check(took <= limit, f"{method} {path}: answered in {took:.1f} s, more than {limit} s")
        if st >= 400:
            check(isinstance(doc, dict) and "error" in doc and "detail" in doc,
                  f"not a JSON error: {doc}")
        print(f"{method} {path}: {st} in {took:.2f} s {json.dumps(doc)[:160]}")
    elif cmd == "fill":
        ev = {"user_id": "u", "product_id": "9", "timestamp": "2024-01-01T00:00:00Z"}
        body = ("\n".join(json.dumps(ev) for _ in range(100)) + "\n").encode()
        for i in range(int(argv[3])):
            t = time.time()
            st, doc, hdr = call(gw, "POST", "/events", body, "application/x-ndjson", timeout=10)
            check(time.time() - t < 5, "a POST /events took more than 5 s")
            if st == 503:
                check(hdr.get("Retry-After") == "1", f"no Retry-After passed on: {hdr}")
                print(f"fill: 503 after {i} batches of 100: {doc['detail']}")
                return 0
            check(st == 202, f"POST /events: {st} {doc}")
        sys.exit("FAIL: the producer queue never filled")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
