#!/usr/bin/env bash
# weir-window's DynamoDB output against dynalite: every (key, window) is one item equal to the
# last firing of that window in the job's own file output, strings as S, numbers as N (integers
# and doubles as written), null as NULL; partition key the first key field, sort key
# window_start, followed for a composite key by the further key parts ("#" LEN ":" PART), so
# that windows of one product in two regions are two items; a global job writes under
# `key` = "all". The same items come from the job in Kafka mode (the dev broker).
set -euo pipefail
source "$(dirname "$0")/dynamodb_lib.bash"
start_dynalite
job=${WEIR_BIN:-$root/build/asan/bin}/weir-window
$py "$root/test/it/weir_window_ref.py" gen 4000 5 >"$work/in.jsonl"

check_items() { # table, pk attribute, job output, further key fields (comma-separated)
    $py - "$ddb_url" "$1" "$2" "$3" "$util" "${4:-}" <<'PY'
import json, sys, importlib.util
url, table, pk, out, util, further = sys.argv[1:]
spec = importlib.util.spec_from_file_location("u", util)
u = importlib.util.module_from_spec(spec)
spec.loader.exec_module(u)
want = {}
for line in open(out):
    o = json.loads(line)
    o.pop("late", None)
    for f in filter(None, further.split(",")):
        o["window_start"] += "#%d:%s" % (len(o[f].encode()), o[f])
    want[(o.get(pk, "all"), o["window_start"])] = o
got = {}
for it in u.scan(url, table):
    o = {}
    for name, v in it.items():
        (t, x), = v.items()
        if t == "S":
            o[name] = x
        elif t == "N":
            o[name] = json.loads(x)
        elif t == "NULL":
            o[name] = None
        else:
            raise SystemExit("unexpected type %s of %s" % (t, name))
    got[(o.get(pk), o["window_start"])] = o
if pk == "key":
    for o in got.values():
        assert o.pop("key") == "all", o
    got = {("all", k[1]): v for k, v in got.items()}
bad = [k for k in want if got.get(k) != want[k]]
if bad or len(got) != len(want):
    print("items differ: %d of %d, %d items; first %s: %s vs %s" % (
        len(bad), len(want), len(got), bad[:1], want.get(bad[0]) if bad else None,
        got.get(bad[0]) if bad else None))
    sys.exit(1)
print("ok %s: %d items equal the last firings" % (table, len(got)))
PY
}

"$job" --input "$work/in.jsonl" --output "$work/keyed.out" --key product_id,region \
    --window tumble:1m --allowed-lateness 20s --agg 'count()' \
    --agg 'sum(total_price) where status != cancelled as revenue' --agg 'avg(quantity)' \
    --agg 'max(total_price) where status = nothing as never' \
    --dynamodb-endpoint "$ddb_url" --dynamodb-table keyed --dynamodb-create-table 2>/dev/null
# The partition key is product_id, the sort key window_start#LEN:region: windows of one
# product in two regions are two items.
grep -c '"late":true' "$work/keyed.out" >/dev/null || die "no late firings to check"
check_items keyed product_id "$work/keyed.out" region || die "composite-key items differ"
"$job" --input "$work/in.jsonl" --output "$work/eu.out" --key product_id,region \
    --where 'region = eu' --window tumble:1m --allowed-lateness 20s --agg 'count()' \
    --agg 'sum(total_price) where status != cancelled as revenue' --agg 'avg(quantity)' \
    --agg 'max(total_price) where status = nothing as never' \
    --dynamodb-endpoint "$ddb_url" --dynamodb-table eutable --dynamodb-create-table \
    2>"$work/eu.err" || die "$(cat "$work/eu.err")"
check_items eutable product_id "$work/eu.out" region || die "keyed items differ"

"$job" --input "$work/in.jsonl" --output "$work/global.out" --global --window hop:1m/30s \
    --agg 'count()' --agg 'count_distinct(user_id) as users' \
    --dynamodb-endpoint "$ddb_url" --dynamodb-table globaltable --dynamodb-create-table 2>/dev/null
check_items globaltable key "$work/global.out" || die "global items differ"

# Kafka mode: the same job from a topic of the same records writes the same items (one input
# partition, so the records come in the file's order).
"$rel/weir-dev-broker" --topic kin:1 --topic kout:1 >"$work/broker.out" 2>"$work/broker.log" &
pids+=($!)
brokers=
for _ in $(seq 100); do
    brokers=$(head -n 1 "$work/broker.out" 2>/dev/null || true)
    [[ $brokers == *:* ]] && break
    brokers=
    sleep 0.05
done
[[ -n $brokers ]] || die "weir-dev-broker printed no address: $(cat "$work/broker.log")"
kcat -q -b "$brokers" -t kin -p 0 -P -l "$work/in.jsonl" || die "kcat produce failed"
"$job" --brokers "$brokers" --input-topic kin --output-topic kout --group-id ddb \
    --stop-when-idle 2s --drain -X kafka.consumer.session.timeout.ms=6000 \
    --key product_id,region --window tumble:1m --allowed-lateness 20s --agg 'count()' \
    --agg 'sum(total_price) where status != cancelled as revenue' --agg 'avg(quantity)' \
    --agg 'max(total_price) where status = nothing as never' \
    --dynamodb-endpoint "$ddb_url" --dynamodb-table kafkatable --dynamodb-create-table \
    2>"$work/kafka.err" || die "Kafka mode: $(tail -n 3 "$work/kafka.err")"
check_items kafkatable product_id "$work/keyed.out" region || die "Kafka-mode items differ"

# A table whose keys are not the job's: one line, exit 2.
set +e
"$job" --input "$work/in.jsonl" --output /dev/null --key region --agg 'count()' \
    --dynamodb-endpoint "$ddb_url" --dynamodb-table eutable 2>"$work/err"
rc=$?
set -e
[[ $rc == 2 ]] || die "a table with other keys: exit $rc: $(cat "$work/err")"
echo "ok: $(tail -1 "$work/err")"
