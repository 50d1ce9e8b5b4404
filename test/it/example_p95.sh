# examples/p95_price.c (a custom aggregate through weir_gagg_ops): the nearest-rank 95th
# percentile of total_price per product per minute, over generated orders whose disorder stays
# inside the example's out-of-orderness (nothing late), computed here by sorting each group:
# integer and double prices, missing and mistyped ones skipped (a null p95 when none is left).
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp/orders.jsonl" "$tmp/expected" <<'PY'
import datetime, json, math, random, sys
rnd = random.Random(17)
t0 = 1704067200000
groups, lines = {}, []
t = t0
for i in range(30000):
    t += rnd.randint(0, 40)
    ts = t - rnd.randint(0, 3000)  # disorder below the example's 5 s
    o = {"order_id": "o%d" % i, "product_id": "p%d" % rnd.randint(1, 6)}
    r = rnd.random()
    if r < 0.6:
        o["total_price"] = round(rnd.uniform(1, 500), 2)
    elif r < 0.9:
        o["total_price"] = rnd.randint(1, 500)
    elif r < 0.95:
        o["total_price"] = str(rnd.randint(1, 500))  # mistyped: skipped
    # else missing: skipped
    if i % 997 == 0:
        o["product_id"] = "p9"  # a rare product: some of its minutes have one order
        o.pop("total_price", None)  # and no price at all: p95 null
    d = datetime.datetime.fromtimestamp(ts / 1000, datetime.timezone.utc)
    o["timestamp"] = d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ts % 1000)
    lines.append(json.dumps(o))
    g = groups.setdefault((o["product_id"], ts - ts % 60000), [0, []])
    g[0] += 1
    p = o.get("total_price")
    if isinstance(p, (int, float)):
        g[1].append(float(p))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
with open(sys.argv[2], "w") as f:
    for (k, start), (n, ps) in sorted(groups.items()):
        ps.sort()
        p95 = ps[math.ceil(0.95 * len(ps)) - 1] if ps else None
        iso = lambda ms: datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc) \
            .strftime("%Y-%m-%dT%H:%M:%S.000Z")
        f.write(json.dumps({"product_id": k, "window_start": iso(start),
                            "window_end": iso(start + 60000), "orders": n,
                            "p95_price": p95}) + "\n")
PY
"$WEIR_EXAMPLES/p95_price" <"$tmp/orders.jsonl" >"$tmp/out"
/usr/bin/python3 - "$tmp/expected" "$tmp/out" <<'PY'
import json, sys
key = lambda o: (o["product_id"], o["window_start"])
exp = sorted((json.loads(l) for l in open(sys.argv[1])), key=key)
out = sorted((json.loads(l) for l in open(sys.argv[2])), key=key)
if exp != out:
    diff = [(e, o) for e, o in zip(exp, out) if e != o][:3]
    sys.exit("FAIL: %d firings expected, %d written; first differences %s"
             % (len(exp), len(out), diff))
nulls = sum(o["p95_price"] is None for o in out)
if not nulls:
    sys.exit("FAIL: no window without a price: the null case is not exercised")
print("ok: %d firings as computed here (%d with a null p95)" % (len(out), nulls))
PY
