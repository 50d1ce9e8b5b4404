#!/usr/bin/env bash
# /metrics against the real tools: weir-metrics-demo serves every metric family of
# docs/OPERATIONS.md while its counters move; `promtool check metrics` finds no error or
# warning in the scrape, the families match the OPERATIONS.md table, the deploy/ Prometheus
# config and rules pass promtool; then a real Prometheus (a free loopback port, a generated
# config, 1 s scrapes, the deploy/ alert rules loaded) scrapes the demo, and its query API shows
# the counters increasing, every dashboard expression returning data and every alert
# expression evaluating without error. The services are scraped too: an api-gateway and a
# product-service (release builds, one SQLite file) under a steady flow of requests, some of
# them failing (the gateway's customer-service is down); their request counts move, and the
# service panels of the dashboard show both of them.
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
rel=${WEIR_REL_BIN:-$root/build/bin}
demo=$rel/weir-metrics-demo
for b in "$demo" "$rel/api-gateway" "$rel/product-service" promtool /usr/bin/prometheus curl \
    /usr/bin/python3; do
    command -v "$b" >/dev/null || { echo "metrics_prometheus: $b not found" >&2; exit 1; }
done

work=$(mktemp -d)
dpid= ppid_= spid= gpid= lpid=
cleanup() {
    for p in $lpid $ppid_ $gpid $spid $dpid; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "metrics_prometheus: $*" >&2
    for f in demo.err prometheus.log product-service.err api-gateway.err; do
        [[ -s $work/$f ]] && { echo "--- $f" >&2; tail -n 20 "$work/$f" >&2; }
    done
    exit 1
}
source "$(dirname "$0")/metrics_lib.bash"

# The demo on a port of its choosing, which it prints.
"$demo" --port 0 --log-format json >"$work/demo.out" 2>"$work/demo.err" &
dpid=$!
for _ in $(seq 100); do
    grep -q '^port ' "$work/demo.out" 2>/dev/null && break
    kill -0 "$dpid" 2>/dev/null || fail "weir-metrics-demo exited"
    sleep 0.1
done
dport=$(awk '/^port /{print $2}' "$work/demo.out")
[[ -n $dport ]] || fail "weir-metrics-demo printed no port"
base=http://127.0.0.1:$dport
echo "weir-metrics-demo on 127.0.0.1:$dport"

# The services: product-service, and a gateway in front of it whose customer-service is down.
start_svc() { # NAME ARGS...: sets addr and svc_pid
    local name=$1
    shift
    "$rel/$name" --listen 127.0.0.1:0 "$@" >"$work/$name.out" 2>"$work/$name.err" &
    svc_pid=$!
    addr=
    for _ in $(seq 100); do
        addr=$(head -n 1 "$work/$name.out" 2>/dev/null || true)
        [[ $addr == 127.0.0.1:* ]] && break
        addr=
        kill -0 "$svc_pid" 2>/dev/null || fail "$name exited"
        sleep 0.1
    done
    [[ -n $addr ]] || fail "$name printed no address"
}
start_svc product-service --db "$work/shop.db" --log-format json
spid=$svc_pid sport=$addr
start_svc api-gateway --products "http://$sport" --customers "http://127.0.0.1:$(free_port)" \
    --log-format json
gpid=$svc_pid gport=$addr
echo "product-service on $sport, api-gateway on $gport"
# A steady flow of requests through the gateway: creates, reads, misses and 503s.
/usr/bin/python3 - "$gport" <<'PY' &
import json, sys, time, urllib.request, urllib.error
gw = sys.argv[1]
def call(method, path, body=None):
    req = urllib.request.Request("http://" + gw + path, method=method,
                                 data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=5).read()
    except OSError:  # HTTPError too: 404 and 503 are part of the flow
        pass
for i in range(6000):
    if i % 10 == 0:
        call("POST", "/products", {"name": "p%d" % i, "price": 1})
    call("GET", "/products/1")
    call("GET", "/products/%d" % (10**9 + i))
    if i % 3 == 0:
        call("GET", "/customers")
    time.sleep(0.05)
PY
lpid=$!
for name in product-service api-gateway; do
    a=$sport
    [[ $name == api-gateway ]] && a=$gport
    curl -sf -o "$work/$name.metrics" "http://$a/metrics" || fail "GET /metrics of $name"
    promcheck "$work/$name.metrics" "$name"
done
echo "promtool check metrics: no problem on product-service and api-gateway"

# The exposition: content type, health, and promtool's checks with nothing to say.
ctype=$(curl -sf -o "$work/metrics.txt" -w '%{content_type}' "$base/metrics") || fail "GET /metrics failed"
[[ $ctype == "text/plain; version=0.0.4; charset=utf-8" ]] || fail "content type '$ctype'"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$base/healthz") == 200 ]] || fail "/healthz is not 200"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$base/nope") == 404 ]] || fail "/nope is not 404"
for _ in $(seq 50); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/readyz") == 200 ]] && break
    sleep 0.1
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "$base/readyz") == 200 ]] || fail "/readyz never 200"
promcheck "$work/metrics.txt" "/metrics"
echo "promtool check metrics: no problem in $(grep -c '^[a-z]' "$work/metrics.txt") samples"
promtool check config "$root/deploy/prometheus/prometheus.yml" >"$work/check.out" 2>&1 ||
    { cat "$work/check.out" >&2; fail "promtool check config deploy/prometheus/prometheus.yml"; }
promtool check rules "$root/deploy/prometheus/alerts.yml" >"$work/check.out" 2>&1 ||
    { cat "$work/check.out" >&2; fail "promtool check rules deploy/prometheus/alerts.yml"; }
nrules=$(sed -n 's/.*SUCCESS: \([0-9]*\) rules found.*/\1/p' "$work/check.out")
[[ -n $nrules ]] || fail "promtool check rules counted no rule"
echo "promtool check config and rules: ok"

# The OPERATIONS.md table names exactly the families served, with their types.
/usr/bin/python3 - "$root/docs/OPERATIONS.md" "$work/metrics.txt" <<'EOF' || fail "docs/OPERATIONS.md and /metrics disagree"
import re, sys
doc = {}
for line in open(sys.argv[1]):
    m = re.match(r"\| `([a-z_:]+)` \| (counter|gauge|histogram) \|", line)
    if m:
        doc[m.group(1)] = m.group(2)
served = dict(re.findall(r"^# TYPE (\S+) (\S+)$", open(sys.argv[2]).read(), re.M))
bad = [f"{n}: documented {t}, served {served.get(n)}" for n, t in doc.items() if served.get(n) != t]
bad += [f"{n}: served, not documented" for n in served if n not in doc]
for b in bad:
    print("metrics_prometheus:", b, file=sys.stderr)
print(f"OPERATIONS.md: {len(doc)} families, all served with their types")
sys.exit(1 if bad else 0)
EOF

# A real Prometheus scraping the demo every second, with weir's alert rules.
mkdir -p "$work/data"
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $root/deploy/prometheus/alerts.yml
scrape_configs:
  - job_name: unique-users
    static_configs:
      - targets: ["127.0.0.1:$dport"]
  - job_name: product-service
    static_configs:
      - targets: ["$sport"]
  - job_name: api-gateway
    static_configs:
      - targets: ["$gport"]
EOF
start_prometheus "$work/prometheus.yml"
echo "$(/usr/bin/prometheus --version 2>&1 | head -n1) on 127.0.0.1:$pport"

/usr/bin/python3 - "http://127.0.0.1:$pport" "$root/deploy/grafana/weir.json" \
    "$nrules" "$work/demo.err" <<'EOF' || fail "Prometheus checks failed"
import json, re, sys, time, urllib.parse, urllib.request

api, dashboard, want_rules, demo_log = sys.argv[1:5]
want_rules = int(want_rules)

def query(expr):
    url = api + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        body = json.load(e)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body.get('errorType')}: {body.get('error')}")
    return body["data"]["result"]

def scalar(expr):
    res = query(expr)
    return float(res[0]["value"][1]) if res else None

# The counters move: several scrapes, each seeing more records and requests than the last.
seen = {'weir_records_total{job="unique-users"}': [],
        'http_requests_total{job="unique-users"}': [],
        'weir_emissions_total{job="unique-users"}': [],
        'http_requests_total{job="api-gateway"}': [],
        'http_requests_total{job="product-service"}': [],
        'http_requests_total{job="api-gateway",route="/products/{id}",code="404"}': [],
        'weir_upstream_errors_total{job="api-gateway",upstream="customer-service"}': []}
deadline = time.time() + 60
while time.time() < deadline and min(len(set(v)) for v in seen.values()) < 4:
    for name, values in seen.items():
        v = scalar(f"sum({name})")
        if v is not None and (not values or v != values[-1]):
            values.append(v)
    time.sleep(1)
for name, values in seen.items():
    if len(values) < 4 or values != sorted(values):
        sys.exit(f"{name} did not increase over 4 scrapes: {values}")
    print(f"{name}: {', '.join('%g' % v for v in values)}")
for job in ("unique-users", "api-gateway", "product-service"):
    if scalar(f'up{{job="{job}"}}') != 1:
        sys.exit(f'up{{job="{job}"}} is not 1')
# rate() and histogram_quantile() over 5m windows need a few samples: wait for them.
while time.time() < deadline and not query("rate(weir_checkpoint_duration_seconds_count[5m]) > 0"):
    time.sleep(1)

# Every dashboard expression evaluates and, since the demo serves every family, has data.
panels = json.load(open(dashboard))["panels"]
exprs = [(p["title"], t["expr"]) for p in panels for t in p.get("targets", [])]
empty = []
for title, expr in exprs:
    if not query(expr):
        empty.append(f"{title}: {expr}")
if empty:
    sys.exit("dashboard expressions without data:\n  " + "\n  ".join(empty))
# The service panels show the services' own series: the names they export are the names the
# dashboard queries. Every service panel sees the gateway (it has 5xx answers and upstream
# errors); the request rate and latency panels see product-service too.
for title, expr in exprs:
    if "http_" not in expr and "weir_upstream" not in expr:
        continue
    jobs = {r["metric"].get("job") for r in query(expr)}
    need = {"api-gateway"}
    if title in ("Request rate", "p95 latency"):
        need.add("product-service")
    if not need <= jobs:
        sys.exit(f"dashboard {title}: {expr} shows {sorted(jobs)}, not {sorted(need)}")
print("dashboard: the service panels show api-gateway and product-service")
print(f"dashboard: {len(exprs)} expressions of {len(panels)} panels evaluate with data")

# Every alert rule as Prometheus parsed it from deploy/prometheus/alerts.yml (as many as
# promtool counted): each expression evaluates through the query API, and Prometheus's own
# rule evaluation reports every rule healthy.
while True:
    with urllib.request.urlopen(api + "/api/v1/rules", timeout=10) as r:
        rules = [r for g in json.load(r)["data"]["groups"] for r in g["rules"]]
    if all(not r.get("lastEvaluation", "0001").startswith("0001") for r in rules) or \
            time.time() > deadline:
        break
    time.sleep(1)
if len(rules) != want_rules:
    sys.exit(f"Prometheus loaded {len(rules)} rules, promtool counted {want_rules}")
for r in rules:
    query(r["query"])
bad = [f"{r['name']}: {r.get('health')} {r.get('lastError', '')}" for r in rules
       if r.get("health") != "ok"]
if bad:
    sys.exit(f"unhealthy rules: {bad}")
active = [r["name"] for r in rules if r.get("state") not in (None, "inactive")]
print(f"alerts: {len(rules)} rule expressions evaluate, all rules healthy"
      + (f" (pending or firing: {active})" if active else ""))

# The demo's log is JSON, line by line, with the fields every line carries.
n = 0
for line in open(demo_log):
    entry = json.loads(line)
    for k in ("ts", "level", "binary", "msg"):
        if k not in entry:
            sys.exit(f"log line without {k}: {line}")
    n += 1
if not n:
    sys.exit("weir-metrics-demo logged nothing")
print(f"demo log: {n} JSON lines")
EOF
echo "metrics_prometheus: ok"
