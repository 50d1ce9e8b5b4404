#!/usr/bin/env bash
# The DynamoDB sink through a fault-injecting proxy in front of dynalite: throttling, 500s,
# dropped connections (before and after the write) and partial UnprocessedItems. Every item
# still lands with its final value, no forwarded batch holds a key twice, and retries are
# counted.
set -euo pipefail
source "$(dirname "$0")/dynamodb_lib.bash"
start_dynalite
$py "$util" create-table "$ddb_url" faults product_id

start_proxy() { # upstream port, extra args...; sets $proxy_url
    local up=$1
    shift
    rm -f "$work/proxy.port"
    $py "$root/test/it/dynamodb_proxy.py" "$up" "$work/proxy.port" "$@" 2>"$work/proxy.log" &
    pids+=($!)
    for _ in $(seq 100); do [[ -s $work/proxy.port ]] && break; sleep 0.05; done
    [[ -s $work/proxy.port ]] || die "proxy did not start: $(cat "$work/proxy.log")"
    proxy_url=http://127.0.0.1:$(cat "$work/proxy.port")
}
start_proxy "${ddb_url##*:}" --seed 5 --fault-share 0.45

$py "$util" gen "$work/firings.jsonl" --products 80 --windows 20 --seed 9 --late-share 0.5
n=$(grep -c . "$work/firings.jsonl")
out=$("$rel/weir-ddb" put --dynamodb-endpoint "$proxy_url" --dynamodb-table faults \
    -X dynamodb.max.inflight=8 -X dynamodb.max.retries=20 --input "$work/firings.jsonl") \
    || die "weir-ddb put through the proxy failed: $out"
echo "$out"
stats=$(curl -s --noproxy '*' "$proxy_url/__stats")
echo "proxy: $stats"
$py "$util" check "$ddb_url" faults "$work/firings.jsonl" || die "items differ from the last firings"
$py - "$stats" "$out" "$n" <<'PY' || exit 1
import json, re, sys
s = json.loads(sys.argv[1])
out = dict(kv.split("=") for kv in sys.argv[2].split())
bad = []
if s["duplicate_batches"]:
    bad.append(f"{s['duplicate_batches']} batches held a key twice")
for k in ("throttled", "error500", "dropped", "dropped_after_write", "partial"):
    if not s[k]:
        bad.append(f"no {k} fault was injected (the test proves nothing about it)")
if int(out["retries"]) <= 0:
    bad.append("sink reported no retries")
if int(out["written"]) != int(sys.argv[3]):
    bad.append(f"written={out['written']} but {sys.argv[3]} firings were accepted")
# Every unprocessed item and every failed batch is sent again, so retries cover them.
if int(out["retries"]) < s["unprocessed_items"]:
    bad.append(f"retries={out['retries']} < unprocessed items {s['unprocessed_items']}")
print("\n".join(bad) if bad else "faults: all checks passed")
sys.exit(1 if bad else 0)
PY
echo "dynamodb_faults: ok"
