#!/usr/bin/env bash
# weir-window from the dev broker into a Kafka topic, against the independent reference
# (weir_window_ref.py): tumbling windows keyed per partition, sessions in final mode, and a
# global hopping job over one partition. Each input partition runs its own unit (the topic is
# partitioned by the job's key), so the reference runs over each partition's records; the
# results topic must hold, for every (key, window), exactly the reference's firings in order,
# and the summary the reference's counters.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
ww=$bin/weir-window
ref=$root/test/it/weir_window_ref.py
[[ -x $ww ]] || die "$ww not built (make)"
start_broker --topic in3:3 --topic in1:1 --topic tumble:3 --topic session:3 --topic hop:1 \
    --topic dead:1

$py "$ref" gen "${WEIR_WINDOW_EVENTS:-8000}" 23 >"$work/in.jsonl"
# Records by product_id over three partitions (no key or another type: partition 0).
$py - "$work" <<'PY'
import json, sys, zlib
w = sys.argv[1]
outs = [open(f"{w}/p{p}.jsonl", "w") for p in range(3)]
for line in open(f"{w}/in.jsonl"):
    try:
        k = json.loads(line).get("product_id")
    except (ValueError, AttributeError):
        k = None
    p = zlib.crc32(str(k).encode()) % 3 if isinstance(k, (str, int)) else 0
    outs[p].write(line)
PY
for p in 0 1 2; do
    kcat -q -b "$brokers" -t in3 -p "$p" -P -l "$work/p$p.jsonl" || die "kcat produce failed"
done
kcat -q -b "$brokers" -t in1 -p 0 -P -l "$work/in.jsonl" || die "kcat produce failed"

# compare REF OUT AGGS: the same firings per (key, window), in order; doubles within 1e-9.
compare() {
    AGG_NAMES=$3 $py - "$1" "$2" <<'EOF'
import json, os, sys
AGG = set(os.environ["AGG_NAMES"].split(","))
def load(p):
    groups, n = {}, 0
    for line in open(p):
        o = json.loads(line)
        k = json.dumps({a: b for a, b in o.items() if a not in AGG}, sort_keys=True)
        groups.setdefault(k, []).append(o)
        n += 1
    return groups, n
def same(a, b):
    if type(a) != type(b):
        return False
    if isinstance(a, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b
ref, nr = load(sys.argv[1])
job, nj = load(sys.argv[2])
bad = 0
for k in sorted(set(ref) | set(job)):
    r, j = ref.get(k, []), job.get(k, [])
    if not (len(r) == len(j) and all(list(x) == list(y) and all(same(x[f], y[f]) for f in x)
                                     for x, y in zip(r, j))):
        bad += 1
        if bad <= 3:
            print("differs for", k, "\n  reference:", r[:3], "\n  job:      ", j[:3])
print("firings: reference %d, job %d, differing groups %d" % (nr, nj, bad))
sys.exit(1 if bad or nr != nj or nr == 0 else 0)
EOF
}

# check NAME TOPIC CONFIG PARTS AGG_NAMES FLAGS...: the reference over each input file of
# PARTS, the job from the matching topic into TOPIC.
check() {
    local name=$1 topic=$2 cfg=$3 parts=$4 aggs=$5
    shift 5
    echo "$cfg" >"$work/$name.cfg"
    : >"$work/$name.ref"
    local counts=()
    for f in $parts; do
        $py "$ref" run "$f" "$work/$name.cfg" >>"$work/$name.ref" 2>"$work/$name.c.$(basename "$f")"
        counts+=("$work/$name.c.$(basename "$f")")
    done
    "$ww" --brokers "$brokers" -X kafka.consumer.session.timeout.ms=6000 --group-id "$name" \
        --output-topic "$topic" --stop-when-idle 2s --drain "$@" 2>"$work/$name.log" ||
        die "$name: weir-window failed ($?): $(tail -n 5 "$work/$name.log")"
    grep -q '"mode":"kafka"' "$work/$name.log" || die "$name: no summary"
    $py "$util" consume --brokers "$brokers" --topic "$topic" --out "$work/$name.consumed"
    $py - "$work/$name.consumed" "$work/$name.out" "$name" <<'PY'
import json, sys
keys = json.load(open(sys.argv[1].rsplit(".", 1)[0] + ".cfg"))["keys"]
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        m = json.loads(line)
        v = json.loads(m["value"])
        # The message key is the first key field's value; a global job's messages have none.
        want = str(v[keys[0]]) if keys else None
        if m["key"] != want:
            sys.exit(f"{sys.argv[3]}: message key {m['key']!r}, want {want!r}")
        out.write(m["value"] + "\n")
PY
    compare "$work/$name.ref" "$work/$name.out" "$aggs" || die "$name: results differ"
    $py - "$work/$name.log" "$name" "${counts[@]}" <<'PY'
import json, sys
s = json.loads([l for l in open(sys.argv[1]) if '"mode":"kafka"' in l][-1])
want = {"records": 0, "invalid": 0, "filtered": 0, "late_dropped": 0}
for p in sys.argv[3:]:
    for k, v in json.load(open(p)).items():
        want[k] += v
got = {k: s[k] for k in want}
if got != want:
    sys.exit("%s: counters %s, reference %s" % (sys.argv[2], got, want))
print("ok %s: %s" % (sys.argv[2], got))
PY
}

AGGS='"count()", "sum(total_price) where status != cancelled as revenue", "max(total_price)",
      "avg(quantity)", "count_distinct(user_id)"'
agg_flags=(--agg 'count()' --agg 'sum(total_price) where status != cancelled as revenue'
    --agg 'max(total_price)' --agg 'avg(quantity)' --agg 'count_distinct(user_id)')
# The names the job gives unnamed aggregates, as the reference does.
names=$($py -c '
import json, sys
sys.path.insert(0, sys.argv[2])
from weir_window_ref import parse_agg
print(",".join(parse_agg(a)["name"] for a in json.loads("[" + sys.argv[1] + "]")))' "$AGGS" \
    "$root/test/it")

parts3="$work/p0.jsonl $work/p1.jsonl $work/p2.jsonl"
check tumble tumble \
    "{\"kind\":\"tumble\",\"W\":30000,\"ooo\":5000,\"L\":10000,\"emit\":\"updates\",\"keys\":[\"product_id\"],\"where\":[\"status != pending\"],\"aggs\":[$AGGS]}" \
    "$parts3" "$names" --input-topic in3 --key product_id --window tumble:30s \
    --out-of-orderness 5s --allowed-lateness 10s --where 'status != pending' "${agg_flags[@]}" \
    --dead-letter-topic dead
ndead=$(kcat -q -b "$brokers" -t dead -C -e -o beginning | wc -l)
ninv=$(summary_field "$work/tumble.log" invalid)
[[ $ndead == "$ninv" ]] || die "dead-letter topic holds $ndead records, $ninv invalid"
check session session \
    "{\"kind\":\"session\",\"G\":8000,\"ooo\":2000,\"L\":0,\"emit\":\"final\",\"keys\":[\"product_id\"],\"where\":[],\"aggs\":[$AGGS]}" \
    "$parts3" "$names" --input-topic in3 --key product_id --window session:8s \
    --out-of-orderness 2s --emit final "${agg_flags[@]}"
check hop hop \
    "{\"kind\":\"hop\",\"W\":60000,\"S\":20000,\"ooo\":4000,\"L\":0,\"emit\":\"final\",\"keys\":[],\"where\":[],\"aggs\":[$AGGS]}" \
    "$work/in.jsonl" "$names" --input-topic in1 --global --window hop:1m/20s \
    --out-of-orderness 4s --emit final "${agg_flags[@]}"

# Kafka flags are unique-users' flags: a bad value names the flag, exit 2.
set +e
"$ww" --brokers "$brokers" --global --agg 'count()' --checkpoint-interval 0 2>"$work/bad.err"
rc=$?
set -e
[[ $rc == 2 && $(wc -l <"$work/bad.err") == 1 ]] && grep -q -- '--checkpoint-interval' "$work/bad.err" ||
    die "a bad Kafka-mode flag: exit $rc, $(cat "$work/bad.err")"
echo "PASS weir_window_kafka"
