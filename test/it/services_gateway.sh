# The platform through its gateway: every route with good and bad input; end to end, events
# posted through the gateway -> activity-service -> Kafka -> unique-users -> DynamoDB
# (dynalite) -> GET /analytics equal the reference model's final counts; then each dependency
# down (a service, the broker, dynalite, an upstream that never answers or is not HTTP): the
# gateway answers 503/504/502 within its timeout, and recovers when the dependency is back.
# The services run under ASan and must exit 0 on SIGTERM.
set -euo pipefail
source "$(dirname "$0")/services_lib.bash"
gwpy=$root/test/it/services_gateway.py
dynalite=$root/test/peers/node_modules/dynalite/cli.js
[[ -f $dynalite ]] || die "dynalite missing: run make deps (npm ci in test/peers)"
for b in api-gateway activity-service; do
    [[ -x $bin/$b ]] || die "$bin/$b not built"
done
export AWS_ACCESS_KEY_ID=weirtest AWS_SECRET_ACCESS_KEY=weir-secret-do-not-print
unset AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION KAFKA_BOOTSTRAP_SERVERS DB_HOST
free_port() {
    $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
start_dynalite() { # on $ddb_port; sets $ddb_pid
    node "$dynalite" --host 127.0.0.1 --port "$ddb_port" --createTableMs 20 \
        >>"$work/dynalite.log" 2>&1 &
    ddb_pid=$!
    pids+=("$ddb_pid")
    for _ in $(seq 200); do
        curl -s -o /dev/null "http://127.0.0.1:$ddb_port" && return 0
        sleep 0.05
    done
    die "dynalite did not start"
}
create_table() {
    $py "$root/test/it/dynamodb_util.py" create-table "http://127.0.0.1:$ddb_port" \
        ecom-analytics product_id
}

start_broker
ddb_port=$(free_port)
start_dynalite
create_table
db=$work/shop.db
act_port=$(free_port)
start_service products product-service --db "$db"
start_service customers customer-service --db "$db"
start_service orders order-service --db "$db" --brokers "$brokers"
# A small queue, so that a stopped broker fills it within a few batches.
start_service activity activity-service --brokers "$brokers" --queue-messages 1000 \
    --listen "127.0.0.1:$act_port"
"$rel/unique-users" --brokers "$brokers" --group-id weir-gateway-test --idle-timeout 1s \
    --idle-advance --dynamodb-endpoint "http://127.0.0.1:$ddb_port" --aws-region us-east-1 \
    >"$work/job.out" 2>"$work/job.log" &
pids+=($!)
start_service gw api-gateway --products "http://$products" --customers "http://$customers" \
    --orders "http://$orders" --activity "http://$activity" --timeout-ms 3000 \
    --connect-timeout-ms 500 --dynamodb-endpoint "http://127.0.0.1:$ddb_port" \
    --aws-region us-east-1
grep -q weir-secret "$work"/*.log && die "a secret was logged"

$py "$gwpy" routes "$gw"
$py "$gwpy" e2e "$gw" "$root" "$work"

# A service stopped: 503 (connection refused) at once; back on its port: answered again.
stop_service "$activity_pid" activity-service
$py "$gwpy" expect "$gw" POST /events 503 3.5 '{"user_id":"u","product_id":"1","timestamp":1}'
"$bin/activity-service" --listen "127.0.0.1:$act_port" --brokers "$brokers" \
    --queue-messages 1000 >"$work/activity2.out" 2>"$work/activity2.log" &
activity_pid=$!
pids+=("$activity_pid")
$py "$gwpy" until "$gw" POST /events 202 10 '{"user_id":"u","product_id":"1","timestamp":1}'

# The broker down: the bounded queue fills and POST /events answers 503 + Retry-After, fast;
# the broker back: the queue drains and events are accepted again.
kill -USR1 "${pids[0]}"
$py "$gwpy" fill "$gw" 30
kill -USR2 "${pids[0]}"
$py "$gwpy" until "$gw" POST /events 202 30 '{"user_id":"u","product_id":"1","timestamp":1}'

# DynamoDB hung (stopped with SIGSTOP): 504 within the gateway's timeout; resumed: 200.
kill -STOP "$ddb_pid"
$py "$gwpy" expect "$gw" GET /analytics/products/1 504 3.8
kill -CONT "$ddb_pid"
$py "$gwpy" until "$gw" GET /analytics/products/1 200 10
# DynamoDB down: 503 within the gateway's timeout; back (a new, empty dynalite): 200.
kill "$ddb_pid"
wait "$ddb_pid" 2>/dev/null || true
$py "$gwpy" expect "$gw" GET /analytics/products/1 503 3.5
start_dynalite
create_table
$py "$gwpy" until "$gw" GET /analytics/products/1 200 10

# An upstream that accepts and never answers: 504 in the timeout; one that is not HTTP: 502.
$py - "$work" <<'PY' &
import socket, sys, threading, time
def serve(name, reply):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
    open(f"{sys.argv[1]}/{name}.port", "w").write(str(s.getsockname()[1]))
    conns = []
    while True:
        c, _ = s.accept(); conns.append(c)
        if reply:
            c.recv(65536); c.sendall(reply); c.close()
threading.Thread(target=serve, args=("silent", None), daemon=True).start()
threading.Thread(target=serve, args=("garbage", b"SSH-2.0-nope\r\n\r\n"), daemon=True).start()
time.sleep(120)
PY
pids+=($!)
for _ in $(seq 100); do [[ -s $work/garbage.port ]] && break; sleep 0.05; done
start_service gw2 api-gateway --products "http://127.0.0.1:$(cat "$work/silent.port")" \
    --customers "http://127.0.0.1:$(cat "$work/garbage.port")" --timeout-ms 1000 \
    --orders "http://127.0.0.1:1" --activity "http://$activity"
$py "$gwpy" expect "$gw2" GET /products/1 504 2.5
$py "$gwpy" expect "$gw2" GET /customers/1 502 2.5
$py "$gwpy" expect "$gw2" GET /orders/1 503 2.5
$py "$gwpy" expect "$gw2" GET /analytics/products/1 503 2.5
$py "$gwpy" expect "$gw2" GET /readyz 503 5

grep -q weir-secret "$work"/*.log && die "a secret was logged"
stop_service "$gw2_pid" api-gateway
stop_service "$gw_pid" api-gateway
stop_service "$activity_pid" activity-service
stop_service "$orders_pid" order-service
echo "ok"
