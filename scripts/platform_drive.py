#!/usr/bin/python3
"""Drives the platform of `make run` through its gateway (stdlib only).

  platform_drive.py GATEWAY_URL EVENTS_OUT.jsonl [--events N] [--seed S] [--wait-s T]

Creates customers and orders, posts generated activity events in JSON-lines batches of 500
(three complete one-minute windows that ended before now, so that the job's idle partitions
close them), waits until the gateway's GET /analytics/products/{id} answers the final counts
of the busiest products, and prints them. Writes every accepted event to EVENTS_OUT.jsonl (for
a reference model). Exit 1 when the analytics do not arrive in time or a call fails.
"""
import json
import random
import sys
import time
import urllib.error
import urllib.request

BATCH = 500


def call(base, method, path, body=None, ctype="application/json"):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"raw": raw.decode("utf-8", "replace")}


def iso(ms):
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03dZ" % (ms % 1000)


def main(argv):
    base, out = argv[1].rstrip("/"), argv[2]
    n_events = int(argv[argv.index("--events") + 1]) if "--events" in argv else 6000
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 42
    wait_s = float(argv[argv.index("--wait-s") + 1]) if "--wait-s" in argv else 40
    rnd = random.Random(seed)

    st, page = call(base, "GET", "/products?limit=1000")
    if st != 200 or not page["products"]:
        sys.exit(f"GET /products: {st} {page}")
    products = [p["id"] for p in page["products"]]

    customers = []
    for i in range(8):
        st, c = call(base, "POST", "/customers",
                     {"name": f"Customer {i}", "email": f"c{i}.{seed}@example.com",
                      "phone": f"+1-555-01{i:02d}", "address": f"{i} Loopback Lane"})
        if st != 201:
            sys.exit(f"POST /customers: {st} {c}")
        customers.append(c["id"])
    changes = 0
    for i in range(12):
        st, o = call(base, "POST", "/orders", {"customer_id": rnd.choice(customers),
                                               "product_id": rnd.choice(products),
                                               "quantity": rnd.randint(1, 3)})
        if st != 201:
            sys.exit(f"POST /orders: {st} {o}")
        changes += 1
        if i % 3 == 0:
            st, o = call(base, "PATCH", f"/orders/{o['id']}", {"status": "PAID"})
            if st != 200:
                sys.exit(f"PATCH /orders: {st} {o}")
            changes += 1
    print(f"   {len(customers)} customers, 12 orders ({changes} order changes) through the gateway")

    # Three complete one-minute windows ending at the last full minute; Zipf-like products.
    now = int(time.time() * 1000)
    end = now // 60000 * 60000
    start = end - 3 * 60000
    weights = [1.0 / (r + 1) ** 1.1 for r in range(len(products))]
    users = [f"u{i}" for i in range(1, 801)]
    times = sorted(rnd.randrange(start, end) for _ in range(n_events))
    kinds = ["VIEW_PRODUCT"] * 8 + ["ADD_TO_CART"] * 3 + ["PURCHASE"]
    events = []
    for t in times:
        p = rnd.choices(products, weights)[0]
        # each product has its own audience, so unique users differ from event counts
        u = rnd.choice(users[: 800 - 600 * products.index(p) // len(products)])
        events.append({"user_id": u, "product_id": str(p), "event_type": rnd.choice(kinds),
                       "timestamp": iso(t), "metadata": {"session_id": f"s{rnd.randrange(10**6)}"}})
    accepted = 0
    with open(out, "w") as f:
        for i in range(0, len(events), BATCH):
            chunk = events[i:i + BATCH]
            body = "".join(json.dumps(e) + "\n" for e in chunk).encode()
            for _ in range(50):
                st, r = call(base, "POST", "/events", body, "application/x-ndjson")
                if st != 503:
                    break
                time.sleep(0.1)
            if st != 202 or r["rejected"]:
                sys.exit(f"POST /events: {st} {r}")
            accepted += r["accepted"]
            for e in chunk:
                f.write(json.dumps(e) + "\n")
    print(f"   {accepted} activity events accepted in batches of {BATCH} "
          f"({iso(start)} .. {iso(end)})")

    # The expected final counts, and the busiest products.
    model = {}
    for e in events:
        w = (int(time.mktime(time.strptime(e["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")))
             - time.timezone) // 60 * 60000
        s = model.setdefault((e["product_id"], w), [set(), 0])
        s[0].add(e["user_id"])
        s[1] += 1
    per_product = {}
    for (p, _), (_, c) in model.items():
        per_product[p] = per_product.get(p, 0) + c
    busiest = sorted(per_product, key=lambda p: (-per_product[p], int(p)))[:3]

    print("== waiting for the windows to close (the job's idle partitions advance with the clock)")
    deadline = time.time() + wait_s
    got = {}
    while time.time() < deadline:
        done = True
        for p in busiest:
            st, r = call(base, "GET", f"/analytics/products/{p}?from={iso(start)}&to={iso(end)}")
            if st != 200:
                done = False
                continue
            got[p] = r["windows"]
            have = {w["window_start"]: (w["unique_user_count"], w["event_count"])
                    for w in r["windows"]}
            want = {iso(w): (len(u), c) for (q, w), (u, c) in model.items() if q == p}
            done = done and have == want
        if done:
            break
        time.sleep(0.5)
    else:
        print("the analytics did not reach the expected counts in time:", file=sys.stderr)
        print(json.dumps(got)[:2000], file=sys.stderr)
        return 1
    print("== unique users per minute of the busiest products, "
          "read back through GET /analytics/products/{id}")
    print(f"{'product_id':>10}  {'window_start':<24}  {'window_end':<24}  {'unique_users':>12}"
          f"  {'events':>6}")
    for p in busiest:
        for w in got[p]:
            print(f"{p:>10}  {w['window_start']:<24}  {w['window_end']:<24}  "
                  f"{w['unique_user_count']:>12}  {w['event_count']:>6}")
    print(f"   equal to the counts of the events posted ({len(busiest)} products x 3 windows)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
