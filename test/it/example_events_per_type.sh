# examples/events_per_type.c against the plain reference (weir_window_ref.py) over generated
# events with disorder, late records and invalid lines: events and exact distinct users equal the
# reference's, HyperLogLog distinct sessions within 2% of the exact count, window by window.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$WEIR_REL_BIN/weir-gen" --seed 5 --events 50000 --products 50 --users 3000 --rate 200 \
    --disorder-ms 4000 --late 0.01 |
    sed -e '100a not json' -e '2000a {"event_type":"VIEW","user_id":"u1"}' \
        -e '3000a {"event_type":"VIEW","timestamp":"yesterday"}' >"$tmp/in.jsonl"
"$WEIR_EXAMPLES/events_per_type" <"$tmp/in.jsonl" >"$tmp/example.out" 2>"$tmp/example.err"
cat >"$tmp/cfg.json" <<'CFG'
{"kind": "tumble", "W": 10000, "ooo": 5000, "L": 0, "emit": "final", "keys": ["event_type"],
 "where": [], "aggs": ["count() as events", "count_distinct(user_id) as users",
                       "count_distinct(metadata.session_id) as sessions"]}
CFG
/usr/bin/python3 "$WEIR_ROOT/test/it/weir_window_ref.py" run "$tmp/in.jsonl" "$tmp/cfg.json" \
    >"$tmp/ref.out" 2>/dev/null
/usr/bin/python3 - "$tmp/ref.out" "$tmp/example.out" <<'PY'
import json, sys
def load(p):
    out = {}
    for line in open(p):
        o = json.loads(line)
        k = (o["event_type"], o["window_start"], o["window_end"])
        assert k not in out, "two firings of %s" % (k,)
        out[k] = o
    return out
ref, ex = load(sys.argv[1]), load(sys.argv[2])
if set(ref) != set(ex):
    sys.exit("FAIL: windows differ: only in reference %s, only in example %s"
             % (sorted(set(ref) - set(ex))[:3], sorted(set(ex) - set(ref))[:3]))
worst = 0.0
for k, r in ref.items():
    e = ex[k]
    if (e["events"], e["users"]) != (r["events"], r["users"]):
        sys.exit("FAIL: %s: example %s, reference %s" % (k, e, r))
    worst = max(worst, abs(e["sessions"] - r["sessions"]) / r["sessions"])
if worst > 0.02:
    sys.exit("FAIL: HyperLogLog sessions off by %.2f%%" % (100 * worst))
if len(ref) < 30:
    sys.exit("FAIL: only %d windows" % len(ref))
print("ok: %d windows as the reference computes them; sessions within %.2f%%"
      % (len(ref), 100 * worst))
PY
cat "$tmp/example.err"
