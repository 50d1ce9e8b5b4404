#!/usr/bin/env bash
# weir-window operated as unique-users is (docs/OPERATIONS.md): --check-config exits 0 or 2
# without starting; in file mode over a slow pipe with --metrics-port, /metrics passes
# `promtool check metrics` and its records (valid, invalid, filtered), emissions, open windows
# and keys move between scrapes, /readyz is 200 while the input is open, DynamoDB's series are
# there and the JSON log parses; in Kafka mode from the dev broker /readyz turns 200 once
# partitions are assigned, the records are counted with a consumer lag, a watermark per
# partition and the producer's series, and the summary reports the windows and keys it held.
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
W=${WEIR_BIN:-$root/build/bin}/weir-window
for b in "$W" promtool curl /usr/bin/python3 kcat; do
    command -v "$b" >/dev/null || { echo "metrics_window: $b not found" >&2; exit 1; }
done
work=$(mktemp -d)
jpid= fpid= dpid= kpid= bpid=
cleanup() {
    # On a failure the job may still wait in open() for the pipe's writer: SIGKILL.
    for p in $jpid $kpid $fpid $dpid $bpid; do
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "metrics_window: $*" >&2
    for f in job.err kafka.err; do
        [[ -s $work/$f ]] && { echo "--- $f" >&2; tail -n 20 "$work/$f" >&2; }
    done
    exit 1
}
source "$(dirname "$0")/metrics_lib.bash"
export AWS_ACCESS_KEY_ID=AKIAWINTESTKEY7EXAMP
export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYwintestKEY1
job=(--key product_id --window tumble:10s --agg 'count()' --agg 'sum(price) as revenue'
    --where 'status != cancelled')

# --check-config: 0 for a good configuration, 2 with one line naming the key for a bad one,
# nothing started or created.
"$W" "${job[@]}" --check-config --metrics-port 9464 >/dev/null 2>"$work/c.err" ||
    fail "--check-config refused a good configuration: $(cat "$work/c.err")"
grep -q "configuration ok" "$work/c.err" || fail "--check-config: no confirmation: $(cat "$work/c.err")"
for bad in "--metrics-host nowhere --metrics-port 9464|metrics.host" \
    "--agg nosuch(price)|--agg" "--window tumble:0s|--window" \
    "--checkpoint-dir $work/ck --input -|checkpoint.dir" "--metrics-port 70000|--metrics-port"; do
    args=${bad%|*} needle=${bad#*|}
    rc=0
    # shellcheck disable=SC2086
    "$W" "${job[@]}" --check-config $args --output "$work/o" >/dev/null 2>"$work/c.err" || rc=$?
    [[ $rc == 2 && $(wc -l <"$work/c.err") == 1 ]] && grep -q -- "$needle" "$work/c.err" ||
        fail "--check-config $args: exit $rc: $(cat "$work/c.err")"
done
[[ ! -e $work/ck && ! -e $work/o ]] || fail "--check-config created a file"
rc=0
"$W" "${job[@]}" --check-config --log-format json --agg 'nosuch(x)' 2>"$work/c.err" || rc=$?
((rc == 2)) && /usr/bin/python3 -c 'import json,sys; json.loads(open(sys.argv[1]).read())' \
    "$work/c.err" || fail "a usage error in JSON: exit $rc: $(cat "$work/c.err")"
echo "ok: --check-config exits 0 or 2 without starting"

# File mode over a slow pipe: 40 records every 0.2 s, 10 s of event time per step, one in
# four cancelled (filtered), one bad line per step.
mkfifo "$work/in"
/usr/bin/python3 - "$work/in" <<'EOF' &
import sys, time
with open(sys.argv[1], "w") as f:
    for step in range(400):
        for k in range(40):
            f.write('{"product_id":"p%d","price":%d,"status":"%s","timestamp":%d}\n'
                    % (k % 8, k, "cancelled" if k % 4 == 0 else "paid", 1700000000 + step * 10))
        f.write("not json\n")
        f.flush()
        time.sleep(0.2)
EOF
fpid=$!
start_dynalite
mport=$(free_port)
"$W" "${job[@]}" --input "$work/in" --output /dev/null --log-format json --log-level debug \
    --metrics-port "$mport" -X input.batch.records=16 --watermark-stuck 30s \
    --dynamodb-endpoint "http://127.0.0.1:$dport" --dynamodb-table wintest \
    --dynamodb-create-table --aws-region us-east-1 2>"$work/job.err" &
jpid=$!
base=http://127.0.0.1:$mport
for _ in $(seq 100); do
    curl -sf -o /dev/null "$base/healthz" && break
    kill -0 "$jpid" 2>/dev/null || fail "weir-window exited"
    sleep 0.1
done
# Ready once the input is open (the endpoint starts first).
code=
for _ in $(seq 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true)
    [[ $code == 200 ]] && break
    sleep 0.1
done
[[ $code == 200 ]] || fail "/readyz is $code, not 200, while reading"
# Three scrapes a second apart: each passes promtool, and the counters move.
for i in 1 2 3; do
    sleep 1
    curl -sf -o "$work/m$i.txt" "$base/metrics" || fail "GET /metrics failed"
    promcheck "$work/m$i.txt" "file mode"
done
for fam in weir_records_total weir_records_invalid_total weir_records_late_total weir_emissions_total \
    weir_watermark_seconds weir_watermark_lag_seconds weir_windows_open weir_window_keys \
    weir_state_bytes weir_checkpoints_total weir_checkpoint_duration_seconds \
    weir_dynamodb_requests_total weir_dynamodb_retries_total weir_dynamodb_batch_duration_seconds \
    weir_build_info process_cpu_seconds_total; do
    grep -q "^# TYPE $fam " "$work/m3.txt" || fail "no $fam on /metrics"
done
for s in 'weir_records_total{outcome="valid"}' 'weir_records_total{outcome="filtered"}' \
    'weir_records_total{outcome="invalid"}' 'weir_emissions_total'; do
    a=$(metric_val "$work/m1.txt" "$s") c=$(metric_val "$work/m3.txt" "$s")
    [[ -n $a && -n $c ]] || fail "$s is not on /metrics"
    /usr/bin/python3 -c 'import sys; sys.exit(not float(sys.argv[2]) > float(sys.argv[1]) >= 0)' "$a" "$c" ||
        fail "$s did not move: $a, then $c"
    echo "ok: $s: $a -> $c"
done
# A quarter of the well-formed records are filtered: valid is three times filtered.
v=$(metric_val "$work/m3.txt" 'weir_records_total{outcome="valid"}')
f=$(metric_val "$work/m3.txt" 'weir_records_total{outcome="filtered"}')
/usr/bin/python3 -c 'import sys; v, f = map(float, sys.argv[1:]); sys.exit(not (f > 0 and abs(v - 3 * f) <= 40))' "$v" "$f" ||
    fail "valid $v is not about three times filtered $f"
for s in weir_windows_open weir_window_keys weir_state_bytes 'weir_watermark_lag_seconds{partition="0"}'; do
    x=$(metric_val "$work/m3.txt" "$s")
    /usr/bin/python3 -c 'import sys; sys.exit(not float(sys.argv[1]) > 0)' "${x:-0}" || fail "$s is ${x:-absent}"
done
grep -q '^weir_dynamodb_requests_total{outcome="ok"} [1-9]' "$work/m3.txt" || fail "no DynamoDB request counted"
grep -qF -e "$AWS_SECRET_ACCESS_KEY" -e "$AWS_ACCESS_KEY_ID" "$work/m3.txt" && fail "a secret is in /metrics"
kill "$fpid" 2>/dev/null || true
wait "$fpid" 2>/dev/null || true
fpid=
wait "$jpid" || fail "weir-window exited $? when its input ended"
jpid=
check_json_log "$work/job.err"
grep -q '"msg":"metrics endpoint listening"' "$work/job.err" || fail "no log line for the endpoint"
grep -qF -e "$AWS_SECRET_ACCESS_KEY" -e "$AWS_ACCESS_KEY_ID" "$work/job.err" && fail "a secret is in the log"
echo "ok: file mode"

# Kafka mode against the dev broker.
"${WEIR_REL_BIN:-$root/build/bin}/weir-dev-broker" --topic raw:2 --topic out:2 --quiet \
    >"$work/broker.out" 2>/dev/null &
bpid=$!
for _ in $(seq 100); do [[ -s $work/broker.out ]] && break; sleep 0.1; done
brokers=$(head -n 1 "$work/broker.out")
[[ -n $brokers ]] || fail "the dev broker printed no address"
kport=$(free_port)
"$W" "${job[@]}" --brokers "$brokers" --input-topic raw --output-topic out --group-id mw \
    --log-format json --metrics-port "$kport" --stop-when-idle 10s \
    -X kafka.consumer.session.timeout.ms=6000 2>"$work/kafka.err" &
kpid=$!
code=
for _ in $(seq 120); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$kport/readyz" || true)
    [[ $code == 200 ]] && break
    kill -0 "$kpid" 2>/dev/null || fail "the Kafka job exited: $(tail -n 3 "$work/kafka.err")"
    sleep 0.25
done
[[ $code == 200 ]] || fail "Kafka mode: /readyz never 200 ($code)"
/usr/bin/python3 - >"$work/events.jsonl" <<'EOF'
for i in range(300):
    print('{"product_id":"p%d","price":%d,"status":"%s","timestamp":%d}'
          % (i % 7, i, "cancelled" if i % 3 == 0 else "paid", 1700000000 + i))
EOF
sed -E 's/^(.*"product_id":"([^"]*)".*)$/\2\t\1/' "$work/events.jsonl" |
    kcat -q -b "$brokers" -t raw -P -K $'\t' -X partitioner=murmur2_random || fail "kcat could not produce"
for _ in $(seq 120); do
    curl -sf -o "$work/k.txt" "http://127.0.0.1:$kport/metrics" || true
    grep -q '^weir_records_total{outcome="valid"} 200$' "$work/k.txt" && break
    sleep 0.25
done
grep -q '^weir_records_total{outcome="valid"} 200$' "$work/k.txt" &&
    grep -q '^weir_records_total{outcome="filtered"} 100$' "$work/k.txt" ||
    fail "Kafka mode: not 200 valid and 100 filtered: $(grep '^weir_records_total' "$work/k.txt")"
grep -q '^weir_kafka_consumer_lag_records{topic="raw",partition="[01]"}' "$work/k.txt" ||
    fail "Kafka mode: no consumer lag"
grep -q '^weir_watermark_seconds{partition="[01]"}' "$work/k.txt" || fail "Kafka mode: no watermark"
grep -q '^weir_windows_open [1-9]' "$work/k.txt" || fail "Kafka mode: no open window"
grep -q '^weir_kafka_produced_total [1-9]' "$work/k.txt" || fail "Kafka mode: nothing produced"
promcheck "$work/k.txt" "Kafka mode"
wait "$kpid" || fail "the Kafka job exited $?"
kpid=
# The summary: the windows and keys open at the stop (the generic operator counts no created
# ones), not zeros.
/usr/bin/python3 - "$work/kafka.err" <<'EOF' || fail "Kafka mode: the summary's windows and keys"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if '"mode":"kafka"' in l][-1]
if not (s["windows"] > 0 and s["keys"] > 0 and s["filtered"] == 100):
    sys.exit(f"windows {s['windows']}, keys {s['keys']}, filtered {s['filtered']}")
print(f"summary: windows {s['windows']}, keys {s['keys']}, filtered {s['filtered']}")
EOF
echo "ok: Kafka mode: /readyz 200 once assigned, records by outcome, consumer lag, watermarks"
echo "metrics_window: ok"
