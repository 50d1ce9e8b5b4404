#!/usr/bin/env bash
# The Kafka demo: starts the dev broker, produces a generated sample of raw events with kcat
# (keyed by product), runs unique-users on Kafka until the input is drained, reads the results
# topic back with kcat and prints them as a table. Stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${WEIR_REL_BIN:-build/bin}
tmp=$(mktemp -d)
broker=
cleanup() {
    [[ -n $broker ]] && kill "$broker" 2>/dev/null && wait "$broker" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "== starting the dev broker (librdkafka's mock cluster on 127.0.0.1)"
"$bin/weir-dev-broker" --quiet >"$tmp/broker.out" 2>"$tmp/broker.log" &
broker=$!
for _ in $(seq 100); do
    [[ -s $tmp/broker.out ]] && break
    sleep 0.05
done
brokers=$(head -n 1 "$tmp/broker.out")
[[ $brokers == *:* ]] || { echo "the dev broker did not start: $(cat "$tmp/broker.log")" >&2; exit 1; }
echo "   bootstrap address $brokers; topics ecom-raw-events, ecom-analytics-results, orders (8 partitions)"

echo "== producing 50,000 raw events with kcat, keyed by product_id"
"$bin/weir-gen" --seed 42 --events 50000 --products 12 --users 3000 --rate 500 \
    --disorder-ms 8000 --late 0.002 --late-max-ms 40000 --bad 0.002 >"$tmp/events.jsonl"
sed -E 's/^(.*"product_id":"?([^",}]*)"?[,}].*)$/\2\t\1/; t; s/^/\t/' "$tmp/events.jsonl" |
    kcat -q -b "$brokers" -t ecom-raw-events -P -K $'\t' -X partitioner=murmur2_random

echo "== $bin/unique-users --brokers $brokers --stop-when-idle 2s --drain"
"$bin/unique-users" --brokers "$brokers" --input-topic ecom-raw-events \
    --output-topic ecom-analytics-results --group-id weir-demo --allowed-lateness 30s \
    --stop-when-idle 2s --drain 2>"$tmp/job.log" || { cat "$tmp/job.log" >&2; exit 1; }

echo "== ecom-analytics-results, read back with kcat"
kcat -q -b "$brokers" -t ecom-analytics-results -C -e -o beginning -f '%p\t%k\t%s\n' \
    >"$tmp/results.tsv"
/usr/bin/python3 - "$tmp/results.tsv" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1], encoding="utf-8"):
    part, key, value = line.rstrip("\n").split("\t", 2)
    v = json.loads(value)
    rows.append((v["window_start"], key, v["unique_user_count"], v["event_count"],
                 "late" if v.get("late") else "", part))
# By window, then product; a product's firings keep their topic order (one partition each).
rows.sort(key=lambda r: (r[0], int(r[1]) if r[1].isdigit() else r[1]))
print(f"{'window_start':<26} {'product_id':>10} {'unique_users':>12} {'events':>7}  partition")
for ws, key, users, events, late, part in rows:
    print(f"{ws:<26} {key:>10} {users:>12} {events:>7}  {part:>9} {late}")
print(f"{len(rows)} results")
PY
echo "== run summary"
grep '"mode":"kafka"' "$tmp/job.log"
