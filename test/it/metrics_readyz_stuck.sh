#!/usr/bin/env bash
# /readyz follows the watermark: unique-users in Kafka mode with --watermark-stuck 2s is ready
# while records move its watermark, answers 503 naming the stuck watermark once nothing has
# moved it for longer than the bound, and 200 again as soon as newer records arrive; /healthz
# stays 200 throughout. The job runs against the dev broker on a free loopback port.
source "$(dirname "$0")/kafka_lib.bash"
command -v curl >/dev/null || die "curl missing"
mport=$($py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$mport

# produce_events FIRST_TS: 200 events of 20 products over 100 s of event time from FIRST_TS.
produce_events() {
    $py - "$1" >"$work/batch.jsonl" <<'PY'
import sys
t0 = int(sys.argv[1])
for i in range(200):
    print('{"user_id":"u%d","product_id":"p%d","timestamp":%d}' % (i % 37, i % 20, t0 + i // 2))
PY
    kcat_produce raw "$work/batch.jsonl"
}

# wait_readyz CODE SECONDS: polls /readyz until it answers CODE; its body lands in readyz.txt.
wait_readyz() {
    local code= i
    for ((i = 0; i < $2 * 10; i++)); do
        code=$(curl -s -o "$work/readyz.txt" -w '%{http_code}' "$base/readyz" || true)
        [[ $code == "$1" ]] && return 0
        kill -0 "$job_pid" 2>/dev/null || die "the job exited: $(tail -n 5 "$work/job.log")"
        sleep 0.1
    done
    die "/readyz is $code, not $1, after $2 s: $(cat "$work/readyz.txt" 2>/dev/null)"
}

start_broker --topic raw:1 --topic out:1
start_job "$work/job.log" --input-topic raw --output-topic out --group-id stuck \
    --metrics-port "$mport" --watermark-stuck 2s --log-format json
produce_events 1700000000
wait_readyz 200 30
echo "ok: /readyz 200 while records move the watermark"

# No more records: the watermark stays where it is, and after 2 s /readyz says so.
start=$SECONDS
wait_readyz 503 15
grep -q "watermark stuck" "$work/readyz.txt" || die "503 without the reason: $(cat "$work/readyz.txt")"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$base/healthz") == 200 ]] || die "/healthz is not 200 while stuck"
echo "ok: /readyz 503 after $((SECONDS - start)) s without records: $(cat "$work/readyz.txt")"

# Newer records move the watermark again: ready again.
produce_events 1700000300
wait_readyz 200 15
echo "ok: /readyz 200 again once newer records arrive"

kill -TERM "$job_pid"
finish_job "$work/job.log"
echo "metrics_readyz_stuck: ok"
