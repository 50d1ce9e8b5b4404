# examples/sessions_per_user.conf: sessions per user with a 30 s gap, over generated bursts of
# activity (gaps within a burst up to 30 s, so that touching events merge; pauses of more than
# 30 s between bursts) whose disorder stays inside the out-of-orderness, against the sessions
# computed here by sorting each user's events and cutting where two are more than 30 s apart.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp/events.jsonl" "$tmp/expected" <<'PY'
import datetime, json, random, sys
rnd = random.Random(23)
G = 30000
iso = lambda ms: datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc) \
    .strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)
events = []
for u in range(40):
    t = 1704067200000 + rnd.randint(0, 60000)
    for burst in range(rnd.randint(1, 6)):
        for i in range(rnd.randint(1, 25)):
            t += rnd.choice([rnd.randint(0, 5000), rnd.randint(20000, 29999), G])
            events.append({"user_id": "u%d" % u, "product_id": rnd.randint(1, 9),
                           "event_type": rnd.choice(["VIEW", "ADD_TO_CART", "PURCHASE"]),
                           "ts": t})
        t += G + 1 + rnd.randint(0, 200000)  # a pause: the next burst is a new session
events.sort(key=lambda e: e["ts"] - rnd.randint(0, 4000))  # disorder below 5 s
with open(sys.argv[1], "w") as f:
    for e in events:
        o = dict(e)
        o["timestamp"] = iso(o.pop("ts"))
        f.write(json.dumps(o) + "\n")
by_user = {}
for e in events:
    by_user.setdefault(e["user_id"], []).append(e)
out = []
for u, es in by_user.items():
    es.sort(key=lambda e: e["ts"])
    cur = [es[0]]
    for e in es[1:] + [None]:
        if e is not None and e["ts"] - cur[-1]["ts"] <= G:
            cur.append(e)
            continue
        out.append({"user_id": u, "window_start": iso(cur[0]["ts"]),
                    "window_end": iso(cur[-1]["ts"] + G), "events": len(cur),
                    "products": len({str(x["product_id"]) for x in cur}),
                    "types": len({x["event_type"] for x in cur})})
        cur = [e]
with open(sys.argv[2], "w") as f:
    for o in out:
        f.write(json.dumps(o) + "\n")
PY
"$WEIR_BIN/weir-window" --config "$WEIR_ROOT/examples/sessions_per_user.conf" \
    --input "$tmp/events.jsonl" --output "$tmp/out" 2>"$tmp/summary"
/usr/bin/python3 - "$tmp/expected" "$tmp/out" <<'PY'
import json, sys
key = lambda o: (o["user_id"], o["window_start"])
exp = sorted((json.loads(l) for l in open(sys.argv[1])), key=key)
out = sorted((json.loads(l) for l in open(sys.argv[2])), key=key)
if exp != out:
    diff = [(e, o) for e, o in zip(exp, out) if e != o][:3]
    sys.exit("FAIL: %d sessions expected, %d written; first differences %s"
             % (len(exp), len(out), diff))
print("ok: %d sessions of %d users as computed here" % (len(out), len({o["user_id"] for o in out})))
PY
grep -q '"late_dropped":0,' "$tmp/summary"
