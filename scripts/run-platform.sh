#!/usr/bin/env bash
# make run: the whole platform on loopback. Starts the dev broker, dynalite (DynamoDB), the
# five services and the unique-users job (ecom-raw-events -> ecom-analytics-results and the
# DynamoDB table, --idle-advance), imports examples/products.csv with product-import, creates
# customers and orders and posts activity events through the gateway, waits for the windows
# to close, prints the busiest products' unique users per minute read back through
# GET /analytics/products/{id} and the order events on `orders`, and stops everything it
# started, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${WEIR_REL_BIN:-build/bin}
py=/usr/bin/python3
dynalite=test/peers/node_modules/dynalite/cli.js
tmp=$(mktemp -d)
pids=()
names=()
cleanup() {
    local rc=$? i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do wait "${pids[i]}" 2>/dev/null || true; done
    if ((rc != 0)); then
        for n in "${names[@]}"; do
            [[ -s $tmp/$n.log ]] || continue
            echo "--- $n (last lines)" >&2
            tail -n 15 "$tmp/$n.log" >&2
        done
    fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() {
    echo "make run: $*" >&2
    exit 1
}
[[ -f $dynalite ]] || die "dynalite missing: make deps (npm ci in test/peers)"
# Local credentials for dynalite, which accepts any; never printed.
export AWS_ACCESS_KEY_ID=weir-local AWS_SECRET_ACCESS_KEY=weir-local-secret AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN KAFKA_BOOTSTRAP_SERVERS DB_HOST PRODUCT_API_URL

# start NAME CMD...: runs CMD in the background, logs to $tmp/NAME.log, and sets $addr to the
# first line it prints (its bound HOST:PORT).
start() {
    local name=$1
    shift
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
    pids+=($!)
    names+=("$name")
    addr=
    for _ in $(seq 200); do
        addr=$(head -n 1 "$tmp/$name.out" 2>/dev/null || true)
        [[ $addr == 127.0.0.1:* ]] && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || die "$name exited: $(tail -n 5 "$tmp/$name.log")"
        sleep 0.05
    done
    die "$name printed no address"
}
free_port() {
    $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
t0=$SECONDS

echo "== starting the platform on 127.0.0.1"
start broker "$bin/weir-dev-broker" --quiet
brokers=$addr
port=$(free_port)
node "$dynalite" --host 127.0.0.1 --port "$port" --createTableMs 20 >"$tmp/dynalite.log" 2>&1 &
pids+=($!)
names+=(dynalite)
ddb=http://127.0.0.1:$port
for _ in $(seq 200); do
    curl -s -o /dev/null "$ddb" && break
    sleep 0.05
done
db=$tmp/shop.db
start product-service "$bin/product-service" --listen 127.0.0.1:0 --db "$db"
products=$addr
start customer-service "$bin/customer-service" --listen 127.0.0.1:0 --db "$db"
customers=$addr
start order-service "$bin/order-service" --listen 127.0.0.1:0 --db "$db" --brokers "$brokers"
orders=$addr
start activity-service "$bin/activity-service" --listen 127.0.0.1:0 --brokers "$brokers"
activity=$addr
"$bin/unique-users" --brokers "$brokers" --input-topic ecom-raw-events \
    --output-topic ecom-analytics-results --group-id weir-platform --idle-timeout 1s \
    --idle-advance --dynamodb-endpoint "$ddb" --dynamodb-table ecom-analytics \
    --dynamodb-create-table --aws-region us-east-1 >"$tmp/unique-users.out" \
    2>"$tmp/unique-users.log" &
pids+=($!)
names+=(unique-users)
job_pid=$!
start api-gateway "$bin/api-gateway" --listen 127.0.0.1:0 --products "http://$products" \
    --customers "http://$customers" --orders "http://$orders" --activity "http://$activity" \
    --dynamodb-endpoint "$ddb" --dynamodb-table ecom-analytics --aws-region us-east-1
gateway=http://$addr
printf '   broker %s, DynamoDB (dynalite) %s\n' "$brokers" "$ddb"
printf '   product-service %s, customer-service %s, order-service %s, activity-service %s\n' \
    "$products" "$customers" "$orders" "$activity"
printf '   api-gateway %s; unique-users reading ecom-raw-events (pid %s)\n' "$gateway" "${job_pid:-?}"

echo "== importing examples/products.csv through the gateway"
"$bin/product-import" examples/products.csv --gateway "$gateway" --concurrency 4 \
    >"$tmp/import.json" 2>"$tmp/import.log" || die "product-import: $(cat "$tmp/import.log")"
$py -c 'import json,sys; s=json.load(open(sys.argv[1])); print("   %d of %d rows imported, %d failed" % (s["imported"], s["rows"], s["failed"]))' "$tmp/import.json"

echo "== customers, orders and activity events through the gateway"
$py scripts/platform_drive.py "$gateway" "$tmp/events.jsonl" --events 6000 --wait-s 40

echo "== order events on the orders topic"
n=$(kcat -q -b "$brokers" -t orders -C -e -o beginning -f '%s\n' | grep -c '"order_id"' || true)
echo "   $n order events (one per order created or changed)"
echo "== done in $((SECONDS - t0)) s; stopping everything"
