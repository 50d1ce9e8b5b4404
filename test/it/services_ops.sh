# The services operated (issue 20): --check-config of every service and product-import (0
# without starting, 2 with one line naming a bad flag); the five services with --log-format
# json, a database password and AWS keys in the environment, driven through the gateway: each
# /metrics passes `promtool check metrics` with nothing to say, its request counters count the
# requests by route pattern, method and code and move as requests flow, the gateway counts
# failed upstream and DynamoDB calls; every log line is JSON with ts, level, binary and msg;
# no secret appears in any log line or on /metrics; --metrics-port serves a second endpoint.
set -euo pipefail
source "$(dirname "$0")/services_lib.bash"
command -v promtool >/dev/null || die "promtool not found (make deps installs prometheus)"
for b in activity-service api-gateway product-import; do
    [[ -x $bin/$b ]] || die "$bin/$b not built"
done
free_port() {
    $py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The secrets of a deployment: the database password (environment and URL) and AWS keys.
export DB_PASSWORD=dbpw-$RANDOM-Secret7
export AWS_ACCESS_KEY_ID=AKIAOPSTEST$RANDOM
AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:0:20}
export AWS_SECRET_ACCESS_KEY=opsSecret/$RANDOM-do-not-log-K7MDENG
urlpw=urlpw-$RANDOM-Secret9

# --check-config: 0 and "configuration ok" without binding, opening the store or connecting.
check_ok() { # NAME ARGS...
    local name=$1 rc=0
    shift
    (cd "$work" && "$bin/$name" "$@" --check-config --log-format json >"$work/chk.out" 2>"$work/chk.err") || rc=$?
    ((rc == 0)) || die "$name $* --check-config: exit $rc: $(cat "$work/chk.err")"
    grep -q '"msg":"configuration ok"' "$work/chk.err" || die "$name --check-config said: $(cat "$work/chk.err")"
    [[ ! -s $work/chk.out ]] || die "$name --check-config printed on stdout: $(cat "$work/chk.out")"
}
port=$(free_port)
for s in product-service customer-service; do
    check_ok "$s" --listen "127.0.0.1:$port" --db "$work/never.db"
    check_ok "$s" --listen "127.0.0.1:$port" # DB_* without DB_HOST: the default SQLite file
done
check_ok order-service --listen "127.0.0.1:$port" --db "$work/never.db" --brokers 127.0.0.1:1
DB_HOST=127.0.0.1 DB_PORT=1 check_ok order-service --brokers 127.0.0.1:1 --metrics-port "$port"
grep -q '"store":"postgresql"' "$work/chk.err" || die "DB_HOST does not select PostgreSQL in --check-config"
check_ok activity-service --listen "127.0.0.1:$port" --brokers 127.0.0.1:1 --queue-messages 10
check_ok api-gateway --listen "127.0.0.1:$port" --dynamodb-endpoint http://127.0.0.1:1 \
    --aws-region us-east-1 --log-level debug
check_ok product-import "$work/none.csv" --gateway http://127.0.0.1:1
check_ok product-import --watch "$work/none" --gateway http://127.0.0.1:1
[[ ! -e $work/never.db && ! -e $work/weir-services.db ]] || die "--check-config opened the store"
! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || die "something listens on $port after --check-config"
echo "ok: --check-config exits 0 for every binary without starting"

# A bad value: exit 2, one line naming the flag, nothing on stdout; in JSON when asked for.
check_bad() { # WORD NAME ARGS...
    local want=$1 name=$2 rc=0
    shift 2
    "$bin/$name" "$@" --check-config >"$work/bad.out" 2>"$work/bad.err" || rc=$?
    ((rc == 2)) || die "$name $* --check-config: exit $rc, expected 2 ($(cat "$work/bad.err"))"
    [[ $(wc -l <"$work/bad.err") -eq 1 ]] || die "$name $*: not one line: $(cat "$work/bad.err")"
    grep -q -- "$want" "$work/bad.err" || die "$name $*: no '$want' in: $(cat "$work/bad.err")"
    [[ ! -s $work/bad.out ]] || die "$name $*: printed on stdout"
}
for s in product-service customer-service order-service activity-service api-gateway product-import; do
    extra=()
    [[ $s == order-service || $s == activity-service ]] && extra=(--brokers 127.0.0.1:1)
    [[ $s == product-import ]] && extra=(x.csv --gateway http://127.0.0.1:1)
    check_bad --log-format "$s" "${extra[@]}" --log-format yaml
    grep -q 'text or json' "$work/bad.err" || die "$s: --log-format does not say what it accepts"
    check_bad --log-level "$s" "${extra[@]}" --log-level loud
    grep -q 'debug, info, warn or error' "$work/bad.err" || die "$s: --log-level without its values"
    if [[ $s != product-import ]]; then
        check_bad --metrics-port "$s" "${extra[@]}" --metrics-port 70000
        check_bad --metrics-host "$s" "${extra[@]}" --metrics-host nowhere
        check_bad --listen "$s" "${extra[@]}" --log-format json --listen nope
        $py -c 'import json, sys; e = json.loads(open(sys.argv[1]).read()); assert e["level"] == "error" and "--listen" in e["msg"], e' \
            "$work/bad.err" || die "$s: a bad flag after --log-format json is not a JSON line"
    fi
done
check_bad --threads product-service --threads 0
check_bad --brokers order-service --db "$work/never.db" # required
check_bad --queue-messages activity-service --brokers 127.0.0.1:1 --queue-messages 0
check_bad --timeout-ms api-gateway --timeout-ms 0
check_bad --concurrency product-import x.csv --gateway http://127.0.0.1:1 --concurrency 65
echo "ok: a bad flag exits 2 with one line naming it"

# Registered secrets are masked even where a message echoes them.
for args in "product-service --$DB_PASSWORD" "api-gateway --x$AWS_SECRET_ACCESS_KEY" \
    "customer-service --db postgresql://weir:$urlpw@127.0.0.1:1/shop --y$urlpw"; do
    rc=0
    $bin/$args --log-format json >"$work/mask.out" 2>"$work/mask.err" || rc=$?
    ((rc == 2)) || die "$args: exit $rc"
    grep -q '\*\*\*' "$work/mask.err" || die "nothing masked in: $(cat "$work/mask.err")"
    ! grep -qF -e "$DB_PASSWORD" -e "$AWS_SECRET_ACCESS_KEY" -e "$urlpw" "$work/mask.err" ||
        die "a secret in: $(cat "$work/mask.err")"
done
echo "ok: secrets masked in log lines"

# The platform with JSON logs: the broker, three services on one SQLite file, the activity
# service, and a gateway whose customer-service is down and whose DynamoDB does not answer.
start_broker
db=$work/shop.db
j=(--log-format json)
start_service products product-service --db "$db" "${j[@]}"
start_service customers customer-service --db "$db" "${j[@]}" --log-level debug
start_service orders order-service --db "$db" --brokers "$brokers" "${j[@]}"
start_service activity activity-service --brokers "$brokers" "${j[@]}"
closed=$(free_port)
start_service gw api-gateway --products "http://$products" --customers "http://127.0.0.1:$closed" \
    --orders "http://$orders" --activity "http://$activity" --dynamodb-endpoint "http://127.0.0.1:$closed" \
    --aws-region us-east-1 --timeout-ms 2000 "${j[@]}"
mport=$(free_port)
start_service products2 product-service --db "$db" "${j[@]}" --metrics-port "$mport"

$py - "$gw" "$products" "$customers" "$orders" "$activity" "$work" <<'PY' || die "the request series"
import json, re, subprocess, sys, urllib.request, urllib.error

gw, products, customers, orders, activity, work = sys.argv[1:7]

def call(addr, method, path, body=None, ctype="application/json"):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(f"http://{addr}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

def scrape(addr, name):
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as r:
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8", r.headers
        text = r.read().decode()
    open(f"{work}/{name}.metrics", "w").write(text)
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    if p.returncode or p.stdout.strip() or p.stderr.strip():
        sys.exit(f"promtool check metrics on {name}: {p.stdout}{p.stderr}")
    out = {}
    for line in text.splitlines():
        m = re.match(r'^([a-z_:]+)(?:\{(.*)\})? (\S+)$', line)
        if m:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
            out[(m.group(1), labels)] = float(m.group(3))
    return out

def get(series, name, **labels):
    return series.get((name, tuple(sorted(labels.items()))), 0)

def reqs(series, route, method, code):
    return get(series, "http_requests_total", route=route, method=method, code=str(code))

# Requests through the gateway, each with a known answer.
want = [("POST", "/products", {"name": "mug", "price": 3, "stock_quantity": 5}, 201),
        ("GET", "/products/1", None, 200), ("GET", "/products/999", None, 404),
        ("GET", "/products?limit=2", None, 200), ("GET", "/nope", None, 404),
        ("DELETE", "/events", None, 405), ("GET", "/customers", None, 503),
        ("GET", "/analytics/products/1", None, 503),
        ("POST", "/events", {"user_id": "u1", "product_id": "1", "timestamp": 1700000000}, 202)]
for method, path, body, code in want:
    got, text = call(gw, method, path, body)
    assert got == code, (method, path, got, text)
st, c = call(customers, "POST", "/customers", {"name": "Ann", "email": "ann@example.com"})
assert st == 201, (st, c)
st, o = call(gw, "POST", "/orders", {"customer_id": json.loads(c)["id"], "product_id": 1, "quantity": 1})
assert st == 201, (st, o)

g = scrape(gw, "gateway")
checks = [(reqs(g, "/products", "POST", 201), 1), (reqs(g, "/products/{id}", "GET", 200), 1),
          (reqs(g, "/products/{id}", "GET", 404), 1), (reqs(g, "/products", "GET", 200), 1),
          (reqs(g, "unmatched", "GET", 404), 1), (reqs(g, "unmatched", "DELETE", 405), 1),
          (reqs(g, "/customers", "GET", 503), 1), (reqs(g, "/analytics/products/{id}", "GET", 503), 1),
          (reqs(g, "/events", "POST", 202), 1), (reqs(g, "/orders", "POST", 201), 1),
          (get(g, "weir_upstream_errors_total", upstream="customer-service", kind="unavailable"), 1),
          (get(g, "http_request_duration_seconds_count", route="/products/{id}", method="GET"), 2)]
for i, (got, exp) in enumerate(checks):
    assert got == exp, f"gateway check {i}: {got} != {exp}"
assert get(g, "weir_upstream_errors_total", upstream="dynamodb", kind="unavailable") >= 1, "dynamodb"
assert any(n == "weir_build_info" for n, _ in g) and ("process_open_fds", ()) in g, "process series"
for (name, labels) in g:
    for k, v in labels:
        assert not re.search(r"/\d", v), f"a raw path in a label: {name} {labels}"

p = scrape(products, "products")
assert reqs(p, "/products", "POST", 201) == 1 and reqs(p, "/products/{id}", "GET", 200) == 1
assert reqs(p, "/products/{id}", "GET", 404) == 1 and reqs(p, "/products", "GET", 200) == 1
assert get(p, "weir_store_errors_total", kind="failed") == 0
assert get(p, "http_requests_in_flight") == 1  # the scrape itself
o = scrape(orders, "orders")
assert reqs(o, "/orders", "POST", 201) == 1
assert ("weir_kafka_producer_queue_messages", ()) in o and ("weir_producer_errors_total", (("kind", "delivery"),)) in o
a = scrape(activity, "activity")
assert reqs(a, "/events", "POST", 202) == 1 and ("weir_kafka_producer_queue_messages", ()) in a
c2 = scrape(customers, "customers")
assert reqs(c2, "/customers", "POST", 201) == 1

# The counters move as requests flow.
for _ in range(5):
    assert call(gw, "GET", "/products/1")[0] == 200
g2, p2 = scrape(gw, "gateway2"), scrape(products, "products2")
assert reqs(g2, "/products/{id}", "GET", 200) == 6, reqs(g2, "/products/{id}", "GET", 200)
assert reqs(p2, "/products/{id}", "GET", 200) == 6
assert get(g2, "http_request_duration_seconds_count", route="/products/{id}", method="GET") == 7
print("request series: counted by route pattern, method and code, and moving; promtool clean")
PY

# --metrics-port: a second endpoint with /metrics, /healthz and /readyz.
curl -sf -o "$work/mp.metrics" "http://127.0.0.1:$mport/metrics" || die "GET /metrics on --metrics-port"
promtool check metrics <"$work/mp.metrics" >"$work/mp.check" 2>&1 && [[ ! -s $work/mp.check ]] ||
    die "promtool on --metrics-port: $(cat "$work/mp.check")"
grep -q '^http_requests_in_flight' "$work/mp.metrics" || die "no request series on --metrics-port"
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/readyz") == 200 ]] || die "--metrics-port /readyz"
echo "ok: --metrics-port serves /metrics, /readyz"

for v in gw products2 activity orders customers products; do
    pid=${v}_pid
    stop_service "${!pid}" "$v"
done
# Every line of every log is JSON with ts, level, binary and msg; no secret anywhere.
$py - "$work" <<'PY' || die "the JSON logs"
import glob, json, sys
n = 0
for f in glob.glob(sys.argv[1] + "/*.log"):
    if f.endswith("/broker.log"):
        continue
    for line in open(f):
        e = json.loads(line)
        assert all(k in e for k in ("ts", "level", "binary", "msg")), (f, line)
        n += 1
assert n >= 18, n
print(f"logs: {n} JSON lines")
PY
for s in "$DB_PASSWORD" "$AWS_SECRET_ACCESS_KEY" "$AWS_ACCESS_KEY_ID" "$urlpw"; do
    ! grep -rqF -- "$s" "$work"/*.log "$work"/*.out "$work"/*.metrics || die "a secret in a log or on /metrics"
done
grep -q '"msg":"stopped"' "$work/gw.log" || die "the gateway did not log its stop"
echo "ok"
