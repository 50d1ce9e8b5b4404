#!/usr/bin/env bash
# weir-nexmark operated as the other jobs are: every command takes --log-format, --log-level
# and --check-config (exit 0, or 2 with one line, opening and starting nothing); q11 from the
# dev broker with --metrics-port serves /metrics that passes `promtool check metrics`, with its
# records counted by outcome (other event types filtered), /readyz 200 once assigned, and logs
# JSON lines.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
G=$bin/weir-nexmark
[[ -x $G ]] || die "$G not built (make)"
command -v promtool >/dev/null || die "promtool missing (make deps)"

ok_check() { # ARGS...: exit 0 and "configuration ok"
    "$G" "$@" --check-config 2>"$work/c.err" || die "$* --check-config: exit $?: $(cat "$work/c.err")"
    grep -q "configuration ok" "$work/c.err" || die "$*: no confirmation: $(cat "$work/c.err")"
}
bad_check() { # NEEDLE ARGS...: exit 2 and one line naming NEEDLE
    local needle=$1 rc=0
    shift
    "$G" "$@" --check-config 2>"$work/c.err" || rc=$?
    [[ $rc == 2 && $(wc -l <"$work/c.err") == 1 ]] && grep -q -- "$needle" "$work/c.err" ||
        die "$* --check-config: exit $rc: $(cat "$work/c.err")"
}
ok_check gen --events 10 --seed 1 --output "$work/never"
ok_check gen --events 10 --seed 1 --brokers 127.0.0.1:9 --topic t
bad_check --seed gen --events 10
bad_check kafka.linger.ms gen --events 10 --seed 1 --brokers 127.0.0.1:9 --topic t -X kafka.linger.ms=x
for q in q0 q1 q2 q5 q7; do
    ok_check "$q" --input "$work/never" --output "$work/never"
    bad_check --metrics-port "$q" --metrics-port 9464
done
for q in q5 q7; do # on Kafka only, one unit over all partitions
    ok_check "$q" --brokers 127.0.0.1:9 --input-topic nx --metrics-port 9464
done
# q5 is keyed by auction: one unit per partition would take each partition's maximum (q7 is
# global, so input.keyed does not apply to it).
bad_check input.keyed q5 --brokers 127.0.0.1:9 --input-topic nx -X input.keyed=true
for q in q11 q15 q16; do
    ok_check "$q" --input "$work/never" --output "$work/never" --metrics-port 9464
    ok_check "$q" --brokers 127.0.0.1:9 --input-topic nx --log-level debug
    bad_check metrics.host "$q" --metrics-port 9464 --metrics-host nowhere
    bad_check --checkpoint-interval "$q" --brokers 127.0.0.1:9 --checkpoint-interval 0
done
bad_check --log-format q5 --log-format xml
bad_check --log-level q11 --log-level loud
[[ ! -e $work/never ]] || die "--check-config created a file"
rc=0
"$G" q7 --log-format json --bogus 2>"$work/c.err" || rc=$?
((rc == 2)) && $py -c 'import json,sys; print(json.loads(open(sys.argv[1]).read())["msg"])' \
    "$work/c.err" >/dev/null || die "a usage error in JSON: exit $rc: $(cat "$work/c.err")"
echo "ok: --check-config, --log-format and --log-level on every command"

start_broker --topic nx:2 --topic q11:2
"$rel/weir-nexmark" gen --events 20000 --seed 3 --output "$work/events.jsonl" 2>/dev/null
port=$($py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The idle stop must outlast gen's start on a slow machine (3 s did not: the job stopped
# drained before the first event).
"$G" q11 --brokers "$brokers" --input-topic nx --output-topic q11 --stop-when-idle 15s --drain \
    --metrics-port "$port" --log-format json -X kafka.consumer.session.timeout.ms=6000 \
    2>"$work/q11.log" &
qpid=$!
pids+=("$qpid")
code=
for _ in $(seq 120); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)
    [[ $code == 200 ]] && break
    kill -0 "$qpid" 2>/dev/null || die "q11 exited: $(tail -n 3 "$work/q11.log")"
    sleep 0.25
done
[[ $code == 200 ]] || die "q11: /readyz never 200 ($code)"
"$rel/weir-nexmark" gen --events 20000 --seed 3 --brokers "$brokers" --topic nx 2>/dev/null ||
    die "gen could not produce"
bids=$(grep -c '"type":"bid"' "$work/events.jsonl")
others=$(($(wc -l <"$work/events.jsonl") - bids))
for _ in $(seq 120); do
    curl -sf -o "$work/m.txt" "http://127.0.0.1:$port/metrics" || true
    grep -q "^weir_records_total{outcome=\"filtered\"} $others\$" "$work/m.txt" &&
        grep -q "^weir_records_total{outcome=\"valid\"} $bids\$" "$work/m.txt" && break
    sleep 0.25
done
grep -q "^weir_records_total{outcome=\"valid\"} $bids\$" "$work/m.txt" &&
    grep -q "^weir_records_total{outcome=\"filtered\"} $others\$" "$work/m.txt" ||
    die "q11: not $bids valid and $others filtered: $(grep '^weir_records_total' "$work/m.txt")"
grep -q '^weir_kafka_consumer_lag_records{topic="nx",partition="[01]"}' "$work/m.txt" ||
    die "q11: no consumer lag"
if ! promtool check metrics <"$work/m.txt" >"$work/promtool.out" 2>&1 || [[ -s $work/promtool.out ]]; then
    cat "$work/promtool.out" >&2
    die "q11: promtool check metrics found problems"
fi
wait "$qpid" || die "q11 exited $?: $(tail -n 3 "$work/q11.log")"
$py - "$work/q11.log" <<'EOF' || die "q11's log is not JSON lines"
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if "mode" not in e and not all(k in e for k in ("ts", "level", "binary", "msg")):
        sys.exit(f"log line without ts, level, binary or msg: {line}")
EOF
echo "ok: q11 on Kafka: /readyz, /metrics ($bids bids, $others other events filtered), JSON log"
echo "PASS nexmark_ops"
