# weir-window against an independent reference (weir_window_ref.py) over generated events with
# disorder, very late records, integer and missing keys, mistyped fields and malformed lines:
# tumble, hop and session windows, several aggregates with where clauses, job-level --where,
# composite and global keys, both emission modes, lateness 0 and above. Then hostile specs:
# each exits 2 with one line naming the flag, and nothing crashes.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$WEIR_BIN/weir-window
ref=$WEIR_ROOT/test/it/weir_window_ref.py
events=${WEIR_WINDOW_EVENTS:-20000}
/usr/bin/python3 "$ref" gen "$events" 11 >"$tmp/in.jsonl"

# Compares two outputs: the same firings for every (key, window), in the same order, values of
# the same JSON type (integers stay integers), doubles within a relative 1e-9 (sums may be
# added in another order across slices and session parts).
compare() {
    /usr/bin/python3 - "$1" "$2" <<'EOF'
import json, os, sys
def load(p):
    groups, n = {}, 0
    for line in open(p):
        o = json.loads(line)
        k = json.dumps({a: b for a, b in o.items() if a not in AGG}, sort_keys=True)
        groups.setdefault(k, []).append(o)
        n += 1
    return groups, n
AGG = set(os.environ["AGG_NAMES"].split(","))
ref, nr = load(sys.argv[1])
job, nj = load(sys.argv[2])
def same(a, b):
    if type(a) != type(b):
        return False
    if isinstance(a, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b
bad = 0
for k in sorted(set(ref) | set(job)):
    r, j = ref.get(k, []), job.get(k, [])
    ok = len(r) == len(j) and all(
        list(x) == list(y) and all(same(x[f], y[f]) for f in x) for x, y in zip(r, j))
    if not ok:
        bad += 1
        if bad <= 3:
            print("differs for", k)
            print("  reference:", r[:4])
            print("  job:      ", j[:4])
print("firings: reference %d, job %d, differing groups %d" % (nr, nj, bad))
sys.exit(1 if bad or nr != nj else 0)
EOF
}

check() { # name, config JSON, job flags...
    local name=$1 cfg=$2
    shift 2
    echo "$cfg" >"$tmp/cfg.json"
    /usr/bin/python3 "$ref" run "$tmp/in.jsonl" "$tmp/cfg.json" >"$tmp/ref.out" 2>"$tmp/ref.counts"
    "$bin" --input "$tmp/in.jsonl" --output "$tmp/job.out" "$@" 2>"$tmp/summary.json"
    AGG_NAMES=$(/usr/bin/python3 -c '
import json, sys
sys.path.insert(0, sys.argv[2])
from weir_window_ref import parse_agg
print(",".join(parse_agg(a)["name"] for a in json.load(open(sys.argv[1]))["aggs"]))' \
        "$tmp/cfg.json" "$WEIR_ROOT/test/it")
    export AGG_NAMES
    if ! compare "$tmp/ref.out" "$tmp/job.out"; then
        echo "FAIL $name"
        exit 1
    fi
    /usr/bin/python3 - "$tmp/ref.counts" "$tmp/summary.json" "$name" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
got = {"records": s["records"], "invalid": s["invalid"], "filtered": s["filtered"],
       "late_dropped": s["late_dropped"]}
if got != r:
    print("FAIL %s: counters %s, reference %s" % (sys.argv[3], got, r))
    sys.exit(1)
print("ok %s: %s" % (sys.argv[3], got))
EOF
}

AGGS='"count()", "sum(total_price) where status != cancelled as revenue", "max(total_price)",
      "min(total_price) where quantity >= 2", "avg(quantity)", "count_distinct(user_id)",
      "count(total_price)", "sum(metadata.score) where metadata.channel = web as web_score"'
agg_flags=(--agg 'count()' --agg 'sum(total_price) where status != cancelled as revenue'
    --agg 'max(total_price)' --agg 'min(total_price) where quantity >= 2' --agg 'avg(quantity)'
    --agg 'count_distinct(user_id)' --agg 'count(total_price)'
    --agg 'sum(metadata.score) where metadata.channel = web as web_score')

check tumble-updates \
    "{\"kind\":\"tumble\",\"W\":60000,\"ooo\":5000,\"L\":0,\"emit\":\"updates\",\"keys\":[\"product_id\"],\"where\":[],\"aggs\":[$AGGS]}" \
    --key product_id --window tumble:1m --out-of-orderness 5s "${agg_flags[@]}"
check tumble-offset-composite-late \
    "{\"kind\":\"tumble\",\"W\":30000,\"O\":7000,\"ooo\":3000,\"L\":20000,\"emit\":\"updates\",\"keys\":[\"region\",\"product_id\"],\"where\":[\"status != pending\"],\"aggs\":[$AGGS]}" \
    --key region,product_id --window tumble:30s@7s --out-of-orderness 3s --allowed-lateness 20s \
    --where 'status != pending' "${agg_flags[@]}"
check tumble-final \
    "{\"kind\":\"tumble\",\"W\":60000,\"ooo\":2000,\"L\":30000,\"emit\":\"final\",\"keys\":[\"product_id\"],\"where\":[\"quantity > 1\", \"metadata.score >= -3\"],\"aggs\":[$AGGS]}" \
    --key product_id --window tumble:1m --out-of-orderness 2s --allowed-lateness 30s --emit final \
    --where 'quantity > 1' --where 'metadata.score >= -3' "${agg_flags[@]}"
check hop-global-updates \
    "{\"kind\":\"hop\",\"W\":60000,\"S\":15000,\"ooo\":4000,\"L\":10000,\"emit\":\"updates\",\"keys\":[],\"where\":[],\"aggs\":[$AGGS]}" \
    --global --window hop:1m/15s --out-of-orderness 4s --allowed-lateness 10s "${agg_flags[@]}"
check hop-keyed-final \
    "{\"kind\":\"hop\",\"W\":50000,\"S\":20000,\"ooo\":4000,\"L\":0,\"emit\":\"final\",\"keys\":[\"product_id\"],\"where\":[\"status = paid\"],\"aggs\":[$AGGS]}" \
    --key product_id --window hop:50s/20s --out-of-orderness 4s --emit final \
    --where 'status = "paid"' "${agg_flags[@]}"
check session-updates \
    "{\"kind\":\"session\",\"G\":20000,\"ooo\":5000,\"L\":15000,\"emit\":\"updates\",\"keys\":[\"user_id\"],\"where\":[],\"aggs\":[$AGGS]}" \
    --key user_id --window session:20s --out-of-orderness 5s --allowed-lateness 15s "${agg_flags[@]}"
check session-final \
    "{\"kind\":\"session\",\"G\":8000,\"ooo\":1000,\"L\":0,\"emit\":\"final\",\"keys\":[\"product_id\"],\"where\":[\"total_price < 300\"],\"aggs\":[$AGGS]}" \
    --key product_id --window session:8s --out-of-orderness 1s --emit final \
    --where 'total_price < 300' "${agg_flags[@]}"

# The same job from a --config file and -X, as one would deploy it.
cat >"$tmp/job.conf" <<'EOF'
key.field = product_id
window.spec = tumble:1m
watermark.out.of.orderness = 5s
aggregates = count()
aggregates = sum(total_price) where status != cancelled as revenue
EOF
"$bin" --config "$tmp/job.conf" -X 'aggregates=max(total_price)' --input "$tmp/in.jsonl" \
    --output "$tmp/conf.out" 2>/dev/null
"$bin" --key product_id --window tumble:1m --out-of-orderness 5s --agg 'count()' \
    --agg 'sum(total_price) where status != cancelled as revenue' --agg 'max(total_price)' \
    --input "$tmp/in.jsonl" --output "$tmp/flags.out" 2>/dev/null
cmp "$tmp/conf.out" "$tmp/flags.out"
echo "ok config file and -X"

# Hostile specs: exit 2, one line on stderr naming the flag, no crash (ASan and UBSan watch).
expect2() { # needle, args...
    local needle=$1
    shift
    set +e
    "$bin" --input "$tmp/in.jsonl" --output "$tmp/x.out" "$@" >"$tmp/x.stdout" 2>"$tmp/x.err"
    local rc=$?
    set -e
    if [[ $rc != 2 || $(wc -l <"$tmp/x.err") != 1 ]] || ! grep -qF -- "$needle" "$tmp/x.err"; then
        echo "FAIL hostile ($needle): exit $rc, stderr:"
        head -c 600 "$tmp/x.err"
        exit 1
    fi
    echo "ok exit 2: $(head -c 200 "$tmp/x.err")"
}
many=()
for i in $(seq 1 10000); do many+=(--agg "sum(f$i)"); done
expect2 "--agg: at most 64" --key product_id "${many[@]}"
# A megabyte of predicate through a config file (one argument cannot be that long), and 100 KB
# on the command line.
/usr/bin/python3 -c 'print("where = " + "x = 1 and " * 104857 + "x = 1")' >"$tmp/big.conf"
expect2 "--where: predicate" --key product_id --agg 'count()' --config "$tmp/big.conf"
/usr/bin/python3 -c 'print("aggregates = sum(x) where " + "x = 1 and " * 104857 + "x = 1")' \
    >"$tmp/big.conf"
expect2 "--agg: aggregate" --key product_id --config "$tmp/big.conf"
big=$(/usr/bin/python3 -c 'print("x = 1 and " * 10000 + "x = 1")')
expect2 "--where: predicate" --key product_id --agg 'count()' --where "$big"
expect2 "--agg: aggregate" --key product_id --agg "sum(x) where y = $big"
expect2 "unterminated" --key product_id --agg 'count()' --where 'status = "paid'
expect2 "unterminated" --key product_id --agg 'count() where status = "paid as n'
expect2 "missing \")\"" --key product_id --agg 'sum(total_price'
expect2 "unknown function" --key product_id --agg 'median(total_price)'
expect2 "already used" --key product_id --agg 'count()' --agg 'count()'
expect2 "--window:" --key product_id --agg 'count()' --window 'tumble:'
expect2 "--window:" --key product_id --agg 'count()' --window 'hop:1m/2m'
expect2 "--window:" --key product_id --agg 'count()' --window 'sliding:1m'
expect2 "--key:" --key 'a,,b' --agg 'count()'
expect2 "--key:" --agg 'count()'
expect2 "--agg: at least one" --key product_id
expect2 "also a key field" --key count --agg 'count()'
expect2 "--emit:" --key product_id --agg 'count()' --emit sometimes
echo "all weir-window checks passed"
