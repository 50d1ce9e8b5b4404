#!/usr/bin/env bash
# The real job observed: unique-users in file mode reads a slow pipe with --metrics-port; its
# /metrics passes `promtool check metrics`, /readyz is 200 while the input is open, a real
# Prometheus (free loopback port, generated config, 1 s scrapes) sees records and emissions
# move; its JSON log parses line by line; AWS keys set in the environment appear in no log
# line and no metric (the job signs its DynamoDB requests to dynalite with them); --check-config
# exits 0 or 2 without starting.
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
J=${WEIR_BIN:-$root/build/bin}/unique-users
for b in "$J" promtool /usr/bin/prometheus curl /usr/bin/python3; do
    command -v "$b" >/dev/null || { echo "metrics_job: $b not found" >&2; exit 1; }
done
work=$(mktemp -d)
jpid= ppid_= fpid= dpid= kpid= bpid=
cleanup() {
    for p in $fpid $ppid_ $jpid $dpid $kpid $bpid; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "metrics_job: $*" >&2
    for f in job.err prometheus.log; do
        [[ -s $work/$f ]] && { echo "--- $f" >&2; tail -n 20 "$work/$f" >&2; }
    done
    exit 1
}
source "$(dirname "$0")/metrics_lib.bash"
export AWS_ACCESS_KEY_ID=AKIAJOBTESTKEY7EXAMP
export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYjobtestKEY1

# --check-config: 0 for a good configuration, 2 with one line for a bad one, nothing started.
"$J" --check-config --window 10s --metrics-port 9464 >/dev/null 2>"$work/c.err" ||
    fail "--check-config refused a good configuration: $(cat "$work/c.err")"
rc=0; "$J" --check-config --window 10s --metrics-port 9464 --metrics-host nowhere 2>"$work/c.err" || rc=$?
((rc == 2)) && grep -q "metrics.host" "$work/c.err" || fail "--check-config with a bad host: exit $rc: $(cat "$work/c.err")"
rc=0; "$J" --check-config --input - --output out.jsonl --checkpoint-dir "$work/ck" 2>"$work/c.err" || rc=$?
((rc == 2)) || fail "--check-config: checkpoints over standard input accepted (exit $rc)"
[[ ! -e $work/ck ]] || fail "--check-config created the checkpoint directory"
echo "ok: --check-config exits 0 or 2 without starting"

# A secret in a message: the path of an input that does not exist.
rc=0; "$J" --log-format json --input "$work/$AWS_SECRET_ACCESS_KEY" 2>"$work/secret.err" || rc=$?
((rc == 1)) || fail "missing input: exit $rc"
grep -qF "$AWS_SECRET_ACCESS_KEY" "$work/secret.err" && fail "the AWS secret key is in the log"
grep -q '\*\*\*' "$work/secret.err" || fail "no masked value in: $(cat "$work/secret.err")"

# The job over a slow pipe: 40 records every 0.2 s, 10 s of event time per step.
mkfifo "$work/in"
/usr/bin/python3 - "$work/in" <<'EOF' &
import sys, time
with open(sys.argv[1], "w") as f:
    for step in range(400):
        for k in range(40):
            f.write('{"user_id":"u%d","product_id":"p%d","timestamp":%d}\n'
                    % (k, k % 4, 1700000000 + step * 10))
        f.write("not json\n")
        f.flush()
        time.sleep(0.2)
EOF
fpid=$!
start_dynalite
mport=$(free_port)
"$J" --input "$work/in" --output /dev/null --log-format json --log-level debug \
    --metrics-port "$mport" -X input.batch.records=16 --watermark-stuck 30s \
    --dynamodb-endpoint "http://127.0.0.1:$dport" --dynamodb-table jobtest \
    --dynamodb-create-table --aws-region us-east-1 2>"$work/job.err" &
jpid=$!
base=http://127.0.0.1:$mport
for _ in $(seq 100); do
    curl -sf -o /dev/null "$base/healthz" && break
    kill -0 "$jpid" 2>/dev/null || fail "unique-users exited"
    sleep 0.1
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "$base/readyz") == 200 ]] || fail "/readyz is not 200 while reading"
sleep 1
curl -sf -o "$work/metrics.txt" "$base/metrics" || fail "GET /metrics failed"
promcheck "$work/metrics.txt" "/metrics"
for fam in weir_records_total weir_records_invalid_total weir_records_late_total weir_emissions_total \
    weir_watermark_seconds weir_watermark_lag_seconds weir_windows_open weir_window_keys \
    weir_state_bytes weir_checkpoints_total weir_checkpoint_duration_seconds \
    weir_dynamodb_requests_total weir_dynamodb_retries_total weir_dynamodb_batch_duration_seconds; do
    grep -q "^# TYPE $fam " "$work/metrics.txt" || fail "no $fam on /metrics"
done
grep -qF -e "$AWS_SECRET_ACCESS_KEY" -e "$AWS_ACCESS_KEY_ID" "$work/metrics.txt" && fail "a secret is in /metrics"
# unique-users has no filter: a filtered series could only ever read 0.
grep -q 'outcome="filtered"' "$work/metrics.txt" && fail "unique-users exports a filtered outcome it never counts"
echo "ok: /metrics of the running job passes promtool ($(grep -c '^[a-z]' "$work/metrics.txt") samples), /readyz 200"

cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: unique-users
    static_configs:
      - targets: ["127.0.0.1:$mport"]
EOF
start_prometheus "$work/prometheus.yml"
/usr/bin/python3 - "http://127.0.0.1:$pport" <<'EOF' || fail "Prometheus did not see the job's series move"
import json, sys, time, urllib.parse, urllib.request
api = sys.argv[1]
def scalar(expr):
    url = api + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        res = json.load(r)["data"]["result"]
    return float(res[0]["value"][1]) if res else None
exprs = ['weir_records_total{job="unique-users",outcome="valid"}',
         'weir_records_invalid_total{job="unique-users",reason="not_json"}',
         'weir_emissions_total{job="unique-users"}']
seen = {e: [] for e in exprs}
deadline = time.time() + 60
while time.time() < deadline and min(len(v) for v in seen.values()) < 4:
    for e, values in seen.items():
        v = scalar(e)
        if v is not None and (not values or v > values[-1]):
            values.append(v)
    time.sleep(1)
for e, values in seen.items():
    if len(values) < 4:
        sys.exit(f"{e} did not increase over 4 scrapes: {values}")
    print(f"{e}: {', '.join('%g' % v for v in values)}")
ddb = scalar('sum(weir_dynamodb_requests_total{job="unique-users",outcome="ok"})')
if not ddb:
    sys.exit(f"no DynamoDB request counted: {ddb}")
print(f"DynamoDB requests ok: {ddb:g}")
lag = scalar('weir_watermark_lag_seconds{job="unique-users",partition="0"}')
if lag is None or lag <= 0:
    sys.exit(f"no watermark lag: {lag}")
EOF
kill "$fpid" 2>/dev/null || true
wait "$fpid" 2>/dev/null || true
fpid=
wait "$jpid" || fail "the job exited $? when its input ended"
jpid=

# Every line of the log is JSON with ts, level, binary and msg (the summary line aside), and
# neither AWS key is anywhere in it.
check_json_log "$work/job.err"
grep -qF -e "$AWS_SECRET_ACCESS_KEY" -e "$AWS_ACCESS_KEY_ID" "$work/job.err" && fail "a secret is in the log"
echo "ok: file mode"

# Kafka mode against the dev broker: /readyz 200 once partitions are assigned; the
# records produced are counted, with a consumer lag and a watermark per partition.
"${WEIR_REL_BIN:-$root/build/bin}/weir-dev-broker" --topic raw:2 --topic out:2 --quiet \
    >"$work/broker.out" 2>/dev/null &
bpid=$!
for _ in $(seq 100); do [[ -s $work/broker.out ]] && break; sleep 0.1; done
brokers=$(head -n 1 "$work/broker.out")
[[ -n $brokers ]] || fail "the dev broker printed no address"
kport=$(free_port)
"$J" --brokers "$brokers" --input-topic raw --output-topic out --group-id m --log-format json \
    --metrics-port "$kport" 2>"$work/kafka.err" &
kpid=$!
code=
for _ in $(seq 120); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$kport/readyz" || true)
    [[ $code == 200 ]] && break
    kill -0 "$kpid" 2>/dev/null || fail "the Kafka job exited: $(tail -n 3 "$work/kafka.err")"
    sleep 0.25
done
[[ $code == 200 ]] || fail "Kafka mode: /readyz never 200 ($code)"
/usr/bin/python3 - "$work/events.jsonl" <<'EOF2'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(300):
        f.write('{"user_id":"u%d","product_id":"p%d","timestamp":%d}\n' % (i % 50, i % 7, 1700000000 + i))
EOF2
/usr/bin/python3 "$root/test/it/kafka_util.py" produce --brokers "$brokers" --topic raw \
    --key-field product_id "$work/events.jsonl" >/dev/null 2>&1 || fail "cannot produce to the dev broker"
for _ in $(seq 120); do
    curl -sf -o "$work/k.txt" "http://127.0.0.1:$kport/metrics" || true
    grep -q '^weir_records_total{outcome="valid"} 300$' "$work/k.txt" && break
    sleep 0.25
done
grep -q '^weir_records_total{outcome="valid"} 300$' "$work/k.txt" ||
    fail "Kafka mode: not 300 valid records: $(grep '^weir_records_total' "$work/k.txt")"
grep -q '^weir_kafka_consumer_lag_records{topic="raw",partition="[01]"}' "$work/k.txt" ||
    fail "Kafka mode: no consumer lag"
grep -q '^weir_watermark_seconds{partition="[01]"}' "$work/k.txt" || fail "Kafka mode: no watermark"
promcheck "$work/k.txt" "Kafka mode"
kill -TERM "$kpid"
wait "$kpid" || fail "the Kafka job exited $? on SIGTERM"
kpid=
echo "ok: Kafka mode: /readyz 200 once assigned, 300 records counted, consumer lag and watermarks"
echo "metrics_job: ok"
