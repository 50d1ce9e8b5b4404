#!/usr/bin/env bash
# The platform's HTTP figures (#19) with wrk on this machine: GET /products/{id} and POST
# /events (batches of 100 JSON lines) through the api-gateway and straight to the service,
# each with C open connections for D seconds, R rounds; prints one line a run and the medians.
# Every accepted event is checked against the end offsets of ecom-raw-events, so "events/s
# into Kafka" counts what the broker holds, not what wrk sent.
#
#   bench/services.sh [DURATION_S=30] [CONNECTIONS=1000] [ROUNDS=3]
#
# RUNS="get-gateway get-direct" measures only those runs (default: all four); BIN=DIR takes the
# binaries from DIR instead of build/bin (to measure a saved build back to back with this one).
# GATEWAY_THREADS (32, the gateway's default) and PRODUCT_THREADS (4, the service's default)
# set their --threads: the gateway's threads each block while their upstream call runs.
#
# GET runs also print the CPU time (user + system) the gateway and product-service spent per
# request, from /proc, which the machine's other load disturbs less than the rates.
# Uses the release binaries (make all), the dev broker and SQLite; wrk runs with 2 threads on
# the same 2 cores as the services, so every figure here includes the load generator's share.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-30}
conns=${2:-1000}
rounds=${3:-3}
bin=${BIN:-build/bin}
runs=${RUNS:-get-gateway get-direct events-gateway events-direct}
py=/usr/bin/python3
for b in wrk curl "$py" "$bin/api-gateway" "$bin/product-service" "$bin/activity-service"; do
    command -v "$b" >/dev/null || {
        echo "bench/services.sh: $b missing (make deps; make all)" >&2
        exit 2
    }
done

work=$(mktemp -d)
pids=()
cleanup() {
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# start NAME ARGS...: sets $addr to the HOST:PORT the binary prints first.
start() {
    local name=$1
    shift
    "$@" >"$work/$name.out" 2>"$work/$name.log" &
    pids+=($!)
    addr=
    for _ in $(seq 200); do
        addr=$(head -n 1 "$work/$name.out" 2>/dev/null || true)
        [[ $addr == *:* ]] && return 0
        sleep 0.05
    done
    echo "bench/services.sh: $name printed no address: $(tail -n 3 "$work/$name.log")" >&2
    exit 1
}

start broker "$bin/weir-dev-broker" --quiet
brokers=$addr
start product "$bin/product-service" --listen 127.0.0.1:0 --db "$work/svc.db" --threads "${PRODUCT_THREADS:-4}"
products=$addr
product_pid=${pids[-1]}
start customer "$bin/customer-service" --listen 127.0.0.1:0 --db "$work/svc.db"
customers=$addr
start order "$bin/order-service" --listen 127.0.0.1:0 --db "$work/svc.db" --brokers "$brokers"
orders=$addr
start activity "$bin/activity-service" --listen 127.0.0.1:0 --brokers "$brokers" --threads 8
activity=$addr
start gateway "$bin/api-gateway" --listen 127.0.0.1:0 --products "http://$products" \
    --customers "http://$customers" --orders "http://$orders" --activity "http://$activity" \
    --dynamodb-endpoint http://127.0.0.1:9 --aws-region us-east-1 --threads "${GATEWAY_THREADS:-32}"
gateway=$addr
gateway_pid=${pids[-1]}

# 1,000 products, straight to the service.
n_products=1000
"$py" - "$products" "$n_products" <<'EOF'
import http.client, json, sys
host, port = sys.argv[1].rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port))
for i in range(int(sys.argv[2])):
    body = json.dumps({"name": f"product {i}", "description": "bench", "price": 9.99 + i,
                       "category": f"c{i % 10}", "stock_quantity": 100})
    c.request("POST", "/products", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    assert r.status == 201, r.status
EOF

# wrk's report, one JSON object: requests, duration, latency percentiles (ms), errors.
cat >"$work/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"p50_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, e.connect, e.read, e.write, e.status,
    e.timeout))
end
EOF
{
    echo "math.randomseed(42)"
    echo "request = function() return wrk.format('GET', '/products/' .. math.random(1, $n_products)) end"
    cat "$work/report.lua"
} >"$work/get.lua"
"$py" - >"$work/batch.ndjson" <<'EOF'
import json
for i in range(100):
    print(json.dumps({"user_id": f"u{i * 7919 % 1000}", "product_id": str(1 + i % 50),
                      "event_type": "VIEW_PRODUCT", "timestamp": "2026-12-07T10:00:00.000Z",
                      "metadata": {"session_id": f"s{i}"}}))
EOF
{
    echo 'wrk.method = "POST"'
    echo 'wrk.headers["Content-Type"] = "application/x-ndjson"'
    printf 'wrk.body = %s\n' "$("$py" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$work/batch.ndjson")"
    cat "$work/report.lua"
} >"$work/post.lua"

# The batch must be accepted whole before it is measured.
got=$(curl -sS -X POST -H 'Content-Type: application/x-ndjson' --data-binary @"$work/batch.ndjson" \
    "http://$gateway/events")
[[ $got == *'"accepted":100'* ]] || {
    echo "bench/services.sh: the batch was not accepted: $got" >&2
    exit 1
}

kafka_events() { # the sum of ecom-raw-events' end offsets
    "$py" - "$brokers" <<'EOF'
import sys
from kafka import KafkaConsumer, TopicPartition
c = KafkaConsumer(bootstrap_servers=sys.argv[1], api_version=(2, 5, 0))
c.topics()  # fetches the metadata that partitions_for_topic() reads
parts = c.partitions_for_topic("ecom-raw-events") or set()
assert parts, "ecom-raw-events has no partitions"
ends = c.end_offsets([TopicPartition("ecom-raw-events", p) for p in parts])
print(sum(ends.values()))
c.close()
EOF
}

cpu_ticks() { # the user+system clock ticks a process has used
    awk '{print $14 + $15}' "/proc/$1/stat"
}

run() { # label, target host:port, lua, per-request events (0 for GET)
    local label=$1 target=$2 lua=$3 per=$4 before=0 after=0
    ((per == 0)) || before=$(kafka_events)
    local gw0 ps0 gw1 ps1
    gw0=$(cpu_ticks "$gateway_pid") ps0=$(cpu_ticks "$product_pid")
    wrk -t2 -c"$conns" -d"${dur}s" --timeout 10s -s "$lua" "http://$target/events" >"$work/wrk.out" 2>&1
    gw1=$(cpu_ticks "$gateway_pid") ps1=$(cpu_ticks "$product_pid")
    local j
    j=$(grep '^{' "$work/wrk.out" | tail -n 1)
    [[ -n $j ]] || {
        cat "$work/wrk.out" >&2
        exit 1
    }
    ((per == 0)) || {
        sleep 2
        after=$(kafka_events)
    }
    "$py" - "$label" "$j" "$per" "$before" "$after" $((gw1 - gw0)) $((ps1 - ps0)) \
        "$(getconf CLK_TCK)" <<'EOF'
import json, sys
label, j = sys.argv[1], json.loads(sys.argv[2])
per, before, after, gw_ticks, ps_ticks, hz = map(int, sys.argv[3:])
ok = j["requests"] - j["status"] - j["timeout"]
rps = j["requests"] / j["seconds"]
out = {"run": label, "rps": round(rps), "p50_ms": j["p50_ms"], "p99_ms": j["p99_ms"],
       "max_ms": j["max_ms"], "errors": j["connect"] + j["read"] + j["write"] + j["timeout"],
       "non2xx": j["status"]}
# CPU per request, which the other load on a shared machine disturbs less than the rate.
if not per and j["requests"]:
    out["gateway_cpu_us"] = round(gw_ticks / hz / j["requests"] * 1e6, 1)
    out["product_cpu_us"] = round(ps_ticks / hz / j["requests"] * 1e6, 1)
if per:
    out["events_per_s"] = round((after - before) / j["seconds"])
    out["kafka_events"] = after - before
    out["accepted_events"] = ok * per
print(json.dumps(out))
EOF
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, ${dur}s, $conns connections, $rounds rounds" \
    "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
for ((r = 1; r <= rounds; r++)); do
    for want in $runs; do
        case $want in
        get-gateway) run get-gateway "$gateway" "$work/get.lua" 0 ;;
        get-direct) run get-direct "$products" "$work/get.lua" 0 ;;
        events-gateway) run events-gateway "$gateway" "$work/post.lua" 100 ;;
        events-direct) run events-direct "$activity" "$work/post.lua" 100 ;;
        *)
            echo "bench/services.sh: unknown run $want" >&2
            exit 2
            ;;
        esac
    done
done | tee "$work/runs.jsonl"
"$py" - "$work/runs.jsonl" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
for label in dict.fromkeys(r["run"] for r in runs):
    rs = [r for r in runs if r["run"] == label]
    med = {k: statistics.median(r[k] for r in rs) for k in rs[0] if k != "run"}
    print("median", label, json.dumps(med))
EOF
